// The Sync screen's state: the overview (running run, writer, schedule, history) and the
// live progress of a run started here (its channel), polled while a run elsewhere is going.

import * as backend from '$lib/backend';
import type { Envelope, SyncOverview, SyncProgress, SyncStrategy } from '$lib/bindings';

export const POLL_RUNNING_MS = 2000;

export class SyncState {
	overview = $state<SyncOverview | null>(null);
	progress = $state<SyncProgress | null>(null);
	error = $state<string | null>(null);
	starting = $state(false);

	get running(): boolean {
		const p = this.progress ?? this.overview?.running ?? null;
		return p !== null && !p.finished;
	}

	/** The progress to show: this window's run, else the one the overview reports. */
	get current(): SyncProgress | null {
		return this.progress ?? this.overview?.running ?? null;
	}

	async refresh(): Promise<void> {
		try {
			this.overview = await backend.syncOverview();
		} catch (e) {
			this.error = backend.toBackendError(e).message;
		}
	}

	async start(strategy: SyncStrategy): Promise<void> {
		this.starting = true;
		this.error = null;
		try {
			await backend.syncStart(strategy, (p) => this.onProgress(p));
		} catch (e) {
			const err = backend.toBackendError(e);
			this.error =
				err.code === 'busy' ? `Another sync is running: ${err.message}` : err.message;
		} finally {
			this.starting = false;
		}
	}

	onProgress(p: SyncProgress): void {
		this.progress = p;
		if (p.finished) void this.refresh();
	}

	async cancel(): Promise<void> {
		try {
			await backend.syncCancel();
		} catch (e) {
			this.error = backend.toBackendError(e).message;
		}
	}

	/** Sync events refresh the history and schedule. */
	apply(e: Envelope): void {
		if (e.type === 'sync_started' || e.type === 'sync_finished') void this.refresh();
	}

	/** Loads the overview and polls it while a run this window does not follow is going. */
	startPolling(): () => void {
		void this.refresh();
		const t = setInterval(() => {
			if (this.overview?.running && !this.progress) void this.refresh();
		}, POLL_RUNNING_MS);
		return () => clearInterval(t);
	}
}
