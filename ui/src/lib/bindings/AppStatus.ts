// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { AppMode } from "./AppMode";
import type { CacheStatus } from "./CacheStatus";
import type { NotificationStatus } from "./NotificationStatus";

export type AppStatus = { cache: CacheStatus | null; mode: AppMode; demo: boolean; offline: boolean; notifications: NotificationStatus };
