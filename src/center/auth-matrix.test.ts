// The auth and bad-input matrix, generated from the route table (issue 16): every route the app
// registers (Center.routes, recorded by an onRoute hook) × every credential kind × every bad-input
// class → the expected status and the error shape. A route with no line in EXPECT fails the first
// test, so a new route is covered the day it is added: add ONE line (a URL that works, its success
// status, its body and query when it takes them); everything else follows from the route's `auth`.
//
// Every cell also checks what holds for every answer: an error is exactly {"error":{"code","message"}}
// as JSON, `X-Content-Type-Options: nosniff` is set, no header carries an injected CR/LF, and nothing but
// the web UI's page is HTML.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { RegisteredRoute } from './app.js';
import { requireDeclaredAuth } from './http/auth.js';
import { ROUTES } from './routes/system/openapi.js';
import { ADMIN_PASSWORD, OPERATOR_TOKEN, op, sipEvent, testCenter } from './testing.js';
import type { TestCenter } from './testing.js';
import { MAX_PATH_SEGMENT } from './http/hardening.js';

const METRICS_TOKEN = 'metrics-scrape-token-0123456789abcdefghij';
const XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>';
const HOST = 'center.test:8080';

let c: TestCenter;
let webRoot: string;
let agentToken: string;

/** Sessions and links the URLs point at; fresh ones for cells that change state. */
interface Fixtures {
  running: string;
  /** stopped (so its streams end), shared, with captured packets, with XSS in its label and events */
  stopped: string;
  share: string;
  fresh(): Promise<string>;
  freshShared(): Promise<string>;
  /** a new user (viewer) and a new API token of the admin, to delete */
  freshUser(): Promise<number>;
  freshToken(): Promise<number>;
}

let made = 0;
let f: Fixtures;

interface Expect {
  /** a URL that works (for the credential cells) */
  url(f: Fixtures): string | Promise<string>;
  /** status when the credentials are accepted */
  ok: number;
  /** a valid JSON body: the route takes one (bad JSON, wrong types, unknown fields apply); a POST/DELETE
   *  without one must refuse any body (route config `body: false`) */
  body?(): unknown;
  /** the route validates its query string strictly: a mistyped parameter, e.g. `limit=abc` */
  badQuery?: string;
}

