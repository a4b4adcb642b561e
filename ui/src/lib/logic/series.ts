// Chart series: the item's two years of daily sales as dense, zero-filled days; rolling
// means; the sync-health points as aligned columns for uPlot.

import type { DailySale, HealthPoint } from '$lib/bindings';

const DAY_MS = 86_400_000;

/** Midnight UTC of a `YYYY-MM-DD` day, in ms. */
function dayMs(day: string): number {
	return Date.parse(`${day}T00:00:00Z`);
}

/**
 * Every day from `today − (days − 1)` to `today` (x in Unix seconds, as uPlot wants) with
 * the units sold, 0 on days without sales (the backend sends days with sales only).
 */
export function dailySeries(
	sales: DailySale[],
	today: string,
	days = 730
): { x: number[]; units: number[] } {
	const end = dayMs(today);
	const start = end - (days - 1) * DAY_MS;
	const x = new Array<number>(days);
	const units = new Array<number>(days).fill(0);
	for (let i = 0; i < days; i++) x[i] = (start + i * DAY_MS) / 1000;
	for (const s of sales) {
		const i = Math.round((dayMs(s.day) - start) / DAY_MS);
		if (i >= 0 && i < days) units[i] += s.units;
	}
	return { x, units };
}

/** The mean of the last `window` values at each point (fewer at the start). */
export function rollingMean(values: number[], window: number): number[] {
	const out = new Array<number>(values.length);
	let sum = 0;
	for (let i = 0; i < values.length; i++) {
		sum += values[i];
		if (i >= window) sum -= values[i - window];
		out[i] = sum / Math.min(i + 1, window);
	}
	return out;
}

/** Today's date (`YYYY-MM-DD`) in UTC. */
export function todayUtc(now = Date.now()): string {
	return new Date(now).toISOString().slice(0, 10);
}

/** The health points as aligned uPlot columns, oldest first. */
export function healthColumns(points: HealthPoint[]) {
	const sorted = [...points].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
	const x = sorted.map((p) => Date.parse(p.at) / 1000);
	let ok = 0;
	const successRate = sorted.map((p, i) => {
		ok += p.success ? 1 : 0;
		return (ok / (i + 1)) * 100;
	});
	return {
		x,
		duration: sorted.map((p) => p.duration_seconds),
		itemsPerSecond: sorted.map((p) => p.items_per_second),
		successRate,
		errors: sorted.map((p) => p.errors),
		network: sorted.map((p) => p.network_ms),
		database: sorted.map((p) => p.database_ms)
	};
}
