// Issue 16, center side: cross-origin cookie state changes refused (behind a proxy too), Fastify's own
// 414 in the error shape, 413 naming the limit, nosniff and an inert CSP on API answers (ladder.svg
// cannot run script), share tokens redacted from the log, data folder / database / pcaps private.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { INGEST_MAX_BYTES } from '../../core/schema/index.js';
import { ADMIN_PASSWORD, bearer, op, sipEvent, testCenter } from '../testing.js';
import type { TestCenter } from '../testing.js';
import { MAX_PATH_SEGMENT, redactUrl } from './hardening.js';

let c: TestCenter;
afterEach(async () => {
  await c?.close();
});

async function loginCookie(): Promise<string> {
  const r = await c.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
  expect(r.statusCode).toBe(200);
  return String(r.headers['set-cookie']).split(';')[0];
}

describe('cross-origin state changes with the login cookie', () => {
  it('a cookie POST/DELETE from another origin (Origin or Sec-Fetch-Site) → 403 and changes nothing; same origin and bearer pass', async () => {
    c = await testCenter();
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const cookie = await loginCookie();
    const first = (await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op })).json().token as string;
    const host = 'center.example:8080';
    const hostile: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'http://center.example:9999' }, // another port of the same site: SameSite does not help
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: `http://${host}` }, // Fetch Metadata wins
    ];
    for (const h of hostile) {
      for (const [method, url] of [
        ['POST', `/api/sessions/${id}/share`],
        ['DELETE', `/api/sessions/${id}/share`],
        ['DELETE', `/api/sessions/${id}`],
        ['POST', '/api/logout'],
        ['POST', '/api/sessions'],
      ] as const) {
        const r = await c.app.inject({ method, url, headers: { cookie, host, ...h } });
        expect(r.statusCode, `${method} ${url} ${JSON.stringify(h)}`).toBe(403);
        expect(r.json().error.code).toBe('forbidden');
        expect(r.json().error.message).toMatch(/cross-origin request refused/);
      }
    }
    // nothing changed: the share link still works, the session still runs, the cookie is still valid
    expect((await c.app.inject({ url: `/api/share/${first}` })).statusCode).toBe(200);
    expect((await c.app.inject({ url: `/api/sessions/${id}`, headers: op })).json().status).toBe('running');
    expect((await c.app.inject({ url: '/api/sessions', headers: { cookie } })).statusCode).toBe(200);
    // login from another origin is refused too (login CSRF)
    const lg = await c.app.inject({
      method: 'POST',
      url: '/api/login',
      headers: { origin: 'http://evil.example', host },
      payload: { username: 'admin', password: ADMIN_PASSWORD },
    });
    expect(lg.statusCode).toBe(403);
    // same origin (Origin equal to Host, or Sec-Fetch-Site same-origin), and no browser headers at all, pass
    for (const h of [{ origin: `http://${host}` }, { origin: `https://${host}` }, { 'sec-fetch-site': 'same-origin' }, {}]) {
      const r = await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: { cookie, host, ...h } });
      expect(r.statusCode, JSON.stringify(h)).toBe(201);
    }
    // a bearer token is not a browser's ambient credential: no Origin check
    const b = await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: { ...op, origin: 'http://evil.example' } });
    expect(b.statusCode).toBe(201);
    // reads are not state changes
    expect((await c.app.inject({ url: '/api/sessions', headers: { cookie, origin: 'http://evil.example' } })).statusCode).toBe(200);
  });

  it('behind a reverse proxy that rewrites Host, the --public-url origin is the center own origin', async () => {
    c = await testCenter({ publicUrl: 'https://tunaio.example.com' });
    const cookie = await loginCookie();
    const headers = { cookie, host: '127.0.0.1:8080', origin: 'https://tunaio.example.com' };
    expect((await c.app.inject({ method: 'POST', url: '/api/logout', headers })).statusCode).toBe(204);
    const other = { cookie: await loginCookie(), host: '127.0.0.1:8080', origin: 'https://evil.example.com' };
    expect((await c.app.inject({ method: 'POST', url: '/api/logout', headers: other })).statusCode).toBe(403);
  });
});