// ONE LINE PER ROUTE. Keys are Fastify's patterns as registered.
const EXPECT: Record<string, Expect> = {
  'POST /api/sessions': { url: () => '/api/sessions', ok: 201, body: () => ({ criteria: { from: '1' }, agent_ids: [1] }) },
  'GET /api/sessions': { url: () => '/api/sessions', ok: 200, badQuery: 'limit=abc' },
  'GET /api/sessions/:id': { url: (x) => `/api/sessions/${x.running}`, ok: 200 },
  'GET /api/sessions/:id/events': { url: (x) => `/api/sessions/${x.stopped}/events`, ok: 200, badQuery: 'limit=abc' },
  'GET /api/sessions/:id/dialogs': { url: (x) => `/api/sessions/${x.stopped}/dialogs`, ok: 200, badQuery: 'limit=abc' },
  'GET /api/sessions/:id/stream': { url: (x) => `/api/sessions/${x.stopped}/stream`, ok: 200, badQuery: 'after=abc' },
  'DELETE /api/sessions/:id': { url: async (x) => `/api/sessions/${await x.fresh()}`, ok: 200, badQuery: 'purge=maybe' },
  'GET /api/agents': { url: () => '/api/agents', ok: 200 },
  'POST /api/agents': { url: () => '/api/agents', ok: 200, body: () => ({ name: 'a', url: 'http://127.0.0.1:9070' }) },
  'POST /api/ingest': { url: () => '/api/ingest', ok: 200, body: () => ({ events: [] }) },
  // binary body (application/vnd.tunaio.frames, not JSON): sent empty here, a JSON body is refused (400)
  'POST /api/ingest/frames': { url: (x) => `/api/ingest/frames?session_id=${x.running}&first_seq=0`, ok: 200, badQuery: 'first_seq=abc' },
  'POST /api/login': { url: () => '/api/login', ok: 200, body: () => ({ username: 'admin', password: ADMIN_PASSWORD }) },
  // single sign-on is not configured here: 404 for everyone (sso.test.ts runs it against a real provider)
  'GET /api/sso': { url: () => '/api/sso', ok: 200 },
  'GET /api/sso/login': { url: () => '/api/sso/login', ok: 404 },
  'GET /api/sso/callback': { url: () => '/api/sso/callback?code=x&state=y', ok: 404 },
  'POST /api/logout': { url: () => '/api/logout', ok: 204 },
  'GET /api/sessions/:id/export.tar': { url: (x) => `/api/sessions/${x.stopped}/export.tar`, ok: 200 },
  'GET /api/sessions/:id/dialog.pcap': { url: (x) => `/api/sessions/${x.stopped}/dialog.pcap?call_id=${encodeURIComponent(XSS)}`, ok: 200, badQuery: 'call_id=' },
  'GET /api/share/:token/dialog.pcap': { url: (x) => `/api/share/${x.share}/dialog.pcap?call_id=${encodeURIComponent(XSS)}`, ok: 200, badQuery: 'call_id=' },
  'GET /api/sessions/:id/ladder.svg': { url: (x) => `/api/sessions/${x.stopped}/ladder.svg`, ok: 200, badQuery: 'call_id=' },
  'GET /api/sessions/:id/ladder.png': { url: (x) => `/api/sessions/${x.stopped}/ladder.png`, ok: 200, badQuery: 'call_id=' },
  'POST /api/sessions/:id/share': { url: async (x) => `/api/sessions/${await x.fresh()}/share`, ok: 201 },
  'GET /api/sessions/:id/share': { url: (x) => `/api/sessions/${x.stopped}/share`, ok: 200 },
  'DELETE /api/sessions/:id/share': { url: async (x) => `/api/sessions/${await x.freshShared()}/share`, ok: 204 },
  'GET /api/share/:token': { url: (x) => `/api/share/${x.share}`, ok: 200 },
  'GET /api/share/:token/events': { url: (x) => `/api/share/${x.share}/events`, ok: 200, badQuery: 'limit=abc' },
  'GET /api/share/:token/dialogs': { url: (x) => `/api/share/${x.share}/dialogs`, ok: 200, badQuery: 'limit=abc' },
  'GET /api/share/:token/stream': { url: (x) => `/api/share/${x.share}/stream`, ok: 200, badQuery: 'after=abc' },
  'GET /api/share/:token/export.tar': { url: (x) => `/api/share/${x.share}/export.tar`, ok: 200 },
  'GET /api/share/:token/ladder.svg': { url: (x) => `/api/share/${x.share}/ladder.svg`, ok: 200, badQuery: 'call_id=' },
  'GET /api/share/:token/ladder.png': { url: (x) => `/api/share/${x.share}/ladder.png`, ok: 200, badQuery: 'call_id=' },
  'GET /api/health': { url: () => '/api/health', ok: 200 },
  'GET /metrics': { url: () => '/metrics', ok: 200 },
  'GET /api/docs': { url: () => '/api/docs', ok: 200 },
  'POST /api/agents/:id/tags': { url: () => '/api/agents/1/tags', ok: 200, body: () => ({ tags: ['edge'] }) },
  'POST /api/orgs': { url: () => '/api/orgs', ok: 201, body: () => ({ name: `org ${++made}` }) },
  'GET /api/orgs': { url: () => '/api/orgs', ok: 200 },
  'GET /api/me': { url: () => '/api/me', ok: 200 },
  'POST /api/users': { url: () => '/api/users', ok: 201, body: () => ({ username: `user-${++made}`, password: 'a long enough password', role: 'viewer' }) },
  'GET /api/users': { url: () => '/api/users', ok: 200 },
  'PATCH /api/users/:id': { url: async (x) => `/api/users/${await x.freshUser()}`, ok: 200, body: () => ({ role: 'operator' }) },
  'DELETE /api/users/:id': { url: async (x) => `/api/users/${await x.freshUser()}`, ok: 204 },
  'POST /api/tokens': { url: () => '/api/tokens', ok: 201, body: () => ({ name: 'ci', role: 'viewer' }) },
  'GET /api/tokens': { url: () => '/api/tokens', ok: 200 },
  'DELETE /api/tokens/:id': { url: async (x) => `/api/tokens/${await x.freshToken()}`, ok: 204 },
  'GET /api/audit': { url: () => '/api/audit', ok: 200, badQuery: 'limit=abc' },
  'GET /': { url: () => '/', ok: 200 },
  'GET /*': { url: (x) => `/sessions/${x.running}`, ok: 200 },
};

