// Single sign-on end to end (issue 12 item 4, docs/organisations.md "Single sign-on"): a real OpenID
// Connect provider (`oidc-provider`) started here, real centers, Chromium. A person logs in at the
// provider and lands in the organisation and with the role its claims name; claims naming an unknown
// organisation, platform_admin, no TunaIO role, or a user name a local user has are refused on the
// login page with the reason; password logins keep working; the audit log has both. On PostgreSQL the
// login starts on one center and the provider's redirect lands on another: the login state is in the
// database. The UI is opened as http://localhost:PORT while the provider is http://127.0.0.1:PORT, so
// the provider's redirect back is a cross-site navigation, as in production.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startCenter } from '../../src/center/index.js';
import type { RunningCenter } from '../../src/center/index.js';
import { startIdp } from '../support/oidc-provider.js';
import type { TestIdp } from '../support/oidc-provider.js';
import { startPostgres } from '../support/postgres.js';
import type { TestPostgres } from '../support/postgres.js';
import { ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, OPERATOR_TOKEN, buildWebUi } from './harness.js';

const ACCOUNTS = {
  alice: { preferred_username: 'alice', tunaio_org: 'org-sso', tunaio_role: 'operator' },
  // a groups-like list: the strongest TunaIO role named wins, other values are ignored
  olga: { preferred_username: 'olga', tunaio_org: 'org-sso', tunaio_role: ['staff', 'org_admin', 'viewer'] },
  mallory: { preferred_username: 'mallory', tunaio_org: 'no-such-org', tunaio_role: 'org_admin' },
  eve: { preferred_username: 'eve', tunaio_org: 'org-sso', tunaio_role: 'platform_admin' },
  bob: { preferred_username: 'bob', tunaio_org: 'org-sso', tunaio_role: 'superuser' },
  // the local bootstrap admin's name: single sign-on never takes over a local user
  impostor: { preferred_username: 'admin', tunaio_org: 'org-sso', tunaio_role: 'viewer' },
};

let idp: TestIdp;
let browser: Browser;
let webRoot: string;
const dirs: string[] = [];

/**
 * A front on its own port passing each request to one of the centers (the callback may go elsewhere);
 * `hold` keeps a request from the centers (answered 204) when it returns true.
 */
async function front(pick: (url: string) => RunningCenter, hold: (url: string) => boolean = () => false): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (hold(req.url ?? '/')) {
      res.writeHead(204);
      res.end();
      return;
    }
    const target = new URL(pick(req.url ?? '/').url);
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://localhost:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function center(database?: string): Promise<RunningCenter> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-sso-'));
  dirs.push(dataDir);
  return startCenter({
    dataDir,
    database,
    port: 0,
    host: '127.0.0.1',
    adminPassword: ADMIN_PASSWORD,
    adminToken: OPERATOR_TOKEN,
    logLevel: 'silent',
    webRoot,
    scryptLog2N: 10,
    oidc: {
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
      orgClaim: 'tunaio_org',
      roleClaim: 'tunaio_role',
      usernameClaim: 'preferred_username',
      scopes: 'openid profile tunaio',
      name: 'Test IdP',
    },
  });
}

async function adminApi(c: RunningCenter, method: string, p: string, body?: unknown) {
  const r = await fetch(c.url + p, {
    method,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of every shape, read by the tests
  return { status: r.status, json: (await r.json()) as any };
}

/** Logs `login` in at the provider from the center's login page, in a fresh browser context; returns the page back on the center. */
async function ssoLogin(base: string, login: string): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('sso-login').click();
  // the provider's own pages: its login form (any password), then its consent screen
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.href.startsWith(base), { timeout: 30_000 });
  return page;
}

const me = (page: Page) => page.evaluate(async () => (await fetch('/api/me')).json() as Promise<{ username: string; role: string; org: { name: string } }>);

