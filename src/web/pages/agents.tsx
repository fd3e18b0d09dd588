// Agents page: status, tags, last seen, sources; add or update an agent by name (POST /api/agents).
import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError, fieldOfError } from '../api.js';
import type { AgentView } from '../../core/schema/agent.js';
import { usePoll } from '../hooks.js';
import { when } from '../format.js';
import { useCan } from '../orgs/me.js';

export function AgentsPage() {
  const list = usePoll(() => api<{ agents: AgentView[] }>('/api/agents'), 5000, []);
  const [form, setForm] = useState({ name: '', url: '', token: '', enabled: true, tags: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState<string | null>(null);
  const agents = list.data?.agents ?? [];
  // adding and changing agents is an org admin's
  const admin = useCan('org_admin');
  const existing = agents.some((a) => a.name === form.name.trim());

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setErrors({});
    setSaved(null);
    const body: Record<string, unknown> = { name: form.name.trim(), url: form.url.trim(), enabled: form.enabled, tags: form.tags };
    if (form.token !== '') body.token = form.token;
    try {
      await api('/api/agents', { method: 'POST', body });
      setSaved(`${existing ? 'Updated' : 'Added'} ${form.name.trim()}.`);
      setForm({ ...form, token: '' });
      list.reload();
    } catch (err) {
      if (err instanceof ApiError) setErrors({ [fieldOfError(err)]: err.message });
      else setErrors({ form: String(err) });
    }
  };

  const edit = (a: AgentView): void => setForm({ name: a.name, url: a.url, token: '', enabled: a.enabled, tags: a.tags.join(', ') });

  return (
    <section>
      <h1>Agents</h1>
      {list.error && <p className="error">Could not load the agents: {list.error.message}</p>}
      {list.loading && !list.data ? (
        <p className="muted">Loading agents…</p>
      ) : agents.length === 0 ? (
        <div className="empty">No agents yet. Add one below: its name, the URL of its command API and its token.</div>
      ) : (
        <table className="grid" data-testid="agents-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Status</th>
              <th>Tags</th>
              <th>Last seen</th>
              <th>Sources</th>
              <th>URL</th>
              <th>Version</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.id} className={a.enabled ? '' : 'disabled'}>
                <td>{a.name}</td>
                <td>
                  <span className={`status status-${a.status}`}>{a.enabled ? a.status : 'disabled'}</span>
                </td>
                <td>
                  {a.tags.map((t) => (
                    <span key={t} className="chip static">
                      {t}
                    </span>
                  ))}
                </td>
                <td>{when(a.last_seen)}</td>
                <td className="small">{a.sources.map((s) => (s.detail ? `${s.type} ${s.detail}` : s.type)).join(', ') || '—'}</td>
                <td className="mono small">{a.url}</td>
                <td className="small">{a.version ?? '—'}</td>
                <td>
                  {admin && (
                    <button type="button" className="link" onClick={() => edit(a)}>
                      edit
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && (
      <form onSubmit={(e) => void submit(e)} className="card agent-form" data-testid="agent-form">
        <h2>{existing ? `Update ${form.name.trim()}` : 'Add an agent'}</h2>
        {(['name', 'url', 'token', 'tags'] as const).map((k) => (
          <div key={k} className={`field${errors[k] ? ' has-error' : ''}`}>
            <label>
              <span className="field-label">{k === 'url' ? 'Command API URL' : k[0].toUpperCase() + k.slice(1)}</span>
              <input
                name={k}
                type={k === 'token' ? 'password' : 'text'}
                autoComplete="off"
                value={form[k]}
                placeholder={{ name: 'edge-fra-1', url: 'http://10.0.0.5:9070', token: existing ? '(unchanged)' : 'at least 22 characters', tags: 'fra, kamailio' }[k]}
                onChange={(e) => setForm({ ...form, [k]: e.target.value })}
              />
            </label>
            <div className="help">
              {
                {
                  name: 'Letters, digits, "-", "_" and "."; an existing name updates that agent.',
                  url: 'Where the center sends capture commands (the agent\'s --listen address).',
                  token: 'The agent\'s secret (its --token), used both ways. Leave empty on update to keep it.',
                  tags: 'Comma-separated; sessions can pick agents by tag.',
                }[k]
              }
            </div>
            {errors[k] && <div className="error field-error">{errors[k]}</div>}
          </div>
        ))}
        <label className="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => setForm({ ...form, enabled: e.target.checked })} /> Enabled
        </label>
        {errors.form && <p className="error">{errors.form}</p>}
        {saved && <p className="ok">{saved}</p>}
        <button type="submit">{existing ? 'Update agent' : 'Add agent'}</button>
      </form>
      )}
    </section>
  );
}