const CREDS = ['none', 'bad-bearer', 'share-token-as-bearer', 'operator-token', 'operator-cookie', 'operator-cookie-cross-origin', 'agent-token', 'metrics-token'] as const;
type Cred = (typeof CREDS)[number];
const BAD = ['oversized-id', 'bad-json', 'wrong-types', 'oversized-body', 'unknown-fields', 'path-traversal', 'crlf-injection', 'xss-rendered-back'] as const;
type Bad = (typeof BAD)[number];

const UNSAFE = (m: string): boolean => !['GET', 'HEAD', 'OPTIONS'].includes(m);
const param = (url: string): 'id' | 'token' | 'path' | null => (url.includes(':id') ? 'id' : url.includes(':token') ? 'token' : url.endsWith('*') ? 'path' : null);
const keyOf = (r: RegisteredRoute): string => `${r.method} ${r.url}`;

/** What an answer must be: a status, and the error code when it is an error (undefined: any code). */
interface Outcome {
  status: number;
  code?: string;
}

function credentialOutcome(r: RegisteredRoute, e: Expect, cred: Cred): Outcome {
  // the Origin check comes first, for every cookie (or login) request that changes state
  if (cred === 'operator-cookie-cross-origin' && UNSAFE(r.method)) return { status: 403, code: 'forbidden' };
  if (r.auth === 'public') return { status: e.ok };
  if (cred === 'none' || cred === 'bad-bearer' || cred === 'share-token-as-bearer') return { status: 401, code: 'unauthorized' };
  const operatorCred = cred === 'operator-token' || cred === 'operator-cookie' || cred === 'operator-cookie-cross-origin';
  if (r.auth === 'agent') return cred === 'agent-token' ? { status: e.ok } : { status: 403, code: 'forbidden' };
  if (r.auth === 'metrics') return operatorCred || cred === 'metrics-token' ? { status: e.ok } : { status: 403, code: 'forbidden' };
  return operatorCred ? { status: e.ok } : { status: 403, code: 'forbidden' };
}

