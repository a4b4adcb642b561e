// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Change } from "./Change";

export type PriceChange = { product_url: string; sku: string; cost: Change<number | null>; list_price: Change<number | null> };
