// Organisations, users, roles, API tokens and the audit log through the API (docs/organisations.md).
// The full route × caller matrix is isolation-matrix.test.ts; these are the rules it does not show.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, op, sipEvent, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

const PW = 'a long enough password';
let c: TestCenter;
let orgA: number;
let orgB: number;
let cookieOf: (username: string) => Promise<Record<string, string>>;

const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: object) =>
  c.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  c = await testCenter();
  orgA = (await req('POST', '/api/orgs', op, { name: 'alpha' })).json().id;
  orgB = (await req('POST', '/api/orgs', op, { name: 'bravo' })).json().id;
  for (const [username, role, org_id] of [
    ['a-admin', 'org_admin', orgA],
    ['a-op', 'operator', orgA],
    ['b-op', 'operator', orgB],
  ] as const) {
    expect((await req('POST', '/api/users', op, { username, password: PW, role, org_id })).statusCode).toBe(201);
  }
  cookieOf = async (username) => {
    const r = await req('POST', '/api/login', {}, { username, password: PW });
    expect(r.statusCode).toBe(200);
    return { cookie: String(r.headers['set-cookie']).split(';')[0] };
  };
});
afterAll(async () => {
  await c.close();
});

describe('organisations', () => {
  it('an agent of organisation A cannot ingest into a session of organisation B', async () => {
    const tokenA = 'agent-a-token-0123456789abcdefghijklmn';
    const tokenB = 'agent-b-token-0123456789abcdefghijklmn';
    const a = (await req('POST', '/api/agents', op, { name: 'edge', url: 'http://127.0.0.1:9', token: tokenA, org_id: orgA })).json();
    const b = (await req('POST', '/api/agents', op, { name: 'edge', url: 'http://127.0.0.1:9', token: tokenB, org_id: orgB })).json();
    expect(a.id).not.toBe(b.id); // one name, two organisations
    const sb = (await req('POST', '/api/sessions', await cookieOf('b-op'), { criteria: { from: '1' }, agent_ids: [b.id] })).json().id as string;
    const r = await c.ingest(tokenA, [sipEvent(sb, 1)]);
    expect(r.body).toMatchObject({ accepted: 0, rejected: [{ index: 0, reason: 'unknown_session' }] });
    expect((await req('GET', `/api/sessions/${sb}`, op)).json().event_count).toBe(0);
    expect((await c.ingest(tokenB, [sipEvent(sb, 1)])).body.accepted).toBe(1);
    // a session captures on agents of one organisation; a platform admin cannot mix them
    const mixed = await req('POST', '/api/sessions', op, { criteria: { from: '1' }, agent_ids: [a.id, b.id] });
    expect(mixed.statusCode).toBe(400);
    expect(mixed.json().error.message).toMatch(/one organisation/);
    // and A's operator cannot name B's agent: unknown, like a missing one
    const other = await req('POST', '/api/sessions', await cookieOf('a-op'), { criteria: { from: '1' }, agent_ids: [b.id] });
    expect(other.json().error).toEqual({ code: 'unknown_agents', message: `unknown agent id: ${b.id} (GET /api/agents lists the agents)` });
  });

  it('org admins manage operators and viewers of their own organisation; admins are the platform admin\'s', async () => {
    const admin = await cookieOf('a-admin');
    const mk = (body: object) => req('POST', '/api/users', admin, { password: PW, ...body });
    const v = await mk({ username: 'a-viewer', role: 'viewer' });
    expect(v.statusCode).toBe(201);
    expect(v.json()).toMatchObject({ username: 'a-viewer', role: 'viewer', org_id: orgA });
    const up = await mk({ username: 'a-admin2', role: 'org_admin' });
    expect(up.statusCode).toBe(403);
    expect(up.json().error.message).toMatch(/platform_admin/);
    expect((await mk({ username: 'x', role: 'viewer', org_id: orgB })).statusCode).toBe(404);
    expect((await mk({ username: 'a-viewer', role: 'viewer' })).statusCode).toBe(409);
    expect((await mk({ username: 'short', role: 'viewer', password: 'short' })).statusCode).toBe(400);
    const users = (await req('GET', '/api/users', admin)).json().users.map((u: { username: string }) => u.username);
    expect(users.sort()).toEqual(['a-admin', 'a-op', 'a-viewer']);
    const me = (await req('GET', '/api/users', op)).json().users.find((u: { username: string }) => u.username === 'a-admin');
    expect((await req('DELETE', `/api/users/${me.id}`, admin)).statusCode).toBe(409); // yourself
    const adminId = (await req('GET', '/api/users', op)).json().users.find((u: { username: string }) => u.username === 'admin').id;
    expect((await req('DELETE', `/api/users/${adminId}`, admin)).statusCode).toBe(404); // another organisation's
    expect((await req('DELETE', `/api/users/${adminId}`, op)).statusCode).toBe(409); // the last platform admin
  });

  it('API tokens: at most the caller\'s role, shown once, act with their role, end with their user', async () => {
    const opCookie = await cookieOf('a-op');
    expect((await req('POST', '/api/tokens', opCookie, { name: 'too-much', role: 'org_admin' })).statusCode).toBe(403);
    const made = await req('POST', '/api/tokens', opCookie, { name: 'reader', role: 'viewer' });
    expect(made.statusCode).toBe(201);
    const { id, token } = made.json();
    const listed = (await req('GET', '/api/tokens', opCookie)).json().tokens;
    expect(listed).toEqual([expect.objectContaining({ id, name: 'reader', role: 'viewer', org_id: orgA, username: 'a-op' })]);
    expect(JSON.stringify(listed)).not.toContain(token);
    expect((await req('GET', '/api/me', bearer(token))).json()).toMatchObject({ username: 'a-op', role: 'viewer', via: 'token', token: 'reader' });
    const refused = await req('POST', '/api/sessions', bearer(token), { criteria: { from: '1' }, agent_ids: [1] });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.message).toMatch(/needs the role operator.*this API token has viewer/);
    // a viewer token cannot make tokens at all (creates nothing)
    expect((await req('POST', '/api/tokens', bearer(token), { name: 'x', role: 'viewer' })).statusCode).toBe(403);
    // the user goes, the token stops working
    const user = (await req('GET', '/api/users', op)).json().users.find((u: { username: string }) => u.username === 'a-op');
    const t2 = (await req('POST', '/api/tokens', opCookie, { name: 'second', role: 'operator' })).json().token as string;
    expect((await req('DELETE', `/api/users/${user.id}`, await cookieOf('a-admin'))).statusCode).toBe(204);
    expect((await req('GET', '/api/me', bearer(t2))).statusCode).toBe(401);
    expect((await req('GET', '/api/me', opCookie)).statusCode).toBe(401);
    await req('POST', '/api/users', op, { username: 'a-op', password: PW, role: 'operator', org_id: orgA });
  });

  it('the audit log: who, from where, what, which resource; org admins see their organisation only', async () => {
    const bad = await req('POST', '/api/login', {}, { username: 'a-admin', password: 'wrong password!' });
    expect(bad.statusCode).toBe(401);
    await req('POST', '/api/login', {}, { username: 'nobody-at-all', password: 'wrong password!' });
    const aop = await cookieOf('a-op');
    const a = (await req('GET', '/api/agents', aop)).json().agents[0];
    const s = (await req('POST', '/api/sessions', aop, { label: 'audited', criteria: { from: '1' }, agent_ids: [a.id] })).json().id as string;
    await req('POST', `/api/sessions/${s}/share`, aop);
    await req('DELETE', `/api/sessions/${s}/share`, aop);
    await req('DELETE', `/api/sessions/${s}`, aop);
    await req('DELETE', `/api/sessions/${s}?purge=1`, aop);
    const { token } = (await req('POST', '/api/tokens', aop, { name: 'bot', role: 'operator' })).json();
    await req('POST', `/api/agents/${a.id}/tags`, bearer(token), { tags: ['core'] });
    await req('POST', '/api/login', {}, { username: 'b-op', password: PW });

    const page = await req('GET', '/api/audit?limit=500', await cookieOf('a-admin'));
    expect(page.statusCode).toBe(200);
    const entries = page.json().entries as { org_id: number | null; actor: string; ip: string; action: string; resource: string | null; detail: string | null; at: string }[];
    expect(entries.every((e) => e.org_id === orgA)).toBe(true);
    const seen = (action: string) => entries.filter((e) => e.action === action);
    expect(seen('login.failed')).toContainEqual(expect.objectContaining({ actor: 'a-admin', ip: '127.0.0.1' }));
    for (const action of ['session.create', 'share.create', 'share.revoke', 'session.stop', 'session.purge']) {
      expect(seen(action), action).toContainEqual(expect.objectContaining({ actor: 'a-op', resource: `session:${s}` }));
    }
    expect(seen('agent.tags')).toContainEqual(expect.objectContaining({ actor: 'a-op/bot', resource: `agent:${a.id}`, detail: 'core' }));
    expect(seen('user.create').map((e) => e.detail)).toContain('a-viewer (viewer)');
    expect(seen('user.delete').map((e) => e.detail)).toContain('a-op (operator)');
    expect(seen('agent.create')).toContainEqual(expect.objectContaining({ actor: 'admin', resource: `agent:${a.id}` }));
    expect(entries.some((e) => e.actor === 'b-op' || e.actor === 'nobody-at-all')).toBe(false);
    expect(new Date(entries[0].at).getTime()).toBeGreaterThan(0);
    // the platform admin sees everything, the failed login of an unknown name too; paging by id
    const all = (await req('GET', '/api/audit?limit=500', op)).json().entries as { id: number; actor: string; action: string; org_id: number | null }[];
    expect(all).toContainEqual(expect.objectContaining({ actor: 'nobody-at-all', action: 'login.failed', org_id: null }));
    expect(all).toContainEqual(expect.objectContaining({ actor: 'b-op', action: 'login', org_id: orgB }));
    const first = (await req('GET', '/api/audit?limit=2', op)).json();
    expect(first.more).toBe(true);
    const next = (await req('GET', `/api/audit?after=${first.next_after}&limit=1`, op)).json();
    expect(next.entries[0].id).toBe(all[2].id);
    expect((await req('GET', '/api/audit', await cookieOf('a-op'))).statusCode).toBe(403);
  });

  it('export downloads are audited when they happen (a refused one is not a download)', async () => {
    const aop = await cookieOf('a-op');
    const a = (await req('GET', '/api/agents', aop)).json().agents[0];
    const s = (await req('POST', '/api/sessions', aop, { criteria: { from: '1' }, agent_ids: [a.id], capture_pcap: true })).json().id as string;
    expect((await req('GET', `/api/sessions/${s}/export.tar`, aop)).statusCode).toBe(404); // no packets yet
    const frame = { link_type: 1, data: Buffer.alloc(60, 1).toString('base64'), orig_len: 60 };
    expect((await c.ingest('agent-a-token-0123456789abcdefghijklmn', [sipEvent(s, 1, { frame } as never)])).body.accepted).toBe(1);
    expect((await req('GET', `/api/sessions/${s}/export.tar`, aop)).statusCode).toBe(200);
    const share = (await req('POST', `/api/sessions/${s}/share`, aop)).json().token as string;
    expect((await req('GET', `/api/share/${share}/export.tar`, {})).statusCode).toBe(200);
    const entries = (await req('GET', '/api/audit?limit=500', op)).json().entries as { actor: string; action: string; resource: string }[];
    expect(entries.filter((e) => e.action === 'export.download' && e.resource === `session:${s}`).map((e) => e.actor)).toEqual(['a-op', 'share link']);
  });
});