/** The bad-input cell's request and expected answer, or null when the class cannot apply to the route (why is in the rule). */
function badInput(r: RegisteredRoute, e: Expect, bad: Bad, url: string): { url: string; payload?: string; outcome: Outcome } | null {
  const p = param(r.url);
  const swap = (value: string): string => {
    // the route's own parameter replaced by `value`, the rest of the URL kept
    const segs = r.url.split('/');
    const at = segs.findIndex((s) => s.startsWith(':') || s === '*');
    const real = url.split('?')[0].split('/');
    real[at] = value;
    return real.slice(0, p === 'path' ? at + 1 : real.length).join('/');
  };
  const takesBody = e.body !== undefined;
  switch (bad) {
    case 'oversized-id':
      // only a :param segment has the router's limit; the UI's wildcard path has none and answers the page
      if (p === null) return null;
      return { url: swap('a'.repeat(MAX_PATH_SEGMENT + 1)), outcome: p === 'path' ? { status: 200 } : { status: 414, code: 'uri_too_long' } };
    case 'path-traversal':
      if (p === null) return null;
      return {
        url: swap('..%2F..%2F..%2Fetc%2Fpasswd'),
        outcome: p === 'id' ? { status: 400, code: 'validation_failed' } : p === 'token' ? { status: 404, code: 'share_not_found' } : { status: 200 },
      };
    case 'crlf-injection': {
      const evil = 'x%0d%0aset-cookie:%20pwned=1%0d%0ax-pwned:%201';
      if (p === 'id') return { url: swap(evil), outcome: { status: 400, code: 'validation_failed' } };
      if (p === 'token') return { url: swap(evil), outcome: { status: 404, code: 'share_not_found' } };
      // no parameter: in the query, which a strict route refuses and any other ignores
      const sep = url.includes('?') ? '&' : '?';
      return {
        url: `${url}${sep}x=${evil}`,
        ...(takesBody ? { payload: JSON.stringify(e.body!()) } : {}),
        outcome: e.badQuery !== undefined ? { status: 400, code: 'validation_failed' } : { status: e.ok },
      };
    }
    case 'bad-json':
      // bodies are read on POST and DELETE; GET bodies are never parsed
      if (r.method === 'GET') return null;
      return { url, payload: '{"events": [1, 2', outcome: { status: 400, code: 'bad_request' } };
    case 'oversized-body': {
      if (r.method === 'GET') return null;
      const limit = r.url.startsWith('/api/ingest') ? 8 * 1024 * 1024 : 1024 * 1024;
      return { url, payload: `{"pad":"${'x'.repeat(limit)}"}`, outcome: { status: 413, code: 'payload_too_large' } };
    }
    case 'wrong-types':
      if (takesBody) return { url, payload: JSON.stringify(['not', 'an', 'object']), outcome: { status: 400, code: 'validation_failed' } };
      if (e.badQuery !== undefined) {
        return { url: `${url}${url.includes('?') ? '&' : '?'}${e.badQuery}`, outcome: { status: 400, code: 'validation_failed' } };
      }
      return null; // takes neither a body nor a query
    case 'unknown-fields':
      if (takesBody) return { url, payload: JSON.stringify({ ...(e.body!() as object), zz_unknown: 1 }), outcome: { status: 400, code: 'validation_failed' } };
      // a route that changes state and takes no body refuses one (config.body: false), never ignores it
      if (UNSAFE(r.method)) return { url, payload: JSON.stringify({ zz_unknown: 1 }), outcome: { status: 400, code: 'bad_request' } };
      if (e.badQuery !== undefined) return { url: `${url}${url.includes('?') ? '&' : '?'}zz_unknown=1`, outcome: { status: 400, code: 'validation_failed' } };
      return null;
    case 'xss-rendered-back':
      // the stopped fixture session carries XSS in its label, Call-IDs, users and payloads: drawn and listed back
      return { url, ...(takesBody ? { payload: JSON.stringify(e.body!()) } : {}), outcome: { status: e.ok } };
  }
}

async function headersFor(r: RegisteredRoute, cred: Cred): Promise<Record<string, string>> {
  switch (cred) {
    case 'none':
      return {};
    case 'bad-bearer':
      return { authorization: 'Bearer not-a-real-token-0123456789abcdef' };
    case 'share-token-as-bearer':
      return { authorization: `Bearer ${f.share}` };
    case 'operator-token':
      return op;
    case 'agent-token':
      return { authorization: `Bearer ${agentToken}` };
    case 'metrics-token':
      return { authorization: `Bearer ${METRICS_TOKEN}` };
    case 'operator-cookie':
    case 'operator-cookie-cross-origin': {
      // a fresh login per cell: logout cells end theirs
      const l = await c.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
      const cookie = String(l.headers['set-cookie']).split(';')[0];
      return cred === 'operator-cookie' ? { cookie, origin: `http://${HOST}` } : { cookie, origin: 'http://evil.example' };
    }
  }
}

/** The credentials a bad-input cell uses: the ones the route accepts. */
const goodCred = (r: RegisteredRoute): Cred => (r.auth === 'agent' ? 'agent-token' : r.auth === 'public' ? 'none' : 'operator-token');

