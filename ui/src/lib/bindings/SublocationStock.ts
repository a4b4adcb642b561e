// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type SublocationStock = { facility_url: string; name: string | null; on_hand: number; reserved: number; on_order: number; available: number };
