// The session page's header: label, status, countdown, stream state, counters, criteria, caps, the
// operator's actions (stop, purge, share link, export) and the per-agent state table.
import { useState } from 'react';
import { api } from '../api.js';
import type { SessionDetail } from '../../core/schema/session.js';
import { useNow } from '../hooks.js';
import type { StreamState } from '../hooks.js';
import { countdown, exportName, when } from '../format.js';
import { navigate } from '../router.js';
import { StatusBadge } from '../pages/sessions.js';
import { useCan } from '../orgs/me.js';

/** The share API may answer the session itself or `{session: …}`; only allow-listed fields are there. */
export type SessionView = Partial<SessionDetail> & Pick<SessionDetail, 'id'>;

export function SessionHeader({
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
  // stop, purge and share are an operator's; a viewer is not offered them
  const canOperate = useCan('operator');
  const operator = mode === 'operator' && canOperate;
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
  const shared = Boolean(s.shared || s.share?.shared || share);
  // "Show" reads the link already handed out; only "New link" rotates it (and says so first)
  const showShare = () =>
    act(async () => {
      setShare(await api<{ token: string; url: string }>(`${base}/share`));
    });
  const createShare = (rotate: boolean) =>
    act(async () => {
      if (rotate && !window.confirm('Make a new share link? The current link stops working at once for everyone who has it.')) return;
      const r = await api<{ token: string; url: string }>(`${base}/share`, { method: 'POST' });
      setShare(r);
      setCopied(false);
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
        {operator && running && (
          <button type="button" disabled={busy} onClick={() => void stop()} data-testid="stop">
            Stop
          </button>
        )}
        {operator && !running && (
          <button type="button" className="danger" disabled={busy} onClick={() => void purge()} data-testid="purge">
            Purge
          </button>
        )}
        {operator && (
          <>
            {shared ? (
              <>
                <button type="button" disabled={busy} onClick={() => void showShare()} data-testid="share-show">
                  Show share link
                </button>
                <button type="button" disabled={busy} onClick={() => void createShare(true)} data-testid="share-rotate" title="replaces the link: the current one stops working">
                  New link
                </button>
                <button type="button" disabled={busy} onClick={() => void revoke()} data-testid="share-revoke">
                  Revoke link
                </button>
              </>
            ) : (
              <button type="button" disabled={busy} onClick={() => void createShare(false)} data-testid="share-create">
                Share
              </button>
            )}
          </>
        )}
        {s.pcap_available && (
          <a className="button" href={`${base}/export.tar`} download={exportName(s.label ?? '', s.id, null, 'tar')} data-testid="export-tar">
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

