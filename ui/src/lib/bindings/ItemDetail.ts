// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { DailySale } from "./DailySale";
import type { ItemSummary } from "./ItemSummary";
import type { LocationStock } from "./LocationStock";
import type { ReorderRule } from "./ReorderRule";
import type { Suggestion } from "./Suggestion";
import type { SupplierLink } from "./SupplierLink";

export type ItemDetail = ItemSummary & {
	product_type: string | null;
	packing: string | null;
	product_lead_time_days: number | null;
	finale_last_updated: string | null;
	locations: Array<LocationStock>;
	suppliers: Array<SupplierLink>;
	reorder_rules: Array<ReorderRule>;
	sales: Array<DailySale>;
	units_sold_2y: number;
	revenue_2y: number;
	/** Requested addition (see the UI report): the reorder formula's outcome for this item. */
	suggestion: Suggestion | null;
};
