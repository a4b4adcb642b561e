// Stale-response guard for search as you type: every request takes a ticket; only the
// answer to the newest ticket is applied, so a slow answer to "bo" never overwrites the
// answer to "bolt". (Tauri cannot abort a command; dropping the stale answer is enough,
// since each query is a sub-millisecond index read.)

export class Latest {
	private seq = 0;

	/** A ticket for a new request; invalidates every earlier ticket. */
	take(): number {
		return ++this.seq;
	}

	/** Whether the answer to `ticket` is still wanted. */
	current(ticket: number): boolean {
		return ticket === this.seq;
	}
}
