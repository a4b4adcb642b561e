// Range maths of the fixed-row-height virtual list (see StockTable.svelte for why it is ours).
//
// Every row is exactly `rowHeight` integer pixels, so the rows in view are a pure function of
// the scroll offset: no measuring, no layout reads beyond the viewport's own height.

/** The rows to render: `[start, end)` and the container's vertical offset in pixels. */
export type Range = { start: number; end: number; offset: number };

/**
 * The rows intersecting the viewport plus `overscan` rows above and below, clamped to
 * `[0, count)`.
 */
export function visibleRange(
	scrollTop: number,
	viewportHeight: number,
	rowHeight: number,
	count: number,
	overscan: number
): Range {
	if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, offset: 0 };
	const top = Math.max(0, scrollTop);
	const first = Math.min(count - 1, Math.floor(top / rowHeight));
	const last = Math.min(count, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight));
	const start = Math.max(0, first - overscan);
	const end = Math.min(count, Math.max(last, first + 1) + overscan);
	return { start, end, offset: start * rowHeight };
}

/**
 * The scroll offset that brings row `index` fully into view with the least movement
 * (unchanged when it already is).
 */
export function revealOffset(
	index: number,
	scrollTop: number,
	viewportHeight: number,
	rowHeight: number
): number {
	const top = index * rowHeight;
	const bottom = top + rowHeight;
	if (top < scrollTop) return top;
	if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
	return scrollTop;
}

/** Rows that fit in the viewport (at least one): what PageUp/PageDown move by. */
export function rowsPerPage(viewportHeight: number, rowHeight: number): number {
	return Math.max(1, Math.floor(viewportHeight / rowHeight));
}
