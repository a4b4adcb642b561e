// One subscription to the backend's domain events, fanned out to every part of the UI
// (stock table, alerts, status bar). `start` is idempotent: the layout calls it once.

import * as backend from '$lib/backend';
import type { Envelope } from '$lib/bindings';

export type Listener = (e: Envelope) => void;

export class EventHub {
	private listeners = new Set<Listener>();
	private started: Promise<void> | null = null;
	/** When the last event arrived (ms since epoch), for "live" hints. */
	lastEventAt = $state<number | null>(null);

	/** Subscribes to the backend once; failures are reported and retried on the next call. */
	start(): Promise<void> {
		if (!this.started) {
			this.started = backend.subscribeEvents((e) => this.dispatch(e)).catch((err) => {
				this.started = null;
				throw err;
			});
		}
		return this.started;
	}

	/** Registers a listener; returns its removal. */
	on(f: Listener): () => void {
		this.listeners.add(f);
		return () => this.listeners.delete(f);
	}

	/** Delivers one event to every listener (the channel calls this; tests may too). */
	dispatch(e: Envelope): void {
		this.lastEventAt = Date.now();
		for (const f of this.listeners) {
			try {
				f(e);
			} catch (err) {
				console.error('event listener failed', err);
			}
		}
	}
}

/** The app's hub. */
export const hub = new EventHub();
