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
import { MeContext, setOrgView } from './orgs/me.js';
import { AccountBar } from './orgs/account-bar.js';
import { UsersPage } from './orgs/users-page.js';
import { TokensPage } from './orgs/tokens-page.js';
import { roleAllows } from '../core/schema/org.js';
import type { Me } from '../core/schema/org.js';

type Auth = 'unknown' | 'in' | 'out';

export function App() {
  const path = usePath();
  const [auth, setAuth] = useState<Auth>('unknown');
  const [me, setMe] = useState<Me | null>(null);

  useEffect(() => {
    const out = (): void => setAuth('out');
    window.addEventListener(UNAUTHORIZED_EVENT, out);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, out);
  }, []);

  const share = /^\/share\/([^/]+)\/?$/.exec(path);
  useEffect(() => {
    if (share || auth !== 'unknown') return;
    // the cookie is HttpOnly: ask the API whether it is still good, and who it is
    api<Me>('/api/me', { quiet401: true })
      .then((m) => {
        // an organisation view is a platform admin's only (another user in this tab since)
        if (m.role !== 'platform_admin') setOrgView(null);
        setMe(m);
        setAuth('in');
      })
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
          setOrgView(null);
          setAuth('unknown');
          if (path === '/login') navigate('/', true);
        }}
      />
    );
  }

  const logout = async (): Promise<void> => {
    try {
      await api('/api/logout', { method: 'POST', quiet401: true });
    } finally {
      setOrgView(null);
      setMe(null);
      setAuth('out');
      navigate('/login', true);
    }
  };

  const can = (role: Parameters<typeof roleAllows>[1]): boolean => me !== null && roleAllows(me.role, role);
  let page;
  const session = /^\/sessions\/([0-9a-f]{20})\/?$/.exec(path);
  if (path === '/' || path === '/sessions') page = <SessionsPage />;
  else if (path === '/sessions/new' && can('operator')) page = <NewSessionPage />;
  else if (session) page = <SessionPage mode="operator" id={session[1]} />;
  else if (path === '/agents') page = <AgentsPage />;
  else if (path === '/users' && can('org_admin')) page = <UsersPage />;
  else if (path === '/tokens' && can('operator')) page = <TokensPage />;
  else page = <div className="empty">No page here. <Link href="/">Back to the sessions</Link></div>;

  return (
    <MeContext.Provider value={me}>
      <div className="app">
        <header className="topbar">
          <Link href="/" className="brand">
            TunaIO
          </Link>
          <nav>
            <Link href="/">Sessions</Link>
            {can('operator') && <Link href="/sessions/new">New capture</Link>}
            <Link href="/agents">Agents</Link>
            {can('org_admin') && <Link href="/users">Users</Link>}
            {can('operator') && <Link href="/tokens">Tokens</Link>}
          </nav>
          <AccountBar />
          <button type="button" className="link" onClick={() => void logout()} data-testid="logout">
            Log out
          </button>
        </header>
        <main>{page}</main>
      </div>
    </MeContext.Provider>
  );
}
