// The stock list's window over a keyset-paged query.
//
// The rows stay in SQLite; the UI reads them in pages of `pageSize` (≤ 200) through `search`,
// each page starting `after` the previous page's `next_cursor`. Keyset paging has no
// "jump to row 80,000": page k can only be read once page k − 1 has given its cursor. So the
// list *grows as you scroll*:
//
// - `count` (what the scroller is sized for) is the rows walked so far plus one page of
//   placeholders while more exist; when the query is unfiltered the caller may give a
//   `hint` (dashboard's `items.total`) so that the scrollbar is proportional to the whole
//   list from the start. Rows past the walked frontier show as placeholders and are reached
//   by walking forward page by page (cheap: each page is an index read of a few µs plus one
//   IPC round trip); the count is corrected to the truth when the walk reaches the end.
// - Only the pages near the viewport keep their rows (`keep` pages either side); the others
//   keep just their cursors, so memory stays flat at 100k rows while any walked page can be
//   read again directly.
//
// Pure bookkeeping (no I/O): the store asks `nextToLoad` what to fetch, fetches, and hands
// the page back to `put`.

import type { ItemSummary } from '$lib/bindings';

type Page = {
	/** The cursor this page starts after (`null`: the first page). */
	after: string | null;
	/** Its rows, `null` when never read or evicted. */
	rows: ItemSummary[] | null;
	/** The cursor after it (`undefined` until read; `null`: the last page). */
	next: string | null | undefined;
};

export class PagedWindow {
	readonly pageSize: number;
	private pages: Page[] = [{ after: null, rows: null, next: undefined }];
	private hint: number | null;

	constructor(pageSize: number, hint: number | null = null) {
		this.pageSize = pageSize;
		this.hint = hint;
	}

	/** Pages whose `next` is known (read at least once). */
	private get walked(): number {
		let n = 0;
		while (n < this.pages.length && this.pages[n].next !== undefined) n++;
		return n;
	}

	/** The walk reached the last page: `count` is exact. */
	get complete(): boolean {
		const w = this.walked;
		return w > 0 && this.pages[w - 1].next === null;
	}

	/** Rows known to exist (in walked pages). */
	get known(): number {
		const w = this.walked;
		if (w === 0) return 0;
		if (this.pages[w - 1].next === null) return this.lastCount;
		return w * this.pageSize;
	}

	/** The rows the scroller is sized for (see the module docs). */
	get count(): number {
		if (this.complete) return this.lastCount;
		const grown = this.known + this.pageSize;
		return this.hint !== null ? Math.max(grown, this.hint) : grown;
	}

	/** Sets (or clears) the size hint: it may arrive after the walk started. */
	setHint(hint: number | null): void {
		this.hint = hint;
	}

	/** Exact row count of a completed walk (the last page's length may have been evicted). */
	private lastCount = 0;

	/** The row at `index`, or `undefined` when its page is not in memory. */
	row(index: number): ItemSummary | undefined {
		const p = this.pages[Math.floor(index / this.pageSize)];
		return p?.rows?.[index % this.pageSize];
	}

	/**
	 * The page to read next so that rows `[start, end)` are in memory, with the cursor to
	 * read it after; `null` when they are (or the walk has ended before them).
	 */
	nextToLoad(start: number, end: number): { page: number; after: string | null } | null {
		if (end <= start) return null;
		const first = Math.floor(start / this.pageSize);
		const last = Math.floor((end - 1) / this.pageSize);
		for (let k = first; k <= last; k++) {
			if (k >= this.pages.length) {
				// Past the frontier: walk forward from the last walked page.
				return this.frontier();
			}
			const p = this.pages[k];
			if (p.rows === null) {
				if (k === 0 || this.pages[k - 1].next !== undefined) {
					return { page: k, after: p.after };
				}
				return this.frontier();
			}
			if (p.next === null) return null; // the end of the list is within the range
		}
		return null;
	}

	private frontier(): { page: number; after: string | null } | null {
		const w = this.walked;
		if (w > 0 && this.pages[w - 1].next === null) return null;
		if (w === 0) return { page: 0, after: null };
		return { page: w, after: this.pages[w - 1].next as string };
	}

	/** Stores page `k` as read. */
	put(k: number, rows: ItemSummary[], next: string | null): void {
		while (this.pages.length <= k) {
			const prev = this.pages[this.pages.length - 1];
			this.pages.push({ after: prev.next ?? null, rows: null, next: undefined });
		}
		const p = this.pages[k];
		p.rows = rows;
		p.next = next;
		if (next !== null && k + 1 >= this.pages.length) {
			this.pages.push({ after: next, rows: null, next: undefined });
		} else if (next !== null) {
			this.pages[k + 1].after = next;
		}
		if (next === null) {
			this.pages.length = k + 1;
			this.lastCount = k * this.pageSize + rows.length;
		}
	}

	/** Drops the rows of pages further than `keep` pages from rows `[start, end)`. */
	evict(start: number, end: number, keep: number): void {
		const first = Math.floor(start / this.pageSize) - keep;
		const last = Math.floor(Math.max(start, end - 1) / this.pageSize) + keep;
		this.pages.forEach((p, k) => {
			if ((k < first || k > last) && p.rows !== null) p.rows = null;
		});
	}

	/** Replaces every in-memory row for which `f` returns a different object; returns how many. */
	update(f: (row: ItemSummary) => ItemSummary): number {
		let n = 0;
		for (const p of this.pages) {
			if (!p.rows) continue;
			for (let i = 0; i < p.rows.length; i++) {
				const next = f(p.rows[i]);
				if (next !== p.rows[i]) {
					p.rows[i] = next;
					n++;
				}
			}
		}
		return n;
	}

	/** The index of the in-memory row with this product URL, or -1. */
	indexOf(productUrl: string): number {
		for (let k = 0; k < this.pages.length; k++) {
			const i = this.pages[k].rows?.findIndex((r) => r.product_url === productUrl) ?? -1;
			if (i >= 0) return k * this.pageSize + i;
		}
		return -1;
	}

	/** Pages holding rows now (for tests and the benchmark's DOM/memory figures). */
	get pagesInMemory(): number {
		return this.pages.filter((p) => p.rows !== null).length;
	}
}
