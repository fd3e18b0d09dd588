// The organisation isolation matrix (issue 12, docs/organisations.md), on SQLite and on PostgreSQL:
// every route × {platform admin, org A admin, org A operator, org A viewer, org B operator, org A API
// token with the viewer role, agent token of org A, share token of org A} → the status the route's
// declared role and the resource's organisation call for: 401 without valid user credentials, 403 for
// a role below the route's (naming the role needed), 404 for another organisation's resource exactly
// like a missing one. Routes touching one organisation's resource are run on A's and on B's. Every
// answer to a caller of one organisation is searched for the other organisation's session ids, names
// and numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleRank } from '../core/schema/index.js';
import type { Role } from '../core/schema/index.js';
import { ROUTES } from './routes/system/openapi.js';
import { PostgresStorage } from './storage/postgres/storage.js';
import { ADMIN_PASSWORD, bearer, op, sipEvent, testCenter } from './testing.js';
import type { TestCenter } from './testing.js';
import { startPostgres } from '../../test/support/postgres.js';
import type { TestPostgres } from '../../test/support/postgres.js';

type Cred = 'platform' | 'aAdmin' | 'aOperator' | 'aViewer' | 'bOperator' | 'aToken' | 'aAgent' | 'aShare';
const CREDS: Cred[] = ['platform', 'aAdmin', 'aOperator', 'aViewer', 'bOperator', 'aToken', 'aAgent', 'aShare'];
type Org = 'A' | 'B';
/** the caller's role and organisation (null: not a user) */
const WHO: Record<Cred, { role: Role; org: Org | 'default' } | null> = {
  platform: { role: 'platform_admin', org: 'default' },
  aAdmin: { role: 'org_admin', org: 'A' },
  aOperator: { role: 'operator', org: 'A' },
  aViewer: { role: 'viewer', org: 'A' },
  bOperator: { role: 'operator', org: 'B' },
  aToken: { role: 'viewer', org: 'A' },
  aAgent: null,
  aShare: null,
};

/** what each organisation's answers must never show to the other */
const MARKERS: Record<Org, string[]> = {
  A: ['org-alpha', 'alpha-edge', 'alpha-admin', 'alpha-op', 'alpha-viewer', 'alpha-call', '4930111'],
  B: ['org-bravo', 'bravo-edge', 'bravo-op', 'bravo-call', '4930222'],
};

interface World {
  c: TestCenter;
  org: Record<Org, number>;
  headers: Record<Cred, Record<string, string>>;
  agent: Record<Org, { id: number; token: string }>;
  running: Record<Org, string>;
  stopped: Record<Org, string>;
  /** a stopped session of A with a share link, for the share stream (a running one never ends) */
  sharedStopped: string;
  share: string;
  sharedStoppedToken: string;
  userCookie: Record<'alpha-op' | 'bravo-op', Record<string, string>>;
}

interface Case {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  route: string;
  url: (w: World) => string;
  body?: (w: World) => object;
  /** the organisation of the resource in the URL (another organisation's callers get 404) */
  org?: Org;
  /** the status when the caller may act; a function when it depends on the caller */
  ok: number | ((cred: Cred) => number);
  /** makes what the request consumes (a user or token to delete), once per cell */
  prepare?: (w: World) => Promise<void>;
}

let made = 0;
let victim = 0;

const perOrg = (f: (o: Org) => Case): Case[] => [f('A'), f('B')];

/** a viewer of organisation `o` for a cell to change or delete */
async function newVictimUser(w: World, o: Org): Promise<void> {
  const payload = { username: `victim-${++made}`, password: 'a long enough password', role: 'viewer', org_id: w.org[o] };
  victim = (await w.c.app.inject({ method: 'POST', url: '/api/users', headers: op, payload })).json().id as number;
}

