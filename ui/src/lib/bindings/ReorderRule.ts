// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type ReorderRule = { facility_url: string | null; facility_name: string | null; location_url: string | null; reorder_point: number | null; reorder_qty: number | null; calculation_method: string | null };
