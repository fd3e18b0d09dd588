// The session page (operator) and the share view (read-only, logged out): header with status,
// countdown and per-agent state; stop / purge / share / exports for operators; the live ladder with
// dialog selector, message detail, RTP streams table and log lines. The share view shows the same
// picture from /api/share/{token} without any control or operator-only data.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, ApiError } from '../api.js';
import type { SessionDetail } from '../../core/schema/session.js';
import type { Event } from '../../core/schema/event.js';
import { buildLadder } from '../../core/ladder/build.js';
import type { Ladder } from '../../core/ladder/types.js';
import { useEventStream, useNow, usePoll } from '../hooks.js';
import type { StreamState } from '../hooks.js';
import { countdown, pngName, when } from '../format.js';
import { navigate } from '../router.js';
import { StatusBadge } from '../pages/sessions.js';
import { LadderView } from './ladder-view.js';
import { MarkDetail, MessageDetail } from './message-detail.js';
import { download, ladderPng } from './png.js';

type Props = { mode: 'operator'; id: string } | { mode: 'share'; token: string };

/** The share API may answer the session itself or `{session: …}`; only allow-listed fields are there. */
type SessionView = Partial<SessionDetail> & Pick<SessionDetail, 'id'>;

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
  const { events, state, loaded } = useEventStream(detail.error && !s ? null : base, detail.reload);

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

  return (
    <section className="session">
      <SessionHeader s={s} mode={props.mode} base={base} state={state} reload={detail.reload} />
      <SessionBody s={s} events={events} loading={state === 'loading' ? loaded : null} />
    </section>
  );
}

