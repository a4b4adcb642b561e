// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type DatabaseSettings = { url_masked: string | null; tls: boolean };
