// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { ReorderSuggestion } from "./ReorderSuggestion";

export type ReorderPage = { rows: Array<ReorderSuggestion>; next_cursor: string | null };
