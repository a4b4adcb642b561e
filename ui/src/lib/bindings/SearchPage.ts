// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { ItemSummary } from "./ItemSummary";

export type SearchPage = { rows: Array<ItemSummary>; next_cursor: string | null };
