// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type SyncFinished = {
	run_id: number;
	strategy: string;
	started_at: string | null;
	finished_at: string | null;
	success: boolean;
	duration_ms: number | null;
	items_seen: number;
	items_changed: number;
	items_failed: number;
	notes: string | null;
};
