// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type FinaleSettings = { account: string; api_key_masked: string | null; configured: boolean };
