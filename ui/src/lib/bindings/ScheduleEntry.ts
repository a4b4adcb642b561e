// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type ScheduleEntry = { strategy: string; every_seconds: number; next_at: string | null };
