// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type Transfer = { from_location_url: string; from_name: string | null; to_location_url: string; to_name: string | null; qty: number };
