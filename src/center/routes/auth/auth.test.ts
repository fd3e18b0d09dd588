// Login, logout, the cookie, the rate limit and the admin bootstrap.
import { afterEach, describe, expect, it } from 'vitest';
import { createCenter } from '../../app.js';
import { ADMIN_PASSWORD, OPERATOR_TOKEN, op, tempDataDir, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

let c: TestCenter;
afterEach(async () => {
  await c.close();
});

const login = (username: string, password: string, ip = '127.0.0.1') =>
  c.app.inject({ method: 'POST', url: '/api/login', payload: { username, password }, remoteAddress: ip });
const cookieOf = (setCookie: string | string[] | undefined): string => String(Array.isArray(setCookie) ? setCookie[0] : setCookie);

describe('POST /api/login', () => {
  it('POST /api/login sets an HttpOnly, SameSite=Strict, Path=/ cookie that authenticates operator routes', async () => {
    c = await testCenter();
    const r = await login('admin', ADMIN_PASSWORD);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ username: 'admin' });
    const set = cookieOf(r.headers['set-cookie']);
    expect(set).toMatch(/^tunaio_session=[A-Za-z0-9_-]{40,};/);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/');
    const cookie = set.split(';')[0];
    expect((await c.app.inject({ url: '/api/sessions', headers: { cookie } })).statusCode).toBe(200);
    expect((await c.app.inject({ url: '/api/sessions', headers: { cookie: 'tunaio_session=forged' } })).statusCode).toBe(401);
  });

  it('POST /api/login: wrong password or unknown user → 401; bad body → 400', async () => {
    c = await testCenter();
    for (const [u, p] of [['admin', 'nope'], ['root', ADMIN_PASSWORD]]) {
      const r = await login(u, p);
      expect(r.statusCode).toBe(401);
      expect(r.json().error).toEqual({ code: 'unauthorized', message: 'wrong username or password' });
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const bad = await c.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin' } });
    expect(bad.statusCode).toBe(400);
  });

  it('POST /api/login is rate limited per IP and username: the 11th failure within a minute → 429 with Retry-After', async () => {
    let now = Date.now();
    c = await testCenter({ now: () => now });
    for (let i = 0; i < 10; i++) expect((await login('admin', `wrong-${i}`)).statusCode).toBe(401);
    const limited = await login('admin', ADMIN_PASSWORD);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    // another IP is not blocked; and the window passes
    expect((await login('admin', ADMIN_PASSWORD, '127.0.0.2')).statusCode).toBe(200);
    now += 61_000;
    expect((await login('admin', ADMIN_PASSWORD)).statusCode).toBe(200);
    expect((await c.app.inject({ url: '/metrics', headers: op })).body).toContain('tunaio_login_failures_total 10');
  });
});

describe('POST /api/logout', () => {
  it('POST /api/logout clears the cookie and ends the login session', async () => {
    c = await testCenter();
    const cookie = cookieOf((await login('admin', ADMIN_PASSWORD)).headers['set-cookie']).split(';')[0];
    const r = await c.app.inject({ method: 'POST', url: '/api/logout', headers: { cookie } });
    expect(r.statusCode).toBe(204);
    expect(cookieOf(r.headers['set-cookie'])).toMatch(/^tunaio_session=;.*(Expires=Thu, 01 Jan 1970|Max-Age=0)/);
    expect((await c.app.inject({ url: '/api/sessions', headers: { cookie } })).statusCode).toBe(401);
  });
});

describe('admin bootstrap', () => {
  it('generates the admin password and token once when none is configured; only hashes are stored', async () => {
    const dataDir = tempDataDir();
    const first = await createCenter({ dataDir, logLevel: 'silent', scryptLog2N: 10 });
    const creds = first.bootstrap;
    expect(creds?.username).toBe('admin');
    expect(creds?.password?.length).toBeGreaterThanOrEqual(16);
    expect(creds?.token?.length).toBeGreaterThanOrEqual(43);
    const user = await first.storage.getUserByName('admin');
    expect(user?.password_hash).toMatch(/^scrypt\$/);
    expect(JSON.stringify(user)).not.toContain(creds?.password as string);
    expect(JSON.stringify(user)).not.toContain(creds?.token as string);
    expect((await first.app.inject({ url: '/api/agents', headers: { authorization: `Bearer ${creds?.token}` } })).statusCode).toBe(200);
    await first.close();
    c = await testCenter({ dataDir, adminPassword: undefined, adminToken: undefined });
    expect(c.bootstrap).toBeNull();
    expect((await login('admin', creds?.password as string)).statusCode).toBe(200);
  });

  it('takes the configured password and token (TUNAIO_ADMIN_PASSWORD / TUNAIO_ADMIN_TOKEN) and prints nothing', async () => {
    c = await testCenter();
    expect(c.bootstrap).toBeNull();
    expect((await c.app.inject({ url: '/api/agents', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).statusCode).toBe(200);
    expect((await login('admin', ADMIN_PASSWORD)).statusCode).toBe(200);
  });
});