describe('error shape of framework answers, headers', () => {
  it('an id past the router limit → 414 in the error shape naming the limit; at the limit → the route answers', async () => {
    c = await testCenter();
    for (const url of [`/api/sessions/${'a'.repeat(MAX_PATH_SEGMENT + 1)}`, `/api/share/${'x'.repeat(5000)}/events`]) {
      const r = await c.app.inject({ url, headers: op });
      expect(r.statusCode).toBe(414);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.json()).toEqual({ error: { code: 'uri_too_long', message: `a path segment (id or token) is limited to ${MAX_PATH_SEGMENT} characters` } });
    }
    const r = await c.app.inject({ url: `/api/sessions/${'a'.repeat(MAX_PATH_SEGMENT)}`, headers: op });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('validation_failed');
  });

  it('413 names the route limit (1 MiB API bodies, 8 MiB ingest)', async () => {
    c = await testCenter();
    const { token } = await c.addAgent('a');
    const big = { label: 'x'.repeat(1024 * 1024 + 10), criteria: { from: '1' } };
    const r = await c.app.inject({ method: 'POST', url: '/api/sessions', headers: op, payload: big });
    expect(r.statusCode).toBe(413);
    expect(r.json().error).toEqual({ code: 'payload_too_large', message: "request body is larger than this route's limit of 1 MiB" });
    const ing = await c.app.inject({
      method: 'POST',
      url: '/api/ingest',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: `{"events":[],"pad":"${'x'.repeat(INGEST_MAX_BYTES)}"}`,
    });
    expect(ing.statusCode).toBe(413);
    expect(ing.json().error.message).toBe("request body is larger than this route's limit of 8 MiB");
  });

  it('JSON answers (success, error, 404) carry nosniff and an inert CSP; ladder.svg cannot run script', async () => {
    c = await testCenter();
    await c.addAgent('a');
    const id = await c.newSession({ label: '<script>alert(1)</script>', criteria: { from: '1' }, agent_ids: [1] });
    const xss = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const { token } = await c.addAgent('b');
    const s2 = await c.newSession({ label: xss, criteria: { from: '1' }, agent_ids: [2] });
    await c.ingest(token, [sipEvent(s2, 1, { call_id: xss, sip: { method: xss, cseq_seq: 1, cseq_method: 'INVITE', has_sdp: false } })]);
    for (const url of ['/api/sessions', `/api/sessions/${id}`, '/api/nope', `/api/sessions/${s2}/ladder.svg`, `/api/sessions/${s2}/ladder.png`]) {
      const r = await c.app.inject({ url, headers: op });
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['content-security-policy'], url).toMatch(/default-src 'none'.*sandbox/);
    }
    const svg = await c.app.inject({ url: `/api/sessions/${s2}/ladder.svg`, headers: op });
    expect(svg.statusCode).toBe(200);
    expect(svg.body).not.toContain('<script');
    expect(svg.body).not.toContain('<img');
    expect(svg.body).toContain('&lt;script&gt;');
  });
});

describe('the log', () => {
  it('request URLs are logged with share tokens redacted', async () => {
    const lines: string[] = [];
    c = await testCenter({ logLevel: 'info', logDestination: { write: (l) => void lines.push(l) } });
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const token = (await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op })).json().token as string;
    await c.app.inject({ url: `/api/share/${token}/events?after=0` });
    await c.app.inject({ url: `/api/share/${token}` });
    const log = lines.join('');
    expect(log).toContain('/api/share/[redacted]/events?after=0');
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.slice(0, 12));
    expect(redactUrl(`/share/${token}`)).toBe('/share/[redacted]');
  });
});

describe('files', () => {
  it('the data folder and pcap folders are 0700; the database (and -wal/-shm) and pcap files are 0600', async () => {
    c = await testCenter();
    const { token } = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], capture_pcap: true });
    const frame = Buffer.alloc(60, 1).toString('base64');
    expect((await c.ingest(token, [sipEvent(id, 1, { frame: { link_type: 1, data: frame, orig_len: 60 } })])).status).toBe(200);
    const mode = (p: string): string => (fs.statSync(p).mode & 0o777).toString(8);
    expect(mode(c.dataDir)).toBe('700');
    expect(mode(path.join(c.dataDir, 'pcap'))).toBe('700');
    expect(mode(path.join(c.dataDir, 'pcap', id))).toBe('700');
    const pcaps = fs.readdirSync(path.join(c.dataDir, 'pcap', id));
    expect(pcaps.length).toBeGreaterThan(0);
    for (const f of pcaps) expect(mode(path.join(c.dataDir, 'pcap', id, f))).toBe('600');
    const dbFiles = fs.readdirSync(c.dataDir).filter((f) => f.startsWith('tunaio.db'));
    expect(dbFiles).toEqual(expect.arrayContaining(['tunaio.db', 'tunaio.db-wal', 'tunaio.db-shm']));
    for (const f of fs.readdirSync(c.dataDir).filter((x) => !fs.statSync(path.join(c.dataDir, x)).isDirectory())) {
      expect(mode(path.join(c.dataDir, f)), f).toBe('600');
    }
  });

  it('a data folder made world-readable by an older version is tightened at start', async () => {
    const first = await testCenter();
    const dir = first.dataDir;
    await first.close();
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, 'tunaio.db'), 0o644);
    c = await testCenter({ dataDir: dir });
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, 'tunaio.db')).mode & 0o777).toBe(0o600);
  });
});

describe("what Node's HTTP parser refuses", () => {
  it('headers over 16 KiB and a malformed request get the API error shape over a real socket', async () => {
    const net = await import('node:net');
    c = await testCenter();
    await c.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (c.app.server.address() as { port: number }).port;
    const raw = (request: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => s.end(request));
        let out = '';
        s.setEncoding('utf8');
        s.on('data', (d: string) => (out += d));
        s.on('close', () => resolve(out));
        s.on('error', reject);
      });
    const big = await raw(`GET /api/sessions?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(big).toMatch(/x-content-type-options: nosniff/i);
    expect(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'payload_too_large', message: 'request headers (URL included) are larger than the limit of 16 KiB' },
    });
    const bad = await raw('GET /api/health HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'bad_request', message: 'malformed HTTP request' } });
  });
});
