// Row patching from stock events: which rows an event touches and what the row shows until
// the item is re-read from the cache.
//
// A `stock_changed` event carries one location's before/after, so the row's totals move by
// the difference; a level change of the product total (`location_url` null) carries the new
// totals. The state and flags follow from the definitions in the Rust `query` module where
// the event allows it; the caller re-reads the item (`item`) right after for the exact row
// (days of stock, critical, per-location reorder points) — the patch only makes the change
// visible without waiting for it.

import type { Envelope, ItemState, ItemSummary } from '$lib/bindings';

/** The product an event is about when it changes what a stock row shows, else `null`. */
export function stockTarget(e: Envelope): { product_url: string; sku: string } | null {
	switch (e.type) {
		case 'stock_changed':
		case 'stocked_out':
		case 'fell_below_reorder_point':
		case 'restocked':
		case 'price_changed':
			return { product_url: e.product_url, sku: e.sku };
		default:
			return null;
	}
}

function stateOf(row: ItemSummary, atReorder: boolean): ItemState {
	if (row.state === 'inactive') return 'inactive';
	if (row.available <= 0) return 'out_of_stock';
	if (atReorder) return 'below_reorder';
	return 'ok';
}

/**
 * The row after the event, or the row itself (same object) when the event does not apply to
 * it. Never mutates `row`.
 */
export function patchRow(row: ItemSummary, e: Envelope): ItemSummary {
	const target = stockTarget(e);
	if (!target || target.product_url !== row.product_url) return row;
	const next: ItemSummary = { ...row };
	switch (e.type) {
		case 'stock_changed': {
			next.on_hand = row.on_hand + (e.after.on_hand - e.before.on_hand);
			next.available = row.available + (e.after.available - e.before.available);
			next.reserved = next.on_hand - next.available;
			break;
		}
		case 'stocked_out':
		case 'fell_below_reorder_point':
		case 'restocked': {
			if (e.location_url !== null) {
				// A single location's level: the totals are not in the event; flags may change.
				if (e.type !== 'restocked') next.at_reorder = row.state !== 'inactive';
				break;
			}
			next.on_hand = e.on_hand;
			next.available = e.available;
			next.reserved = e.on_hand - e.available;
			if (e.type === 'restocked' && e.level === 'ok') next.at_reorder = false;
			if (e.type !== 'restocked') next.at_reorder = row.state !== 'inactive';
			break;
		}
		case 'price_changed': {
			next.cost = e.cost.after;
			next.price = e.list_price.after;
			break;
		}
	}
	if (row.velocity_30d > 0) next.days_of_stock = Math.max(0, next.available) / row.velocity_30d;
	next.stock_value = next.on_hand * (next.cost ?? 0);
	next.state = stateOf(next, next.at_reorder);
	next.out_of_stock = next.state === 'out_of_stock';
	if (next.out_of_stock) next.critical = true;
	return next;
}

/** The list row part of a fuller record (an `ItemDetail` flattens an `ItemSummary`). */
export function summaryOf(detail: ItemSummary): ItemSummary {
	return {
		sku: detail.sku,
		product_url: detail.product_url,
		name: detail.name,
		status: detail.status,
		category: detail.category,
		upc: detail.upc,
		on_hand: detail.on_hand,
		reserved: detail.reserved,
		available: detail.available,
		on_order: detail.on_order,
		reorder_point: detail.reorder_point,
		reorder_qty: detail.reorder_qty,
		velocity_30d: detail.velocity_30d,
		velocity_90d: detail.velocity_90d,
		days_of_stock: detail.days_of_stock,
		cost: detail.cost,
		price: detail.price,
		stock_value: detail.stock_value,
		lead_time_days: detail.lead_time_days,
		state: detail.state,
		out_of_stock: detail.out_of_stock,
		at_reorder: detail.at_reorder,
		critical: detail.critical
	};
}
