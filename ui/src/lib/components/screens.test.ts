import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it, vi } from 'vitest';
import type { AlertListGroup, AppStatus, Settings, SyncOverview, SyncProgress } from '$lib/bindings';
import { AppState } from '$lib/state/app.svelte';
import { EventHub } from '$lib/state/events.svelte';
import { SyncState } from '$lib/state/sync.svelte';
import { detail, stockChanged } from '../../test/fixtures';
import AlertsView from './AlertsView.svelte';
import AppShellHarness from './AppShellHarness.test.svelte';
import FirstRun from './FirstRun.svelte';
import ItemView from './ItemView.svelte';
import SettingsView from './SettingsView.svelte';
import SyncView from './SyncView.svelte';

// uPlot needs a canvas, which jsdom lacks: record what the chart is given instead.
const plots: Array<{ series: number; points: number }> = [];
vi.mock('uplot', () => ({
	default: class {
		constructor(opts: { series: unknown[] }, data: number[][]) {
			plots.push({ series: opts.series.length, points: data[0].length });
		}
		setSize() {}
		destroy() {}
	}
}));

const status = (over: Partial<AppStatus> = {}): AppStatus => ({
	cache: { state: 'live', since: '2026-12-05T10:00:00Z', data_as_of: '2026-12-05T10:00:00Z' },
	mode: 'embedded',
	demo: false,
	offline: false,
	notifications: { available: true, message: null },
	...over
});

describe('ItemView', () => {
	it('renders the figures and the two-year chart, and re-reads on a stock event', async () => {
		let reads = 0;
		mockIPC((cmd, args) => {
			if (cmd !== 'item') return null;
			expect((args as { sku: string }).sku).toBe('SKU-000001');
			reads++;
			return detail(1, {
				available: reads === 1 ? 8 : 3,
				velocity_30d: 1.5,
				velocity_90d: 0.75,
				days_of_stock: 5.3,
				sales: [{ day: new Date().toISOString().slice(0, 10), units: 4, revenue: 20 }],
				locations: [
					{
						location_url: '/f/1',
						name: 'Main',
						on_hand: 10,
						reserved: 2,
						on_order: 0,
						available: 8,
						reorder_point: 5,
						reorder_qty: 10,
						at_reorder: false,
						sublocations: [
							{ facility_url: '/f/1a', name: 'A-01', on_hand: 10, reserved: 2, on_order: 0, available: 8 }
						]
					}
				],
				suppliers: [
					{ supplier_url: '/s/1', name: 'Acme', supplier_sku: 'AC-1', is_main: true, price: 2.5, currency: 'USD', lead_time_days: 9 }
				],
				suggestion: { demand_per_day: 1.5, target: 26, position: 8, suggested_qty: 19, low_locations: [], transfers: [] }
			});
		});
		plots.length = 0;
		const hub = new EventHub();
		render(ItemView, { sku: 'SKU-000001', hub });
		await screen.findByRole('heading', { level: 1, name: /SKU-000001/ });
		expect(screen.getByRole('img', { name: /Daily units sold over two years/ })).toBeTruthy();
		expect(plots).toEqual([{ series: 4, points: 730 }]);
		const fig = (k: string) => document.querySelector(`[data-figure="${k}"]`)?.textContent?.trim();
		expect(fig('available')).toBe('8');
		expect(fig('velocity_30d')).toBe('1.50/day');
		expect(fig('velocity_90d')).toBe('0.75/day');
		expect(fig('days_of_stock')).toBe('5');
		expect(fig('suggestion')).toBe('Order 19');
		expect(screen.getByText(/A-01/)).toBeTruthy();
		expect(screen.getByText('Acme')).toBeTruthy();
		expect(screen.getByText('$2.50')).toBeTruthy();

		hub.dispatch(stockChanged(1, 8, 3));
		await waitFor(() => expect(fig('available')).toBe('3'));
	});

	it('says when the item is not in the cache', async () => {
		mockIPC(() => {
			throw { code: 'not_found', message: 'SKU-404' };
		});
		render(ItemView, { sku: 'SKU-404', hub: new EventHub() });
		expect((await screen.findByRole('alert')).textContent).toContain('No item with SKU');
	});
});

