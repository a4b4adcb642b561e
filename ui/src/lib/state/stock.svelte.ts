// The stock list's state: the query (text, filters, sort), the paged window of rows over
// it, the selection, and live updates from stock events.
//
// - Search as you type: every change of the query starts a new generation immediately (no
//   debounce); answers of older generations are dropped (`Latest`). Until the new query's
//   first page lands, the grid keeps showing the previous rows (`stale`, `refreshing`): a
//   keystroke never blanks the grid, and the answer replaces the rows in place (the grid's
//   row elements are reused, not rebuilt).
// - Rows come in pages of `PAGE_SIZE` through `search` (see `PagedWindow` for the paging
//   and why the list grows as it is scrolled). One page request is in flight at a time; when
//   it lands the window is re-planned for the rows in view.
// - A stock event naming a row's product patches that row in place at once (`patchRow`),
//   flashes it, and re-reads the item from the cache (`item`) for the exact figures. The
//   selection is kept by product URL, and nothing is re-queried, so the scroll position
//   and selection survive.

import * as backend from '$lib/backend';
import type { Envelope, Filters, ItemSummary, SearchQuery, SortDir, SortField } from '$lib/bindings';
import { Latest } from '$lib/logic/latest';
import { PagedWindow } from '$lib/logic/paging';
import { patchRow, stockTarget, summaryOf } from '$lib/logic/patch';
import { SvelteSet } from 'svelte/reactivity';

export const PAGE_SIZE = 200;
/** Pages kept in memory either side of the rows in view. */
export const KEEP_PAGES = 4;
/** Rows past the view that are read before they are needed (scrolling down). */
export const READ_AHEAD = PAGE_SIZE / 2;
/** How long a changed row stays highlighted (ms). */
export const FLASH_MS = 1500;

export const NO_FILTERS: Filters = {
	out_of_stock: false,
	below_reorder: false,
	critical: false,
	location: null,
	supplier: null,
	status: null
};

export class StockList {
	text = $state('');
	filters = $state<Filters>({ ...NO_FILTERS });
	sort = $state<SortField | null>(null);
	dir = $state<SortDir>('asc');
	/** Bumped whenever rows in memory change, so views re-read them. */
	version = $state(0);
	/** Rows the scroller is sized for. */
	count = $state(0);
	/** The walk reached the end: `count` is exact. */
	complete = $state(false);
	loading = $state(false);
	error = $state<backend.BackendError | null>(null);
	/** The selected row's product URL. */
	selected = $state<string | null>(null);
	/** Product URLs highlighted after a change. */
	flashing = new SvelteSet<string>();
	/** The grid's scroll offset, kept while the screen is away (item page and back). */
	scrollTop = 0;
	/** Total of every item (dashboard), used to size the unfiltered list. */
	totalHint = $state<number | null>(null);

	private window = new PagedWindow(PAGE_SIZE);
	/** The previous query's rows, shown until the new query answers. */
	private stale = $state.raw<PagedWindow | null>(null);
	private gen = new Latest();
	private generation = this.gen.take();
	private view = { start: 0, end: 0 };
	private inflight = false;
	/** Nothing is read before the first `reset` (the screen's start). */
	private started = false;
	private refetch = new Set<string>();
	private refetchTimer: ReturnType<typeof setTimeout> | null = null;

	/** A new query was asked and has not answered yet: the rows shown are the previous query's. */
	get refreshing(): boolean {
		return this.stale !== null;
	}

	/** Whether the query is the plain list of every item (the total hint applies). */
	get unfiltered(): boolean {
		const f = this.filters;
		return (
			this.text.trim() === '' &&
			!f.out_of_stock &&
			!f.below_reorder &&
			!f.critical &&
			!f.location &&
			!f.supplier &&
			!f.status
		);
	}

	/** The query of the current generation (without paging). */
	query(after: string | null): SearchQuery {
		const text = this.text.trim();
		return {
			text: text === '' ? null : text,
			filters: { ...this.filters },
			sort: this.sort,
			dir: this.dir,
			limit: PAGE_SIZE,
			after
		};
	}

	/** The row at `index` (`undefined`: not loaded yet). Reads `version`, so views track it. */
	row(index: number): ItemSummary | undefined {
		void this.version;
		return this.window.row(index) ?? this.stale?.row(index);
	}

