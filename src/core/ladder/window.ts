// Windowing of large ladders: which rows a scrolled viewport shows (the UI draws only those), and a
// bounded slice of rows for exports of sessions too large to draw whole. Pure arithmetic.
import type { Ladder } from './types.js';

export interface RowWindow {
  first: number;
  end: number;
}

/** Rows [first, end) visible in a viewport scrolled to `scrollTop`, plus `overscan` rows each side. */
export function visibleRows(total: number, scrollTop: number, viewportPx: number, rowHeight: number, overscan = 20): RowWindow {
  if (total <= 0 || rowHeight <= 0) return { first: 0, end: 0 };
  const top = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const bottom = Math.min(total, Math.ceil((scrollTop + Math.max(viewportPx, 0)) / rowHeight) + overscan);
  return { first: Math.min(top, total), end: Math.max(bottom, Math.min(top, total)) };
}

/** At most `max` rows, centred on row `around` when given (e.g. the selected arrow), else the first ones. */
export function rowWindow(ladder: Pick<Ladder, 'rows'>, max: number, around?: number): RowWindow {
  const total = ladder.rows.length;
  if (total <= max) return { first: 0, end: total };
  if (around === undefined) return { first: 0, end: max };
  const first = Math.max(0, Math.min(total - max, around - Math.floor(max / 2)));
  return { first, end: first + max };
}

/** Row index of an arrow (for scrolling it into view). */
export function rowOfArrow(ladder: Pick<Ladder, 'rows'>, arrow: number): number {
  for (let i = 0; i < ladder.rows.length; i++) {
    const r = ladder.rows[i];
    if (r.type === 'arrow' && r.arrow === arrow) return i;
  }
  return -1;
}
