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
