// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Level } from "./Level";

export type LevelChange = {
	product_url: string;
	sku: string;
	location_url: string | null;
	location_name: string | null;
	level: Level;
	previous_level: Level;
	on_hand: number;
	available: number;
	reorder_point: number | null;
};