function checkAnswer(r: RegisteredRoute, res: Awaited<ReturnType<TestCenter['app']['inject']>>, want: Outcome, where: string): void {
  expect(res.statusCode, `${where}: ${res.body.slice(0, 300)}`).toBe(want.status);
  expect(res.headers['x-content-type-options'], where).toBe('nosniff');
  for (const [k, v] of Object.entries(res.headers)) {
    expect(k, where).not.toMatch(/pwned/);
    expect(String(v), `${where}: header ${k}`).not.toMatch(/[\r\n]|pwned/);
  }
  const type = String(res.headers['content-type'] ?? '');
  if (r.url !== '/' && r.url !== '/*') expect(type, where).not.toMatch(/html/);
  else if (res.statusCode === 200) expect(String(res.headers['content-security-policy']), where).toContain("default-src 'self'");
  if (type.includes('svg')) {
    // markup from captured traffic is escaped text, never elements
    expect(res.body, where).not.toMatch(/<script|<img/i);
  }
  if (res.statusCode >= 400) {
    expect(type, where).toMatch(/^application\/json/);
    const body = res.json() as { error: { code: unknown; message: unknown } };
    expect(Object.keys(body), where).toEqual(['error']);
    expect(Object.keys(body.error).sort(), where).toEqual(['code', 'message']);
    expect(typeof body.error.message, where).toBe('string');
    if (want.code !== undefined) expect(body.error.code, where).toBe(want.code);
    if (want.status === 413) expect(body.error.message, where).toMatch(/limit of \d+ MiB/);
  }
  if (res.statusCode < 300 && /json/.test(type) && r.url !== '/api/docs') {
    // XSS stays data: JSON strings, never markup the center made
    JSON.parse(res.body);
  }
  expect(res.body, where).not.toContain('root:x:0:0');
}

beforeAll(async () => {
  webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-matrix-web-'));
  fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>TunaIO</title>');
  c = await testCenter({ webRoot, metricsToken: METRICS_TOKEN, loginMaxFailures: 1000, loginMaxFailuresPerAddress: 1000 });
  agentToken = (await c.addAgent('a')).token;
  const running = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
  const stopped = await c.newSession({ label: XSS, criteria: { text: 'INVITE' }, agent_ids: [1], capture_pcap: true });
  const frame = Buffer.alloc(80, 0x41).toString('base64');
  const ing = await c.ingest(agentToken, [
    sipEvent(stopped, 1, { call_id: XSS, frame: { link_type: 1, data: frame, orig_len: 80 }, payload: `INVITE sip:${XSS} SIP/2.0\r\nCall-ID: ${XSS}\r\n\r\n` }),
    sipEvent(stopped, 2, { call_id: XSS, sip: { status: 404, reason: XSS, cseq_seq: 1, cseq_method: 'INVITE', has_sdp: false } }),
  ]);
  expect(ing.body.accepted).toBe(2);
  await c.app.inject({ method: 'DELETE', url: `/api/sessions/${stopped}`, headers: op });
  const share = (await c.app.inject({ method: 'POST', url: `/api/sessions/${stopped}/share`, headers: op })).json().token as string;
  const fresh = () => c.newSession({ criteria: { from: '3' }, agent_ids: [1] });
  f = {
    running,
    stopped,
    share,
    fresh,
    async freshShared() {
      const id = await fresh();
      await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op });
      return id;
    },
    async freshUser() {
      const payload = { username: `victim-${++made}`, password: 'a long enough password', role: 'viewer' };
      return (await c.app.inject({ method: 'POST', url: '/api/users', headers: op, payload })).json().id as number;
    },
    async freshToken() {
      return (await c.app.inject({ method: 'POST', url: '/api/tokens', headers: op, payload: { name: 'victim', role: 'viewer' } })).json().id as number;
    },
  };
});
afterAll(async () => {
  await c.close();
  fs.rmSync(webRoot, { recursive: true, force: true });
});

async function send(r: RegisteredRoute, url: string, headers: Record<string, string>, payload?: string) {
  return c.app.inject({
    method: r.method as 'GET',
    url,
    headers: { host: HOST, ...headers, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { payload } : {}),
  });
}

