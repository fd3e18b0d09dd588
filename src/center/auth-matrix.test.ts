// The auth matrix: every route × {no credentials, bad token, operator token, operator cookie, agent
// token}. Operator routes: 401 / 401 / success / success / 403. Ingest: 401 / 401 / 403 / 403 /
// success. Public routes (health, login) answer everyone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, op, testCenter } from './testing.js';
import type { TestCenter } from './testing.js';
import { ROUTES } from './routes/system/openapi.js';

let c: TestCenter;
let agentToken: string;
let running: string;
let stopped: string;
let cookie: string;
let shareToken: string;

beforeAll(async () => {
  c = await testCenter();
  agentToken = (await c.addAgent('a')).token;
  running = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
  stopped = await c.newSession({ criteria: { from: '2' }, agent_ids: [1] });
  await c.app.inject({ method: 'DELETE', url: `/api/sessions/${stopped}`, headers: op });
  const r = await c.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
  cookie = String(r.headers['set-cookie']).split(';')[0];
  shareToken = (await c.app.inject({ method: 'POST', url: `/api/sessions/${running}/share`, headers: op })).json().token;
});
afterAll(async () => {
  await c.close();
});

type Cred = 'none' | 'bad' | 'operator' | 'cookie' | 'agent';
const CREDS: Cred[] = ['none', 'bad', 'operator', 'cookie', 'agent'];

interface Case {
  method: 'GET' | 'POST' | 'DELETE';
  route: string;
  url: () => string;
  body?: () => object;
  /** status when the credentials are accepted */
  ok: number;
}

const CASES: Case[] = [
  { method: 'POST', route: '/api/sessions', url: () => '/api/sessions', body: () => ({ criteria: { from: '1' }, agent_ids: [1] }), ok: 201 },
  { method: 'GET', route: '/api/sessions', url: () => '/api/sessions', ok: 200 },
  { method: 'GET', route: '/api/sessions/{id}', url: () => `/api/sessions/${running}`, ok: 200 },
  { method: 'GET', route: '/api/sessions/{id}/events', url: () => `/api/sessions/${running}/events`, ok: 200 },
  { method: 'GET', route: '/api/sessions/{id}/dialogs', url: () => `/api/sessions/${running}/dialogs`, ok: 200 },
  { method: 'GET', route: '/api/sessions/{id}/stream', url: () => `/api/sessions/${stopped}/stream`, ok: 200 },
  { method: 'DELETE', route: '/api/sessions/{id}', url: () => `/api/sessions/${stopped}`, ok: 200 },
  { method: 'DELETE', route: '/api/sessions/{id}', url: () => `/api/sessions/${running}?purge=1`, ok: 409 },
  { method: 'GET', route: '/api/sessions/{id}/export.tar', url: () => `/api/sessions/${running}/export.tar`, ok: 404 },
  { method: 'GET', route: '/api/sessions/{id}/ladder.svg', url: () => `/api/sessions/${running}/ladder.svg`, ok: 200 },
  { method: 'GET', route: '/api/sessions/{id}/ladder.png', url: () => `/api/sessions/${running}/ladder.png`, ok: 200 },
  { method: 'POST', route: '/api/sessions/{id}/share', url: () => `/api/sessions/${stopped}/share`, ok: 201 },
  { method: 'DELETE', route: '/api/sessions/{id}/share', url: () => `/api/sessions/${stopped}/share`, ok: 204 },
  { method: 'GET', route: '/api/share/{token}', url: () => `/api/share/${shareToken}`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/events', url: () => `/api/share/${shareToken}/events`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/dialogs', url: () => `/api/share/${shareToken}/dialogs`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/stream', url: () => `/api/share/${stopped}/stream`, ok: 404 },
  { method: 'GET', route: '/api/share/{token}/export.tar', url: () => `/api/share/${shareToken}/export.tar`, ok: 404 },
  { method: 'GET', route: '/api/share/{token}/ladder.svg', url: () => `/api/share/${shareToken}/ladder.svg`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/ladder.png', url: () => `/api/share/${shareToken}/ladder.png`, ok: 200 },
  { method: 'GET', route: '/api/agents', url: () => '/api/agents', ok: 200 },
  { method: 'POST', route: '/api/agents', url: () => '/api/agents', body: () => ({ name: 'a', url: 'http://127.0.0.1:9070' }), ok: 200 },
  { method: 'POST', route: '/api/ingest', url: () => '/api/ingest', body: () => ({ events: [] }), ok: 200 },
  { method: 'GET', route: '/metrics', url: () => '/metrics', ok: 200 },
  { method: 'GET', route: '/api/docs', url: () => '/api/docs', ok: 200 },
  { method: 'GET', route: '/api/health', url: () => '/api/health', ok: 200 },
  {
    method: 'POST',
    route: '/api/login',
    url: () => '/api/login',
    body: () => ({ username: 'admin', password: ADMIN_PASSWORD }),
    ok: 200,
  },
  // last: with the cookie it ends the login session the cookie cells use
  { method: 'POST', route: '/api/logout', url: () => '/api/logout', ok: 204 },
];

function expected(route: string, cred: Cred, ok: number): number {
  const auth = ROUTES.find((r) => r.path === route)?.auth;
  if (auth === 'public') return ok;
  if (cred === 'none' || cred === 'bad') return 401;
  if (auth === 'agent') return cred === 'agent' ? ok : 403;
  return cred === 'agent' ? 403 : ok;
}

function headers(cred: Cred): Record<string, string> {
  switch (cred) {
    case 'none':
      return {};
    case 'bad':
      return { authorization: 'Bearer not-a-real-token-0123456789abcdef' };
    case 'operator':
      return op;
    case 'cookie':
      return { cookie };
    case 'agent':
      return { authorization: `Bearer ${agentToken}` };
  }
}

describe('auth matrix', () => {
  it('covers every documented route', () => {
    const covered = new Set(CASES.map((k) => `${k.method} ${k.route}`));
    expect(ROUTES.filter((r) => !covered.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  // names from the route pattern: session ids only exist once beforeAll ran
  const table = CASES.flatMap((k) =>
    CREDS.map((cred) => [`${k.method} ${k.route}${k.method === 'DELETE' && k.ok === 409 ? '?purge=1' : ''}`, cred, k] as const),
  );
  it.each(table)('%s with %s credentials', async (_name, cred, k) => {
    const want = expected(k.route, cred, k.ok);
    const r = await c.app.inject({ method: k.method, url: k.url(), headers: headers(cred), ...(k.body ? { payload: k.body() } : {}) });
    expect(r.statusCode, r.body.slice(0, 200)).toBe(want);
    if (want === 401 || want === 403) {
      expect(r.json().error.code).toBe(want === 401 ? 'unauthorized' : 'forbidden');
    }
  });

  it('a malformed Authorization header → 401, even with a valid cookie', async () => {
    const r = await c.app.inject({ url: '/api/sessions', headers: { authorization: 'Basic YWRtaW46eA==', cookie } });
    expect(r.statusCode).toBe(401);
  });
});
