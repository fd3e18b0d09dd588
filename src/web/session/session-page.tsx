// The session page (operator) and the share view (read-only, logged out): the header, then the call
// list with its search box, and the ladder of the selected call — or of "All" calls, coloured and
// labelled per Call-ID — with the message detail, RTP streams and log lines. Everything is read in
// bounded pieces (data.ts): the list page by page, the ladder per call or per page, the live tail
// from the session's last event. `?call=<Call-ID>&msg=<event id>` deep-links a call and a message.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api } from '../api.js';
import type { Event } from '../../core/schema/event.js';
import { buildLadder } from '../../core/ladder/build.js';
import type { Ladder } from '../../core/ladder/types.js';
import { usePoll } from '../hooks.js';
import { TZ_KEY, exportName, formatTime, ladderZone, savedTimeZone } from '../format.js';
import type { TimeZoneMode } from '../format.js';
import { CallList } from './call-list.js';
import { ALL_CALLS_STEP, useDialogs, useLadderEvents, useLiveTail } from './data.js';
import { LadderView } from './ladder-view.js';
import { MarkDetail, MessageDetail } from './message-detail.js';
import { download, ladderPng } from './png.js';
import { RtpQuality } from './rtp-chart.js';
import { SessionHeader } from './session-header.js';
import type { SessionView } from './session-header.js';

type Props = { mode: 'operator'; id: string } | { mode: 'share'; token: string };


/** the page's deep-link parameters, written back as the user moves (replaceState: no history spam) */
function useUrlParam(name: string): [string | null, (v: string | null) => void] {
  const [v, setV] = useState<string | null>(() => new URLSearchParams(location.search).get(name));
  const set = useCallback(
    (nv: string | null) => {
      setV(nv);
      const u = new URL(location.href);
      if (nv === null) u.searchParams.delete(name);
      else u.searchParams.set(name, nv);
      history.replaceState(history.state, '', u.pathname + u.search + u.hash);
    },
    [name],
  );
  return [v, set];
}

export function SessionPage(props: Props) {
  const base = props.mode === 'operator' ? `/api/sessions/${props.id}` : `/api/share/${encodeURIComponent(props.token)}`;
  const detail = usePoll(
    async () => {
      const d = await api<SessionView | { session: SessionView }>(base, { quiet401: props.mode === 'share' });
      return 'session' in d && typeof d.session === 'object' ? d.session : (d as SessionView);
    },
    5000,
    [base],
  );
  const s = detail.data;

  if (detail.error && !s) {
    const gone = detail.error instanceof ApiError && detail.error.status === 404;
    return (
      <div className="empty error-state" data-testid="session-error">
        {gone
          ? props.mode === 'share'
            ? 'This share link is not valid (it may have been revoked).'
            : 'No such session: it may have been purged.'
          : `Could not load the session: ${detail.error.message}`}
      </div>
    );
  }
  if (!s) return <p className="muted">Loading the session…</p>;
  return <SessionBody s={s} mode={props.mode} base={base} reload={detail.reload} />;
}

