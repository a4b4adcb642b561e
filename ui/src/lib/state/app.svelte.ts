// The app-wide state the header and footer show: the backend's status (connection, data as
// of, demo, notifications), the settings (first run), and the current time for "… ago".
// Status comes from `app_status` at start and every `POLL_MS`, and from `status` events in
// between (the mirror publishes them as its state changes).

import * as backend from '$lib/backend';
import type { AppStatus, Envelope, Settings } from '$lib/bindings';
import { connection, type Connection } from '$lib/logic/format';

export const POLL_MS = 10_000;

/**
 * Nothing configured, not in demo mode, and nothing in the local cache to browse: the
 * first-run choice is shown. A cache that already holds items (copied from another
 * workstation, or left by an earlier configuration) is browsable without connecting.
 */
export function needsFirstRun(s: Settings | null, itemsInCache = 0): boolean {
	if (!s) return false;
	if (s.demo) return false;
	if (itemsInCache > 0) return false;
	return !(s.finale?.configured ?? false) && !s.database?.url_masked;
}

export class AppState {
	status = $state<AppStatus | null>(null);
	settings = $state<Settings | null>(null);
	/** Items in the local cache when the settings were read (0 when unknown). */
	itemsInCache = $state(0);
	now = $state(Date.now());
	/** The last status read failed: the backend itself is unreachable. */
	unreachable = $state(false);

	get connection(): Connection {
		return this.unreachable ? 'offline' : connection(this.status);
	}

	get dataAsOf(): string | null {
		return this.status?.cache?.data_as_of ?? null;
	}

	get firstRun(): boolean {
		return needsFirstRun(this.settings, this.itemsInCache);
	}

	async refresh(): Promise<void> {
		try {
			this.status = await backend.appStatus();
			this.unreachable = false;
		} catch {
			this.unreachable = true;
		}
		this.now = Date.now();
	}

	async loadSettings(): Promise<void> {
		try {
			// Both before the settings are set, so the first-run screen never flashes over a
			// cache that turns out to hold items.
			const [settings, items] = await Promise.all([
				backend.settings(),
				backend
					.dashboard()
					.then((d) => d.items.total)
					.catch(() => 0)
			]);
			this.itemsInCache = items;
			this.settings = settings;
		} catch {
			// Settings stay unknown: no first-run screen is forced on an error.
		}
	}

	/** A `status` event replaces the cache part of the status at once. */
	apply(e: Envelope): void {
		if (e.type !== 'status' || !this.status) return;
		const { type: _type, seq: _seq, at: _at, ...cache } = e;
		this.status = {
			...this.status,
			cache,
			offline: cache.state === 'offline'
		};
	}

	/** Starts polling; returns the stop function. */
	start(): () => void {
		void this.refresh();
		void this.loadSettings();
		const poll = setInterval(() => void this.refresh(), POLL_MS);
		const tick = setInterval(() => (this.now = Date.now()), 15_000);
		return () => {
			clearInterval(poll);
			clearInterval(tick);
		};
	}
}

export const app = new AppState();
