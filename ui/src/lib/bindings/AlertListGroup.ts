// Hand-written to match the serde JSON of the Rust type; to be replaced by ts-rs output.
import type { AlertItem } from "./AlertItem";
import type { AlertKind } from "./AlertKind";

/** One entry of `alerts()` (CONTRACT.md calls it AlertGroup; that name is taken by the event body). */
export type AlertListGroup = {
	id: number;
	kind: AlertKind;
	raised_at: string;
	items: Array<AlertItem>;
	acknowledged: boolean;
	snoozed_until: string | null;
};
