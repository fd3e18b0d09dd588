// Login, logout, the cookie, the rate limit and the admin bootstrap.
import { afterEach, describe, expect, it } from 'vitest';
import { createCenter } from '../../app.js';
import { ADMIN_PASSWORD, OPERATOR_TOKEN, op, tempDataDir, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';
import { LOGIN_VERIFY_AT_ONCE, LOGIN_VERIFY_WAITING, addressKey } from '../../auth/rate-limit.js';

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
    expect(r.json()).toEqual({ username: 'admin', role: 'platform_admin', org_id: 1 });
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

describe('login limits against spraying and floods (issue 16)', () => {
  it('failures are limited per source address across user names (IPv6 per /64), besides per address + user name', async () => {
    let now = Date.now();
    // the per address + user limit is set high, so only the per-address limit can answer 429 here
    c = await testCenter({ now: () => now, loginMaxFailures: 1000, loginMaxFailuresPerAddress: 30 });
    // unknown user names verify against a full-cost dummy hash (slow): a few of them, the rest on admin
    const name = (i: number): string => (i < 3 ? `user${i}` : 'admin');
    // spraying: 30 failures across user names from one address
    for (let i = 0; i < 30; i++) expect((await login(name(i), `Winter2026!${i}`, '203.0.113.7')).statusCode).toBe(401);
    const sprayed = await login('admin', ADMIN_PASSWORD, '203.0.113.7');
    expect(sprayed.statusCode).toBe(429);
    expect(sprayed.json().error.message).toMatch(/too many failed logins from your address; try again in \d+ s/);
    expect(Number(sprayed.headers['retry-after'])).toBeGreaterThan(0);
    // IPv4-mapped IPv6 is the same address; another address is not affected
    expect((await login('admin', ADMIN_PASSWORD, '::ffff:203.0.113.7')).statusCode).toBe(429);
    expect((await login('admin', ADMIN_PASSWORD, '203.0.113.8')).statusCode).toBe(200);
    // IPv6: the whole /64 is one source; the next /64 is another
    for (let i = 0; i < 30; i++) expect((await login(name(i), 'x', `2001:db8:0:1::${(i + 1).toString(16)}`)).statusCode).toBe(401);
    expect((await login('admin', ADMIN_PASSWORD, '2001:db8:0:1:ffff::1')).statusCode).toBe(429);
    expect((await login('admin', ADMIN_PASSWORD, '2001:db8:0:2::1')).statusCode).toBe(200);
    const m = (await c.app.inject({ url: '/metrics', headers: op })).body;
    expect(m).toContain('tunaio_login_refused_total{limit="address"} 3');
    now += 61_000;
    expect((await login('admin', ADMIN_PASSWORD, '203.0.113.7')).statusCode).toBe(200);
    // 60+ full-cost password checks: seconds alone, far longer on a loaded CI machine
  }, 180_000);

  it('password checks are gated: with the gate full a login is answered 429 at once, not queued without bound', async () => {
    c = await testCenter();
    const held: (() => void)[] = [];
    const hold = () => c.ctx.loginLimiter.verify(() => new Promise<void>((r) => held.push(r)));
    // LOGIN_VERIFY_AT_ONCE running + LOGIN_VERIFY_WAITING waiting
    const pending = Array.from({ length: LOGIN_VERIFY_AT_ONCE + LOGIN_VERIFY_WAITING }, hold);
    await new Promise((r) => setImmediate(r));
    expect(held).toHaveLength(LOGIN_VERIFY_AT_ONCE);
    const r = await login('admin', ADMIN_PASSWORD, '198.51.100.1');
    expect(r.statusCode).toBe(429);
    expect(r.json().error).toEqual({ code: 'rate_limited', message: 'too many logins are being checked at once; try again in a second' });
    expect(r.headers['retry-after']).toBe('1');
    // drain: every held check gets its turn, then logins work again
    while (held.length > 0) {
      held.shift()!();
      await new Promise((res) => setImmediate(res));
    }
    await Promise.all(pending);
    expect((await login('admin', ADMIN_PASSWORD, '198.51.100.1')).statusCode).toBe(200);
    expect((await c.app.inject({ url: '/metrics', headers: op })).body).toContain('tunaio_login_refused_total{limit="busy"} 1');
  });

  it('addressKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 as its /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('2001:0db8:0000:0001:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});
