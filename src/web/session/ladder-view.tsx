// The ladder on screen: the core renderer's SVG, windowed (only the rows in view are drawn, so 10 000
// messages scroll smoothly), a sticky lane header, click to select an arrow.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { MouseEvent } from 'react';
import type { Ladder } from '../../core/ladder/types.js';
import { UTC_ZONE, bodyMarkup, headerMarkup, ladderGeometry } from '../../core/ladder/svg.js';
import type { ClockZone } from '../../core/ladder/svg.js';
import { rowOfArrow, visibleRows } from '../../core/ladder/window.js';

export function LadderView({
  ladder,
  selected,
  onSelect,
  selectedMark = null,
  onSelectMark,
  onEnd,
  follow = false,
  zone = UTC_ZONE,
}: {
  ladder: Ladder;
  /** the time column's zone (the page's UTC/local switch) */
  zone?: ClockZone;
  selected: number | null;
  onSelect(i: number): void;
  /** a call state or route note (ladder.marks index) */
  selectedMark?: number | null;
  onSelectMark?(i: number): void;
  /** called when the last rows come into view (the next page of events) */
  onEnd?: () => void;
  /** keep the newest row in view as rows arrive, while the user stays at the bottom (live sessions) */
  follow?: boolean;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  const g = useMemo(() => ladderGeometry(ladder), [ladder]);
  const header = useMemo(() => headerMarkup(ladder, g, 0, zone), [ladder, g, zone.offsetMin]);
  const win = visibleRows(ladder.rows.length, Math.max(0, view.top - g.headerHeight), view.height, g.rowHeight, 30);
  const body = useMemo(
    () => bodyMarkup(ladder, { first: win.first, end: win.end, selected, selectedMark, testIds: true, zone }, g, 0),
    [ladder, g, win.first, win.end, selected, selectedMark, zone.offsetMin],
  );

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el) setView({ top: el.scrollTop, height: el.clientHeight });
  }, []);

  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && follow && atBottom.current && selected === null) el.scrollTop = el.scrollHeight;
  }, [ladder.rows.length, follow]);

  useEffect(() => {
    if (onEnd && win.end >= ladder.rows.length - 5) onEnd();
  }, [onEnd, win.end, ladder.rows.length]);

  // keep the selected arrow in view (↑/↓ and clicks in the detail panel)
  useEffect(() => {
    const el = scroller.current;
    if (!el || selected === null) return;
    const row = rowOfArrow(ladder, selected);
    if (row < 0) return;
    const y = g.headerHeight + row * g.rowHeight;
    if (y < el.scrollTop + g.headerHeight) el.scrollTop = y - g.headerHeight - g.rowHeight;
    else if (y + g.rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = y + 2 * g.rowHeight - el.clientHeight;
    // and sideways, when the lanes are wider than the view (a narrow window with the detail open):
    // the arrow's span, or its start when the span is wider than the view
    const a = ladder.arrows[selected];
    if (!a) return;
    const left = Math.min(g.laneX(a.from), g.laneX(a.to)) - g.laneWidth / 2;
    const right = Math.max(g.laneX(a.from), g.laneX(a.to)) + g.laneWidth / 2;
    if (left < el.scrollLeft || right - left > el.clientWidth) el.scrollLeft = Math.max(0, left);
    else if (right > el.scrollLeft + el.clientWidth) el.scrollLeft = right - el.clientWidth;
    // then by what is drawn: the arrow's label and notes may reach past its row, and the client area
    // excludes the scroll bars and the sticky lane header
    const frame = requestAnimationFrame(() => {
      const node = el.querySelector(`[data-arrow="${selected}"]`);
      if (!node) return;
      const r = node.getBoundingClientRect();
      const b = el.getBoundingClientRect();
      const top = b.top + el.clientTop + g.headerHeight;
      const bottom = b.top + el.clientTop + el.clientHeight;
      if (r.bottom > bottom) el.scrollTop += r.bottom - bottom + 4;
      else if (r.top < top) el.scrollTop -= top - r.top + 4;
    });
    return () => cancelAnimationFrame(frame);
  }, [selected, ladder, g]);

  const click = (e: MouseEvent<SVGSVGElement>): void => {
    const hit = (e.target as Element).closest('[data-arrow]');
    if (hit) onSelect(Number(hit.getAttribute('data-arrow')));
    const mark = (e.target as Element).closest('[data-mark]');
    if (mark) onSelectMark?.(Number(mark.getAttribute('data-mark')));
  };

  return (
    <div
      className="ladder-scroll"
      ref={scroller}
      onScroll={(e) => {
        const el = e.currentTarget;
        atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - g.rowHeight;
        setView({ top: el.scrollTop, height: el.clientHeight });
      }}
      data-rows={ladder.rows.length}
      data-arrows={ladder.arrows.length}
    >
      <svg
        className="ladder-header"
        width={g.width}
        height={g.headerHeight}
        viewBox={`0 0 ${g.width} ${g.headerHeight}`}
        dangerouslySetInnerHTML={{ __html: header }}
      />
      <svg
        data-testid="ladder"
        width={g.width}
        height={g.bodyHeight}
        viewBox={`0 0 ${g.width} ${g.bodyHeight}`}
        onClick={click}
        dangerouslySetInnerHTML={{ __html: body }}
      />
    </div>
  );
}
