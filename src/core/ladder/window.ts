// Windowing of large ladders: which rows a scrolled viewport shows (the UI draws only those), and a
// bounded slice of rows for exports of sessions too large to draw whole. Pure arithmetic.
import { GEOMETRY } from './svg.js';
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

/**
 * At most `max` lanes, for pictures that must stay bounded (ladder.png of a session with hundreds of
 * endpoints): the first `max - 1` lanes (in order of first appearance) stay, every later endpoint is
 * folded into one last lane named "N more endpoints", so every message still has its row and arrow.
 * `folded` is how many endpoints share that lane (0 when nothing was folded).
 */
export function foldLanes(ladder: Ladder, max: number): { ladder: Ladder; folded: number } {
  const keep = Math.max(1, max - 1);
  if (ladder.lanes.length <= max) return { ladder, folded: 0 };
  const folded = ladder.lanes.length - keep;
  const lane = (i: number): number => Math.min(i, keep);
  return {
    folded,
    ladder: {
      ...ladder,
      lanes: [
        ...ladder.lanes.slice(0, keep),
        { index: keep, key: `+${folded} endpoints`, ip: '', port: null, name: `${folded} more endpoints` },
      ],
      arrows: ladder.arrows.map((a) => ({ ...a, from: lane(a.from), to: lane(a.to) })),
      media: ladder.media.map((m) => ({ ...m, from: lane(m.from), to: lane(m.to) })),
      marks: ladder.marks.map((m) => ({ ...m, lane: lane(m.lane) })),
    },
  };
}

/** Bounds of an exported picture (the center's ladder.png/svg and the UI's PNG export). */
export const PICTURE_LIMITS = {
  /** the largest side, in pixels */
  side: 16_000,
  /** pixels in all, after scaling: 16 M pixels are 64 MB of RGBA (a 994 × 16 000 px ladder of 4 lanes fits) */
  pixels: 16 * 1024 * 1024,
  /** lanes drawn; later endpoints share the last lane */
  lanes: 24,
} as const;

/** height of a title and the lane header above the rows, and the margin below them */
const CHROME_PX = 28 + 58 + 16;

/**
 * What a bounded picture of `ladder` draws: its lanes folded to PICTURE_LIMITS.lanes, and the rows (the
 * first ones, or centred on row `around`) that keep it within the side and pixel limits at scale 1.
 */
export function pictureWindow(ladder: Ladder, around?: number): { ladder: Ladder; folded: number; window: RowWindow } {
  const { ladder: drawn, folded } = foldLanes(ladder, PICTURE_LIMITS.lanes);
  const width = GEOMETRY.timeColumn + Math.max(drawn.lanes.length, 2) * GEOMETRY.laneWidth + GEOMETRY.margin;
  const maxHeight = Math.min(PICTURE_LIMITS.side, Math.floor(PICTURE_LIMITS.pixels / width));
  const maxRows = Math.max(1, Math.floor((maxHeight - CHROME_PX) / GEOMETRY.rowHeight));
  return { ladder: drawn, folded, window: rowWindow(drawn, maxRows, around) };
}

/** Scale of the raster: twice the size (sharp text in tickets) while within the side and pixel limits, in whole pixels. */
export function pictureScale(width: number, height: number): number {
  let s = Math.min(2, PICTURE_LIMITS.side / Math.max(width, height), Math.sqrt(PICTURE_LIMITS.pixels / (width * height)));
  s = Math.floor(s * 1000) / 1000;
  while (s > 0.001 && Math.ceil(width * s) * Math.ceil(height * s) > PICTURE_LIMITS.pixels) s -= 0.001;
  return s;
}

/** `title` plus what a bounded picture left out: "(rows 1–101 of 400) (lanes 1–23 of 201 endpoints; 178 more share the last lane)". */
export function pictureCaption(title: string, picture: ReturnType<typeof pictureWindow>, endpoints: number): string {
  const { window: win, folded } = picture;
  const rows = picture.ladder.rows.length;
  let caption = title;
  if (win.end - win.first < rows) caption += ` (rows ${win.first + 1}–${win.end} of ${rows})`;
  if (folded > 0) caption += ` (lanes 1–${PICTURE_LIMITS.lanes - 1} of ${endpoints} endpoints; ${folded} more share the last lane)`;
  return caption;
}