describe('SyncView', () => {
	const overview: SyncOverview = {
		running: null,
		writer: { holder: 'ws-frontdesk', since: '2026-12-05T09:00:00Z', is_me: false },
		schedule: [{ strategy: 'smart', every_seconds: 300, next_at: '2026-12-05T10:05:00Z' }],
		runs: [
			{ id: 3, strategy: 'smart', started_at: '2026-12-05T09:00:00Z', finished_at: '2026-12-05T09:00:40Z', status: 'succeeded', items: 120, duration_seconds: 40, error: null }
		]
	};
	const progress = (over: Partial<SyncProgress>): SyncProgress => ({
		run_id: 9,
		strategy: 'smart',
		phase: 'products',
		done: 0,
		total: 400,
		eta_seconds: 60,
		budget_used: 10,
		budget_limit: 120,
		finished: false,
		outcome: 'running',
		message: null,
		...over
	});

	it('starts a sync and shows progress from the channel until done', async () => {
		let channel: { onmessage: (p: SyncProgress) => void } | null = null;
		const calls: string[] = [];
		mockIPC((cmd, args) => {
			calls.push(cmd);
			if (cmd === 'sync_overview') return overview;
			if (cmd === 'sync_start') {
				expect((args as { strategy: string }).strategy).toBe('smart');
				channel = (args as { onProgress: typeof channel }).onProgress;
				return 9;
			}
			if (cmd === 'sync_cancel') return null;
		});
		const sync = new SyncState();
		await sync.refresh();
		render(SyncView, { sync, now: Date.parse('2026-12-05T10:00:00Z') });
		expect(screen.getByText('ws-frontdesk')).toBeTruthy();
		expect(screen.getByText(/in 5 min/)).toBeTruthy();
		await fireEvent.click(screen.getByRole('button', { name: 'Smart sync' }));
		await waitFor(() => expect(channel).not.toBeNull());

		channel!.onmessage(progress({ done: 100 }));
		const bar = await screen.findByRole('progressbar');
		await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe('100'));
		expect(screen.getByTestId('progress-count').textContent).toContain('100 of 400');
		expect(screen.getByText(/ETA 1 min/)).toBeTruthy();
		expect(screen.getByText(/Finale budget 10 \/ 120/)).toBeTruthy();
		expect((screen.getByRole('button', { name: 'Full sync' }) as HTMLButtonElement).disabled).toBe(true);

		await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
		expect(calls).toContain('sync_cancel');

		channel!.onmessage(progress({ done: 400, finished: true, outcome: 'succeeded', eta_seconds: null }));
		await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe('400'));
		expect(screen.getByText('succeeded', { selector: '.progress-panel .badge' })).toBeTruthy();
		expect((screen.getByRole('button', { name: 'Full sync' }) as HTMLButtonElement).disabled).toBe(false);
	});

	it('explains a busy backend', async () => {
		mockIPC((cmd) => {
			if (cmd === 'sync_start') throw { code: 'busy', message: 'ws-frontdesk is syncing' };
			return overview;
		});
		const sync = new SyncState();
		render(SyncView, { sync, now: Date.now() });
		await fireEvent.click(screen.getByRole('button', { name: 'Critical sync' }));
		expect((await screen.findByRole('alert')).textContent).toContain('Another sync is running');
	});
});

describe('AlertsView', () => {
	it('acknowledges and snoozes through their commands', async () => {
		const group: AlertListGroup = {
			id: 42,
			kind: 'stockout',
			raised_at: '2026-12-05T09:58:00Z',
			items: [{ product_url: '/p/1', sku: 'SKU-1', name: 'Bolt', available: 0, reorder_point: 5 }],
			acknowledged: false,
			snoozed_until: null
		};
		const calls: Array<[string, unknown]> = [];
		mockIPC((cmd, args) => {
			calls.push([cmd, args]);
			if (cmd === 'alerts') return [group];
			return null;
		});
		render(AlertsView, { hub: new EventHub(), now: Date.parse('2026-12-05T10:00:00Z') });
		await screen.findByRole('heading', { name: /SKU-1 is out of stock/ });
		expect(screen.getByText('Stockout')).toBeTruthy();
		await fireEvent.click(screen.getByRole('button', { name: 'Acknowledge' }));
		await waitFor(() => expect(calls).toContainEqual(['alert_ack', { id: 42 }]));
		await fireEvent.change(screen.getByRole('combobox', { name: 'Snooze for' }), {
			target: { value: '240' }
		});
		await fireEvent.click(screen.getByRole('button', { name: 'Snooze' }));
		await waitFor(() => expect(calls).toContainEqual(['alert_snooze', { id: 42, minutes: 240 }]));
	});

	it('reloads when an alert event arrives', async () => {
		let n = 0;
		mockIPC((cmd) => (cmd === 'alerts' ? (n++, []) : null));
		const hub = new EventHub();
		render(AlertsView, { hub, now: Date.now() });
		await waitFor(() => expect(n).toBe(1));
		hub.dispatch({ at: '2026-12-05T10:00:00Z', type: 'alert', alerts: [] });
		await waitFor(() => expect(n).toBe(2));
	});
});