	indexOf(productUrl: string): number {
		void this.version;
		return this.window.indexOf(productUrl);
	}

	setText(text: string): void {
		if (text === this.text) return;
		this.text = text;
		this.reset();
	}

	setFilters(patch: Partial<Filters>): void {
		this.filters = { ...this.filters, ...patch };
		this.reset();
	}

	/** Clicking a column header: sort on it ascending, or flip the direction. */
	toggleSort(field: SortField): void {
		if (this.sort === field) {
			this.dir = this.dir === 'asc' ? 'desc' : 'asc';
		} else {
			this.sort = field;
			this.dir = 'asc';
		}
		this.reset();
	}

	setTotalHint(total: number | null): void {
		this.totalHint = total;
		if (this.unfiltered && !this.complete) {
			// The first page may have been asked before the dashboard answered.
			this.window.setHint(total);
			if (!this.refreshing) this.count = this.window.count;
		}
	}

	/** Starts the query over (new generation): first page, same view. */
	reset(): void {
		this.started = true;
		this.generation = this.gen.take();
		// Keep the rows on screen until the answer (an unanswered query in between keeps the
		// rows before it).
		if (this.window.row(0) !== undefined) this.stale = this.window;
		this.window = new PagedWindow(PAGE_SIZE, this.unfiltered ? this.totalHint : null);
		if (!this.refreshing) this.count = 0;
		this.complete = false;
		this.error = null;
		this.inflight = false;
		this.version++;
		void this.pump();
	}

	/** The rows in view changed (scrolling): load what is missing, drop what is far. */
	show(start: number, end: number): void {
		this.view = { start, end };
		this.window.evict(start, end, KEEP_PAGES);
		void this.pump();
	}

	/** Loads pages until the rows in view are in memory (one request at a time). */
	private async pump(): Promise<void> {
		if (this.inflight || !this.started) return;
		const gen = this.generation;
		// Half a page ahead of the view: the next page is usually in memory before its rows
		// scroll into view, so they appear without placeholders.
		const end = Math.max(this.view.end + READ_AHEAD, 1);
		const want = this.window.nextToLoad(this.view.start, end);
		if (!want) {
			this.loading = false;
			return;
		}
		this.inflight = true;
		this.loading = true;
		try {
			const page = await backend.search(this.query(want.after));
			if (!this.gen.current(gen)) return; // a newer query replaced this one
			this.window.put(want.page, page.rows, page.next_cursor);
			this.window.evict(this.view.start, this.view.end, KEEP_PAGES);
			this.stale = null; // the answer replaces the previous query's rows
			this.count = this.window.count;
			this.complete = this.window.complete;
			this.version++;
		} catch (e) {
			if (!this.gen.current(gen)) return;
			// A failed new query shows no rows (not the previous query's).
			if (this.refreshing) this.count = 0;
			this.stale = null;
			this.error = backend.toBackendError(e);
			this.loading = false;
			return;
		} finally {
			if (this.gen.current(gen)) this.inflight = false;
		}
		void this.pump();
	}

	/** Applies a domain event: patches and flashes the rows it names, then re-reads them. */
	apply(e: Envelope): void {
		const target = stockTarget(e);
		if (!target) return;
		const changed = this.window.update((row) => patchRow(row, e));
		if (changed === 0) return;
		this.version++;
		this.flash(target.product_url);
		this.refetch.add(target.sku);
		if (!this.refetchTimer) {
			this.refetchTimer = setTimeout(() => void this.refetchRows(), 50);
		}
	}

	private flash(productUrl: string): void {
		this.flashing.delete(productUrl);
		this.flashing.add(productUrl);
		setTimeout(() => this.flashing.delete(productUrl), FLASH_MS);
	}

	/** Re-reads the changed items (coalesced: a burst of events costs one read per item). */
	private async refetchRows(): Promise<void> {
		this.refetchTimer = null;
		const skus = [...this.refetch];
		this.refetch.clear();
		const gen = this.generation;
		await Promise.all(
			skus.map(async (sku) => {
				try {
					const fresh = summaryOf(await backend.item(sku));
					if (!this.gen.current(gen)) return;
					if (this.window.update((r) => (r.product_url === fresh.product_url ? fresh : r)))
						this.version++;
				} catch {
					// The patch stays; the next page read or event corrects the row.
				}
			})
		);
	}
}
