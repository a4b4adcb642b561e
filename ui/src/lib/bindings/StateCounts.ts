// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type StateCounts = { total: number; inactive: number; out_of_stock: number; below_reorder: number; ok: number; at_reorder: number; critical: number };
