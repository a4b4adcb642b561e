// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type ReorderQuery = { supplier: string | null; location: string | null; group_by_supplier: boolean; limit: number | null; after: string | null };
