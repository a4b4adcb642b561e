// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { FilterOption } from "./FilterOption";

export type FilterOptions = { locations: Array<FilterOption>; suppliers: Array<FilterOption> };
