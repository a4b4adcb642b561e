// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { LowLocation } from "./LowLocation";
import type { Transfer } from "./Transfer";

export type Suggestion = { demand_per_day: number; target: number; position: number; suggested_qty: number; low_locations: Array<LowLocation>; transfers: Array<Transfer> };