// last: it adds users to organisation A, which the lists above count
describe('changing a role', () => {
  it("a user's role changes in place under the creation rules, audited; an API token follows its user down", async () => {
    const admin = await cookieOf('a-admin');
    const u = (await req('POST', '/api/users', admin, { username: 'a-flex', password: PW, role: 'viewer' })).json();
    const patch = (who: Record<string, string>, id: number, role: string) => req('PATCH', `/api/users/${id}`, who, { role });
    const up = await patch(admin, u.id, 'operator');
    expect(up.statusCode).toBe(200);
    expect(up.json()).toMatchObject({ id: u.id, username: 'a-flex', role: 'operator', org_id: orgA });
    const flex = await cookieOf('a-flex');
    expect((await req('GET', '/api/me', flex)).json().role).toBe('operator');
    const token = (await req('POST', '/api/tokens', flex, { name: 'ci', role: 'operator' })).json().token as string;
    // the org admin cannot give or take org_admin, nor touch itself; bad roles are refused
    const toAdmin = await patch(admin, u.id, 'org_admin');
    expect(toAdmin.statusCode).toBe(403);
    expect(toAdmin.json().error.message).toMatch(/platform_admin/);
    const aAdminId = ((await req('GET', '/api/users', admin)).json().users as { id: number; username: string }[]).find((x) => x.username === 'a-admin')!.id;
    expect((await patch(admin, aAdminId, 'viewer')).statusCode).toBe(409);
    const admin2 = (await req('POST', '/api/users', op, { username: 'a-admin2', password: PW, role: 'org_admin', org_id: orgA })).json();
    expect((await patch(admin, admin2.id, 'operator')).statusCode).toBe(403);
    expect((await patch(op, admin2.id, 'operator')).json()).toMatchObject({ role: 'operator' });
    expect((await patch(admin, u.id, 'root')).statusCode).toBe(400);
    expect((await req('PATCH', `/api/users/${u.id}`, admin, { role: 'viewer', org_id: orgB })).statusCode).toBe(400);
    // another organisation's user is not found; a viewer or operator may not change roles at all
    const bOp = ((await req('GET', '/api/users', op)).json().users as { id: number; username: string }[]).find((x) => x.username === 'b-op')!.id;
    expect((await patch(admin, bOp, 'viewer')).statusCode).toBe(404);
    expect((await patch(await cookieOf('a-op'), u.id, 'viewer')).statusCode).toBe(403);
    // lowered: the user and its operator token now act as viewers
    expect((await patch(admin, u.id, 'viewer')).json().role).toBe('viewer');
    expect((await req('GET', '/api/me', bearer(token))).json().role).toBe('viewer');
    expect((await req('POST', '/api/sessions', bearer(token), { criteria: { from: '1' }, agent_ids: [1] })).statusCode).toBe(403);
    // the last platform admin cannot be lowered, even by another user with the power to
    const adminId = ((await req('GET', '/api/users', op)).json().users as { id: number; username: string }[]).find((x) => x.username === 'admin')!.id;
    expect((await patch(op, adminId, 'viewer')).json().error.message).toMatch(/your own role/);
    const second = (await req('POST', '/api/users', op, { username: 'p2', password: PW, role: 'platform_admin' })).json();
    expect((await patch(op, second.id, 'viewer')).statusCode).toBe(200);
    const audit = (await req('GET', '/api/audit?limit=500', admin)).json().entries as { action: string; detail: string; actor: string }[];
    expect(audit.filter((e) => e.action === 'user.role').map((e) => [e.actor, e.detail])).toEqual([
      ['a-admin', 'a-flex: viewer → operator'],
      ['admin', 'a-admin2: org_admin → operator'],
      ['a-admin', 'a-flex: operator → viewer'],
    ]);
  });
});

describe('organisation view (X-TunaIO-Org)', () => {
  it("narrows a platform admin's lists to one organisation and makes it the default of new users; nobody else may send it", async () => {
    const view = (id: number | string) => ({ ...op, 'x-tunaio-org': String(id) });
    const users = (await req('GET', '/api/users', view(orgB))).json().users as { username: string; org_id: number }[];
    expect(users.length).toBeGreaterThan(0);
    expect(users.every((u) => u.org_id === orgB)).toBe(true);
    const made = await req('POST', '/api/users', view(orgB), { username: 'b-viewed', password: PW, role: 'viewer' });
    expect(made.json()).toMatchObject({ username: 'b-viewed', org_id: orgB });
    // another organisation's user, seen from B: not found
    const aOp = ((await req('GET', '/api/users', op)).json().users as { id: number; username: string }[]).find((u) => u.username === 'a-op')!;
    expect((await req('DELETE', `/api/users/${aOp.id}`, view(orgB))).statusCode).toBe(404);
    expect((await req('GET', '/api/users', view('abc'))).statusCode).toBe(400);
    const refused = await req('GET', '/api/sessions', { ...(await cookieOf('a-admin')), 'x-tunaio-org': String(orgB) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.message).toMatch(/platform_admin/);
  });
});
