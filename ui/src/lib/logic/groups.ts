// Grouping of reorder suggestions by main supplier (the backend orders a grouped page so that
// one supplier's rows are consecutive; pages may split a group, so groups merge across pages).

import type { ReorderSuggestion } from '$lib/bindings';

export type SupplierGroup = {
	key: string;
	supplier_url: string | null;
	supplier_name: string | null;
	rows: ReorderSuggestion[];
	/** Σ suggested qty × unit cost. */
	order_value: number;
	/** Rows with a quantity to buy. */
	to_order: number;
};

/** Groups consecutive rows by supplier URL (rows without a supplier form the last group). */
export function groupBySupplier(rows: ReorderSuggestion[]): SupplierGroup[] {
	const groups: SupplierGroup[] = [];
	const byKey = new Map<string, SupplierGroup>();
	for (const r of rows) {
		const key = r.supplier_url ?? '';
		let g = byKey.get(key);
		if (!g) {
			g = {
				key,
				supplier_url: r.supplier_url,
				supplier_name: r.supplier_name,
				rows: [],
				order_value: 0,
				to_order: 0
			};
			byKey.set(key, g);
			groups.push(g);
		}
		g.rows.push(r);
		g.order_value += r.order_value;
		if (r.suggested_qty > 0) g.to_order++;
	}
	return groups;
}

/** The progress bar's fraction (0–1), `null` while the total is unknown. */
export function progressFraction(done: number, total: number | null): number | null {
	if (total === null || total <= 0) return null;
	return Math.min(1, Math.max(0, done / total));
}
