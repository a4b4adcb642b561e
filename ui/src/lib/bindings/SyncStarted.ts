// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type SyncStarted = { run_id: number; strategy: string; started_at: string | null; runner: string | null };
