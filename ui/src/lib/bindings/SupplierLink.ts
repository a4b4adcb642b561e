// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type SupplierLink = { supplier_url: string | null; name: string | null; supplier_sku: string | null; is_main: boolean; price: number | null; currency: string | null; lead_time_days: number | null };
