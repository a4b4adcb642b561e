// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { SyncOutcome } from "./SyncOutcome";

export type SyncProgress = {
	run_id: number;
	strategy: string;
	phase: string;
	done: number;
	total: number | null;
	eta_seconds: number | null;
	budget_used: number;
	budget_limit: number;
	finished: boolean;
	outcome: SyncOutcome;
	message: string | null;
};
