// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { CacheState } from "./CacheState";

export type CacheStatus = { state: CacheState; since: string; position?: string; data_as_of?: string; loading?: Array<string>; message?: string };
