// The storage contract: every Storage implementation (SQLite now, PostgreSQL later) must pass it.
// Each implementation's own test file calls runStorageContract(makeStorage) — see sqlite.test.ts.
import { describe, expect, it } from 'vitest';
import type { IngestEvent } from '../../core/schema/index.js';
import { presentDialog } from '../../core/dialogs/aggregate.js';
import { SqliteStorage } from './sqlite.js';
import type { IngestItem, IngestPolicy, NewSession, Storage } from './types.js';

export type MakeStorage = () => Promise<{
  storage: Storage;
  cleanup(): Promise<void>;
  /** a second handle on the same data (another center on the same database / file) */
  another(): Promise<Storage>;
}>;

const T0 = 1_800_000_000_000;
const policy = (over: Partial<IngestPolicy> = {}): IngestPolicy => ({
  now: T0 + 1000,
  grace_ms: 30_000,
  max_events_per_session: 1000,
  max_bytes_per_session: 1_000_000,
  ...over,
});

let sid = 0;
const newSessionRec = (agentIds: number[], over: Partial<NewSession> = {}): NewSession => ({
  id: (++sid).toString(16).padStart(20, '0'),
  org_id: 1,
  label: 'test',
  criteria: { from: '15554430191' },
  capture_rtp: false,
  capture_pcap: true,
  duration_seconds: 60,
  created_at: T0,
  expires_at: T0 + 60_000,
  agent_ids: agentIds,
  ...over,
});

const ev = (session_id: string, seq: number, over: Partial<IngestEvent> = {}): IngestItem => {
  const event: IngestEvent = {
    session_id,
    seq,
    ts: seq,
    kind: 'sip',
    transport: 'udp',
    src: { ip: '192.0.2.1', port: 5060 },
    dst: { ip: '192.0.2.2', port: 5060 },
    call_id: 'c@x',
    sip: { method: 'INVITE', has_sdp: false },
    payload: 'INVITE',
    rtp: null,
    rtcp: null,
    stats: null,
    log: null,
    callstate: null,
    route: null,
    frame: null,
    ...over,
  };
  return { index: seq, event, bytes: 100 };
};

/** the Storage methods this contract exercises; the self-test below keeps it complete */
export const CONTRACT_METHODS = [
  'close', 'getUserByName', 'getUserByTokenHash', 'upsertUser', 'createUser', 'lastEventId', 'createWebSession', 'getWebSessionUser',
  'deleteWebSession', 'deleteExpiredWebSessions', 'listAgents', 'getAgentByName', 'getAgentByTokenHash',
  'upsertAgent', 'touchAgent', 'createSession', 'getSession', 'listSessions', 'listRunningSessions',
  'countSessionsByStatus', 'listOverdueSessions', 'endSession', 'getSessionAgents', 'countEventsByKind',
  'hasFrames', 'purgeSession', 'ingest', 'admitFrames', 'reportCounters', 'listEvents', 'deleteHistoryEndedBefore',
  'deleteFramesEndedBefore', 'putShare', 'getShare', 'getShareByTokenHash', 'deleteShare', 'listDialogs',
  'createOrg', 'getOrg', 'listOrgs', 'getUser', 'listUsers', 'deleteUser', 'countUsersWithRole', 'createApiToken',
  'getApiTokenByHash', 'getApiToken', 'listApiTokens', 'deleteApiToken', 'appendAudit', 'listAudit', 'setAgentTags',
  'updateUser', 'getUserByOidcSubject', 'putOidcLogin', 'takeOidcLogin', 'deleteExpiredOidcLogins', 'pruneAudit',
];

