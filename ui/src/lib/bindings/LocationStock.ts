// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { SublocationStock } from "./SublocationStock";

export type LocationStock = {
	location_url: string | null;
	name: string | null;
	on_hand: number;
	reserved: number;
	on_order: number;
	available: number;
	reorder_point: number | null;
	reorder_qty: number | null;
	at_reorder: boolean;
	sublocations: Array<SublocationStock>;
};
