import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it, vi } from 'vitest';
import type { Envelope, SearchQuery } from '$lib/bindings';
import { EventHub } from '$lib/state/events.svelte';
import { StockList } from '$lib/state/stock.svelte';
import { detail, fakeSearch, stockChanged, summary } from '../../test/fixtures';
import StockView from './StockView.svelte';

type Ipc = { searches: SearchQuery[]; channel: { onmessage: (e: Envelope) => void } | null };

function backend(total = 1000): Ipc {
	const ipc: Ipc = { searches: [], channel: null };
	const answer = fakeSearch(total);
	mockIPC((cmd, args) => {
		const a = args as Record<string, unknown>;
		switch (cmd) {
			case 'search':
				ipc.searches.push(a.query as SearchQuery);
				return answer(a.query as SearchQuery);
			case 'subscribe_events':
				ipc.channel = a.onEvent as Ipc['channel'];
				return null;
			case 'item':
				return detail(1, { available: 0, on_hand: 2, state: 'out_of_stock', out_of_stock: true });
			default:
				throw { code: 'internal', message: `unmocked ${cmd}` };
		}
	});
	return ipc;
}

function setup(total = 1000) {
	const ipc = backend(total);
	const list = new StockList();
	const onopen = vi.fn();
	render(StockView, { list, options: { locations: [], suppliers: [] }, onopen });
	list.reset();
	return { ipc, list, onopen };
}

const rowOf = (sku: string) => document.querySelector(`[role="row"][data-sku="${sku}"]`);

describe('StockView', () => {
	it('renders rows of the first page as a grid, and only about a screenful of them', async () => {
		setup(100_000);
		await waitFor(() => expect(rowOf(summary(0).sku)).not.toBeNull());
		const grid = screen.getByRole('grid', { name: 'Stock' });
		expect(grid).toBeTruthy();
		const rows = grid.querySelectorAll('[role="rowgroup"] [role="row"][data-sku]');
		expect(rows.length).toBeGreaterThan(10);
		expect(rows.length).toBeLessThanOrEqual(60);
		const cells = rowOf(summary(0).sku)!.querySelectorAll('[role="gridcell"]');
		expect(cells[0].textContent).toContain(summary(0).sku);
		expect(cells[7].textContent).toContain('OK');
		expect(screen.getAllByRole('columnheader')).toHaveLength(8);
	});

	it('searches as you type with the typed text, from the first page', async () => {
		const { ipc } = setup();
		await waitFor(() => expect(ipc.searches.length).toBeGreaterThan(0));
		const box = screen.getByRole('searchbox', { name: 'Search stock' });
		await userEvent.type(box, 'bolt');
		await waitFor(() => expect(ipc.searches.at(-1)?.text).toBe('bolt'));
		expect(ipc.searches.at(-1)?.after).toBeNull();
		expect(ipc.searches.at(-1)?.limit).toBeLessThanOrEqual(200);
	});

	it('renders hostile search text as text, not markup', async () => {
		const { ipc } = setup();
		const hostile = `"'<script>window.__pwned=1</script><img src=x onerror=alert(1)>'; DROP TABLE products;--`;
		mockIPC((cmd, args) => {
			if (cmd === 'search') {
				const q = (args as { query: SearchQuery }).query;
				ipc.searches.push(q);
				return { rows: [summary(1, { name: q.text })], next_cursor: null };
			}
		});
		const box = screen.getByRole('searchbox', { name: 'Search stock' });
		await fireEvent.input(box, { target: { value: hostile } });
		await waitFor(() => expect(ipc.searches.at(-1)?.text).toBe(hostile));
		await waitFor(() => expect(rowOf(summary(1).sku)?.textContent).toContain('<script>'));
		expect(document.querySelector('img')).toBeNull();
		expect(document.querySelector('[role="grid"] script')).toBeNull();
		expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
	});

	it('sorts by a clicked column header and marks it with aria-sort', async () => {
		const { ipc } = setup();
		await waitFor(() => expect(ipc.searches.length).toBeGreaterThan(0));
		const header = screen.getByRole('columnheader', { name: /Available/ });
		expect(header.getAttribute('aria-sort')).toBe('none');
		await fireEvent.click(header.querySelector('button')!);
		await waitFor(() => expect(ipc.searches.at(-1)).toMatchObject({ sort: 'available', dir: 'asc' }));
		expect(header.getAttribute('aria-sort')).toBe('ascending');
		await fireEvent.click(header.querySelector('button')!);
		await waitFor(() => expect(ipc.searches.at(-1)).toMatchObject({ dir: 'desc' }));
		expect(header.getAttribute('aria-sort')).toBe('descending');
	});

	it('sends the filters', async () => {
		const { ipc } = setup();
		await fireEvent.click(screen.getByRole('checkbox', { name: 'Critical' }));
		await waitFor(() => expect(ipc.searches.at(-1)?.filters.critical).toBe(true));
	});

	it('updates a row in place with a highlight when a stock event names it', async () => {
		const { ipc, list } = setup();
		const hub = new EventHub();
		hub.on((e) => list.apply(e));
		await hub.start();
		await waitFor(() => expect(rowOf(summary(1).sku)).not.toBeNull());
		list.selected = summary(1).product_url;
		const before = ipc.searches.length;
		const row = rowOf(summary(1).sku)!;
		expect(row.textContent).toContain('8');

		ipc.channel!.onmessage(stockChanged(1, 8, 0));

		await waitFor(() => expect(rowOf(summary(1).sku)!.classList.contains('flash')).toBe(true));
		const cells = rowOf(summary(1).sku)!.querySelectorAll('[role="gridcell"]');
		expect(cells[3].textContent?.trim()).toBe('0');
		expect(cells[7].textContent).toContain('Out of stock');
		// Same DOM node (in place), selection kept, no new search.
		expect(rowOf(summary(1).sku)).toBe(row);
		expect(row.getAttribute('aria-selected')).toBe('true');
		expect(ipc.searches.length).toBe(before);
	});

	it('moves the selection with the arrows and opens with Enter', async () => {
		const { onopen } = setup();
		await waitFor(() => expect(rowOf(summary(0).sku)).not.toBeNull());
		const grid = screen.getByRole('grid');
		await fireEvent.keyDown(grid, { key: 'ArrowDown' });
		await fireEvent.keyDown(grid, { key: 'ArrowDown' });
		expect(rowOf(summary(1).sku)!.getAttribute('aria-selected')).toBe('true');
		await fireEvent.keyDown(grid, { key: 'Enter' });
		expect(onopen).toHaveBeenCalledWith(summary(1).sku);
	});

	it('shows a backend error instead of rows', async () => {
		mockIPC(() => {
			throw { code: 'unavailable', message: 'the local cache is not ready' };
		});
		const list = new StockList();
		render(StockView, { list, options: null, onopen: () => {} });
		list.reset();
		await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('not ready'));
	});
});
