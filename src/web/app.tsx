// The app shell: routes (DESIGN §3 UI routes), the login state and the top bar. Operator pages need
// the login cookie; /share/{token} works logged out and shows no operator navigation.
import { useEffect, useState } from 'react';
import { api, UNAUTHORIZED_EVENT } from './api.js';
import { Link, navigate, usePath } from './router.js';
import { LoginPage } from './pages/login.js';
import { SessionsPage } from './pages/sessions.js';
import { NewSessionPage } from './pages/new-session.js';
import { AgentsPage } from './pages/agents.js';
import { SessionPage } from './session/session-page.js';

type Auth = 'unknown' | 'in' | 'out';

export function App() {
  const path = usePath();
  const [auth, setAuth] = useState<Auth>('unknown');

  useEffect(() => {
    const out = (): void => setAuth('out');
    window.addEventListener(UNAUTHORIZED_EVENT, out);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, out);
  }, []);

  const share = /^\/share\/([^/]+)\/?$/.exec(path);
  useEffect(() => {
    if (share || auth !== 'unknown') return;
    // the cookie is HttpOnly: ask the API whether it is still good
    api('/api/sessions?limit=1', { quiet401: true })
      .then(() => setAuth('in'))
      .catch(() => setAuth('out'));
  }, [share, auth]);

  if (share) {
    return (
      <div className="app">
        <header className="topbar">
          <span className="brand">TunaIO</span>
          <span className="muted">shared capture (read-only)</span>
        </header>
        <main>
          <SessionPage mode="share" token={decodeURIComponent(share[1])} />
        </main>
      </div>
    );
  }

  if (auth === 'unknown') return <div className="app loading-page">Loading…</div>;
  if (auth === 'out' || path === '/login') {
    return (
      <LoginPage
        onLogin={() => {
          setAuth('in');
          if (path === '/login') navigate('/', true);
        }}
      />
    );
  }

  const logout = async (): Promise<void> => {
    try {
      await api('/api/logout', { method: 'POST', quiet401: true });
    } finally {
      setAuth('out');
      navigate('/login', true);
    }
  };

  let page;
  const session = /^\/sessions\/([0-9a-f]{20})\/?$/.exec(path);
  if (path === '/' || path === '/sessions') page = <SessionsPage />;
  else if (path === '/sessions/new') page = <NewSessionPage />;
  else if (session) page = <SessionPage mode="operator" id={session[1]} />;
  else if (path === '/agents') page = <AgentsPage />;
  else page = <div className="empty">No page here. <Link href="/">Back to the sessions</Link></div>;

  return (
    <div className="app">
      <header className="topbar">
        <Link href="/" className="brand">
          TunaIO
        </Link>
        <nav>
          <Link href="/">Sessions</Link>
          <Link href="/sessions/new">New capture</Link>
          <Link href="/agents">Agents</Link>
        </nav>
        <button type="button" className="link" onClick={() => void logout()} data-testid="logout">
          Log out
        </button>
      </header>
      <main>{page}</main>
    </div>
  );
}
