// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { BudgetUse } from "./BudgetUse";
import type { ErrorPatternCount } from "./ErrorPatternCount";
import type { HealthPoint } from "./HealthPoint";

export type HealthSeries = { points: Array<HealthPoint>; errors_by_pattern: Array<ErrorPatternCount>; budget: BudgetUse };
