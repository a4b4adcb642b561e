import { mockIPC } from '@tauri-apps/api/mocks';
import { waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import type { Envelope, SearchQuery } from '$lib/bindings';
import { fakeSearch } from '../../test/fixtures';
import { hub } from './events.svelte';
import { arrivedInBulk, startStock } from './screens.svelte';
import { StockList } from './stock.svelte';

const status = (state: 'hydrating' | 'live'): Envelope =>
	({
		seq: null,
		at: '2026-12-05T12:00:00Z',
		type: 'status',
		state,
		since: '2026-12-05T12:00:00Z',
		position: null,
		data_as_of: null,
		loading: [],
		message: null
	}) as unknown as Envelope;

describe('the stock list after bulk arrivals', () => {
	it('re-reads an empty list when the cache reports a new state (a shared store was mirrored)', async () => {
		let mirrored = false;
		const searches: SearchQuery[] = [];
		const rows = fakeSearch(500);
		mockIPC((cmd, args) => {
			const a = args as Record<string, unknown>;
			switch (cmd) {
				case 'search':
					searches.push(a.query as SearchQuery);
					return mirrored ? rows(a.query as SearchQuery) : { rows: [], next_cursor: null };
				case 'dashboard':
					return { items: { total: mirrored ? 500 : 0 } };
				case 'filter_options':
					return { locations: [], suppliers: [] };
				default:
					throw { code: 'internal', message: `unmocked ${cmd}` };
			}
		});
		const list = new StockList();
		startStock(list);
		await waitFor(() => expect(list.complete).toBe(true));
		expect(list.count).toBe(0);

		mirrored = true;
		hub.dispatch(status('live'));
		await waitFor(() => expect(list.count).toBeGreaterThan(0));
		expect(searches.length).toBeGreaterThanOrEqual(2);
	});

	it('counts status changes and finished syncs that changed items, not other events', () => {
		expect(arrivedInBulk(status('hydrating'))).toBe(true);
		const finished = (n: number) =>
			({ seq: 1, at: '', type: 'sync_finished', items_changed: n }) as unknown as Envelope;
		expect(arrivedInBulk(finished(3))).toBe(true);
		expect(arrivedInBulk(finished(0))).toBe(false);
		expect(arrivedInBulk({ seq: 1, at: '', type: 'stock_changed' } as unknown as Envelope)).toBe(false);
	});
});
