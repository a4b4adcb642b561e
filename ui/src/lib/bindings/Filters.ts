// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type Filters = { out_of_stock: boolean; below_reorder: boolean; critical: boolean; location: string | null; supplier: string | null; status: string | null };
