// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { StateCounts } from "./StateCounts";
import type { StrategyHealth } from "./StrategyHealth";

export type Dashboard = { items: StateCounts; stock_value: number; sync: Array<StrategyHealth>; data_as_of: string | null };
