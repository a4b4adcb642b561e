// Display formatting: quantities, money, days of stock, times and durations, state labels.
// Pure functions (no DOM), so the table, the item page and the status bar agree.

import type { AppStatus, ItemState } from '$lib/bindings';

const qtyInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const qtyFrac = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** A quantity: whole numbers without decimals, fractions to two places, `—` when unknown. */
export function qty(n: number | null | undefined): string {
	if (n === null || n === undefined || !Number.isFinite(n)) return '—';
	const v = Object.is(n, -0) ? 0 : n;
	return Number.isInteger(v) ? qtyInt.format(v) : qtyFrac.format(v);
}

/** A rate (units per day) to at most two decimals. */
export function rate(n: number | null | undefined): string {
	if (n === null || n === undefined || !Number.isFinite(n)) return '—';
	return n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2);
}

/** Days of stock left: `never` when nothing sells (`null`), whole days otherwise. */
export function days(n: number | null | undefined): string {
	if (n === null || n === undefined) return 'never';
	if (!Number.isFinite(n)) return 'never';
	if (n <= 0) return '0';
	if (n < 1) return '<1';
	return qtyInt.format(Math.floor(n));
}

/** Money in the given currency (USD when unknown), `—` when unknown. */
export function money(n: number | null | undefined, currency?: string | null): string {
	if (n === null || n === undefined || !Number.isFinite(n)) return '—';
	const code = currency && /^[A-Z]{3}$/.test(currency) ? currency : 'USD';
	return new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).format(n);
}

/** A percentage of a fraction (0.953 → "95%"). */
export function percent(f: number | null | undefined): string {
	if (f === null || f === undefined || !Number.isFinite(f)) return '—';
	return `${Math.round(f * 100)}%`;
}

/** A duration in seconds: `45 s`, `3 min 5 s`, `1 h 20 min`. */
export function duration(seconds: number | null | undefined): string {
	if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0)
		return '—';
	const s = Math.round(seconds);
	if (s < 60) return `${s} s`;
	const m = Math.floor(s / 60);
	if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
	const h = Math.floor(m / 60);
	return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** How long ago `at` was, relative to `now`: `just now`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function ago(at: string | null | undefined, now: number): string {
	if (!at) return 'never';
	const t = Date.parse(at);
	if (Number.isNaN(t)) return 'unknown';
	const s = Math.round((now - t) / 1000);
	if (s < 0) return 'in the future';
	if (s < 45) return 'just now';
	const m = Math.round(s / 60);
	if (m < 60) return `${m} min ago`;
	const h = Math.round(m / 60);
	if (h < 48) return `${h} h ago`;
	return `${Math.round(h / 24)} d ago`;
}

/** How long until `at`: `now`, `in 4 min`, `in 2 h`. */
export function until(at: string | null | undefined, now: number): string {
	if (!at) return '—';
	const t = Date.parse(at);
	if (Number.isNaN(t)) return 'unknown';
	const s = Math.round((t - now) / 1000);
	if (s <= 30) return 'now';
	return `in ${duration(s < 3600 ? Math.ceil(s / 60) * 60 : Math.round(s / 60) * 60)}`;
}

/** A timestamp as local date and time, `—` when absent. */
export function dateTime(at: string | null | undefined): string {
	if (!at) return '—';
	const d = new Date(at);
	if (Number.isNaN(d.getTime())) return '—';
	return d.toLocaleString(undefined, {
		year: 'numeric',
		month: 'short',
		day: 'numeric',
		hour: '2-digit',
		minute: '2-digit'
	});
}

/** An item state's badge text (the badge never relies on colour alone). */
export const STATE_LABEL: Record<ItemState, string> = {
	out_of_stock: 'Out of stock',
	below_reorder: 'Reorder',
	ok: 'OK',
	inactive: 'Inactive'
};

/** The three connection states the status bar shows. */
export type Connection = 'live' | 'catching_up' | 'offline';

/**
 * The connection state from the app status: `offline` when the app says so or the cache
 * is offline/stopped; `catching up` while hydrating, catching up or still loading parts;
 * `live` otherwise (including the embedded default, where the engine writes this store).
 */
export function connection(s: AppStatus | null): Connection {
	if (!s) return 'catching_up';
	if (s.offline) return 'offline';
	const state = s.cache?.state;
	if (state === 'offline' || state === 'stopped') return 'offline';
	if (state === 'hydrating' || state === 'catching_up' || (s.cache?.loading?.length ?? 0) > 0)
		return 'catching_up';
	return 'live';
}

export const CONNECTION_LABEL: Record<Connection, string> = {
	live: 'live',
	catching_up: 'catching up',
	offline: 'offline'
};
