// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
export type HealthPoint = {
	at: string;
	strategy: string;
	duration_seconds: number;
	items_per_second: number;
	success: boolean;
	errors: number;
	network_ms: number | null;
	database_ms: number | null;
};
