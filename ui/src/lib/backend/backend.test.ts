import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import { BackendError, search, syncStart, toBackendError } from './index';

describe('toBackendError', () => {
	it('keeps the backend code and message', () => {
		const e = toBackendError({ code: 'offline', message: 'store unreachable' });
		expect(e).toBeInstanceOf(BackendError);
		expect(e.code).toBe('offline');
		expect(e.message).toBe('store unreachable');
	});
	it('maps an unknown code to internal, keeping the message', () => {
		const e = toBackendError({ code: 'teapot', message: 'short and stout' });
		expect(e.code).toBe('internal');
		expect(e.message).toBe('short and stout');
	});
	it('maps a bare string (Tauri errors) and Error objects to internal', () => {
		expect(toBackendError('command search not found')).toMatchObject({
			code: 'internal',
			message: 'command search not found'
		});
		expect(toBackendError(new Error('boom')).message).toBe('boom');
		expect(toBackendError(undefined).code).toBe('internal');
	});
});

describe('commands', () => {
	it('sends the query under the `query` key and returns the page', async () => {
		let seen: unknown;
		mockIPC((cmd, args) => {
			if (cmd === 'search') {
				seen = args;
				return { rows: [], next_cursor: null };
			}
		});
		const page = await search({
			text: 'bolt',
			filters: {
				out_of_stock: false,
				below_reorder: false,
				critical: false,
				location: null,
				supplier: null,
				status: null
			},
			sort: null,
			dir: 'asc',
			limit: 200,
			after: null
		});
		expect(page.rows).toEqual([]);
		expect(seen).toMatchObject({ query: { text: 'bolt', limit: 200 } });
	});
	it('rejects with a typed error', async () => {
		mockIPC(() => {
			throw { code: 'not_found', message: 'no such item' };
		});
		await expect(search({} as never)).rejects.toMatchObject({ code: 'not_found' });
	});
	it('passes a channel for sync progress and delivers its messages', async () => {
		const got: number[] = [];
		mockIPC((cmd, args) => {
			if (cmd === 'sync_start') {
				const ch = (args as { onProgress: { onmessage: (m: unknown) => void } }).onProgress;
				expect((args as { strategy: string }).strategy).toBe('smart');
				ch.onmessage({ run_id: 7, done: 5 });
				return 7;
			}
		});
		const id = await syncStart('smart', (p) => got.push(p.done));
		expect(id).toBe(7);
		expect(got).toEqual([5]);
	});
});

describe('open-item', () => {
	it('hands the sku of the global open-item event to the handler', async () => {
		const { emit } = await import('@tauri-apps/api/event');
		const { onOpenItem } = await import('./index');
		mockIPC(() => null, { shouldMockEvents: true });
		const got: string[] = [];
		const unlisten = await onOpenItem((sku) => got.push(sku));
		await emit('open-item', { sku: 'SKU-9' });
		await emit('open-item', { nope: true });
		expect(got).toEqual(['SKU-9']);
		unlisten();
	});
});
