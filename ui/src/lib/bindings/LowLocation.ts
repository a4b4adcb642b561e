// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type LowLocation = { location_url: string | null; name: string | null; available: number; reorder_point: number; need: number };
