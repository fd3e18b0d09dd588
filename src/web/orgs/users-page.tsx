// Users of the organisation (org admins; platform admins: every organisation, or the one they look at):
// create, change the role, delete. Only what the caller's role allows is offered; the API enforces the
// same rules (docs/organisations.md).
import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError } from '../api.js';
import { ROLES } from '../../core/schema/org.js';
import type { OrgView, Role, UserView } from '../../core/schema/org.js';
import { usePoll } from '../hooks.js';
import { when } from '../format.js';
import { orgView, useCan, useMe } from './me.js';

export function UsersPage() {
  const me = useMe();
  const platform = useCan('platform_admin');
  const users = usePoll(() => api<{ users: UserView[] }>('/api/users'), 0, []);
  const orgs = usePoll(() => (platform ? api<{ orgs: OrgView[] }>('/api/orgs') : Promise.resolve({ orgs: [] })), 0, [platform]);
  const [form, setForm] = useState({ username: '', password: '', role: 'viewer' as Role, org_id: '' });
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  // an org admin hands out and changes viewer and operator only; a platform admin any role
  const grantable: readonly Role[] = platform ? ROLES : ['viewer', 'operator'];
  const editable = (u: UserView): boolean => u.username !== me?.username && grantable.includes(u.role);
  const orgName = (id: number): string => orgs.data?.orgs.find((o) => o.id === id)?.name ?? String(id);

  const act = async (what: () => Promise<unknown>, done: string): Promise<void> => {
    setError(null);
    setNote(null);
    try {
      await what();
      setNote(done);
      users.reload();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const create = (e: FormEvent): void => {
    e.preventDefault();
    const body: Record<string, unknown> = { username: form.username.trim(), password: form.password, role: form.role };
    const org = form.org_id !== '' ? Number(form.org_id) : orgView();
    if (platform && org !== null) body.org_id = org;
    void act(() => api('/api/users', { method: 'POST', body }), `Created ${form.username.trim()}.`).then(() => setForm({ ...form, username: '', password: '' }));
  };

  const list = users.data?.users ?? [];
  return (
    <section>
      <h1>Users</h1>
      {users.error && <p className="error">Could not load the users: {users.error.message}</p>}
      <table className="grid" data-testid="users-table">
        <thead>
          <tr>
            <th>User</th>
            <th>Role</th>
            {platform && <th>Organisation</th>}
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((u) => (
            <tr key={u.id} data-testid="user-row" data-username={u.username}>
              <td>{u.username}</td>
              <td>
                {editable(u) ? (
                  <select
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    onChange={(e) => void act(() => api(`/api/users/${u.id}`, { method: 'PATCH', body: { role: e.target.value } }), `${u.username} is now ${e.target.value}.`)}
                  >
                    {grantable.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                ) : (
                  u.role
                )}
              </td>
              {platform && <td>{orgName(u.org_id)}</td>}
              <td>{when(u.created_at)}</td>
              <td>
                {editable(u) && (
                  <button
                    type="button"
                    className="link danger"
                    data-testid="user-delete"
                    onClick={() => {
                      if (window.confirm(`Delete ${u.username}? Their logins and API tokens end.`)) void act(() => api(`/api/users/${u.id}`, { method: 'DELETE' }), `Deleted ${u.username}.`);
                    }}
                  >
                    delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {note && <p className="ok">{note}</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <form onSubmit={create} className="card" data-testid="user-form">
        <h2>Add a user</h2>
        <label>
          User name
          <input name="username" autoComplete="off" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} required />
        </label>
        <label>
          Role
          <select name="role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            {grantable.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        {platform && (
          <label>
            Organisation
            <select name="org_id" value={form.org_id} onChange={(e) => setForm({ ...form, org_id: e.target.value })}>
              <option value="">{orgView() !== null ? `${orgName(orgView() as number)} (the one you look at)` : `${me?.org.name ?? ''} (yours)`}</option>
              {(orgs.data?.orgs ?? []).map((o) => (
                <option key={o.id} value={o.id}>
                  {o.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="submit">Add user</button>
      </form>
    </section>
  );
}
