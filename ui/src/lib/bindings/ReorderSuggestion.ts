// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Suggestion } from "./Suggestion";

export type ReorderSuggestion = Suggestion & {
	sku: string;
	product_url: string;
	name: string | null;
	supplier_url: string | null;
	supplier_name: string | null;
	supplier_sku: string | null;
	unit_cost: number | null;
	currency: string | null;
	lead_time_days: number;
	velocity_30d: number;
	velocity_90d: number;
	on_hand: number;
	available: number;
	on_order: number;
	reorder_point: number | null;
	reorder_qty: number | null;
	out_of_stock: boolean;
	critical: boolean;
	order_value: number;
};
