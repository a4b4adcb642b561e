import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import type { SearchQuery } from '$lib/bindings';
import { summary } from '../../test/fixtures';
import { StockList } from './stock.svelte';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('StockList', () => {
	it('drops the answer to an older query when a newer one was typed', async () => {
		const pending: Array<{ q: SearchQuery; resolve: (v: unknown) => void }> = [];
		mockIPC((cmd, args) => {
			if (cmd !== 'search') return null;
			return new Promise((resolve) =>
				pending.push({ q: (args as { query: SearchQuery }).query, resolve })
			);
		});
		const list = new StockList();
		list.setText('b');
		list.setText('bo');
		await tick();
		const [old, fresh] = pending;
		expect(old.q.text).toBe('b');
		expect(fresh.q.text).toBe('bo');
		fresh.resolve({ rows: [summary(2)], next_cursor: null });
		await tick();
		old.resolve({ rows: [summary(1), summary(3)], next_cursor: 'x' });
		await tick();
		expect(list.row(0)?.sku).toBe(summary(2).sku);
		expect(list.count).toBe(1);
		expect(list.complete).toBe(true);
	});

	it('keeps showing the previous rows until the new query answers, then replaces them', async () => {
		const pending: Array<{ q: SearchQuery; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
		mockIPC((cmd, args) => {
			if (cmd !== 'search') return null;
			return new Promise((resolve, reject) =>
				pending.push({ q: (args as { query: SearchQuery }).query, resolve, reject })
			);
		});
		const list = new StockList();
		list.show(0, 30);
		list.setText('a');
		await tick();
		pending[0].resolve({ rows: [summary(1), summary(2)], next_cursor: null });
		await tick();
		expect(list.refreshing).toBe(false);

		list.setText('ab');
		await tick();
		// Asked, not answered: the grid still has the rows of "a", marked as refreshing.
		expect(pending[1].q.text).toBe('ab');
		expect(list.refreshing).toBe(true);
		expect(list.count).toBe(2);
		expect(list.row(0)?.sku).toBe(summary(1).sku);
		// A keystroke more before the answer: still the rows of "a" (not a blank grid).
		list.setText('abc');
		await tick();
		expect(list.row(1)?.sku).toBe(summary(2).sku);

		pending[2].resolve({ rows: [summary(7)], next_cursor: null });
		await tick();
		expect(list.refreshing).toBe(false);
		expect(list.count).toBe(1);
		expect(list.row(0)?.sku).toBe(summary(7).sku);
		expect(list.row(1)).toBeUndefined();

		// A new query that fails shows its error and no rows, not the previous query's.
		list.setText('abcd');
		await tick();
		expect(list.row(0)?.sku).toBe(summary(7).sku);
		pending[3].reject({ code: 'invalid_input', message: 'nope' });
		await tick();
		expect(list.refreshing).toBe(false);
		expect(list.error?.code).toBe('invalid_input');
		expect(list.count).toBe(0);
		expect(list.row(0)).toBeUndefined();
	});

	it('sizes the unfiltered list by the total even when the total arrives after the first page', async () => {
		mockIPC((cmd, args) => {
			const q = (args as { query: SearchQuery }).query;
			const start = q.after ? Number(q.after) : 0;
			const rows = Array.from({ length: q.limit! }, (_, k) => summary(start + k));
			const next = start + q.limit!;
			return { rows, next_cursor: next < 100_000 ? String(next) : null };
		});
		const list = new StockList();
		list.show(0, 30);
		list.reset();
		await tick();
		expect(list.count).toBe(400); // one page walked, one page of placeholders
		list.setTotalHint(100_000);
		expect(list.count).toBe(100_000);
		// Scrolling far down walks the pages; the size stays the total, not the walked rows.
		list.show(50_000, 50_030);
		await tick();
		expect(list.count).toBe(100_000);
		expect(list.complete).toBe(false);
		list.show(99_970, 100_000);
		for (let i = 0; i < 5; i++) await tick();
		expect(list.complete).toBe(true);
		expect(list.count).toBe(100_000);
		expect(list.row(99_999)?.sku).toBe(summary(99_999).sku);
	});

	it('walks pages as the view moves down, passing each next_cursor back as after', async () => {
		const seen: Array<string | null> = [];
		mockIPC((cmd, args) => {
			const q = (args as { query: SearchQuery }).query;
			seen.push(q.after);
			const start = q.after ? Number(q.after) : 0;
			const rows = Array.from({ length: q.limit! }, (_, k) => summary(start + k));
			return { rows, next_cursor: String(start + q.limit!) };
		});
		const list = new StockList();
		list.show(0, 30);
		list.reset();
		await tick();
		expect(seen).toEqual([null]);
		list.show(590, 630);
		for (let i = 0; i < 10; i++) await tick();
		expect(seen).toEqual([null, '200', '400', '600']);
		expect(list.row(600)?.sku).toBe(summary(600).sku);
	});
});