function SessionHeader({
  s,
  mode,
  base,
  state,
  reload,
}: {
  s: SessionView;
  mode: 'operator' | 'share';
  base: string;
  state: StreamState;
  reload(): void;
}) {
  const now = useNow();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [share, setShare] = useState<{ token: string; url: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const running = s.status === 'running';

  const act = async (f: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const stop = () =>
    act(async () => {
      if (!window.confirm(`Stop the capture "${s.label || s.id}"? Agents stop at once; the events stay.`)) return;
      await api(base, { method: 'DELETE' });
      reload();
    });
  const purge = () =>
    act(async () => {
      if (!window.confirm(`Delete "${s.label || s.id}", its events and its PCAPs for good?`)) return;
      await api(`${base}?purge=1`, { method: 'DELETE' });
      navigate('/');
    });
  const createShare = () =>
    act(async () => {
      const r = await api<{ token: string; url: string }>(`${base}/share`, { method: 'POST' });
      setShare(r);
      reload();
    });
  const revoke = () =>
    act(async () => {
      if (!window.confirm('Revoke the share link? Anyone using it will get "not found".')) return;
      await api(`${base}/share`, { method: 'DELETE' });
      setShare(null);
      reload();
    });
  const shareUrl = share ? new URL(share.url, location.origin).toString() : null;

  return (
    <div className="session-head">
      <div className="page-head">
        <h1 data-testid="session-label">{s.label || <span className="muted">(no label)</span>}</h1>
        {s.status && <StatusBadge status={s.status} />}
        {running && s.expires_at && (
          <span className="countdown mono" title={`expires ${when(s.expires_at)}`}>
            expires in {countdown(s.expires_at, now)}
          </span>
        )}
        <span className={`stream stream-${state}`} data-testid="stream-state">
          {state === 'live' ? '● live' : state === 'ended' ? 'complete' : state}
        </span>
      </div>
      <div className="muted small mono">{s.id}</div>
      <div className="meta">
        {s.created_at && <span>created {when(s.created_at)}</span>}
        {s.stopped_at && <span>stopped {when(s.stopped_at)}</span>}
        {s.event_count !== undefined && <span>{s.event_count} events</span>}
        {s.counts && (
          <span>
            {Object.entries(s.counts)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${n}`)
              .join(' · ')}
          </span>
        )}
        {s.criteria && (
          <span className="mono small">
            {Object.entries(s.criteria)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(' ')}
          </span>
        )}
        {s.capped && <span className="badge warn">capped: {s.capped_reason}</span>}
      </div>
      <div className="actions">
        {mode === 'operator' && running && (
          <button type="button" disabled={busy} onClick={() => void stop()} data-testid="stop">
            Stop
          </button>
        )}
        {mode === 'operator' && !running && (
          <button type="button" className="danger" disabled={busy} onClick={() => void purge()} data-testid="purge">
            Purge
          </button>
        )}
        {mode === 'operator' && (
          <>
            <button type="button" disabled={busy} onClick={() => void createShare()} data-testid="share-create">
              {s.shared || s.share?.shared ? 'Show share link' : 'Share'}
            </button>
            {(s.shared || s.share?.shared || share) && (
              <button type="button" disabled={busy} onClick={() => void revoke()} data-testid="share-revoke">
                Revoke link
              </button>
            )}
          </>
        )}
        {s.pcap_available && (
          <a className="button" href={`${base}/export.tar`} download data-testid="export-tar">
            export.tar
          </a>
        )}
      </div>
      {shareUrl && (
        <div className="share-box">
          <input readOnly value={shareUrl} data-testid="share-url" onFocus={(e) => e.currentTarget.select()} />
          <button
            type="button"
            onClick={() => {
              void navigator.clipboard?.writeText(shareUrl).then(() => setCopied(true));
            }}
            data-testid="share-copy"
          >
            {copied ? 'Copied' : 'Copy'}
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {s.agents && s.agents.length > 0 && (
        <table className="grid agents-state" data-testid="session-agents">
          <thead>
            <tr>
              <th>Agent</th>
              <th>State</th>
              <th className="num">Seen</th>
              <th className="num">Matched</th>
              <th className="num">Uploaded</th>
              <th className="num">Stored</th>
              <th>Dropped</th>
              <th>Last event</th>
            </tr>
          </thead>
          <tbody>
            {s.agents.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>
                  <span className={`status status-${a.state}`}>{a.state}</span>
                  {a.reason && <span className="error small"> {a.reason}</span>}
                </td>
                <td className="num">{a.counters?.packets_seen ?? '—'}</td>
                <td className="num">{a.counters?.packets_matched ?? '—'}</td>
                <td className="num">{a.counters?.events_uploaded ?? '—'}</td>
                <td className="num">{a.counters?.events_stored ?? '—'}</td>
                <td className="small">
                  {Object.entries(a.counters?.dropped ?? {})
                    .map(([k, n]) => `${k} ${n}`)
                    .join(', ') || '—'}
                </td>
                <td>{when(a.last_event_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function SessionBody({ s, events, loading }: { s: SessionView; events: Event[]; loading: number | null }) {
  const [callId, setCallId] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [selectedMark, setSelectedMark] = useState<number | null>(null);
  const [exporting, setExporting] = useState<string | null>(null);
  // the detail is polled: key the names by content so a poll does not rebuild the ladder
  const namesKey = JSON.stringify((s.agents ?? []).map((a) => [a.id, a.name]));
  const agentNames = useMemo(() => Object.fromEntries(JSON.parse(namesKey) as [number, string][]), [namesKey]);
  const ladder: Ladder = useMemo(() => buildLadder(events, { agentNames, callId }), [events, agentNames, callId]);
  const byId = useMemo(() => {
    const m = new Map<number, Event>();
    for (const e of events) m.set(e.id, e);
    return m;
  }, [events]);
  const arrow = selected !== null ? ladder.arrows[selected] : undefined;
  const mark = selectedMark !== null ? ladder.marks[selectedMark] : undefined;
  const selectArrow = useCallback((i: number | null) => {
    setSelected(i);
    setSelectedMark(null);
  }, []);
  const selectMark = useCallback((i: number) => {
    setSelectedMark(i);
    setSelected(null);
  }, []);

  const move = useCallback(
    (d: number) => setSelected((cur) => (cur === null ? 0 : Math.max(0, Math.min(ladder.arrows.length - 1, cur + d)))),
    [ladder.arrows.length],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (ladder.arrows.length === 0) return;
        e.preventDefault();
        move(e.key === 'ArrowDown' ? 1 : -1);
      } else if (e.key === 'Escape') selectArrow(null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [move, ladder.arrows.length, selectArrow]);

  const exportPng = async (): Promise<void> => {
    setExporting('Rendering PNG…');
    try {
      const title = `${s.label || 'session'} · ${s.id}${callId ? ` · Call-ID ${callId}` : ''}`;
      const blob = await ladderPng(ladder, title, selected);
      download(blob, pngName(s.label ?? '', s.id));
      setExporting(null);
    } catch (e) {
      setExporting(`PNG export failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const call = ladder.calls.find((c) => c.callId === callId);
  return (
    <>
      <div className="ladder-tools">
        <label>
          Dialog{' '}
          <select
            value={callId ?? ''}
            onChange={(e) => {
              setCallId(e.target.value === '' ? null : e.target.value);
              selectArrow(null);
            }}
            data-testid="dialog-select"
          >
            <option value="">All ({ladder.calls.length} Call-IDs)</option>
            {ladder.calls.map((c) => (
              <option key={c.callId} value={c.callId}>
                {c.method ?? '?'} {c.fromUser ?? ''} → {c.toUser ?? ''} · {c.messages} msgs
                {c.dialogs.length > 1 ? ` · ${c.dialogs.length} dialogs` : ''} · {c.callId.slice(0, 40)}
              </option>
            ))}
          </select>
        </label>
        {call && call.dialogs.length > 0 && (
          <span className="dialogs" data-testid="early-dialogs">
            {call.dialogs.map((d) => (
              <span key={d.id} className={`chip static dialog-${d.state}`} title={d.id}>
                to-tag {d.toTag} · {d.state}
              </span>
            ))}
          </span>
        )}
        <span className="spacer" />
        <span className="muted small">
          {ladder.arrows.length} messages · {ladder.media.length} streams · {ladder.logs.length} log lines
          {ladder.marks.length > 0 ? ` · ${ladder.marks.length} call states / routes` : ''} · ↑/↓ to move
        </span>
        <button type="button" onClick={() => void exportPng()} disabled={ladder.rows.length === 0} data-testid="export-png">
          PNG
        </button>
      </div>
      {exporting && <p className="muted">{exporting}</p>}
      <div className="ladder-area">
        {loading !== null ? (
          <div className="empty" data-testid="ladder-loading">
            Loading events… {loading > 0 ? loading : ''}
          </div>
        ) : events.length === 0 ? (
          <div className="empty" data-testid="ladder-empty">
            {s.status === 'running' ? 'Waiting for matching traffic… messages appear here as agents see them.' : 'This session captured no events.'}
          </div>
        ) : (
          <LadderView ladder={ladder} selected={selected} onSelect={selectArrow} selectedMark={selectedMark} onSelectMark={selectMark} />
        )}
        {arrow && (
          <MessageDetail
            arrow={arrow}
            event={byId.get(arrow.eventId)}
            lanes={ladder.lanes}
            total={ladder.arrows.length}
            onMove={move}
            onClose={() => setSelected(null)}
          />
        )}
        {mark && <MarkDetail mark={mark} lanes={ladder.lanes} onClose={() => setSelectedMark(null)} />}
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
    </>
  );
}