const CASES: Case[] = [
  // sessions: creating with another organisation's agent is "unknown agent" like a missing one
  ...perOrg((o) => ({
    method: 'POST',
    route: '/api/sessions',
    url: () => '/api/sessions',
    body: (w) => ({ criteria: { from: o === 'A' ? '4930111' : '4930222' }, agent_ids: [w.agent[o].id] }),
    ok: (cred) => (cred === 'platform' || WHO[cred]?.org === o ? 201 : 400),
  })),
  { method: 'GET', route: '/api/sessions', url: () => '/api/sessions', ok: 200 },
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}', url: (w) => `/api/sessions/${w.running[o]}`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}/events', url: (w) => `/api/sessions/${w.running[o]}/events`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}/dialogs', url: (w) => `/api/sessions/${w.running[o]}/dialogs`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}/stream', url: (w) => `/api/sessions/${w.stopped[o]}/stream`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'DELETE', route: '/api/sessions/{id}', url: (w) => `/api/sessions/${w.stopped[o]}`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'DELETE', route: '/api/sessions/{id}', url: (w) => `/api/sessions/${w.running[o]}?purge=1`, org: o, ok: 409 }) as Case),
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}/export.tar', url: (w) => `/api/sessions/${w.running[o]}/export.tar`, org: o, ok: 200 }) as Case),
  ...perOrg(
    (o) =>
      ({
        method: 'GET',
        route: '/api/sessions/{id}/dialog.pcap',
        url: (w) => `/api/sessions/${w.running[o]}/dialog.pcap?call_id=${o === 'A' ? 'alpha' : 'bravo'}-call-1@test`,
        org: o,
        ok: 200,
      }) as Case,
  ),
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}/ladder.svg', url: (w) => `/api/sessions/${w.running[o]}/ladder.svg`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'GET', route: '/api/sessions/{id}/ladder.png', url: (w) => `/api/sessions/${w.running[o]}/ladder.png`, org: o, ok: 200 }) as Case),
  ...perOrg((o) => ({ method: 'POST', route: '/api/sessions/{id}/share', url: (w) => `/api/sessions/${w.stopped[o]}/share`, org: o, ok: 201 }) as Case),
  ...perOrg((o) => ({
    method: 'GET',
    route: '/api/sessions/{id}/share',
    url: (w) => `/api/sessions/${w.stopped[o]}/share`,
    org: o,
    ok: 200,
    // a link to show, whatever the cells before did to it
    prepare: async (w) => void (await w.c.app.inject({ method: 'POST', url: `/api/sessions/${w.stopped[o]}/share`, headers: op })),
  })),
  ...perOrg((o) => ({ method: 'DELETE', route: '/api/sessions/{id}/share', url: (w) => `/api/sessions/${w.stopped[o]}/share`, org: o, ok: 204 }) as Case),
  // share links: public, for whoever holds the link (the token is the credential)
  { method: 'GET', route: '/api/share/{token}', url: (w) => `/api/share/${w.share}`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/events', url: (w) => `/api/share/${w.share}/events`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/dialogs', url: (w) => `/api/share/${w.share}/dialogs`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/stream', url: (w) => `/api/share/${w.sharedStoppedToken}/stream`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/export.tar', url: (w) => `/api/share/${w.share}/export.tar`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/ladder.svg', url: (w) => `/api/share/${w.share}/ladder.svg`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/dialog.pcap', url: (w) => `/api/share/${w.share}/dialog.pcap?call_id=alpha-call-1@test`, ok: 200 },
  { method: 'GET', route: '/api/share/{token}/ladder.png', url: (w) => `/api/share/${w.share}/ladder.png`, ok: 200 },
  // agents: an org admin adds to its own organisation only; operators tag
  { method: 'GET', route: '/api/agents', url: () => '/api/agents', ok: 200 },
  ...perOrg((o) => ({
    method: 'POST',
    route: '/api/agents',
    url: () => '/api/agents',
    body: (w) => ({ name: o === 'A' ? 'alpha-edge' : 'bravo-edge', url: 'http://127.0.0.1:9', org_id: w.org[o] }),
    ok: (cred) => (cred === 'platform' || WHO[cred]?.org === o ? 200 : 403),
  })),
  ...perOrg((o) => ({ method: 'POST', route: '/api/agents/{id}/tags', url: (w) => `/api/agents/${w.agent[o].id}/tags`, body: () => ({ tags: ['edge'] }), org: o, ok: 200 }) as Case),
  { method: 'POST', route: '/api/ingest', url: () => '/api/ingest', body: () => ({ events: [] }), ok: 200 },
  { method: 'POST', route: '/api/ingest/frames', url: (w) => `/api/ingest/frames?session_id=${w.running.A}&first_seq=0`, ok: 200 },
  // organisations, users, tokens, audit
  { method: 'POST', route: '/api/orgs', url: () => '/api/orgs', body: () => ({ name: `org ${++made}` }), ok: 201 },
  { method: 'GET', route: '/api/orgs', url: () => '/api/orgs', ok: 200 },
  { method: 'GET', route: '/api/me', url: () => '/api/me', ok: 200 },
  {
    method: 'POST',
    route: '/api/users',
    url: () => '/api/users',
    body: () => ({ username: `user-${++made}`, password: 'a long enough password', role: 'viewer' }),
    ok: 201,
  },
  { method: 'GET', route: '/api/users', url: () => '/api/users', ok: 200 },
  ...perOrg((o) => ({
    method: 'PATCH',
    route: '/api/users/{id}',
    url: () => `/api/users/${victim}`,
    body: () => ({ role: 'operator' }),
    org: o,
    ok: 200,
    prepare: (w) => newVictimUser(w, o),
  })),
  ...perOrg((o) => ({
    method: 'DELETE',
    route: '/api/users/{id}',
    url: () => `/api/users/${victim}`,
    org: o,
    ok: 204,
    prepare: (w) => newVictimUser(w, o),
  })),
  { method: 'POST', route: '/api/tokens', url: () => '/api/tokens', body: () => ({ name: 'ci', role: 'viewer' }), ok: 201 },
  { method: 'GET', route: '/api/tokens', url: () => '/api/tokens', ok: 200 },
  // a token of A's operator (or of B's): its owner, org admins of its organisation and platform admins revoke it
  ...perOrg((o) => ({
    method: 'DELETE',
    route: '/api/tokens/{id}',
    url: () => `/api/tokens/${victim}`,
    org: o,
    ok: (cred) => (cred === 'platform' || (o === 'A' ? cred === 'aAdmin' || cred === 'aOperator' : cred === 'bOperator') ? 204 : 404),
    prepare: async (w) => {
      const owner = w.userCookie[o === 'A' ? 'alpha-op' : 'bravo-op'];
      const r = await w.c.app.inject({ method: 'POST', url: '/api/tokens', headers: owner, payload: { name: `t${++made}`, role: 'viewer' } });
      victim = r.json().id as number;
    },
  })),
  { method: 'GET', route: '/api/audit', url: () => '/api/audit?limit=500', ok: 200 },
  { method: 'GET', route: '/metrics', url: () => '/metrics', ok: 200 },
  { method: 'GET', route: '/api/docs', url: () => '/api/docs', ok: 200 },
  { method: 'GET', route: '/api/health', url: () => '/api/health', ok: 200 },
  // single sign-on is not configured here (sso.test.ts covers it)
  { method: 'GET', route: '/api/sso', url: () => '/api/sso', ok: 200 },
  { method: 'GET', route: '/api/sso/login', url: () => '/api/sso/login', ok: 404 },
  { method: 'GET', route: '/api/sso/callback', url: () => '/api/sso/callback?code=x&state=y', ok: 404 },
  { method: 'POST', route: '/api/login', url: () => '/api/login', body: () => ({ username: 'admin', password: ADMIN_PASSWORD }), ok: 200 },
  // last: ends the login sessions of the cookie cells
  { method: 'POST', route: '/api/logout', url: () => '/api/logout', ok: 204 },
];

