// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type AlertItem = { product_url: string; sku: string; name: string | null; available: number; reorder_point: number | null };
