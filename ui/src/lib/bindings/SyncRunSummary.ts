// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type SyncRunSummary = {
	id: number;
	strategy: string;
	started_at: string;
	finished_at: string | null;
	status: string;
	items: number;
	duration_seconds: number | null;
	error: string | null;
};