function expected(k: Case, cred: Cred): number {
  const auth = ROUTES.find((r) => r.path === k.route && r.method === k.method)?.auth;
  if (auth === undefined) throw new Error(`${k.method} ${k.route} is not in the route table`);
  const ok = typeof k.ok === 'number' ? k.ok : k.ok(cred);
  if (auth === 'public') return ok;
  if (cred === 'aShare') return 401; // a share token is no API credential
  if (cred === 'aAgent') return auth === 'agent' ? ok : 403;
  if (auth === 'agent') return 403;
  const who = WHO[cred] as { role: Role; org: Org | 'default' };
  const need: Role = auth === 'metrics' ? 'platform_admin' : auth;
  if (roleRank(who.role) < roleRank(need)) return 403;
  // another organisation's resource: exactly like a missing one (per-caller ok functions decide themselves)
  if (k.org !== undefined && typeof k.ok === 'number' && who.role !== 'platform_admin' && who.org !== k.org) return 404;
  // deleting an org_admin-or-higher user, or a B user by A's admin: handled by org above
  return ok;
}

const frame = Buffer.alloc(200, 0x41).toString('base64');

async function buildWorld(c: TestCenter): Promise<World> {
  const inject = async (method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) => {
    const r = await c.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
    return r;
  };
  const orgA = (await inject('POST', '/api/orgs', op, { name: 'org-alpha' })).json().id as number;
  const orgB = (await inject('POST', '/api/orgs', op, { name: 'org-bravo' })).json().id as number;
  const pw = 'a long enough password';
  const users: [string, Role, number][] = [
    ['alpha-admin', 'org_admin', orgA],
    ['alpha-op', 'operator', orgA],
    ['alpha-viewer', 'viewer', orgA],
    ['bravo-op', 'operator', orgB],
  ];
  const cookie: Record<string, Record<string, string>> = {};
  for (const [username, role, org_id] of users) {
    await inject('POST', '/api/users', op, { username, password: pw, role, org_id });
    const r = await inject('POST', '/api/login', {}, { username, password: pw });
    cookie[username] = { cookie: String(r.headers['set-cookie']).split(';')[0] };
  }
  const aToken = (await inject('POST', '/api/tokens', cookie['alpha-op'], { name: 'alpha-ci', role: 'viewer' })).json().token as string;
  const addAgent = async (name: string, headers: Record<string, string>, org_id?: number) => {
    const token = `${name}-token-0123456789abcdefghijklmnop`;
    const r = await inject('POST', '/api/agents', headers, { name, url: 'http://127.0.0.1:9', token, ...(org_id ? { org_id } : {}) });
    return { id: r.json().id as number, token };
  };
  const agent = { A: await addAgent('alpha-edge', cookie['alpha-admin']), B: await addAgent('bravo-edge', op, orgB) };
  const newSession = async (o: Org, headers: Record<string, string>) =>
    (
      await inject('POST', '/api/sessions', headers, {
        label: o === 'A' ? 'alpha-call' : 'bravo-call',
        criteria: { from: o === 'A' ? '4930111' : '4930222' },
        agent_ids: [agent[o].id],
        capture_pcap: true,
      })
    ).json().id as string;
  const running = { A: await newSession('A', cookie['alpha-op']), B: await newSession('B', cookie['bravo-op']) };
  const stopped = { A: await newSession('A', cookie['alpha-op']), B: await newSession('B', cookie['bravo-op']) };
  const sharedStopped = await newSession('A', cookie['alpha-op']);
  for (const o of ['A', 'B'] as const) {
    const num = o === 'A' ? '4930111' : '4930222';
    const events = [1, 2].map((seq) =>
      sipEvent(running[o], seq, {
        call_id: `${o === 'A' ? 'alpha' : 'bravo'}-call-${seq}@test`,
        sip: { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: num, to_user: num, has_sdp: false },
        payload: `INVITE sip:${num}@example.com SIP/2.0\r\nFrom: <sip:${num}@example.com>\r\n\r\n`,
        frame: { link_type: 1, data: frame, orig_len: 200 },
      } as never),
    );
    const r = await c.ingest(agent[o].token, events);
    if (r.body.accepted !== 2) throw new Error(`ingest ${o}: ${JSON.stringify(r.body)}`);
  }
  for (const id of [stopped.A, stopped.B, sharedStopped]) await inject('DELETE', `/api/sessions/${id}`, op);
  const share = (await inject('POST', `/api/sessions/${running.A}/share`, cookie['alpha-op'])).json().token as string;
  const sharedStoppedToken = (await inject('POST', `/api/sessions/${sharedStopped}/share`, cookie['alpha-op'])).json().token as string;
  return {
    c,
    org: { A: orgA, B: orgB },
    headers: {
      platform: op,
      aAdmin: cookie['alpha-admin'],
      aOperator: cookie['alpha-op'],
      aViewer: cookie['alpha-viewer'],
      bOperator: cookie['bravo-op'],
      aToken: bearer(aToken),
      aAgent: bearer(agent.A.token),
      aShare: bearer(share),
    },
    agent,
    running,
    stopped,
    sharedStopped,
    share,
    sharedStoppedToken,
    userCookie: { 'alpha-op': cookie['alpha-op'], 'bravo-op': cookie['bravo-op'] },
  };
}

