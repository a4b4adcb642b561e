// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { OrderLine } from "./OrderLine";

export type SalesOrder = { order_url: string; order_id: string; status: string | null; order_date: string | null; party_url: string | null; total: number | null; lines: Array<OrderLine> };
