// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { ScheduleEntry } from "./ScheduleEntry";
import type { SyncProgress } from "./SyncProgress";
import type { SyncRunSummary } from "./SyncRunSummary";
import type { WriterRole } from "./WriterRole";

export type SyncOverview = { running: SyncProgress | null; writer: WriterRole | null; schedule: Array<ScheduleEntry>; runs: Array<SyncRunSummary> };
