// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type StrategyHealth = {
	strategy: string;
	last_started_at: string | null;
	last_finished_at: string | null;
	running: boolean;
	last_success: boolean | null;
	last_duration_ms: number | null;
	last_success_at: string | null;
	recent_runs: number;
	recent_succeeded: number;
	success_rate: number | null;
	last_error: string | null;
	last_error_at: string | null;
};
