// App-lifetime screen state: the stock list survives navigation (open an item, Esc back:
// same query, selection and scroll offset), wired once to the event hub.

import * as backend from '$lib/backend';
import type { FilterOptions } from '$lib/bindings';
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
	hub.on((e) => list.apply(e));
	list.reset();
	backend
		.dashboard()
		.then((d) => list.setTotalHint(d.items.total))
		.catch(() => {});
	backend
		.filterOptions()
		.then((o) => (filterOptions.value = o))
		.catch(() => {});
}
