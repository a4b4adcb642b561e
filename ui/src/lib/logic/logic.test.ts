import { describe, expect, it } from 'vitest';
import type { AppStatus, Envelope, Settings } from '$lib/bindings';
import { needsFirstRun } from '$lib/state/app.svelte';
import { stockChanged, summary } from '../../test/fixtures';
import { ariaSort, COLUMNS } from './columns';
import { ago, connection, days, duration, money, qty, until } from './format';
import { globalAction, isField, moveSelection } from './keyboard';
import { Latest } from './latest';
import { usableLanguage } from './locale';
import { PagedWindow } from './paging';
import { patchRow, stockTarget } from './patch';
import { revealOffset, rowsPerPage, visibleRange } from './virtual';

describe('visibleRange', () => {
	it('covers the viewport plus overscan, clamped', () => {
		expect(visibleRange(0, 320, 32, 100_000, 10)).toEqual({ start: 0, end: 20, offset: 0 });
		const r = visibleRange(32 * 5000 + 5, 640, 32, 100_000, 10);
		expect(r.start).toBe(4990);
		expect(r.end).toBe(5000 + 21 + 10);
		expect(r.offset).toBe(4990 * 32);
	});
	it('stays small at any offset of a huge list (DOM rows ≈ visible + 2 × overscan)', () => {
		for (const top of [0, 1e5, 1e6, 3.2e6 - 640]) {
			const r = visibleRange(top, 640, 32, 100_000, 10);
			expect(r.end - r.start).toBeLessThanOrEqual(20 + 21);
		}
	});
	it('clamps at the end and handles empty lists and overshoot', () => {
		expect(visibleRange(1e9, 640, 32, 50, 10)).toEqual({ start: 39, end: 50, offset: 39 * 32 });
		expect(visibleRange(0, 640, 32, 0, 10)).toEqual({ start: 0, end: 0, offset: 0 });
		expect(visibleRange(-50, 640, 32, 5, 10)).toEqual({ start: 0, end: 5, offset: 0 });
	});
	it('reveals a row with the least movement', () => {
		expect(revealOffset(10, 0, 640, 32)).toBe(0);
		expect(revealOffset(30, 0, 640, 32)).toBe(31 * 32 - 640);
		expect(revealOffset(3, 320, 640, 32)).toBe(96);
		expect(rowsPerPage(640, 32)).toBe(20);
		expect(rowsPerPage(0, 32)).toBe(1);
	});
});

describe('PagedWindow', () => {
	const page = (start: number, n: number) => Array.from({ length: n }, (_, k) => summary(start + k));

	it('grows as pages are walked and is exact at the end', () => {
		const w = new PagedWindow(200);
		expect(w.nextToLoad(0, 30)).toEqual({ page: 0, after: null });
		w.put(0, page(0, 200), 'c1');
		expect(w.count).toBe(400);
		expect(w.complete).toBe(false);
		expect(w.nextToLoad(0, 30)).toBeNull();
		expect(w.nextToLoad(190, 230)).toEqual({ page: 1, after: 'c1' });
		w.put(1, page(200, 50), null);
		expect(w.complete).toBe(true);
		expect(w.count).toBe(250);
		expect(w.row(249)?.sku).toBe(summary(249).sku);
		expect(w.row(250)).toBeUndefined();
		expect(w.nextToLoad(240, 300)).toBeNull();
	});
	it('walks forward page by page to reach a far range (keyset: no jumping)', () => {
		const w = new PagedWindow(200, 100_000);
		expect(w.count).toBe(100_000);
		w.put(0, page(0, 200), 'c1');
		expect(w.nextToLoad(50_000, 50_040)).toEqual({ page: 1, after: 'c1' });
		w.put(1, page(200, 200), 'c2');
		expect(w.nextToLoad(50_000, 50_040)).toEqual({ page: 2, after: 'c2' });
	});
	it('evicts far pages but keeps their cursors for a direct re-read', () => {
		const w = new PagedWindow(200);
		for (let k = 0; k < 10; k++) w.put(k, page(k * 200, 200), `c${k + 1}`);
		w.evict(1800, 1840, 1);
		expect(w.pagesInMemory).toBe(2);
		expect(w.row(0)).toBeUndefined();
		expect(w.nextToLoad(0, 10)).toEqual({ page: 0, after: null });
		expect(w.nextToLoad(1000, 1010)).toEqual({ page: 5, after: 'c5' });
		expect(w.count).toBe(2200);
	});
	it('updates rows in memory in place and finds them by product', () => {
		const w = new PagedWindow(200);
		w.put(0, page(0, 3), null);
		const n = w.update((r) => (r.sku === summary(1).sku ? { ...r, available: 0 } : r));
		expect(n).toBe(1);
		expect(w.row(1)?.available).toBe(0);
		expect(w.indexOf(summary(2).product_url)).toBe(2);
		expect(w.indexOf('nope')).toBe(-1);
	});
});

