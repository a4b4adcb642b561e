// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Alert } from "./Alert";

export type AlertGroup = { alerts: Array<Alert> };
