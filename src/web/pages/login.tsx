// Login page: POST /api/login sets the HttpOnly session cookie; nothing is kept in the browser's storage.
// With single sign-on configured (GET /api/sso) a link starts it; a refused one comes back here with
// its reason in ?sso_error=.
import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { api, ApiError } from '../api.js';

export function LoginPage({ onLogin }: { onLogin: () => void }) {
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState<{ enabled: boolean; name: string | null } | null>(null);
  const ssoError = new URLSearchParams(location.search).get('sso_error');

  useEffect(() => {
    api<{ enabled: boolean; name: string | null }>('/api/sso', { quiet401: true })
      .then(setSso)
      .catch(() => setSso(null));
  }, []);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('/api/login', { method: 'POST', body: { username, password }, quiet401: true });
      onLogin();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form onSubmit={(e) => void submit(e)} className="card" aria-label="log in">
        <h1>TunaIO</h1>
        <p className="muted">SIP troubleshooting command center</p>
        {ssoError && (
          <p className="error" role="alert" data-testid="sso-error">
            Single sign-on refused: {ssoError}
          </p>
        )}
        {sso?.enabled && (
          <p>
            <a className="button" href="/api/sso/login" data-testid="sso-login">
              Log in with {sso.name}
            </a>
          </p>
        )}
        <label>
          User name
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