function runMatrix(backend: string, open: () => Promise<{ c: TestCenter; done: () => Promise<void> }>): void {
  describe(`isolation matrix on ${backend}`, () => {
    let w: World;
    let done: () => Promise<void>;
    beforeAll(async () => {
      const o = await open();
      done = o.done;
      w = await buildWorld(o.c);
    }, 120_000);
    afterAll(async () => {
      await w?.c.close();
      await done?.();
    });

    it('covers every route of the route table', () => {
      const covered = new Set(CASES.map((k) => `${k.method} ${k.route}`));
      expect(ROUTES.filter((r) => !covered.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    });

    const table = CASES.flatMap((k) => CREDS.map((cred) => [`${k.method} ${k.route}${k.org ? ` (org ${k.org})` : ''}`, cred, k] as const));
    it.each(table)('%s as %s', async (_name, cred, k) => {
      await k.prepare?.(w);
      const url = k.url(w);
      const body = k.body?.(w);
      const want = expected(k, cred);
      const r = await w.c.app.inject({ method: k.method, url, headers: w.headers[cred], ...(body ? { payload: body } : {}) });
      expect(r.statusCode, `${k.method} ${url}: ${r.body.slice(0, 300)}`).toBe(want);
      if (want === 401) expect(r.json().error.code).toBe('unauthorized');
      if (want === 403) {
        expect(r.json().error.code).toBe('forbidden');
        const auth = ROUTES.find((x) => x.path === k.route && x.method === k.method)?.auth;
        // a role refusal names the role needed
        if (WHO[cred] !== null && auth !== 'public' && auth !== 'agent') expect(r.json().error.message).toMatch(/platform_admin|org_admin|operator|viewer/);
      }
      // the other organisation's names, numbers and session ids never show (what the caller sent aside);
      // a share link shows its session to whoever holds the link, by design
      const mine = WHO[cred]?.org ?? (cred === 'platform' ? null : 'A');
      if ((mine === 'A' || mine === 'B') && !k.route.startsWith('/api/share/')) {
        const other: Org = mine === 'A' ? 'B' : 'A';
        const sent = `${url} ${JSON.stringify(body ?? {})}`;
        const text = r.rawPayload.toString('latin1');
        for (const m of [...MARKERS[other], w.running[other], w.stopped[other]]) {
          if (!sent.includes(m)) expect(text, `${cred} saw ${m} of org ${other}`).not.toContain(m);
        }
      }
    });
  });
}

runMatrix('SQLite', async () => ({ c: await testCenter(), done: async () => undefined }));

let pg: TestPostgres | undefined;
runMatrix('PostgreSQL', async () => {
  pg = await startPostgres();
  const storage = await PostgresStorage.open(await pg.createDatabase());
  return { c: await testCenter({ storage }), done: async () => pg?.stop() };
});
