// Sessions table: recent first, refreshed every few seconds, with a live expiry countdown; a search box
// (label, criteria, or a Call-ID seen in a session) and filters (status, agent, shared), applied by the
// center (GET /api/sessions?q=&status=&agent_id=&shared=) and kept in the page's URL.
import { useCallback, useEffect, useState } from 'react';
import { api } from '../api.js';
import type { AgentView } from '../../core/schema/agent.js';
import type { SessionList } from '../../core/schema/session.js';
import { useNow, usePoll } from '../hooks.js';
import { countdown, when } from '../format.js';
import { Link, navigate } from '../router.js';
import { useCan } from '../orgs/me.js';

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

const FILTERS = ['q', 'status', 'agent_id', 'shared'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

function readFilters(): Filters {
  const u = new URLSearchParams(location.search);
  return { q: u.get('q') ?? '', status: u.get('status') ?? '', agent_id: u.get('agent_id') ?? '', shared: u.get('shared') ?? '' };
}

export function SessionsPage() {
  const [filters, setFilters] = useState<Filters>(readFilters);
  const [typed, setTyped] = useState(filters.q);
  const [limit, setLimit] = useState(100);
  const set = useCallback((k: keyof Filters, v: string) => {
    setFilters((f) => {
      const next = { ...f, [k]: v };
      const u = new URL(location.href);
      for (const key of FILTERS) {
        if (next[key] === '') u.searchParams.delete(key);
        else u.searchParams.set(key, next[key]);
      }
      history.replaceState(history.state, '', u.pathname + u.search);
      return next;
    });
    setLimit(100);
  }, []);
  // typed text is sent after a short pause
  useEffect(() => {
    const t = setTimeout(() => set('q', typed.trim()), 250);
    return () => clearTimeout(t);
  }, [typed, set]);
  const query = new URLSearchParams({ limit: String(Math.min(limit, 200)) });
  for (const k of FILTERS) if (filters[k] !== '') query.set(k, filters[k]);
  const list = usePoll(() => api<SessionList>(`/api/sessions?${query.toString()}`), 3000, [query.toString()]);
  const agents = usePoll(() => api<{ agents: AgentView[] } | AgentView[]>('/api/agents'), 0, []);
  const agentList = agents.data === null ? [] : Array.isArray(agents.data) ? agents.data : agents.data.agents;
  const now = useNow();
  const sessions = list.data?.sessions ?? [];
  const operator = useCan('operator');
  const filtered = FILTERS.some((k) => filters[k] !== '');
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
      <div className="list-tools">
        <input
          type="search"
          placeholder="Search labels, criteria, or a Call-ID…"
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          data-testid="sessions-search"
          aria-label="Search sessions"
          maxLength={200}
        />
        <select value={filters.status} onChange={(e) => set('status', e.target.value)} data-testid="sessions-status" aria-label="Status">
          <option value="">every status</option>
          <option value="running">running</option>
          <option value="stopped,expired">ended</option>
          <option value="stopped">stopped</option>
          <option value="expired">expired</option>
        </select>
        <select value={filters.agent_id} onChange={(e) => set('agent_id', e.target.value)} data-testid="sessions-agent" aria-label="Agent">
          <option value="">every agent</option>
          {agentList.map((a) => (
            <option key={a.id} value={String(a.id)}>
              {a.name}
            </option>
          ))}
        </select>
        <select value={filters.shared} onChange={(e) => set('shared', e.target.value)} data-testid="sessions-shared" aria-label="Shared">
          <option value="">shared or not</option>
          <option value="true">shared</option>
          <option value="false">not shared</option>
        </select>
      </div>
      {list.error && <p className="error">Could not load the sessions: {list.error.message}</p>}
      {list.loading && !list.data ? (
        <p className="muted">Loading sessions…</p>
      ) : sessions.length === 0 && filtered ? (
        <div className="empty" data-testid="sessions-none">
          No session matches these filters.
        </div>
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
      {list.data?.more && (
        <button type="button" onClick={() => setLimit((n) => n + 100)} disabled={limit >= 200} data-testid="sessions-more">
          {limit >= 200 ? 'Showing the 200 most recent: narrow the search' : 'Show more'}
        </button>
      )}
    </section>
  );
}