describe('patchRow', () => {
	it('moves the totals by a location change and recomputes state and days', () => {
		const row = summary(1, { on_hand: 10, available: 8, reorder_point: 5, velocity_30d: 2 });
		const next = patchRow(row, stockChanged(1, 8, 0));
		expect(next).not.toBe(row);
		expect(next.on_hand).toBe(2);
		expect(next.available).toBe(0);
		expect(next.state).toBe('out_of_stock');
		expect(next.out_of_stock).toBe(true);
		expect(next.days_of_stock).toBe(0);
		expect(row.available).toBe(8); // not mutated
	});
	it('takes the product totals from a level change of the whole product', () => {
		const row = summary(1, { on_hand: 10, available: 8 });
		const e: Envelope = {
			at: '2026-12-05T10:00:00Z',
			type: 'fell_below_reorder_point',
			product_url: row.product_url,
			sku: row.sku,
			location_url: null,
			location_name: null,
			level: 'low',
			previous_level: 'ok',
			on_hand: 4,
			available: 3,
			reorder_point: 5
		};
		const next = patchRow(row, e);
		expect(next.available).toBe(3);
		expect(next.state).toBe('below_reorder');
		expect(next.at_reorder).toBe(true);
	});
	it('leaves other rows and other events alone', () => {
		const row = summary(1);
		expect(patchRow(row, stockChanged(2, 5, 1))).toBe(row);
		const other: Envelope = {
			at: '2026-12-05T10:00:00Z',
			type: 'sync_started',
			run_id: 1,
			strategy: 'smart',
			started_at: null,
			runner: null
		};
		expect(patchRow(row, other)).toBe(row);
		expect(stockTarget(other)).toBeNull();
	});
	it('keeps an inactive item inactive', () => {
		const row = summary(1, { state: 'inactive', status: 'PRODUCT_INACTIVE' });
		expect(patchRow(row, stockChanged(1, 8, 0)).state).toBe('inactive');
	});
});

describe('format', () => {
	it('formats quantities, days, money and durations', () => {
		expect(qty(1234)).toBe('1,234');
		expect(qty(2.5)).toBe('2.5');
		expect(qty(null)).toBe('—');
		expect(qty(-0)).toBe('0');
		expect(days(null)).toBe('never');
		expect(days(0.4)).toBe('<1');
		expect(days(12.9)).toBe('12');
		expect(days(-3)).toBe('0');
		expect(money(3.5, 'EUR')).toBe('€3.50');
		expect(money(3.5, 'bogus')).toBe('$3.50');
		expect(duration(45)).toBe('45 s');
		expect(duration(185)).toBe('3 min 5 s');
		expect(duration(4800)).toBe('1 h 20 min');
		expect(duration(null)).toBe('—');
	});
	it('says how long ago and how long until', () => {
		const now = Date.parse('2026-12-05T12:00:00Z');
		expect(ago('2026-12-05T11:59:50Z', now)).toBe('just now');
		expect(ago('2026-12-05T11:55:00Z', now)).toBe('5 min ago');
		expect(ago('2026-12-05T09:00:00Z', now)).toBe('3 h ago');
		expect(ago('2026-12-01T12:00:00Z', now)).toBe('4 d ago');
		expect(ago(null, now)).toBe('never');
		expect(until('2026-12-05T12:04:00Z', now)).toBe('in 4 min');
		expect(until('2026-12-05T11:00:00Z', now)).toBe('now');
	});
	it('derives the connection state', () => {
		const base: AppStatus = {
			cache: { state: 'live', since: '2026-12-05T10:00:00Z' },
			mode: 'shared',
			demo: false,
			offline: false,
			notifications: { available: true, message: null }
		};
		expect(connection(base)).toBe('live');
		expect(connection({ ...base, offline: true })).toBe('offline');
		expect(connection({ ...base, cache: { ...base.cache!, state: 'stopped' } })).toBe('offline');
		expect(connection({ ...base, cache: { ...base.cache!, state: 'hydrating' } })).toBe(
			'catching_up'
		);
		expect(
			connection({ ...base, cache: { ...base.cache!, loading: ['daily_sales'] } })
		).toBe('catching_up');
		expect(connection({ ...base, cache: { ...base.cache!, state: 'embedded' } })).toBe('live');
		expect(connection(null)).toBe('catching_up');
	});
});

