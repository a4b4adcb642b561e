// Test data shaped like the Rust serde JSON.
import type { Envelope, ItemDetail, ItemSummary, SearchPage, SearchQuery } from '$lib/bindings';

export function summary(i: number, over: Partial<ItemSummary> = {}): ItemSummary {
	const sku = `SKU-${String(i).padStart(6, '0')}`;
	return {
		sku,
		product_url: `/acct/api/product/${i}`,
		name: `Item ${i}`,
		status: 'PRODUCT_ACTIVE',
		category: null,
		upc: `0000${i}`,
		on_hand: 10,
		reserved: 2,
		available: 8,
		on_order: 0,
		reorder_point: 5,
		reorder_qty: 10,
		velocity_30d: 1,
		velocity_90d: 1,
		days_of_stock: 8,
		cost: 2,
		price: 5,
		stock_value: 20,
		lead_time_days: 14,
		state: 'ok',
		out_of_stock: false,
		at_reorder: false,
		critical: false,
		...over
	};
}

/** A `search` answer over `total` generated rows, honouring limit/after (the cursor is the index). */
export function fakeSearch(total: number, make = summary) {
	return (query: SearchQuery): SearchPage => {
		const start = query.after ? Number(query.after) : 0;
		const limit = query.limit ?? 50;
		const end = Math.min(total, start + limit);
		const rows = [];
		for (let i = start; i < end; i++) rows.push(make(i));
		return { rows, next_cursor: end < total ? String(end) : null };
	};
}

export function detail(i: number, over: Partial<ItemDetail> = {}): ItemDetail {
	return {
		...summary(i),
		product_type: null,
		packing: null,
		product_lead_time_days: null,
		finale_last_updated: null,
		locations: [],
		suppliers: [],
		reorder_rules: [],
		sales: [],
		units_sold_2y: 0,
		revenue_2y: 0,
		suggestion: null,
		...over
	};
}

export function stockChanged(i: number, before: number, after: number): Envelope {
	return {
		seq: 1,
		at: '2026-12-05T10:00:00Z',
		type: 'stock_changed',
		product_url: `/acct/api/product/${i}`,
		sku: summary(i).sku,
		location_url: '/acct/api/facility/1',
		location_name: 'Main',
		before: { on_hand: before, available: before },
		after: { on_hand: after, available: after }
	};
}
