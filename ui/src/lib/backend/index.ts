// The one module that talks to the Rust backend.
//
// Every Tauri command of CONTRACT.md has one typed function here; components and stores call
// these, never `invoke` directly, so that the command names and argument keys live in one
// place (and can later be swapped for generated bindings). Arguments are camelCase on the JS
// side (Tauri's default), results are the serde JSON of the Rust types in `$lib/bindings`.
//
// Every rejected command becomes a `BackendError` with a `code` the UI may branch on
// (`offline`, `busy`, `not_found`, …) and a human-readable `message`. Live feeds (domain
// events, sync progress) arrive over Tauri channels, never as big replies.

import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type {
	AlertListGroup,
	AppStatus,
	ConnectionTest,
	Dashboard,
	DatabaseTest,
	Envelope,
	ErrorCode,
	FilterOptions,
	HealthSeries,
	ItemDetail,
	ReorderPage,
	ReorderQuery,
	SearchPage,
	SearchQuery,
	Settings,
	SyncOverview,
	SyncProgress,
	SyncStrategy
} from '$lib/bindings';

const CODES: readonly ErrorCode[] = [
	'invalid_input',
	'not_found',
	'offline',
	'busy',
	'unavailable',
	'internal'
];

/** A failed command: the backend's `{code, message}`, or `internal` for anything else. */
export class BackendError extends Error {
	readonly code: ErrorCode;

	constructor(code: ErrorCode, message: string) {
		super(message);
		this.name = 'BackendError';
		this.code = code;
	}
}

/**
 * Maps whatever a rejected `invoke` gave (the backend's `{code, message}` object, a bare
 * string from Tauri itself such as "command not found", an `Error`) to a `BackendError`.
 * An unknown code is kept as `internal`, so the UI only ever branches on known codes.
 */
export function toBackendError(e: unknown): BackendError {
	if (e instanceof BackendError) return e;
	if (typeof e === 'string') return new BackendError('internal', e);
	if (e instanceof Error) return new BackendError('internal', e.message);
	if (e && typeof e === 'object') {
		const { code, message } = e as { code?: unknown; message?: unknown };
		const text = typeof message === 'string' ? message : JSON.stringify(e);
		const known = CODES.find((c) => c === code);
		return new BackendError(known ?? 'internal', text);
	}
	return new BackendError('internal', String(e));
}

/**
 * Command round trips, recorded only when the page has set `window.__ipc` to an array (the
 * app benchmark, e2e/bench.mjs, does): `[cmd, start, end]` in `performance.now()` ms.
 */
type Timing = [cmd: string, start: number, end: number | null];

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
	const timings = (globalThis as { __ipc?: Timing[] }).__ipc;
	let rec: Timing | null = null;
	if (timings) {
		if (timings.length >= 5000) timings.splice(0, 1000);
		rec = [cmd, performance.now(), null];
		timings.push(rec);
	}
	try {
		return await invoke<T>(cmd, args);
	} catch (e) {
		throw toBackendError(e);
	} finally {
		if (rec) rec[2] = performance.now();
	}
}

// ---- queries (local cache; answer offline)

export const search = (query: SearchQuery) => call<SearchPage>('search', { query });
export const item = (sku: string) => call<ItemDetail>('item', { sku });
export const reorder = (query: ReorderQuery) => call<ReorderPage>('reorder', { query });
export const dashboard = () => call<Dashboard>('dashboard');
export const filterOptions = () => call<FilterOptions>('filter_options');
export const appStatus = () => call<AppStatus>('app_status');

// ---- live feeds

/**
 * Subscribes to every domain event. The channel lives as long as the page; `onEvent` is
 * called once per envelope, in order.
 */
export async function subscribeEvents(onEvent: (e: Envelope) => void): Promise<void> {
	const channel = new Channel<Envelope>();
	channel.onmessage = onEvent;
	await call<void>('subscribe_events', { onEvent: channel });
}

/** Listens for the backend's `open-item` signal (a notification's "Open" action). */
export function onOpenItem(handler: (sku: string) => void): Promise<UnlistenFn> {
	return listen<{ sku: string }>('open-item', (e) => {
		if (e.payload && typeof e.payload.sku === 'string') handler(e.payload.sku);
	});
}

// ---- sync

/** Starts a sync run; progress arrives on `onProgress` until a message with `finished`. */
export async function syncStart(
	strategy: SyncStrategy,
	onProgress: (p: SyncProgress) => void
): Promise<number> {
	const channel = new Channel<SyncProgress>();
	channel.onmessage = onProgress;
	return call<number>('sync_start', { strategy, onProgress: channel });
}
export const syncCancel = () => call<void>('sync_cancel');
export const syncOverview = () => call<SyncOverview>('sync_overview');

// ---- health and alerts

export const health = (days: number) => call<HealthSeries>('health', { days });
export const alerts = () => call<AlertListGroup[]>('alerts');
export const alertAck = (id: number) => call<void>('alert_ack', { id });
export const alertSnooze = (id: number, minutes: number) =>
	call<void>('alert_snooze', { id, minutes });

// ---- settings and first run

export type FinaleCredentials = { account: string; apiKey: string; apiSecret: string };

export const settings = () => call<Settings>('settings');
export const testFinale = (c: FinaleCredentials) => call<ConnectionTest>('test_finale', { ...c });
export const saveFinale = (c: FinaleCredentials) => call<Settings>('save_finale', { ...c });
export const testDatabase = (url: string) => call<DatabaseTest>('test_database', { url });
export const saveDatabase = (url: string | null) => call<Settings>('save_database', { url });
export const useDemo = () => call<Settings>('use_demo');