beforeAll(async () => {
  idp = await startIdp(ACCOUNTS);
  webRoot = await buildWebUi();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await idp?.stop();
  for (const d of [webRoot, ...dirs]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

describe('single sign-on on SQLite, in Chromium', () => {
  let c: RunningCenter;
  let f: Awaited<ReturnType<typeof front>>;
  /** when set, the next callback is kept from the center and its URL given here */
  let holdCallback: ((url: string) => void) | null = null;
  beforeAll(async () => {
    c = await center();
    f = await front(
      () => c,
      (url) => {
        if (!holdCallback || !url.startsWith('/api/sso/callback')) return false;
        holdCallback(url);
        holdCallback = null;
        return true;
      },
    );
    idp.allowRedirects([`${f.url}/api/sso/callback`]);
    expect((await adminApi(c, 'POST', '/api/orgs', { name: 'org-sso' })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await f?.close();
    await c?.close();
  });

  it('logs in at the provider and lands in the organisation and role its claims name', async () => {
    const page = await ssoLogin(f.url, 'alice');
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    expect(await page.getByTestId('whoami-role').textContent()).toBe('operator');
    expect(await page.getByTestId('whoami-org').textContent()).toBe('org-sso');
    expect(await me(page)).toMatchObject({ username: 'alice', role: 'operator', org: { name: 'org-sso' } });
    // an operator: may start captures, manages no users
    await page.getByRole('link', { name: 'New capture' }).first().waitFor();
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);
    const users = (await adminApi(c, 'GET', '/api/users')).json.users as { username: string; role: string; org_id: number }[];
    const orgs = (await adminApi(c, 'GET', '/api/orgs')).json.orgs as { id: number; name: string }[];
    expect(users.find((u) => u.username === 'alice')).toMatchObject({ role: 'operator', org_id: orgs.find((o) => o.name === 'org-sso')!.id });
    // the single sign-on user has no password that works
    const pw = await fetch(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: '' }) });
    expect(pw.status).toBe(400);
    await page.context().close();
  });

  it('a list of roles gives the strongest TunaIO role named: an org admin sees Users and Tokens', async () => {
    const page = await ssoLogin(f.url, 'olga');
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    expect(await page.getByTestId('whoami-role').textContent()).toBe('org_admin');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByTestId('user-row').first().waitFor();
    expect(await page.getByTestId('user-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-username')))).toEqual(['alice', 'olga']);
    await page.context().close();
  });

  it('the claims set the role again at every login; a single sign-on user is never made platform_admin here', async () => {
    const users = (await adminApi(c, 'GET', '/api/users')).json.users as { id: number; username: string }[];
    const alice = users.find((u) => u.username === 'alice')!;
    expect((await adminApi(c, 'PATCH', `/api/users/${alice.id}`, { role: 'viewer' })).json.role).toBe('viewer');
    const refused = await adminApi(c, 'PATCH', `/api/users/${alice.id}`, { role: 'platform_admin' });
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toMatch(/single sign-on/);
    const page = await ssoLogin(f.url, 'alice');
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    expect(await page.getByTestId('whoami-role').textContent()).toBe('operator');
    await page.context().close();
  });

  it.each([
    ['mallory', /organisation "no-such-org" \(claim "tunaio_org"\) does not exist on this center/],
    ['eve', /asks for platform_admin, which single sign-on never gives/],
    ['bob', /claim "tunaio_role" names no TunaIO role \("superuser"\)/],
    ['impostor', /the user name "admin" is taken by another user/],
  ])('refuses %s with the reason on the login page, and logs nobody in', async (login, reason) => {
    const page = await ssoLogin(f.url, login);
    const alert = page.getByTestId('sso-error');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(reason);
    expect((await page.evaluate(async () => (await fetch('/api/me')).status))).toBe(401);
    await page.context().close();
  });

  it('password logins keep working; the audit log has the single sign-on logins and refusals', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${f.url}/`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    expect(await page.getByTestId('whoami-role').textContent()).toBe('platform_admin');
    await ctx.close();
    const entries = (await adminApi(c, 'GET', '/api/audit?limit=500')).json.entries as { action: string; actor: string; detail: string | null }[];
    const sso = entries.filter((e) => e.detail?.startsWith('single sign-on'));
    expect(sso.filter((e) => e.action === 'login').map((e) => e.actor)).toEqual(['alice', 'olga', 'alice']);
    expect(sso.find((e) => e.actor === 'alice')?.detail).toBe(`single sign-on (${idp.issuer}) as operator`);
    expect(sso.filter((e) => e.action === 'login.failed').map((e) => e.actor)).toEqual(['mallory', 'single sign-on', 'single sign-on', 'admin']);
    expect(entries.some((e) => e.action === 'login' && e.actor === 'admin' && e.detail === null)).toBe(true);
  });

  it('a callback replayed, or from another browser, is refused', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    // the provider's redirect back is kept from the center: its URL (code, state) is what a thief would have
    let callback = '';
    holdCallback = (url) => (callback = `${f.url}${url}`);
    await page.goto(`${f.url}/`);
    await page.getByTestId('sso-login').click();
    await page.locator('input[name="login"]').fill('alice');
    await page.locator('input[name="password"]').fill('x');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => callback, { timeout: 20_000 }).not.toBe('');
    // another browser (no binding cookie) presents the code: refused, and the state is spent
    const other = await browser.newContext();
    const p2 = await other.newPage();
    await p2.goto(callback);
    expect(await p2.getByTestId('sso-error').textContent()).toMatch(/started in another browser/);
    await page.goto(callback);
    expect(await page.getByTestId('sso-error').textContent()).toMatch(/expired or was already used/);
    await ctx.close();
    await other.close();
  }, 60_000);
});

describe('single sign-on across two centers on PostgreSQL', () => {
  let pg: TestPostgres;
  let a: RunningCenter;
  let b: RunningCenter;
  let f: Awaited<ReturnType<typeof front>>;
  beforeAll(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase();
    a = await center(url);
    b = await center(url);
    // the login starts on A; the provider's redirect back lands on B
    f = await front((u) => (u.startsWith('/api/sso/callback') ? b : a));
    idp.allowRedirects([`${f.url}/api/sso/callback`]);
    expect((await adminApi(a, 'POST', '/api/orgs', { name: 'org-sso' })).status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await f?.close();
    await a?.close();
    await b?.close();
    await pg?.stop();
  });

  it('the login started on one center completes on the other and holds on both', async () => {
    const page = await ssoLogin(f.url, 'olga');
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    expect(await page.getByTestId('whoami-role').textContent()).toBe('org_admin');
    expect(await page.getByTestId('whoami-org').textContent()).toBe('org-sso');
    const cookie = (await page.context().cookies()).find((x) => x.name === 'tunaio_session')!;
    for (const c of [a, b]) {
      const r = await fetch(`${c.url}/api/me`, { headers: { cookie: `tunaio_session=${cookie.value}` } });
      expect(await r.json()).toMatchObject({ username: 'olga', role: 'org_admin', org: { name: 'org-sso' } });
    }
    const audit = (await adminApi(b, 'GET', '/api/audit?limit=500')).json.entries as { action: string; actor: string }[];
    expect(audit.filter((e) => e.action === 'login' && e.actor === 'olga')).toHaveLength(1);
    await page.context().close();
  });

  it('an unknown organisation is refused here too', async () => {
    const page = await ssoLogin(f.url, 'mallory');
    expect(await page.getByTestId('sso-error').textContent()).toMatch(/organisation "no-such-org"/);
    await page.context().close();
  });
});
