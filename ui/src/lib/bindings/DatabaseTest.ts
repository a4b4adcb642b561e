// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type DatabaseTest = { ok: boolean; tls: boolean; message: string };
