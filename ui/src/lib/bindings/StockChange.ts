// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Quantities } from "./Quantities";

export type StockChange = { product_url: string; sku: string; location_url: string; location_name: string | null; before: Quantities; after: Quantities };