export function runStorageContract(name: string, make: MakeStorage): void {
  describe(`storage contract: ${name}`, () => {
    const withStorage = (fn: (s: Storage, another: () => Promise<Storage>) => Promise<void>) => async () => {
      const { storage, cleanup, another } = await make();
      try {
        await fn(storage, another);
      } finally {
        await storage.close();
        await cleanup();
      }
    };
    const agent = async (s: Storage, n: string, enabled = true) =>
      (await s.upsertAgent({ org_id: 1, name: n, url: 'http://h', token_hash: `hash-${n}`, enabled, tags: ['edge'] }, T0)).agent;

    it('users and web sessions', withStorage(async (s) => {
      const u = await s.upsertUser('admin', { password_hash: 'p', token_hash: 't' });
      expect(await s.getUserByTokenHash('t')).toMatchObject({ id: u.id, username: 'admin' });
      await s.upsertUser('admin', { token_hash: 't2' });
      expect(await s.getUserByTokenHash('t')).toBeNull();
      expect((await s.getUserByName('admin'))?.password_hash).toBe('p');
      await s.createWebSession('w', u.id, T0 + 10);
      expect((await s.getWebSessionUser('w', T0))?.username).toBe('admin');
      expect(await s.getWebSessionUser('w', T0 + 10)).toBeNull();
      expect(await s.deleteExpiredWebSessions(T0 + 11)).toBe(1);
      await s.createWebSession('w2', u.id, T0 + 10);
      await s.deleteWebSession('w2');
      expect(await s.getWebSessionUser('w2', T0)).toBeNull();
      // createUser never replaces an existing user (two centers bootstrapping at once)
      expect(await s.createUser('admin', { password_hash: 'other', org_id: 1, role: 'viewer' })).toBeNull();
      expect(await s.getUserByName('admin')).toMatchObject({ password_hash: 'p', org_id: 1, role: 'platform_admin' });
      expect(await s.createUser('ops', { password_hash: 'q', org_id: 1, role: 'operator' })).toMatchObject({
        username: 'ops',
        password_hash: 'q',
        token_hash: null,
        role: 'operator',
      });
    }));

    it('agents: add, update by name keeping the token, lookup by token digest, touch', withStorage(async (s) => {
      const a = await agent(s, 'edge-1');
      expect(a).toMatchObject({ name: 'edge-1', enabled: true, tags: ['edge'], last_seen: null });
      const { agent: b, created } = await s.upsertAgent({ org_id: 1, name: 'edge-1', url: 'http://h2', enabled: false, tags: [] }, T0 + 1);
      expect(created).toBe(false);
      expect(b).toMatchObject({ id: a.id, url: 'http://h2', enabled: false, token_hash: 'hash-edge-1' });
      expect((await s.getAgentByTokenHash('hash-edge-1'))?.id).toBe(a.id);
      await s.touchAgent(a.id, T0 + 5, { version: '1.2', sources: [{ type: 'pcap', detail: 'lo' }] });
      expect(await s.getAgentByName(1, 'edge-1')).toMatchObject({ last_seen: T0 + 5, version: '1.2', sources: [{ type: 'pcap', detail: 'lo' }] });
      expect((await s.listAgents('all')).map((x) => x.name)).toEqual(['edge-1']);
      expect(await s.setAgentTags(a.id, ['core', 'b'], T0 + 6)).toMatchObject({ id: a.id, tags: ['core', 'b'], updated_at: T0 + 6 });
    }));

    it('organisations: orgs, users, API tokens, audit, rows scoped per organisation', withStorage(async (s) => {
      expect((await s.listOrgs()).map((o) => [o.id, o.name])).toEqual([[1, 'default']]);
      const b = (await s.createOrg('bravo', T0)) as NonNullable<Awaited<ReturnType<Storage['createOrg']>>>;
      expect(b).toMatchObject({ name: 'bravo', created_at: T0 });
      expect(b.id).not.toBe(1);
      expect(await s.createOrg('bravo', T0)).toBeNull();
      expect(await s.getOrg(b.id)).toEqual(b);
      expect(await s.getOrg(999)).toBeNull();
      // users: unique names across organisations, listed per organisation
      const admin = await s.upsertUser('admin', { password_hash: 'p' });
      const ob = (await s.createUser('ops-b', { password_hash: 'q', org_id: b.id, role: 'operator' })) as NonNullable<Awaited<ReturnType<Storage['getUser']>>>;
      expect(await s.getUser(ob.id)).toMatchObject({ username: 'ops-b', org_id: b.id, role: 'operator' });
      expect((await s.listUsers(b.id)).map((u) => u.username)).toEqual(['ops-b']);
      expect((await s.listUsers('all')).map((u) => u.username)).toEqual(['admin', 'ops-b']);
      expect(await s.countUsersWithRole('platform_admin')).toBe(1);
      // API tokens
      const t = await s.createApiToken({ org_id: b.id, user_id: ob.id, name: 'ci', role: 'viewer', token_hash: 'th', created_at: T0 });
      expect(t).toMatchObject({ org_id: b.id, user_id: ob.id, username: 'ops-b', name: 'ci', role: 'viewer' });
      expect(await s.getApiTokenByHash('th')).toEqual(t);
      expect(await s.getApiToken(t.id)).toEqual(t);
      expect(await s.listApiTokens(1)).toEqual([]);
      expect(await s.listApiTokens(b.id, ob.id)).toEqual([t]);
      expect(await s.listApiTokens('all', admin.id)).toEqual([]);
      expect(await s.deleteApiToken(t.id)).toBe(true);
      expect(await s.deleteApiToken(t.id)).toBe(false);
      // deleting a user takes its logins and tokens along
      await s.createApiToken({ org_id: b.id, user_id: ob.id, name: 'ci2', role: 'viewer', token_hash: 'th2', created_at: T0 });
      await s.createWebSession('wb', ob.id, T0 + 10);
      expect(await s.deleteUser(ob.id)).toBe(true);
      expect(await s.getApiTokenByHash('th2')).toBeNull();
      expect(await s.getWebSessionUser('wb', T0)).toBeNull();
      expect(await s.deleteUser(ob.id)).toBe(false);
      // agents: the same name in two organisations; sessions and agents listed per organisation
      const a1 = await agent(s, 'edge');
      const { agent: a2, created } = await s.upsertAgent({ org_id: b.id, name: 'edge', url: 'http://b', token_hash: 'hash-b', enabled: true, tags: [] }, T0);
      expect(created).toBe(true);
      expect(a2.id).not.toBe(a1.id);
      expect((await s.getAgentByName(b.id, 'edge'))?.url).toBe('http://b');
      expect((await s.listAgents(b.id)).map((a) => a.id)).toEqual([a2.id]);
      const sa = await s.createSession(newSessionRec([a1.id]));
      // assigned to a1 too (the routes never do this: a session's agents are of its organisation)
      const sb = await s.createSession(newSessionRec([a1.id, a2.id], { org_id: b.id }));
      expect((await s.getSession(sb.id))?.org_id).toBe(b.id);
      expect((await s.listSessions({ scope: b.id, limit: 10 })).sessions.map((x) => x.id)).toEqual([sb.id]);
      expect((await s.listSessions({ scope: 1, limit: 10 })).sessions.map((x) => x.id)).toEqual([sa.id]);
      // an agent never reaches a session of another organisation, even if it were assigned to it
      const out = await s.ingest(a1.id, [ev(sb.id, 1), ev(sa.id, 2)], policy());
      expect(out.rejected).toEqual([{ index: 1, reason: 'unknown_session' }]);
      expect(out.inserted.map((e) => e.session_id)).toEqual([sa.id]);
      // audit
      await s.appendAudit({ at: T0, org_id: 1, actor: 'admin', ip: '127.0.0.1', action: 'login', resource: 'user:1', detail: null });
      await s.appendAudit({ at: T0 + 1, org_id: b.id, actor: 'ops-b', ip: '::1', action: 'session.create', resource: `session:${sb.id}`, detail: 'x' });
      await s.appendAudit({ at: T0 + 2, org_id: null, actor: 'nobody', ip: '::1', action: 'login.failed', resource: null, detail: null });
      const all = await s.listAudit('all', 0, 2);
      expect(all.more).toBe(true);
      expect(all.entries.map((e) => e.actor)).toEqual(['admin', 'ops-b']);
      expect((await s.listAudit('all', all.entries[1].id, 10)).entries.map((e) => e.action)).toEqual(['login.failed']);
      const mine = await s.listAudit(b.id, 0, 10);
      expect(mine).toEqual({ entries: [{ id: all.entries[1].id, at: T0 + 1, org_id: b.id, actor: 'ops-b', ip: '::1', action: 'session.create', resource: `session:${sb.id}`, detail: 'x' }], more: false });
    }));

    it('users: role and organisation changed in place (a move drops the API tokens); single sign-on users by subject', withStorage(async (s) => {
      const b = (await s.createOrg('bravo', T0))!;
      const u = (await s.createUser('ops', { password_hash: 'q', org_id: 1, role: 'operator' }))!;
      await s.createApiToken({ org_id: 1, user_id: u.id, name: 'ci', role: 'viewer', token_hash: 'th', created_at: T0 });
      expect(await s.updateUser(u.id, { role: 'viewer' })).toMatchObject({ id: u.id, role: 'viewer', org_id: 1 });
      expect(await s.getApiTokenByHash('th')).not.toBeNull();
      expect(await s.updateUser(u.id, { org_id: 1, role: 'operator' })).toMatchObject({ role: 'operator', org_id: 1 });
      expect(await s.getApiTokenByHash('th')).not.toBeNull();
      expect(await s.updateUser(u.id, { org_id: b.id })).toMatchObject({ role: 'operator', org_id: b.id });
      expect(await s.getApiTokenByHash('th')).toBeNull();
      expect(await s.updateUser(9999, { role: 'viewer' })).toBeNull();
      const sso = (await s.createUser('alice', { password_hash: '!', org_id: b.id, role: 'viewer', oidc_subject: 'https://idp alice-sub' }))!;
      expect(sso.oidc_subject).toBe('https://idp alice-sub');
      expect(u.oidc_subject).toBeNull();
      expect((await s.getUserByOidcSubject('https://idp alice-sub'))?.id).toBe(sso.id);
      expect(await s.getUserByOidcSubject('https://idp other')).toBeNull();
      // the subject is unique: a second user with it is refused like a taken name
      expect(await s.createUser('alice2', { password_hash: '!', org_id: b.id, role: 'viewer', oidc_subject: 'https://idp alice-sub' })).toBeNull();
    }));

    it('single sign-on logins in flight: each state is taken once, expired ones are not given and are deleted', withStorage(async (s) => {
      const login = { state_hash: 's1', browser_hash: 'b1', nonce: 'n1', code_verifier: 'v1', redirect_uri: 'http://c/cb', expires_at: T0 + 600_000 };
      await s.putOidcLogin(login);
      await s.putOidcLogin({ ...login, state_hash: 's2', expires_at: T0 + 10 });
      await s.putOidcLogin({ ...login, state_hash: 's3', expires_at: T0 + 10 });
      expect(await s.takeOidcLogin('s1', T0)).toEqual(login);
      expect(await s.takeOidcLogin('s1', T0)).toBeNull();
      expect(await s.takeOidcLogin('s2', T0 + 10)).toBeNull();
      expect(await s.deleteExpiredOidcLogins(T0 + 10)).toBe(1);
      expect(await s.takeOidcLogin('s3', T0)).toBeNull();
    }));

    it('audit retention: entries older than the cut-off and all but the newest N go', withStorage(async (s) => {
      for (let i = 0; i < 10; i++) await s.appendAudit({ at: T0 + i * 1000, org_id: 1, actor: `a${i}`, ip: '::1', action: 'login', resource: null, detail: null });
      expect(await s.pruneAudit(T0 + 2000, 1000)).toBe(2);
      expect((await s.listAudit('all', 0, 100)).entries.map((e) => e.actor)).toEqual(['a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
      expect(await s.pruneAudit(0, 3)).toBe(5);
      expect((await s.listAudit('all', 0, 100)).entries.map((e) => e.actor)).toEqual(['a7', 'a8', 'a9']);
      expect(await s.pruneAudit(0, 3)).toBe(0);
    }));

    it('sessions: create, get, list with paging, states', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await s.createSession(newSessionRec([a.id], { created_at: T0 + (i < 3 ? 0 : i) }))).id);
      const one = await s.getSession(ids[0]);
      expect(one).toMatchObject({ status: 'running', agent_count: 1, event_count: 0, capped: false, shared: false });
      const p1 = await s.listSessions({ scope: 'all', limit: 2 });
      expect(p1.sessions.map((x) => x.id)).toEqual([ids[4], ids[3]]);
      expect(p1.more).toBe(true);
      const p2 = await s.listSessions({ scope: 1, limit: 2, before: ids[3] });
      expect(p2.sessions.map((x) => x.id)).toEqual([ids[2], ids[1]]);
      const p3 = await s.listSessions({ scope: 'all', limit: 2, before: ids[1] });
      expect(p3).toMatchObject({ more: false });
      expect(p3.sessions.map((x) => x.id)).toEqual([ids[0]]);
      expect(await s.listOverdueSessions(T0 + 59_999)).toEqual([]);
      expect((await s.listOverdueSessions(T0 + 60_000)).length).toBe(5);
      expect(await s.endSession(ids[0], 'stopped', T0 + 1)).toBe(true);
      expect(await s.endSession(ids[0], 'expired', T0 + 2)).toBe(false);
      expect(await s.getSession(ids[0])).toMatchObject({ status: 'stopped', stopped_at: T0 + 1 });
      expect((await s.listRunningSessions()).length).toBe(4);
      expect(await s.countSessionsByStatus()).toEqual({ running: 4, stopped: 1, expired: 0 });
      expect(await s.getSession('ffffffffffffffffffff')).toBeNull();
    }));

    it('ingest: stores a batch, assigns increasing ids, is idempotent on (session, agent, seq)', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const b = await agent(s, 'b');
      const sess = await s.createSession(newSessionRec([a.id, b.id]));
      const r1 = await s.ingest(a.id, [ev(sess.id, 0), ev(sess.id, 1), ev(sess.id, 2, { kind: 'log' })], policy());
      expect(r1.inserted.map((e) => e.seq)).toEqual([0, 1, 2]);
      expect(r1.inserted[1].id).toBeGreaterThan(r1.inserted[0].id);
      const r2 = await s.ingest(a.id, [ev(sess.id, 1), ev(sess.id, 3), ev(sess.id, 3)], policy());
      expect(r2).toMatchObject({ duplicates: 2, rejected: [] });
      expect(r2.inserted.map((e) => e.seq)).toEqual([3]);
      // another agent may use the same seq numbers
      expect((await s.ingest(b.id, [ev(sess.id, 0)], policy())).inserted.length).toBe(1);
      expect(await s.getSession(sess.id)).toMatchObject({ event_count: 5 });
      expect(await s.countEventsByKind(sess.id)).toMatchObject({ sip: 4, log: 1, rtp: 0 });
      const sa = await s.getSessionAgents(sess.id);
      expect(sa.map((x) => [x.name, x.state, x.events_stored])).toEqual([['a', 'capturing', 4], ['b', 'capturing', 1]]);
      const page = await s.listEvents(sess.id, 0, 3);
      expect(page.more).toBe(true);
      const rest = await s.listEvents(sess.id, page.events[2].id, 10);
      expect(rest.more).toBe(false);
      const ids = [...page.events, ...rest.events].map((e) => e.id);
      expect(ids.length).toBe(5);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      expect(new Set(ids).size).toBe(5);
      expect(await s.lastEventId(sess.id)).toBe(ids[4]);
      expect(await s.lastEventId((await s.createSession(newSessionRec([a.id]))).id)).toBe(0);
    }));

    it('ingest from two writers at once: a reader following next_after sees every event once, in id order', withStorage(async (s, another) => {
      const s2 = await another();
      try {
        const a = await agent(s, 'a');
        const b = await agent(s, 'b');
        const x = await s.createSession(newSessionRec([a.id, b.id]));
        const BATCHES = 40;
        const PER = 25;
        const write = async (st: Storage, agentId: number) => {
          for (let i = 0; i < BATCHES; i++) {
            const r = await st.ingest(agentId, Array.from({ length: PER }, (_, k) => ev(x.id, i * PER + k)), policy({ max_events_per_session: 1_000_000 }));
            expect(r.inserted.length).toBe(PER);
          }
        };
        const seen: number[] = [];
        let writing = true;
        const read = async () => {
          let after = 0;
          while (true) {
            const done = !writing;
            const page = await s.listEvents(x.id, after, 37);
            for (const e of page.events) seen.push(e.id);
            if (page.events.length > 0) after = page.events[page.events.length - 1].id;
            if (done && !page.more) break;
            if (!page.more) await new Promise((r) => setImmediate(r));
          }
        };
        const reader = read();
        await Promise.all([write(s, a.id), write(s2, b.id)]);
        writing = false;
        await reader;
        expect(seen.length).toBe(2 * BATCHES * PER);
        expect(new Set(seen).size).toBe(seen.length);
        expect([...seen].sort((p, q) => p - q)).toEqual(seen);
        expect(await s.getSession(x.id)).toMatchObject({ event_count: 2 * BATCHES * PER });
      } finally {
        await s2.close();
      }
    }));

    it('ingest: rejects unknown, unassigned and closed sessions per event', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const b = await agent(s, 'b');
      const mine = await s.createSession(newSessionRec([a.id]));
      const other = await s.createSession(newSessionRec([b.id]));
      const ended = await s.createSession(newSessionRec([a.id]));
      await s.endSession(ended.id, 'stopped', T0 + 1000);
      const r = await s.ingest(
        a.id,
        [ev(mine.id, 0), { ...ev('eeeeeeeeeeeeeeeeeeee', 1), index: 1 }, { ...ev(other.id, 2), index: 2 }, { ...ev(ended.id, 3), index: 3 }],
        policy({ now: T0 + 1000 + 30_000 }),
      );
      expect(r.inserted.length).toBe(2); // mine, and ended within the 30 s grace
      expect(r.rejected).toEqual([{ index: 1, reason: 'unknown_session' }, { index: 2, reason: 'not_assigned' }]);
      const late = await s.ingest(a.id, [ev(ended.id, 9)], policy({ now: T0 + 1000 + 30_001 }));
      expect(late.rejected).toEqual([{ index: 9, reason: 'session_closed' }]);
      // a running session past its expires_at (not yet swept) closes after the grace too
      const overdue = await s.ingest(a.id, [ev(mine.id, 10)], policy({ now: T0 + 60_000 + 30_001 }));
      expect(overdue.rejected).toEqual([{ index: 10, reason: 'session_closed' }]);
    }));

    it('ingest: caps events and bytes per session, visibly, never truncating silently', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const x = await s.createSession(newSessionRec([a.id]));
      const r = await s.ingest(a.id, [0, 1, 2, 3].map((i) => ev(x.id, i)), policy({ max_events_per_session: 3 }));
      expect(r.inserted.length).toBe(3);
      expect(r.rejected).toEqual([{ index: 3, reason: 'session_capped' }]);
      expect(r.newly_capped).toEqual([x.id]);
      expect(await s.getSession(x.id)).toMatchObject({ capped: true, capped_reason: 'max_events_per_session (3) reached', event_count: 3 });
      // retries of stored events are still duplicates, new ones stay rejected
      const again = await s.ingest(a.id, [ev(x.id, 2), ev(x.id, 4)], policy());
      expect(again).toMatchObject({ duplicates: 1, rejected: [{ index: 4, reason: 'session_capped' }] });
      const y = await s.createSession(newSessionRec([a.id]));
      const rb = await s.ingest(a.id, [0, 1, 2].map((i) => ev(y.id, i)), policy({ max_bytes_per_session: 250 }));
      expect(rb.inserted.length).toBe(2);
      expect((await s.getSession(y.id))?.capped_reason).toMatch(/max_bytes_per_session/);
    }));

    it('admitFrames: refusals, re-sent heads as duplicates, the byte cap shared with events, closed after the grace', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const b = await agent(s, 'b');
      const x = await s.createSession(newSessionRec([a.id]));
      expect((await s.admitFrames(a.id, 'f'.repeat(20), 0, [10], policy())).refused).toBe('unknown_session');
      expect((await s.admitFrames(b.id, x.id, 0, [10], policy())).refused).toBe('not_assigned');
      expect((await s.admitFrames(a.id, x.id, 0, [10], policy({ now: T0 + 60_000 + 30_001 }))).refused).toBe('session_closed');
      const p = policy({ max_bytes_per_session: 1000 });
      expect(await s.admitFrames(a.id, x.id, 100, [100, 100, 100], p)).toMatchObject({ refused: null, duplicates: 0, accepted: 3, capped: 0, newly_capped: false });
      // the same batch again, then one that starts inside it: only the new tail is taken
      expect(await s.admitFrames(a.id, x.id, 100, [100, 100, 100], p)).toMatchObject({ duplicates: 3, accepted: 0 });
      expect(await s.admitFrames(a.id, x.id, 102, [100, 100], p)).toMatchObject({ duplicates: 1, accepted: 1 });
      expect((await s.getSession(x.id))?.ingested_bytes).toBe(400);
      // an event's 100 bytes and the frames share the cap: 900 used, a 200-byte frame caps the session
      await s.ingest(a.id, [0, 1, 2, 3, 4].map((i) => ev(x.id, i)), p);
      const capped = await s.admitFrames(a.id, x.id, 104, [50, 200, 10], p);
      expect(capped).toMatchObject({ accepted: 1, capped: 2, newly_capped: true });
      expect(await s.getSession(x.id)).toMatchObject({ capped: true, ingested_bytes: 950, capped_reason: 'max_bytes_per_session (1000 bytes) reached' });
      expect(await s.admitFrames(a.id, x.id, 107, [1], p)).toMatchObject({ accepted: 0, capped: 1, newly_capped: false });
      // each agent has its own numbering
      const y = await s.createSession(newSessionRec([a.id, b.id]));
      expect(await s.admitFrames(a.id, y.id, 5, [1], p)).toMatchObject({ accepted: 1 });
      expect(await s.admitFrames(b.id, y.id, 5, [1], p)).toMatchObject({ accepted: 1, duplicates: 0 });
    }));

    it('ingest: duplicates never count against a cap, below it, at it and across it; a given body is what is listed', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const x = await s.createSession(newSessionRec([a.id]));
      // far below the cap: re-sent and in-batch duplicates are counted, each seq stored once
      const r1 = await s.ingest(a.id, [ev(x.id, 0), ev(x.id, 1), ev(x.id, 1)], policy({ max_events_per_session: 5 }));
      expect(r1).toMatchObject({ duplicates: 1, rejected: [], newly_capped: [] });
      // exactly reaching the cap with a batch whose duplicates would pass it if they counted
      const r2 = await s.ingest(a.id, [0, 1, 2, 3, 4, 4].map((i) => ev(x.id, i)), policy({ max_events_per_session: 5 }));
      expect(r2.inserted.map((e) => e.seq)).toEqual([2, 3, 4]);
      expect(r2).toMatchObject({ duplicates: 3, rejected: [], newly_capped: [] });
      expect(await s.getSession(x.id)).toMatchObject({ capped: false, event_count: 5 });
      // across the cap: duplicates first, then the cap
      const r3 = await s.ingest(a.id, [3, 5, 4, 6].map((i) => ev(x.id, i)), policy({ max_events_per_session: 5 }));
      expect(r3).toMatchObject({ duplicates: 2, rejected: [{ index: 5, reason: 'session_capped' }, { index: 6, reason: 'session_capped' }], newly_capped: [x.id] });
      expect(await s.getSession(x.id)).toMatchObject({ capped: true, event_count: 5, ingested_events: 5 });
      // the body a caller made once is the event that is listed
      const y = await s.createSession(newSessionRec([a.id]));
      const item = ev(y.id, 7, { payload: 'OPTIONS sip:x SIP/2.0\r\n\r\n' });
      const { frame: _f, ...rest } = item.event;
      await s.ingest(a.id, [{ ...item, body: JSON.stringify(rest) }], policy());
      const listed = (await s.listEvents(y.id, 0, 10)).events;
      expect(listed.map((e) => ({ ...e, id: 0 }))).toEqual([{ ...item.event, id: 0, agent_id: a.id }]);
    }));

    it('ingest keeps frames for the PCAP export; lists and retention handle them', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const x = await s.createSession(newSessionRec([a.id]));
      await s.ingest(a.id, [ev(x.id, 0, { frame: { link_type: 1, data: Buffer.from([1, 2, 3]).toString('base64'), orig_len: 3 } })], policy());
      expect(await s.hasFrames(x.id)).toBe(true);
      const [stored] = (await s.listEvents(x.id, 0, 10)).events;
      expect(stored.frame).toEqual({ link_type: 1, data: 'AQID', orig_len: 3 });
      await s.endSession(x.id, 'stopped', T0 + 2000);
      expect(await s.deleteFramesEndedBefore(T0 + 2000, T0 + 5000)).toEqual([]);
      expect(await s.deleteFramesEndedBefore(T0 + 2001, T0 + 5000)).toEqual([x.id]);
      expect(await s.hasFrames(x.id)).toBe(false);
      expect((await s.getSession(x.id))?.pcap_deleted_at).toBe(T0 + 5000);
      expect(await s.deleteHistoryEndedBefore(T0 + 2001, T0 + 6000)).toEqual([x.id]);
      expect(await s.getSession(x.id)).toMatchObject({ event_count: 0, history_deleted_at: T0 + 6000 });
      expect((await s.listEvents(x.id, 0, 10)).events).toEqual([]);
      expect(await s.deleteHistoryEndedBefore(T0 + 9999, T0 + 7000)).toEqual([]);
    }));

    it('reportCounters updates per-agent counters and failure state of assigned sessions only', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const x = await s.createSession(newSessionRec([a.id]));
      await s.reportCounters(a.id, [{ session_id: x.id, packets_seen: 10, packets_matched: 4, events_uploaded: 3, dropped: { spool_full: 1 } }], T0);
      expect((await s.getSessionAgents(x.id))[0]).toMatchObject({ packets_seen: 10, packets_matched: 4, events_uploaded: 3, dropped: { spool_full: 1 }, state: 'pending' });
      await s.reportCounters(a.id, [{ session_id: x.id, packets_seen: 11, packets_matched: 4, events_uploaded: 3, dropped: {}, state: 'failed', reason: 'no such interface' }], T0);
      expect((await s.getSessionAgents(x.id))[0]).toMatchObject({ state: 'failed', reason: 'no such interface', packets_seen: 11 });
    }));

    it('share: put, rotate (the old hash stops working), look up by hash or session, delete; purge drops it', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const x = await s.createSession(newSessionRec([a.id]));
      expect(await s.putShare('ffffffffffffffffffff', 'h0', 's0', 1)).toBe(false);
      expect(await s.getShare(x.id)).toBeNull();
      expect(await s.putShare(x.id, 'h1', 's1', 1000)).toBe(true);
      expect(await s.getShareByTokenHash('h1')).toEqual({ session_id: x.id, token_hash: 'h1', created_at: 1000 });
      expect(await s.getShare(x.id)).toEqual({ token_sealed: 's1', created_at: 1000 });
      expect((await s.getSession(x.id))?.shared).toBe(true);
      expect(await s.putShare(x.id, 'h2', 's2', 2000)).toBe(true);
      expect(await s.getShareByTokenHash('h1')).toBeNull();
      expect((await s.getShareByTokenHash('h2'))?.session_id).toBe(x.id);
      expect(await s.getShare(x.id)).toEqual({ token_sealed: 's2', created_at: 2000 });
      expect(await s.deleteShare(x.id)).toBe(true);
      expect(await s.deleteShare(x.id)).toBe(false);
      expect(await s.getShareByTokenHash('h2')).toBeNull();
      expect(await s.getShare(x.id)).toBeNull();
      expect((await s.getSession(x.id))?.shared).toBe(false);
      await s.putShare(x.id, 'h3', 's3', 3000);
      await s.endSession(x.id, 'stopped', 3000);
      await s.purgeSession(x.id);
      expect(await s.getShareByTokenHash('h3')).toBeNull();
    }));

    it('sessions list: search by label, criteria or a Call-ID seen; filters by status, agent and share', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const b = await agent(s, 'b');
      const x = await s.createSession(newSessionRec([a.id], { label: 'Ticket 4711 busy', criteria: { from: '15554430191' } }));
      const y = await s.createSession(newSessionRec([a.id, b.id], { label: 'other 50%_x', criteria: { to: 'bob' } }));
      const z = await s.createSession(newSessionRec([b.id], { label: 'third', criteria: { to: 'carol' } }));
      await s.ingest(a.id, [ev(y.id, 1, { call_id: 'needle-call@h' })], policy());
      await s.endSession(z.id, 'expired', T0 + 1);
      await s.putShare(x.id, 'hx', 'sx', T0);
      const ids = async (f: Partial<Parameters<Storage['listSessions']>[0]>) =>
        (await s.listSessions({ scope: 'all', limit: 10, ...f })).sessions.map((r) => r.label).sort();
      expect(await ids({ q: 'TICKET 47' })).toEqual(['Ticket 4711 busy']); // label, any case
      expect(await ids({ q: '5554430' })).toEqual(['Ticket 4711 busy']); // criteria
      expect(await ids({ q: 'needle-call@h' })).toEqual(['other 50%_x']); // a Call-ID seen, exactly
      expect(await ids({ q: 'needle-call' })).toEqual([]);
      expect(await ids({ q: '50%_' })).toEqual(['other 50%_x']); // LIKE wildcards are literal
      expect(await ids({ q: '0%x' })).toEqual([]);
      expect(await ids({ statuses: ['expired'] })).toEqual(['third']);
      expect(await ids({ statuses: ['running', 'expired'] })).toHaveLength(3);
      expect(await ids({ agent_id: b.id })).toEqual(['other 50%_x', 'third']);
      expect(await ids({ shared: true })).toEqual(['Ticket 4711 busy']);
      expect(await ids({ shared: false, agent_id: a.id })).toEqual(['other 50%_x']);
      expect(await ids({ q: 'third', statuses: ['running'] })).toEqual([]);
      // paging with a filter
      const p1 = await s.listSessions({ scope: 'all', limit: 1, agent_id: b.id });
      expect(p1.more).toBe(true);
      const p2 = await s.listSessions({ scope: 'all', limit: 1, agent_id: b.id, before: p1.sessions[0].id });
      expect(p2.more).toBe(false);
      expect(new Set([p1.sessions[0].id, p2.sessions[0].id])).toEqual(new Set([y.id, z.id]));
    }));

    it('call list: folded at ingest, start-time order, paging, states, search, changes; events per call', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const b = await agent(s, 'b');
      const x = await s.createSession(newSessionRec([a.id, b.id]));
      const msg = (seq: number, call: string, sip: Partial<IngestEvent['sip']> & object, payload: string, over: Partial<IngestEvent> = {}) =>
        ev(x.id, seq, { call_id: call, ts: 1_000_000 * seq, sip: { has_sdp: false, ...sip }, payload, ...over });
      const inv = (seq: number, call: string, extra = '') =>
        msg(seq, call, { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: 'alice', to_user: `bob-${call}` },
          `INVITE sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK${call}\r\nUser-Agent: Phone-${call}/1.0\r\n${extra}\r\n`);
      const resp = (seq: number, call: string, status: number, reason: string, method = 'INVITE', cseq = 1) =>
        msg(seq, call, { status, reason, cseq_seq: cseq, cseq_method: method }, `SIP/2.0 ${status} ${reason}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK${call}${cseq}\r\nTo: <sip:b@h>;tag=t1\r\n\r\n`);
      // call "ok" answered, then (next batch) BYE; call "busy" 486; media of "ok" with a MOS
      await s.ingest(a.id, [inv(1, 'ok'), resp(2, 'ok', 180, 'Ringing'), inv(3, 'busy', 'X-Note: hello-needle\r\n'), resp(4, 'ok', 200, 'OK')], policy());
      let all = (await s.listDialogs(x.id, { after: 0, limit: 10 }))!;
      expect(all.dialogs.map((r) => [r.dialog.call_id, r.dialog.state])).toEqual([['ok', 'answered'], ['busy', 'calling']]);
      const v1 = Math.max(...all.dialogs.map((r) => r.version));
      await s.ingest(
        a.id,
        [
          resp(5, 'busy', 486, 'Busy Here'),
          msg(6, 'ok', { method: 'BYE', cseq_seq: 2, cseq_method: 'BYE' }, 'BYE sip:a@h SIP/2.0\r\n\r\n'),
          ev(x.id, 7, { kind: 'rtp', call_id: 'ok', ts: 5_500_000, sip: null, payload: null, stats: { ssrc: 1, packets: 10, expected: 10, lost: 0, jitter_ms: 1, max_delta_ms: 20, mos: 3.1, codec: 'PCMU', final: true } }),
          ev(x.id, 8, { kind: 'log', call_id: null, sip: null, payload: 'no call' }),
        ],
        policy(),
      );
      // the same INVITE seen by agent b: one more message, not a retransmission; a's copy again is one
      await s.ingest(b.id, [inv(1, 'ok')], policy());
      await s.ingest(a.id, [{ ...inv(9, 'ok'), index: 9 }], policy());
      all = (await s.listDialogs(x.id, { after: 0, limit: 10 }))!;
      expect(all.more).toBe(false);
      const [ok, busy] = all.dialogs.map((r) => r.dialog);
      expect(ok).toMatchObject({ call_id: 'ok', method: 'INVITE', state: 'completed', from: 'alice', to: 'bob-ok', final_status: { code: 200, reason: 'OK' } });
      expect(ok).toMatchObject({ started_at: 1_000_000, answered_at: 4_000_000, ended_at: 6_000_000, messages: 6, retransmissions: 1, agents: [a.id, b.id], has_rtp: true, mos: 3.1 });
      expect(busy).toMatchObject({ state: 'failed', final_status: { code: 486, reason: 'Busy Here' }, has_rtp: false, mos: null, agents: [a.id] });
      // paging by cursor
      const p1 = (await s.listDialogs(x.id, { after: 0, limit: 1 }))!;
      expect(p1.more).toBe(true);
      const p2 = (await s.listDialogs(x.id, { after: p1.dialogs[0].id, limit: 1 }))!;
      expect([p1.dialogs[0].dialog.call_id, p2.dialogs[0].dialog.call_id, p2.more]).toEqual(['ok', 'busy', false]);
      expect(await s.listDialogs(x.id, { after: 987654, limit: 1 })).toBeNull();
      // filters
      const ids = async (q: Partial<Parameters<Storage['listDialogs']>[1]>) =>
        (await s.listDialogs(x.id, { after: 0, limit: 10, ...q }))!.dialogs.map((r) => r.dialog.call_id);
      expect(await ids({ states: ['failed', 'cancelled'] })).toEqual(['busy']);
      expect(await ids({ q: 'BOB-BUSY' })).toEqual(['busy']); // a number, any case
      expect(await ids({ q: 'phone-ok/1' })).toEqual(['ok']); // a user agent
      expect(await ids({ q: 'hello-needle' })).toEqual(['busy']); // message text only
      expect(await ids({ q: 'busy here' })).toEqual(['busy']); // final reason
      expect(await ids({ q: '100%' })).toEqual([]); // LIKE wildcards are literal
      expect(await ids({ q: 'nothing-like-this' })).toEqual([]);
      expect(await ids({ changed_after: v1 })).toEqual(['ok', 'busy']);
      const vmax = Math.max(...all.dialogs.map((r) => r.version));
      expect(await ids({ changed_after: vmax })).toEqual([]);
      // another session's calls are not listed
      const y = await s.createSession(newSessionRec([a.id]));
      expect((await s.listDialogs(y.id, { after: 0, limit: 10 }))!.dialogs).toEqual([]);
      // events of one call, paged
      const evs = await s.listEvents(x.id, 0, 2, { call_ids: ['ok'] });
      expect(evs.more).toBe(true);
      expect(evs.events.every((e) => e.call_id === 'ok')).toBe(true);
      const rest = await s.listEvents(x.id, evs.events[1].id, 100, { call_ids: ['ok'] });
      expect(rest.events.map((e) => e.call_id)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
      expect((await s.listEvents(x.id, 0, 100, { call_ids: ['ok', 'busy'] })).events.length).toBe(9);
      expect((await s.listEvents(x.id, 0, 100, { call_ids: [] })).events).toEqual([]);
      // retention and purge drop the list with the events
      await s.endSession(x.id, 'stopped', T0 + 1);
      expect(await s.deleteHistoryEndedBefore(T0 + 2, T0 + 3)).toContain(x.id);
      expect((await s.listDialogs(x.id, { after: 0, limit: 10 }))!.dialogs).toEqual([]);
      await s.ingest(a.id, [{ ...inv(20, 'other'), event: { ...inv(20, 'other').event, session_id: y.id } }], policy());
      expect((await s.listDialogs(y.id, { after: 0, limit: 10 }))!.dialogs.length).toBe(1);
      await s.endSession(y.id, 'stopped', T0 + 1);
      expect(await s.purgeSession(y.id)).toBe(true);
      expect((await s.listDialogs(y.id, { after: 0, limit: 10 }))!.dialogs).toEqual([]);
    }));

    it('call list: B2BUA legs the agents linked are one row under the first leg, in any order of arrival', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const b = await agent(s, 'b');
      const x = await s.createSession(newSessionRec([a.id, b.id]));
      const msg = (seq: number, call: string, sip: Partial<IngestEvent['sip']> & object, payload: string, over: Partial<IngestEvent> = {}) =>
        ev(x.id, seq, { call_id: call, ts: 1_000_000 * seq, sip: { has_sdp: false, ...sip }, payload, ...over });
      const inv = (seq: number, call: string, to: string, over: Partial<IngestEvent> = {}) =>
        msg(seq, call, { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: 'alice', to_user: to },
          `INVITE sip:${to}@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK${call}\r\nUser-Agent: UA-${call}\r\n\r\n`, over);
      const resp = (seq: number, call: string, status: number, reason: string, over: Partial<IngestEvent> = {}) =>
        msg(seq, call, { status, reason, cseq_seq: 1, cseq_method: 'INVITE' }, `SIP/2.0 ${status} ${reason}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK${call}\r\nTo: <sip:b@h>;tag=t1\r\n\r\n`, over);
      const rows = async (q: Partial<Parameters<Storage['listDialogs']>[1]> = {}) =>
        (await s.listDialogs(x.id, { after: 0, limit: 10, ...q }))!.dialogs.map((r) => presentDialog(r.id, r.version, r.dialog));
      const link = (to: string, inferred = false): Partial<IngestEvent> => ({ linked_call_ids: [to], ...(inferred ? { linked_inferred: true } : {}) });

      // the A leg (agent a), then the B leg the B2BUA opened, linked by X-CID (agent b, another batch)
      await s.ingest(a.id, [inv(1, 'a-leg', '2000'), resp(2, 'a-leg', 100, 'Trying'), inv(30, 'lone', '3000')], policy());
      await s.ingest(b.id, [inv(3, 'b-leg', '2000', link('a-leg')), resp(4, 'b-leg', 180, 'Ringing', link('a-leg')), resp(5, 'b-leg', 200, 'OK', link('a-leg'))], policy());
      let list = await rows();
      expect(list.map((r) => [r.call_id, r.legs, r.legs_inferred])).toEqual([['a-leg', ['a-leg', 'b-leg'], false], ['lone', ['lone'], false]]);
      // the caller's leg decides the call's state: its 200 has not come yet
      expect(list[0]).toMatchObject({ state: 'calling', from: 'alice', to: '2000', messages: 5, agents: [a.id, b.id] });
      const v1 = list[0].version;
      await s.ingest(a.id, [resp(6, 'a-leg', 200, 'OK'), msg(7, 'a-leg', { method: 'ACK', cseq_seq: 1, cseq_method: 'ACK' }, 'ACK sip:2000@h SIP/2.0\r\n\r\n')], policy());
      list = await rows();
      expect(list[0]).toMatchObject({ call_id: 'a-leg', state: 'answered', final_status: { code: 200, reason: 'OK' }, messages: 7, started_at: new Date(1000).toISOString() });
      // filters see the whole call: the B leg's text, the B leg's Call-ID, a change of the B leg alone
      expect((await rows({ q: 'UA-b-leg' })).map((r) => r.call_id)).toEqual(['a-leg']);
      expect((await rows({ q: 'b-leg' })).map((r) => r.call_id)).toEqual(['a-leg']);
      expect((await rows({ q: 'branch=z9hG4bKb-leg' })).map((r) => r.call_id)).toEqual(['a-leg']);
      expect((await rows({ states: ['answered'] })).map((r) => r.call_id)).toEqual(['a-leg']);
      const v2 = Math.max(...(await rows()).map((r) => r.version));
      expect(v2).toBeGreaterThan(v1);
      await s.ingest(b.id, [msg(8, 'b-leg', { method: 'BYE', cseq_seq: 2, cseq_method: 'BYE' }, 'BYE sip:a@h SIP/2.0\r\n\r\n', link('a-leg'))], policy());
      expect((await rows({ changed_after: v2 })).map((r) => [r.call_id, r.messages])).toEqual([['a-leg', 8]]);
      // the row's legs give the ladder every leg's events
      const evs = await s.listEvents(x.id, 0, 100, { call_ids: list[0].legs });
      expect(evs.events.filter((e) => e.call_id === 'b-leg')).toHaveLength(4);

      // a B leg seen first (its agent was quicker), linked by inference to an A leg not yet stored: one
      // row at once, labelled inferred; when the earlier A leg arrives, the row is the A leg's
      await s.ingest(b.id, [inv(41, 'y-b', '4000', link('y-a', true)), resp(42, 'y-b', 486, 'Busy Here', link('y-a', true))], policy());
      list = await rows();
      expect(list.map((r) => [r.call_id, r.legs, r.legs_inferred, r.state])).toEqual([
        ['a-leg', ['a-leg', 'b-leg'], false, 'answered'],
        ['lone', ['lone'], false, 'calling'],
        ['y-b', ['y-b', 'y-a'], true, 'failed'],
      ]);
      await s.ingest(a.id, [inv(40, 'y-a', '4000'), resp(43, 'y-a', 486, 'Busy Here')], policy());
      list = await rows();
      expect(list.map((r) => [r.call_id, r.legs, r.legs_inferred, r.state, r.messages])).toEqual([
        ['a-leg', ['a-leg', 'b-leg'], false, 'answered', 8],
        ['lone', ['lone'], false, 'calling', 1],
        ['y-a', ['y-a', 'y-b'], true, 'failed', 4],
      ]);
      // paging counts calls, not legs
      const p1 = (await s.listDialogs(x.id, { after: 0, limit: 2 }))!;
      expect(p1.more).toBe(true);
      const p2 = (await s.listDialogs(x.id, { after: p1.dialogs[1].id, limit: 2 }))!;
      expect([p2.dialogs.map((r) => r.dialog.call_id), p2.more]).toEqual([['y-a'], false]);
    }));

    it('strings with NUL characters (hostile input) are stored and found, never an error', withStorage(async (s) => {
      await s.createUser('ad\0min', { password_hash: 'p', org_id: 1, role: 'viewer' });
      expect(await s.getUserByName('ad\0min')).not.toBeNull();
      const a = await agent(s, 'edge\0x');
      expect((await s.getAgentByName(1, 'edge\0x'))?.id).toBe(a.id);
      const x = await s.createSession(newSessionRec([a.id], { label: 'l\0', criteria: { text: 'a\0b' } }));
      expect((await s.getSession(x.id))?.criteria).toEqual({ text: 'a\0b' });
      const r = await s.ingest(a.id, [ev(x.id, 0, { call_id: 'c\0@x', payload: 'P\0' })], policy());
      expect(r.inserted).toHaveLength(1);
      const [stored] = (await s.listEvents(x.id, 0, 10)).events;
      expect(stored).toMatchObject({ call_id: 'c\0@x', payload: 'P\0' });
      await s.reportCounters(a.id, [{ session_id: x.id, packets_seen: 1, packets_matched: 1, events_uploaded: 1, dropped: { 'k\0': 1 }, state: 'failed', reason: 'r\0' }], T0);
      expect((await s.getSessionAgents(x.id))[0].dropped).toEqual({ 'k\0': 1 });
    }));

    it('purge removes the session, its events, agent states and share', withStorage(async (s) => {
      const a = await agent(s, 'a');
      const x = await s.createSession(newSessionRec([a.id]));
      await s.ingest(a.id, [ev(x.id, 0)], policy());
      expect(await s.purgeSession(x.id)).toBe(true);
      expect(await s.getSession(x.id)).toBeNull();
      expect((await s.listEvents(x.id, 0, 10)).events).toEqual([]);
      expect(await s.getSessionAgents(x.id)).toEqual([]);
      expect(await s.purgeSession(x.id)).toBe(false);
    }));
  });
}

/** the public methods of a Storage class that the contract does not exercise (must be none) */
export function untestedMethods(proto: object, helpers: string[] = []): string[] {
  return Object.getOwnPropertyNames(proto).filter((m) => m !== 'constructor' && !helpers.includes(m) && !CONTRACT_METHODS.includes(m));
}

describe('storage contract', () => {
  it('exercises every method of the Storage interface', () => {
    expect(untestedMethods(SqliteStorage.prototype, ['migrate', 'applyMigrations', 'backfillDialogs'])).toEqual([]);
    expect(untestedMethods(Object.getPrototypeOf(SqliteStorage.prototype) as object)).toEqual([]);
  });
});