describe('SettingsView', () => {
	const saved: Settings = {
		finale: { account: 'acme', api_key_masked: '••••7f3a', configured: true },
		database: null,
		demo: false,
		data_dir: '/tmp/stockpulse'
	};

	it('tests and saves Finale credentials without ever rendering the secrets', async () => {
		const KEY = 'key-SUPERSECRET-123';
		const SECRET = 'sec-TOPSECRET-456';
		const calls: Array<[string, unknown]> = [];
		mockIPC((cmd, args) => {
			calls.push([cmd, args]);
			if (cmd === 'test_finale') return { ok: true, message: 'account acme reachable' };
			if (cmd === 'save_finale') return saved;
		});
		const onchange = vi.fn();
		render(SettingsView, { settings: null, status: status(), onchange });
		const key = screen.getByLabelText('API key') as HTMLInputElement;
		const secret = screen.getByLabelText('API secret') as HTMLInputElement;
		expect(key.type).toBe('password');
		expect(secret.type).toBe('password');
		await userEvent.type(screen.getByLabelText('Account'), 'acme');
		await userEvent.type(key, KEY);
		await userEvent.type(secret, SECRET);
		await fireEvent.click(screen.getByRole('button', { name: 'Test connection' }));
		await screen.findByText(/Connection works/);
		expect(calls).toContainEqual(['test_finale', { account: 'acme', apiKey: KEY, apiSecret: SECRET }]);
		expect(document.body.textContent).not.toContain(KEY);
		expect(document.body.textContent).not.toContain(SECRET);

		await fireEvent.click(screen.getByRole('button', { name: 'Save credentials' }));
		await waitFor(() => expect(onchange).toHaveBeenCalledWith(saved));
		expect(key.value).toBe('');
		expect(secret.value).toBe('');
		const html = document.body.innerHTML;
		expect(html).not.toContain(KEY);
		expect(html).not.toContain(SECRET);
	});

	it('shows masked settings only, TLS from the database test, and notification availability', async () => {
		mockIPC((cmd) => {
			if (cmd === 'test_database') return { ok: true, tls: true, message: 'server 16.4' };
		});
		render(SettingsView, {
			settings: { ...saved, database: { url_masked: 'postgres://app:•••@db/stock', tls: true } },
			status: status({ notifications: { available: false, message: 'no notification service on D-Bus' } }),
			onchange: () => {}
		});
		expect(screen.getByText(/••••7f3a/)).toBeTruthy();
		expect(screen.getByText('postgres://app:•••@db/stock')).toBeTruthy();
		expect(screen.getByTestId('notifications').textContent).toContain('not available');
		expect(screen.getByTestId('notifications').textContent).toContain('no notification service');
		const url = screen.getByLabelText('Database URL') as HTMLInputElement;
		expect(url.type).toBe('password');
		await userEvent.type(url, 'postgres://u:pw@h/db');
		await fireEvent.click(screen.getByRole('button', { name: 'Test database' }));
		const result = screen.getByRole('status', { name: 'Database connection result' });
		await waitFor(() => expect(result.textContent).toContain('Connection works (TLS on)'));
		expect(document.body.textContent).not.toContain('u:pw@h');
	});
});

describe('shell and first run', () => {
	it('shows the connection state, data as of, and "offline" when offline', async () => {
		const app = new AppState();
		app.status = status({ offline: true, cache: { state: 'offline', since: '2026-12-05T09:00:00Z', data_as_of: '2026-12-05T09:00:00Z', message: 'store unreachable' } });
		app.now = Date.parse('2026-12-05T10:00:00Z');
		render(AppShellHarness, { app });
		expect(screen.getByRole('status', { name: 'Connection' }).textContent).toContain('offline');
		expect(screen.getByText(/offline — showing the local cache: store unreachable/)).toBeTruthy();
		expect(screen.getByText(/Data as of .*1 h ago/)).toBeTruthy();
		for (const name of ['Stock', 'Reorder', 'Alerts', 'Sync', 'Health', 'Settings'])
			expect(screen.getByRole('link', { name })).toBeTruthy();
		expect(screen.getByRole('link', { name: 'Stock' }).getAttribute('aria-current')).toBe('page');
	});

	it('applies a status event to the connection state', () => {
		const app = new AppState();
		app.status = status();
		expect(app.connection).toBe('live');
		app.apply({ at: '2026-12-05T10:00:00Z', type: 'status', state: 'catching_up', since: '2026-12-05T10:00:00Z' });
		expect(app.connection).toBe('catching_up');
		app.apply({ at: '2026-12-05T10:00:00Z', type: 'status', state: 'offline', since: '2026-12-05T10:00:00Z' });
		expect(app.connection).toBe('offline');
	});

	it('offers the first-run choice when nothing is configured', async () => {
		const app = new AppState();
		app.settings = { finale: null, database: null, demo: false, data_dir: '/d' };
		expect(app.firstRun).toBe(true);
		app.settings = { ...app.settings, demo: true };
		expect(app.firstRun).toBe(false);
		const ondemo = vi.fn();
		const onconnect = vi.fn();
		render(FirstRun, { ondemo, onconnect });
		await fireEvent.click(screen.getByRole('button', { name: 'Try with demo data' }));
		await fireEvent.click(screen.getByRole('button', { name: 'Connect Finale' }));
		expect(ondemo).toHaveBeenCalledOnce();
		expect(onconnect).toHaveBeenCalledOnce();
	});
});
