// The call list (issue 14), sngrep-like: one row per call (B2BUA legs grouped, issue 13) with start, method, from → to, state, final
// status, duration, messages, RTP/MOS; failed calls stand out. Virtualised (@tanstack/react-virtual):
// only the rows in view are in the DOM, whatever the session's size; the next page is read when the
// list is scrolled to its end; a live list follows new calls while it is scrolled to the bottom.
import { useEffect, useLayoutEffect, useRef } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { Dialog } from '../../core/schema/dialog.js';
import { formatDuration, formatTime } from '../format.js';
import type { TimeZoneMode } from '../format.js';

const ROW_PX = 26;
const BAD = new Set(['failed', 'cancelled']);

export function CallList({
  rows,
  more,
  loading,
  selected,
  onSelect,
  onEnd,
  tz,
  live,
}: {
  rows: Dialog[];
  more: boolean;
  loading: boolean;
  /** the selected call's Call-ID, null for "All" */
  selected: string | null;
  onSelect(callId: string | null): void;
  onEnd(): void;
  tz: TimeZoneMode;
  live: boolean;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const v = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_PX, overscan: 12 });
  const items = v.getVirtualItems();
  const lastShown = items.length > 0 ? items[items.length - 1].index : -1;

  useEffect(() => {
    if (more && lastShown >= rows.length - 10) onEnd();
  }, [more, lastShown, rows.length, onEnd]);

  // follow new calls while the user stays at the bottom of a live list
  useLayoutEffect(() => {
    const el = scroller.current;
    if (live && el && atBottom.current && rows.length > 0 && !more) v.scrollToIndex(rows.length - 1, { align: 'end' });
  }, [rows.length, live, more, v]);

  return (
    <div className="call-list" data-testid="call-list">
      <div className="call-row call-head" role="row">
        <span className="c-time">Start</span>
        <span className="c-method">Method</span>
        <span className="c-party">From</span>
        <span className="c-party">To</span>
        <span className="c-state">State</span>
        <span className="c-final">Final</span>
        <span className="c-num">Duration</span>
        <span className="c-num">Msgs</span>
        <span className="c-num">Retr.</span>
        <span className="c-num">MOS</span>
        <span className="c-callid">Call-ID</span>
      </div>
      <div
        className={`call-all${selected === null ? ' selected' : ''}`}
        role="row"
        data-testid="call-all"
        onClick={() => onSelect(null)}
      >
        All calls{loading ? ' · loading…' : ` · ${rows.length}${more ? '+' : ''} listed`}
      </div>
      <div
        className="call-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_PX;
        }}
      >
        <div style={{ height: v.getTotalSize(), position: 'relative' }}>
          {items.map((it) => {
            const d = rows[it.index];
            return (
              <div
                key={d.id}
                className={`call-row state-${d.state}${BAD.has(d.state) ? ' bad' : ''}${selected === d.call_id ? ' selected' : ''}`}
                role="row"
                data-testid="call-row"
                data-call-id={d.call_id}
                data-legs={d.legs.join(' ')}
                data-state={d.state}
                style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_PX, transform: `translateY(${it.start}px)` }}
                onClick={() => onSelect(d.call_id)}
                title={d.user_agents.join(' · ')}
              >
                <span className="c-time mono">{formatTime(d.started_at, tz)}</span>
                <span className="c-method">{d.method ?? '—'}</span>
                <span className="c-party mono">{d.from ?? '—'}</span>
                <span className="c-party mono">{d.to ?? '—'}</span>
                <span className="c-state">
                  <span className={`status call-state-${d.state}`}>{d.state}</span>
                </span>
                <span className="c-final">{d.final_status ? `${d.final_status.code} ${d.final_status.reason}` : '—'}</span>
                <span className="c-num">{formatDuration(d.duration_ms)}</span>
                <span className="c-num">{d.messages}</span>
                <span className={`c-num${d.retransmissions > 0 ? ' warn' : ''}`}>{d.retransmissions}</span>
                <span className={`c-num${d.mos !== null && d.mos < 3.6 ? ' bad' : ''}`}>{d.mos !== null ? d.mos.toFixed(2) : d.has_rtp ? 'RTP' : '—'}</span>
                <span className="c-callid mono">
                  {d.legs.length > 1 && (
                    // B2BUA / SBC legs grouped in this row (docs/api.md "Call list"); a guessed grouping says so
                    <span
                      className={`call-legs${d.legs_inferred ? ' inferred' : ''}`}
                      data-testid="call-legs"
                      title={`Legs of this call${d.legs_inferred ? ' (inferred by number and time)' : ''}: ${d.legs.join(', ')}`}
                    >
                      {d.legs.length} legs{d.legs_inferred ? ', inferred' : ''}
                    </span>
                  )}
                  {d.call_id}
                  {d.legs.length > 1 && <span className="call-legs-ids"> + {d.legs.slice(1).join(', ')}</span>}
                </span>
              </div>
            );
          })}
        </div>
        {!loading && rows.length === 0 && <div className="empty small">No call matches.</div>}
      </div>
    </div>
  );
}
