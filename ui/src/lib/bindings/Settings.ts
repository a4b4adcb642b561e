// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { DatabaseSettings } from "./DatabaseSettings";
import type { FinaleSettings } from "./FinaleSettings";

export type Settings = { finale: FinaleSettings | null; database: DatabaseSettings | null; demo: boolean; data_dir: string };
