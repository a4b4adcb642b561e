// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type ErrorCode = "invalid_input" | "not_found" | "offline" | "busy" | "unavailable" | "internal";
