// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { ItemState } from "./ItemState";

export type ItemSummary = {
	sku: string;
	product_url: string;
	name: string | null;
	status: string | null;
	category: string | null;
	upc: string | null;
	on_hand: number;
	reserved: number;
	available: number;
	on_order: number;
	reorder_point: number | null;
	reorder_qty: number | null;
	velocity_30d: number;
	velocity_90d: number;
	days_of_stock: number | null;
	cost: number | null;
	price: number | null;
	stock_value: number;
	lead_time_days: number;
	state: ItemState;
	out_of_stock: boolean;
	at_reorder: boolean;
	critical: boolean;
};
