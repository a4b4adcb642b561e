// App-lifetime screen state: the stock list survives navigation (open an item, Esc back:
// same query, selection and scroll offset), wired once to the event hub.

import * as backend from '$lib/backend';
import type { Envelope, FilterOptions } from '$lib/bindings';
import { hub } from './events.svelte';
import { StockList } from './stock.svelte';
import { SyncState } from './sync.svelte';

export const stockList = new StockList();

/** Survives navigation, so a run started here keeps its progress channel's updates. */
export const syncState = new SyncState();

export const filterOptions = $state<{ value: FilterOptions | null }>({ value: null });

let started = false;

/** Starts the stock list (first page, total, filter options, live rows); idempotent. */
export function startStock(list: StockList = stockList): void {
	if (started && list === stockList) return;
	if (list === stockList) started = true;
	const refreshCounts = () =>
		backend
			.dashboard()
			.then((d) => list.setTotalHint(d.items.total))
			.catch(() => {});
	const refreshOptions = () =>
		backend
			.filterOptions()
			.then((o) => (filterOptions.value = o))
			.catch(() => {});
	hub.on((e) => {
		list.apply(e);
		// New items may have arrived in bulk, without a stock event per item: a finished sync
		// (first run, demo data), or the mirror's copy of a shared store reporting its progress
		// (hydration sends status changes, not rows). Refresh the total and the filter options,
		// and re-read a list that was empty. A non-empty list is left as it is, so that its
		// scroll position and selection stay; its rows update from events.
		if (arrivedInBulk(e)) {
			void refreshCounts();
			void refreshOptions();
			if (list.complete && list.count === 0) list.reset();
		}
	});
	list.reset();
	void refreshCounts();
	void refreshOptions();
}

/** Whether an event may stand for many new rows at once (see `startStock`). */
export function arrivedInBulk(e: Envelope): boolean {
	if (e.type === 'sync_finished') return e.items_changed > 0;
	return e.type === 'status';
}
