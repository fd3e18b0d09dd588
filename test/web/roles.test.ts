// The web UI per role (issue 12 item 5, docs/organisations.md "The web UI"), in Chromium against a real
// center: the role and organisation are shown; a viewer is offered no create, stop, purge or share; an
// operator is; an org admin has Users (add, change the role, delete) and Tokens (the secret shown once);
// a platform admin picks the organisation it looks at and creates organisations. What is hidden is
// also refused by the API (isolation-matrix.test.ts); here the UI must not offer it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startCenter } from '../../src/center/index.js';
import type { RunningCenter } from '../../src/center/index.js';
import { ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, OPERATOR_TOKEN, buildWebUi } from './harness.js';

const PW = 'a long enough password';
let c: RunningCenter;
let browser: Browser;
let webRoot: string;
let dataDir: string;
let orgA = 0;
let running = '';
let stopped = '';

async function api(method: string, p: string, body?: unknown, token = OPERATOR_TOKEN) {
  const r = await fetch(c.url + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- API answers of every shape, read by the tests
  return { status: r.status, json: (text === '' ? null : JSON.parse(text)) as any };
}

async function login(username: string, password = PW): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${c.url}/`);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
  return page;
}

const navLinks = (page: Page) => page.locator('.topbar nav a').allTextContents();

beforeAll(async () => {
  webRoot = await buildWebUi();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-roles-'));
  c = await startCenter({ dataDir, port: 0, host: '127.0.0.1', adminPassword: ADMIN_PASSWORD, adminToken: OPERATOR_TOKEN, logLevel: 'silent', webRoot, scryptLog2N: 10 });
  orgA = (await api('POST', '/api/orgs', { name: 'org-alpha' })).json.id;
  for (const [username, role] of [
    ['alpha-admin', 'org_admin'],
    ['alpha-op', 'operator'],
    ['alpha-viewer', 'viewer'],
  ]) {
    expect((await api('POST', '/api/users', { username, password: PW, role, org_id: orgA })).status).toBe(201);
  }
  const ok = async (r: Promise<{ status: number; json: { id: string | number } }>) => {
    const { status, json } = await r;
    if (status >= 300) throw new Error(`${status} ${JSON.stringify(json)}`);
    return json.id;
  };
  const agentA = await ok(api('POST', '/api/agents', { name: 'alpha-edge', url: 'http://127.0.0.1:9', token: 'alpha-edge-token-0123456789abcdef', org_id: orgA }));
  const agentD = await ok(api('POST', '/api/agents', { name: 'default-edge', url: 'http://127.0.0.1:9', token: 'default-edge-token-0123456789abcdef' }));
  running = String(await ok(api('POST', '/api/sessions', { label: 'alpha running', criteria: { from: '1001' }, agent_ids: [agentA] })));
  stopped = String(await ok(api('POST', '/api/sessions', { label: 'alpha stopped', criteria: { from: '1002' }, agent_ids: [agentA] })));
  await ok(api('DELETE', `/api/sessions/${stopped}`));
  await ok(api('POST', '/api/sessions', { label: 'default org capture', criteria: { from: '1003' }, agent_ids: [agentD] }));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await c?.close();
  for (const d of [webRoot, dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

describe('what each role is offered', () => {
  it('a viewer sees its role and organisation, and no create, stop, purge, share, agent form, Users or Tokens', async () => {
    const page = await login('alpha-viewer');
    expect(await page.getByTestId('whoami').textContent()).toBe('alpha-viewer · viewer · org-alpha');
    expect(await navLinks(page)).toEqual(['Sessions', 'Agents']);
    expect(await page.getByRole('link', { name: 'New capture' }).count()).toBe(0);
    // its organisation's sessions only
    await page.getByRole('link', { name: 'alpha running' }).waitFor();
    expect(await page.getByRole('link', { name: 'default org capture' }).count()).toBe(0);
    await page.goto(`${c.url}/sessions/${running}`);
    await page.getByTestId('export-svg').waitFor();
    for (const id of ['stop', 'share-create', 'share-revoke']) expect(await page.getByTestId(id).count(), id).toBe(0);
    await page.goto(`${c.url}/sessions/${stopped}`);
    await page.getByTestId('export-svg').waitFor();
    expect(await page.getByTestId('purge').count()).toBe(0);
    await page.goto(`${c.url}/agents`);
    await page.getByTestId('agents-table').waitFor();
    expect(await page.getByTestId('agent-form').count()).toBe(0);
    for (const p of ['/users', '/tokens', '/sessions/new']) {
      await page.goto(`${c.url}${p}`);
      await page.getByText('No page here').waitFor();
    }
    await page.context().close();
  });

  it('an operator is offered create, stop, purge and share, and its own Tokens, but not Users', async () => {
    const page = await login('alpha-op');
    expect(await page.getByTestId('whoami-role').textContent()).toBe('operator');
    expect(await navLinks(page)).toEqual(['Sessions', 'New capture', 'Agents', 'Tokens']);
    await page.goto(`${c.url}/sessions/${running}`);
    await page.getByTestId('stop').waitFor();
    await page.getByTestId('share-create').waitFor();
    await page.goto(`${c.url}/sessions/${stopped}`);
    await page.getByTestId('purge').waitFor();
    await page.goto(`${c.url}/agents`);
    await page.getByTestId('agents-table').waitFor();
    expect(await page.getByTestId('agent-form').count()).toBe(0);
    await page.context().close();
  });

  it('an org admin manages users: add, change the role, delete', async () => {
    const page = await login('alpha-admin');
    expect(await navLinks(page)).toEqual(['Sessions', 'New capture', 'Agents', 'Users', 'Tokens']);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByTestId('user-row').first().waitFor();
    const rows = () => page.getByTestId('user-row').evaluateAll((r) => r.map((x) => x.getAttribute('data-username')));
    expect(await rows()).toEqual(['alpha-admin', 'alpha-op', 'alpha-viewer']);
    // an org admin gives viewer or operator only, and does not edit itself
    const form = page.getByTestId('user-form');
    expect(await form.locator('select[name="role"] option').allTextContents()).toEqual(['viewer', 'operator']);
    expect(await page.locator('[data-username="alpha-admin"] select').count()).toBe(0);
    await form.getByLabel('User name').fill('alpha-new');
    await form.getByLabel('Password').fill(PW);
    await form.locator('select[name="role"]').selectOption('operator');
    await form.getByRole('button', { name: 'Add user' }).click();
    await page.locator('[data-username="alpha-new"]').waitFor();
    const find = async (name: string) => ((await api('GET', '/api/users')).json.users as { username: string; role: string; org_id: number }[]).find((u) => u.username === name);
    expect(await find('alpha-new')).toMatchObject({ role: 'operator', org_id: orgA });
    await page.getByLabel('Role of alpha-new').selectOption('viewer');
    await page.getByText('alpha-new is now viewer.').waitFor();
    expect((await find('alpha-new'))?.role).toBe('viewer');
    await page.locator('[data-username="alpha-new"]').getByTestId('user-delete').click();
    await page.getByText('Deleted alpha-new.').waitFor();
    expect(await rows()).toEqual(['alpha-admin', 'alpha-op', 'alpha-viewer']);
    expect(await find('alpha-new')).toBeUndefined();
    await page.context().close();
  });

  it('an org admin makes a token whose secret is shown once and works, lists the organisation\'s tokens and revokes one', async () => {
    const page = await login('alpha-admin');
    await page.getByRole('link', { name: 'Tokens' }).click();
    const form = page.getByTestId('token-form');
    await form.getByLabel('Name').fill('wallboard');
    await form.locator('select[name="role"]').selectOption('viewer');
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByTestId('token-secret').inputValue();
    expect(secret.length).toBeGreaterThan(30);
    expect((await api('GET', '/api/me', undefined, secret)).json).toMatchObject({ username: 'alpha-admin', role: 'viewer', token: 'wallboard' });
    await page.locator('[data-name="wallboard"]').waitFor();
    // never shown again: not after a reload, not in the list
    await page.reload();
    await page.locator('[data-name="wallboard"]').waitFor();
    expect(await page.getByTestId('token-secret').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    await page.locator('[data-name="wallboard"]').getByTestId('token-delete').click();
    await expect.poll(() => page.locator('[data-name="wallboard"]').count()).toBe(0);
    expect((await api('GET', '/api/me', undefined, secret)).status).toBe(401);
    await page.context().close();
  });

  it('a platform admin creates an organisation, and picks which one it looks at', async () => {
    const page = await login('admin', ADMIN_PASSWORD);
    expect(await page.getByTestId('whoami-role').textContent()).toBe('platform_admin');
    await page.getByRole('link', { name: 'default org capture' }).waitFor();
    await page.getByRole('link', { name: 'alpha running' }).waitFor();
    await page.getByTestId('org-new').click();
    await page.getByLabel('New organisation name').fill('org-charlie');
    await page.getByRole('button', { name: 'Create' }).click();
    // the new one is picked at once: nothing of the others shows
    await page.getByRole('heading', { name: 'Capture sessions' }).waitFor();
    await expect.poll(async () => (await page.getByTestId('org-picker').locator('option:checked').textContent()) ?? '').toBe('org-charlie');
    await page.getByText('No capture sessions yet').waitFor();
    expect((await api('GET', '/api/orgs')).json.orgs.map((o: { name: string }) => o.name)).toContain('org-charlie');
    await page.getByTestId('org-picker').selectOption({ label: 'org-alpha' });
    await page.getByRole('link', { name: 'alpha running' }).waitFor();
    expect(await page.getByRole('link', { name: 'default org capture' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByTestId('user-row').first().waitFor();
    expect(await page.getByTestId('user-row').evaluateAll((r) => r.map((x) => x.getAttribute('data-username')))).toEqual(['alpha-admin', 'alpha-op', 'alpha-viewer']);
    // all organisations again
    await page.getByTestId('org-picker').selectOption({ label: 'All organisations' });
    await page.getByTestId('user-row').first().waitFor();
    await expect.poll(() => page.getByTestId('user-row').count()).toBe(4);
    await page.context().close();
  });
});
