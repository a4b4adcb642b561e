// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { Filters } from "./Filters";
import type { SortDir } from "./SortDir";
import type { SortField } from "./SortField";

export type SearchQuery = { text: string | null; filters: Filters; sort: SortField | null; dir: SortDir; limit: number | null; after: string | null };