describe('keyboard', () => {
	it('moves the selection within the list', () => {
		expect(moveSelection(-1, 'ArrowDown', 10, 5)).toBe(0);
		expect(moveSelection(3, 'ArrowDown', 10, 5)).toBe(4);
		expect(moveSelection(9, 'ArrowDown', 10, 5)).toBe(9);
		expect(moveSelection(0, 'ArrowUp', 10, 5)).toBe(0);
		expect(moveSelection(2, 'PageDown', 10, 5)).toBe(7);
		expect(moveSelection(2, 'PageUp', 10, 5)).toBe(0);
		expect(moveSelection(2, 'End', 10, 5)).toBe(9);
		expect(moveSelection(2, 'Home', 10, 5)).toBe(0);
		expect(moveSelection(2, 'x', 10, 5)).toBeNull();
		expect(moveSelection(-1, 'ArrowDown', 0, 5)).toBeNull();
	});
	it('maps global shortcuts, never while typing', () => {
		expect(globalAction({ key: '/', inField: false })).toBe('focus-search');
		expect(globalAction({ key: '/', inField: true })).toBeNull();
		expect(globalAction({ key: 'Escape', inField: false })).toBe('back');
		expect(globalAction({ key: 'Escape', inField: false, modalOpen: true })).toBeNull();
		expect(globalAction({ key: '/', inField: false, ctrlKey: true })).toBeNull();
	});
	it('knows which elements take text', () => {
		const input = document.createElement('input');
		input.type = 'search';
		const box = document.createElement('input');
		box.type = 'checkbox';
		expect(isField(input)).toBe(true);
		expect(isField(box)).toBe(false);
		expect(isField(document.createElement('select'))).toBe(true);
		expect(isField(document.createElement('div'))).toBe(false);
		expect(isField(null)).toBe(false);
	});
});

describe('columns and stale answers', () => {
	it('marks the sorted column for assistive tech', () => {
		const sku = COLUMNS.find((c) => c.id === 'sku')!;
		const avail = COLUMNS.find((c) => c.id === 'available')!;
		expect(ariaSort(sku, 'sku', 'asc')).toBe('ascending');
		expect(ariaSort(avail, 'sku', 'asc')).toBe('none');
		expect(ariaSort(avail, 'available', 'desc')).toBe('descending');
		expect(ariaSort(sku, 'relevance', 'asc')).toBe('none');
	});
	it('keeps only the newest ticket', () => {
		const l = new Latest();
		const a = l.take();
		const b = l.take();
		expect(l.current(a)).toBe(false);
		expect(l.current(b)).toBe(true);
	});
});

describe('usableLanguage', () => {
	it('rejects the POSIX locale WebKitGTK reports under LANG=C and accepts BCP 47 tags', () => {
		expect(usableLanguage('c')).toBe(false);
		expect(usableLanguage('')).toBe(false);
		expect(usableLanguage(undefined)).toBe(false);
		expect(usableLanguage('en-US')).toBe(true);
		expect(usableLanguage('de')).toBe(true);
	});
});

describe('first run', () => {
	const nothing = {
		finale: null,
		database: null,
		demo: false,
		data_dir: '/tmp/x'
	} as unknown as Settings;
	it('is shown when nothing is configured and the cache is empty', () => {
		expect(needsFirstRun(nothing)).toBe(true);
		expect(needsFirstRun(nothing, 0)).toBe(true);
	});
	it('is not shown over a cache that holds items, in demo mode, or before settings are known', () => {
		expect(needsFirstRun(nothing, 100_000)).toBe(false);
		expect(needsFirstRun({ ...nothing, demo: true } as Settings)).toBe(false);
		expect(needsFirstRun(null)).toBe(false);
	});
});