describe('route table', () => {
  it('every route declares who may call it, as the documented route table (OpenAPI) says', () => {
    const documented = new Map(ROUTES.map((r) => [`${r.method} ${r.path.replace(/\{(\w+)\}/g, ':$1')}`, r.auth]));
    const api = c.routes.filter((r) => r.url.startsWith('/api/') || r.url === '/metrics');
    expect(api.filter((r) => documented.get(keyOf(r)) !== r.auth).map((r) => `${keyOf(r)}: ${r.auth} vs ${documented.get(keyOf(r))}`)).toEqual([]);
  });

  it('a route without an access declaration cannot be registered', async () => {
    const app = Fastify();
    const routes = requireDeclaredAuth(app);
    expect(() => app.get('/api/undeclared', async () => 'x')).toThrow(/declares no config.auth/);
    app.get('/api/declared', { config: { auth: 'viewer' } }, async () => 'x');
    expect(routes).toEqual([{ method: 'GET', url: '/api/declared', auth: 'viewer' }]);
    await app.close();
  });

  it('every registered route has an expectation line (add one to EXPECT for a new route), and every line a route', () => {
    const keys = c.routes.map(keyOf);
    expect(keys.filter((k) => !(k in EXPECT)), 'routes with no line in EXPECT').toEqual([]);
    expect(Object.keys(EXPECT).filter((k) => !keys.includes(k)), 'lines for routes that do not exist').toEqual([]);
  });

  it('the matrix has no short cell: every route × credential × bad-input class has an expected answer or a stated reason not to apply', () => {
    let run = 0;
    let notApplicable = 0;
    let short = 0;
    for (const r of c.routes) {
      const e = EXPECT[keyOf(r)];
      if (!e) {
        short += CREDS.length + BAD.length;
        continue;
      }
      run += CREDS.length;
      for (const b of BAD) {
        if (badInput(r, e, b, '/x') === null) notApplicable++;
        else run++;
      }
    }
    console.log(`[route matrix] ${c.routes.length} routes × (${CREDS.length} credential kinds + ${BAD.length} bad-input classes) = ${run + notApplicable + short} cells: ${run} run, ${notApplicable} not applicable by rule, ${short} short`);
    expect(short).toBe(0);
  });
});

describe('credentials', () => {
  const cells = Object.keys(EXPECT).flatMap((k) => CREDS.map((cred) => [k, cred] as const));
  it.each(cells)('%s with %s', async (key, cred) => {
    const r = c.routes.find((x) => keyOf(x) === key);
    if (!r) return; // reported by the route-table test
    const e = EXPECT[key];
    const body = e.body?.();
    const res = await send(r, await e.url(f), await headersFor(r, cred), body === undefined ? undefined : JSON.stringify(body));
    checkAnswer(r, res, credentialOutcome(r, e, cred), `${key} ${cred}`);
  });

  it('a malformed Authorization header → 401, even with a valid cookie', async () => {
    const { cookie } = (await headersFor({ method: 'GET', url: '/api/sessions', auth: 'operator' }, 'operator-cookie')) as { cookie: string };
    const r = await c.app.inject({ url: '/api/sessions', headers: { authorization: 'Basic YWRtaW46eA==', cookie } });
    expect(r.statusCode).toBe(401);
    expect((await c.app.inject({ url: '/api/sessions', headers: { authorization: `Bearer ${OPERATOR_TOKEN}\r\nx: y` } })).statusCode).toBe(401);
  });
});

describe('bad input', () => {
  const cells = Object.keys(EXPECT).flatMap((k) => BAD.map((bad) => [k, bad] as const));
  it.each(cells)('%s with %s', async (key, bad) => {
    const r = c.routes.find((x) => keyOf(x) === key);
    if (!r) return;
    const e = EXPECT[key];
    const cell = badInput(r, e, bad, await e.url(f));
    if (cell === null) return; // not applicable by the rule in badInput
    const res = await send(r, cell.url, await headersFor(r, goodCred(r)), cell.payload);
    checkAnswer(r, res, cell.outcome, `${key} ${bad}`);
    if (bad === 'xss-rendered-back' && /svg/.test(String(res.headers['content-type']))) {
      expect(res.body).toContain('&lt;script&gt;');
    }
  });
});
