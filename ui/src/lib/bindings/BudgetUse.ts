// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type BudgetUse = { used: number; limit: number; window_seconds: number };
