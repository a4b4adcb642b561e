// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { AlertGroup } from "./AlertGroup";
import type { CacheStatus } from "./CacheStatus";
import type { LevelChange } from "./LevelChange";
import type { PriceChange } from "./PriceChange";
import type { SalesOrder } from "./SalesOrder";
import type { StockChange } from "./StockChange";
import type { SyncFinished } from "./SyncFinished";
import type { SyncStarted } from "./SyncStarted";

export type Event =
	| ({ type: "stock_changed" } & StockChange)
	| ({ type: "stocked_out" } & LevelChange)
	| ({ type: "fell_below_reorder_point" } & LevelChange)
	| ({ type: "restocked" } & LevelChange)
	| ({ type: "price_changed" } & PriceChange)
	| ({ type: "new_sales_order" } & SalesOrder)
	| ({ type: "sync_started" } & SyncStarted)
	| ({ type: "sync_finished" } & SyncFinished)
	| ({ type: "status" } & CacheStatus)
	| ({ type: "alert" } & AlertGroup);
