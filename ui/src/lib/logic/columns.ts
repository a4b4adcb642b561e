// The stock table's columns: header, sort field, alignment and cell text.

import type { ItemSummary, SortDir, SortField } from '$lib/bindings';
import { days, qty } from './format';

export type Column = {
	id: string;
	label: string;
	sort: SortField;
	numeric: boolean;
	/** CSS grid track. */
	width: string;
	text: (r: ItemSummary) => string;
};

export const COLUMNS: Column[] = [
	{ id: 'sku', label: 'SKU', sort: 'sku', numeric: false, width: 'minmax(7rem, 1fr)', text: (r) => r.sku },
	{ id: 'name', label: 'Name', sort: 'name', numeric: false, width: 'minmax(10rem, 2.5fr)', text: (r) => r.name ?? '' },
	{ id: 'on_hand', label: 'On hand', sort: 'on_hand', numeric: true, width: '6rem', text: (r) => qty(r.on_hand) },
	{ id: 'available', label: 'Available', sort: 'available', numeric: true, width: '6rem', text: (r) => qty(r.available) },
	// `on_order` and `state` are sort fields this UI asks the Rust query to add (see the report).
	{ id: 'on_order', label: 'On order', sort: 'on_order', numeric: true, width: '6rem', text: (r) => qty(r.on_order) },
	{ id: 'reorder_point', label: 'Reorder point', sort: 'reorder_point', numeric: true, width: '7rem', text: (r) => qty(r.reorder_point) },
	{ id: 'days', label: 'Days left', sort: 'days_of_stock', numeric: true, width: '6rem', text: (r) => days(r.days_of_stock) },
	{ id: 'status', label: 'Status', sort: 'state', numeric: false, width: '8.5rem', text: () => '' }
];

/** The `aria-sort` of a column header under the current sort. */
export function ariaSort(
	col: Column,
	sort: SortField | null,
	dir: SortDir
): 'ascending' | 'descending' | 'none' {
	const active = sort ?? 'sku';
	if (col.sort !== active) return 'none';
	return dir === 'asc' ? 'ascending' : 'descending';
}
