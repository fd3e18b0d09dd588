// Sessions table: recent first, refreshed every few seconds, with a live expiry countdown.
import { api } from '../api.js';
import type { SessionList } from '../../core/schema/session.js';
import { useNow, usePoll } from '../hooks.js';
import { countdown, when } from '../format.js';
import { Link, navigate } from '../router.js';
import { useCan } from '../orgs/me.js';

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function SessionsPage() {
  const list = usePoll(() => api<SessionList>('/api/sessions?limit=100'), 3000, []);
  const now = useNow();
  const sessions = list.data?.sessions ?? [];
  const operator = useCan('operator');
  return (
    <section>
      <div className="page-head">
        <h1>Capture sessions</h1>
        {operator && (
          <Link href="/sessions/new" className="button">
            New capture
          </Link>
        )}
      </div>
      {list.error && <p className="error">Could not load the sessions: {list.error.message}</p>}
      {list.loading && !list.data ? (
        <p className="muted">Loading sessions…</p>
      ) : sessions.length === 0 ? (
        <div className="empty">
          No capture sessions yet.{' '}
          {operator && (
            <>
              <Link href="/sessions/new">Start one</Link>: pick agents and a number, a domain or a Call-ID.
            </>
          )}
        </div>
      ) : (
        <table className="grid" data-testid="sessions-table">
          <thead>
            <tr>
              <th>Label</th>
              <th>Status</th>
              <th>Created</th>
              <th>Expires in</th>
              <th className="num">Events</th>
              <th className="num">Agents</th>
              <th>Shared</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id} className="clickable" onClick={() => navigate(`/sessions/${s.id}`)}>
                <td>
                  <Link href={`/sessions/${s.id}`}>{s.label || <span className="muted">(no label)</span>}</Link>
                  <div className="muted mono small">{s.id}</div>
                </td>
                <td>
                  <StatusBadge status={s.status} />
                </td>
                <td>{when(s.created_at)}</td>
                <td className="mono">{s.status === 'running' ? countdown(s.expires_at, now) : '—'}</td>
                <td className="num">{s.event_count}</td>
                <td className="num">{s.agent_count}</td>
                <td>{s.shared ? 'yes' : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
