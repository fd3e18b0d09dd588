// The top bar's right side: the organisation picker of platform admins (look at one organisation, or
// all; create one) and who is signed in, with their role and organisation.
import { useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError } from '../api.js';
import type { OrgView } from '../../core/schema/org.js';
import { usePoll } from '../hooks.js';
import { orgView, setOrgView, useCan, useMe } from './me.js';

function OrgPicker() {
  const orgs = usePoll(() => api<{ orgs: OrgView[] }>('/api/orgs'), 0, []);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const pick = (id: number | null): void => {
    setOrgView(id);
    // every page reads its lists again, as that organisation sees them
    location.reload();
  };
  const create = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    try {
      const org = await api<OrgView>('/api/orgs', { method: 'POST', body: { name: name.trim() } });
      pick(org.id);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const view = orgView();
  return (
    <span className="org-picker">
      <select aria-label="Organisation" data-testid="org-picker" value={view ?? ''} onChange={(e) => pick(e.target.value === '' ? null : Number(e.target.value))}>
        <option value="">All organisations</option>
        {(orgs.data?.orgs ?? []).map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
      {adding ? (
        <form onSubmit={(e) => void create(e)} className="inline-form" data-testid="org-create">
          <input aria-label="New organisation name" value={name} onChange={(e) => setName(e.target.value)} placeholder="organisation name" required />
          <button type="submit">Create</button>
          <button type="button" className="link" onClick={() => setAdding(false)}>
            cancel
          </button>
          {error && (
            <span className="error" role="alert">
              {error}
            </span>
          )}
        </form>
      ) : (
        <button type="button" className="link" onClick={() => setAdding(true)} data-testid="org-new">
          new organisation
        </button>
      )}
    </span>
  );
}

export function AccountBar() {
  const me = useMe();
  const platform = useCan('platform_admin');
  if (!me) return null;
  return (
    <span className="account">
      {platform && <OrgPicker />}
      <span className="whoami" data-testid="whoami" title={me.via === 'token' ? `API token ${me.token ?? ''}` : undefined}>
        {me.username} · <span data-testid="whoami-role">{me.role}</span> · <span data-testid="whoami-org">{me.org.name}</span>
      </span>
    </span>
  );
}
