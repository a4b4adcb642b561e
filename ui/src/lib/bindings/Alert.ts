// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Level } from "./Level";

export type Alert = {
	id: number;
	product_url: string;
	sku: string;
	name: string | null;
	level: Level;
	on_hand: number;
	available: number;
	reorder_point: number | null;
	raised_at: string;
	updated_at: string;
	acknowledged_at: string | null;
	snoozed_until: string | null;
	escalated: boolean;
};
