// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type SortField = "relevance" | "sku" | "name" | "on_hand" | "available" | "reorder_point" | "velocity_30d" | "velocity_90d" | "days_of_stock" | "cost" | "price" | "status" | "stock_value" | "on_order" | "state";