function SessionBody({ s, mode, base, reload }: { s: SessionView; mode: 'operator' | 'share'; base: string; reload(): void }) {
  const [tz, setTz] = useState<TimeZoneMode>(savedTimeZone);
  const [callParam, setCallParam] = useUrlParam('call');
  const [msgParam, setMsgParam] = useUrlParam('msg');
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [stateFilter, setStateFilter] = useState('');
  const [allCalls, setAllCalls] = useState(ALL_CALLS_STEP);
  const [selected, setSelected] = useState<number | null>(null);
  const [selectedMark, setSelectedMark] = useState<number | null>(null);
  const [exporting, setExporting] = useState<string | null>(null);
  const [compare, setCompare] = useState<{ label: string; eventId: number; text: string } | null>(null);

  // the search box narrows the list and the ladder; typed text is applied after a short pause
  useEffect(() => {
    const t = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);
  useEffect(() => setAllCalls(ALL_CALLS_STEP), [q, stateFilter]);

  const dialogs = useDialogs(base, q, stateFilter);
  // a link to a later leg of a B2BUA call (its Call-ID is not a row's) opens the call's row
  const row = callParam === null ? undefined : (dialogs.rows.find((d) => d.call_id === callParam) ?? dialogs.rows.find((d) => d.legs.includes(callParam)));
  // the ladder shows the selected call (all its legs); "All" with a search or a state filter shows the
  // calls they keep (the first ones, more on request); plain "All" pages through the session
  const filtered = q !== '' || stateFilter !== '';
  const callIds = useMemo(
    () => (callParam !== null ? (row?.legs ?? [callParam]) : filtered ? dialogs.rows.slice(0, allCalls).flatMap((d) => d.legs) : null),
    [callParam, row?.legs.join(','), filtered, dialogs.rows, allCalls],
  );
  const ev = useLadderEvents(base, callIds);

  // live: new events go to the ladder when they belong there, the list and the header counters are
  // refreshed (throttled) from the stream
  const throttle = useRef<{ t?: ReturnType<typeof setTimeout> }>({});
  const onBatch = useCallback(
    (evs: Event[]) => {
      ev.addLive(evs);
      throttle.current.t ??= setTimeout(() => {
        throttle.current.t = undefined;
        dialogs.refresh();
        reload();
      }, 700);
    },
    [ev.addLive, dialogs.refresh, reload],
  );
  useEffect(() => () => clearTimeout(throttle.current.t), []);
  const state = useLiveTail(base, dialogs.lastEventId, onBatch, () => {
    dialogs.refresh();
    reload();
  });

  const namesKey = JSON.stringify((s.agents ?? []).map((a) => [a.id, a.name]));
  const agentNames = useMemo(() => Object.fromEntries(JSON.parse(namesKey) as [number, string][]), [namesKey]);
  const ladder: Ladder = useMemo(
    () => buildLadder(ev.events, { agentNames, colourBy: callParam === null ? 'call' : 'transaction' }),
    [ev.events, agentNames, callParam],
  );
  const byId = useMemo(() => {
    const m = new Map<number, Event>();
    for (const e of ev.events) m.set(e.id, e);
    return m;
  }, [ev.events]);
  const arrow = selected !== null ? ladder.arrows[selected] : undefined;
  const mark = selectedMark !== null ? ladder.marks[selectedMark] : undefined;
  const selectMark = useCallback((i: number) => {
    setSelectedMark(i);
    setSelected(null);
  }, []);

  // a deep-linked message is selected once its call's events are in
  useEffect(() => {
    if (msgParam === null || ev.loading) return;
    const id = Number(msgParam);
    const a = ladder.arrows.find((x) => x.eventIds.includes(id));
    if (a && selected !== a.index) setSelected(a.index);
  }, [msgParam, ev.loading, ladder]);

  const select = useCallback(
    (i: number | null) => {
      setSelected(i);
      setSelectedMark(null);
      const a = i === null ? undefined : ladder.arrows[i];
      setMsgParam(a ? String(a.eventId) : null);
    },
    [ladder, setMsgParam],
  );
  const move = useCallback(
    (d: number) => {
      if (ladder.arrows.length === 0) return;
      select(selected === null ? 0 : Math.max(0, Math.min(ladder.arrows.length - 1, selected + d)));
    },
    [ladder.arrows.length, selected, select],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (ladder.arrows.length === 0) return;
        e.preventDefault();
        move(e.key === 'ArrowDown' ? 1 : -1);
      } else if (e.key === 'Escape') select(null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [move, select, ladder.arrows.length]);

  const chooseCall = (callId: string | null): void => {
    setSelected(null);
    setMsgParam(null);
    setCallParam(callId);
  };

  const exportPng = async (): Promise<void> => {
    setExporting('Rendering PNG…');
    try {
      const span = ladder.startTs !== null ? ` · ${formatTime({ us: ladder.startTs }, tz)}` : '';
      const title = `${s.label || 'session'} · ${s.id}${callParam ? ` · Call-ID ${callParam}` : ''}${span}`;
      const blob = await ladderPng(ladder, title, selected, ladderZone(tz, ladder.startTs));
      download(blob, exportName(s.label ?? '', s.id, callParam, 'png'));
      setExporting(null);
    } catch (e) {
      setExporting(`PNG export failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const callQuery = callParam === null ? '' : `?call_id=${encodeURIComponent(callParam)}`;

  return (
    <section className="session">
      <SessionHeader s={s} mode={mode} base={base} state={state} reload={reload} />
      <div className="list-tools">
        <input
          type="search"
          placeholder="Search numbers, Call-IDs, user agents, message text…"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          data-testid="session-search"
          aria-label="Search calls"
          maxLength={200}
        />
        <select value={stateFilter} onChange={(e) => setStateFilter(e.target.value)} data-testid="state-filter" aria-label="State">
          <option value="">every state</option>
          <option value="failed,cancelled">failed or cancelled</option>
          <option value="answered,completed">answered</option>
          <option value="calling,ringing">in progress</option>
          <option value="registered">registered</option>
        </select>
        <span className="spacer" />
        <label className="small">
          Times in{' '}
          <select
            value={tz}
            onChange={(e) => {
              const v = e.target.value === 'local' ? 'local' : 'utc';
              localStorage.setItem(TZ_KEY, v);
              setTz(v);
            }}
            data-testid="tz-select"
          >
            <option value="utc">UTC</option>
            <option value="local">local time</option>
          </select>
        </label>
      </div>
      {dialogs.error && <p className="error">{dialogs.error}</p>}
      <CallList
        rows={dialogs.rows}
        more={dialogs.more}
        loading={dialogs.loading}
        selected={row?.call_id ?? callParam}
        onSelect={chooseCall}
        onEnd={dialogs.loadMore}
        tz={tz}
        live={s.status === 'running'}
      />
      <div className="ladder-tools">
        <strong data-testid="ladder-title">{callParam === null ? (filtered ? 'Calls found' : 'All calls') : `Call ${callParam}`}</strong>
        {callParam === null && filtered && dialogs.rows.length > allCalls && (
          <button type="button" onClick={() => setAllCalls((n) => n + ALL_CALLS_STEP)}>
            Show {ALL_CALLS_STEP} more calls
          </button>
        )}
        <span className="spacer" />
        <span className="muted small">
          {ladder.arrows.length} messages{ev.more ? '+' : ''} · {ladder.media.length} streams · {ladder.logs.length} log lines
          {ladder.marks.length > 0 ? ` · ${ladder.marks.length} call states / routes` : ''} · ↑/↓ to move
        </span>
        <button type="button" onClick={() => void exportPng()} disabled={ladder.rows.length === 0} data-testid="export-png">
          PNG
        </button>
        <a className="button" href={`${base}/ladder.svg${callQuery}`} download={exportName(s.label ?? '', s.id, callParam, 'svg')} data-testid="export-svg">
          SVG
        </a>
        {callParam !== null && s.pcap_available && (
          <a
            className="button"
            href={`${base}/dialog.pcap?call_id=${encodeURIComponent((row?.legs ?? [callParam]).join(','))}`}
            download={exportName(s.label ?? '', s.id, callParam, 'pcap')}
            data-testid="export-call-pcap"
            title="this call's packets only"
          >
            PCAP
          </a>
        )}
      </div>
      {exporting && <p className="muted">{exporting}</p>}
      <div className="ladder-area">
        {ev.loading && ev.events.length === 0 ? (
          <div className="empty" data-testid="ladder-loading">
            Loading events…
          </div>
        ) : ev.events.length === 0 ? (
          <div className="empty" data-testid="ladder-empty">
            {s.status === 'running' ? 'Waiting for matching traffic… messages appear here as agents see them.' : 'No events to show.'}
          </div>
        ) : (
          <LadderView
            ladder={ladder}
            zone={ladderZone(tz, ladder.startTs)}
            selected={selected}
            onSelect={select}
            selectedMark={selectedMark}
            onSelectMark={selectMark}
            onEnd={ev.more ? ev.loadMore : undefined} follow={s.status === 'running' && !ev.more} />
        )}
        {arrow && (
          <MessageDetail
            arrow={arrow}
            event={byId.get(arrow.eventId)}
            lanes={ladder.lanes}
            total={ladder.arrows.length}
            onMove={move}
            onClose={() => select(null)}
            tz={tz}
            compare={compare}
            onCompare={setCompare}
          />
        )}
        {mark && <MarkDetail mark={mark} lanes={ladder.lanes} onClose={() => setSelectedMark(null)} tz={tz} />}
      </div>
      <h2>RTP streams</h2>
      {ladder.media.length === 0 ? (
        <p className="muted" data-testid="rtp-empty">
          {s.capture_rtp === false ? 'This session does not capture RTP.' : 'No media streams yet.'}
        </p>
      ) : (
        <table className="grid" data-testid="rtp-table">
          <thead>
            <tr>
              <th>Source → destination</th>
              <th>SSRC</th>
              <th>Codec</th>
              <th className="num">Packets</th>
              <th className="num">Loss %</th>
              <th className="num">Jitter ms</th>
              <th className="num">MOS</th>
            </tr>
          </thead>
          <tbody>
            {ladder.media.map((m) => (
              <tr key={m.key}>
                <td className="mono">
                  {m.src} → {m.dst}
                </td>
                <td className="mono">{m.ssrc === null ? '—' : `0x${m.ssrc.toString(16)}`}</td>
                <td>{m.codec ?? '—'}</td>
                <td className="num">{m.packets}</td>
                <td className={`num${(m.lossPct ?? 0) >= 1 ? ' bad' : ''}`}>{m.lossPct === null ? '—' : m.lossPct.toFixed(1)}</td>
                <td className="num">{m.jitterMs === null ? '—' : m.jitterMs.toFixed(1)}</td>
                <td className={`num${m.mos !== null && m.mos < 3.6 ? ' bad' : ''}`}>{m.mos === null ? '—' : m.mos.toFixed(2)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <RtpQuality events={ev.events} tz={tz} />
      <h2>Log lines</h2>
      {ladder.logs.length === 0 ? (
        <p className="muted" data-testid="logs-empty">
          No log lines for what is shown.
        </p>
      ) : (
        <table className="grid log-panel" data-testid="log-panel">
          <tbody>
            {ladder.logs.map((l) => (
              <tr key={l.eventId}>
                <td className="mono small nowrap">{formatTime({ us: l.ts }, tz)}</td>
                <td className="small">{l.source}</td>
                <td className="mono small log-text">{l.text}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
