// API tokens: the caller's own (org admins: the organisation's). A new token's secret is shown once,
// here, and never again (the center keeps only its digest).
import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError } from '../api.js';
import { ROLES, roleAllows } from '../../core/schema/org.js';
import type { Role, TokenView } from '../../core/schema/org.js';
import { usePoll } from '../hooks.js';
import { when } from '../format.js';
import { useMe } from './me.js';

export function TokensPage() {
  const me = useMe();
  const tokens = usePoll(() => api<{ tokens: TokenView[] }>('/api/tokens'), 0, []);
  const [form, setForm] = useState({ name: '', role: 'viewer' as Role });
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // a token has at most its maker's role
  const roles = ROLES.filter((r) => me !== null && roleAllows(me.role, r));

  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ id: number; token: string }>('/api/tokens', { method: 'POST', body: { name: form.name.trim(), role: form.role } });
      setSecret({ name: form.name.trim(), token: r.token });
      setForm({ ...form, name: '' });
      tokens.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const revoke = async (t: TokenView): Promise<void> => {
    if (!window.confirm(`Revoke the token ${t.username}/${t.name}? Whatever uses it stops working.`)) return;
    setError(null);
    try {
      await api(`/api/tokens/${t.id}`, { method: 'DELETE' });
      tokens.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  const list = tokens.data?.tokens ?? [];
  return (
    <section>
      <h1>API tokens</h1>
      {tokens.error && <p className="error">Could not load the tokens: {tokens.error.message}</p>}
      {secret && (
        <div className="share-box" data-testid="token-created">
          <span>
            Token <b>{secret.name}</b>, shown this once; copy it now:
          </span>
          <input readOnly value={secret.token} data-testid="token-secret" onFocus={(e) => e.currentTarget.select()} />
          <button type="button" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      )}
      {list.length === 0 ? (
        <div className="empty">No API tokens yet.</div>
      ) : (
        <table className="grid" data-testid="tokens-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>User</th>
              <th>Role</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={t.id} data-testid="token-row" data-name={t.name}>
                <td>{t.name}</td>
                <td>{t.username}</td>
                <td>{t.role}</td>
                <td>{when(t.created_at)}</td>
                <td>
                  <button type="button" className="link danger" data-testid="token-delete" onClick={() => void revoke(t)}>
                    revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <form onSubmit={(e) => void create(e)} className="card" data-testid="token-form">
        <h2>New token</h2>
        <label>
          Name
          <input name="name" autoComplete="off" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="wallboard" required />
        </label>
        <label>
          Role
          <select name="role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            {roles.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit">Create token</button>
      </form>
    </section>
  );
}
