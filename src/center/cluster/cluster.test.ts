// Two centers on one PostgreSQL behave as one (issue 11 items 2-4), in process: state shared through
// the database only (login cookies, rate limit, agents' tokens, sessions, shares, packets), live
// events fanned out between centers over LISTEN/NOTIFY gap-free and in order, stop and resume across
// centers, one admin from two first starts at once, one reconciler at a time, share revocation and
// call-follow commands across centers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../../test/support/postgres.js';
import type { TestPostgres } from '../../../test/support/postgres.js';
import { createCenter } from '../app.js';
import { ADMIN_PASSWORD, FakeAgent, bearer, op, openSse, sipEvent, tempDataDir, testServer } from '../testing.js';
import type { SseClient, TestCenter } from '../testing.js';
import { PostgresLeadership } from './leadership.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => server?.stop());

type Running = TestCenter & { url: string };
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function twoCenters(): Promise<[Running, Running]> {
  const database = await server.createDatabase();
  const a = await testServer({ database });
  open.push(a);
  const b = await testServer({ database });
  open.push(b);
  return [a, b];
}

const ids = (s: SseClient) => s.messages.filter((m) => m.event !== 'status').map((m) => Number(m.id));

async function post(c: Running, token: string, events: unknown[]): Promise<{ accepted: number; duplicates: number }> {
  const r = await fetch(`${c.url}/api/ingest`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
  expect(r.status).toBe(200);
  return (await r.json()) as { accepted: number; duplicates: number };
}

describe('two centers on one PostgreSQL', () => {
  it('a session made on A is listed, streamed live and stopped on B; SSE on both gets every event once, in order, then the status', async () => {
    const [a, b] = await twoCenters();
    const agent = await a.addAgent('edge');
    const id = await a.newSession({ criteria: { from: '1' }, agent_ids: [agent.id], capture_pcap: true });
    const listed = (await b.app.inject({ url: '/api/sessions', headers: op })).json();
    expect(listed.sessions.map((s: { id: string }) => s.id)).toEqual([id]);
    await post(a, agent.token, [sipEvent(id, 0), sipEvent(id, 1)]);
    const sseA = await openSse(`${a.url}/api/sessions/${id}/stream`, op);
    const sseB = await openSse(`${b.url}/api/sessions/${id}/stream`, op);
    await sseB.waitFor((s) => s.messages.length === 2);
    // uploads to both centers while both streams are open; a retried batch stores nothing twice
    const N = 30;
    for (let i = 1; i <= N; i++) {
      const target = i % 2 === 0 ? a : b;
      await post(target, agent.token, [sipEvent(id, i * 10), sipEvent(id, i * 10 + 1)]);
      if (i % 7 === 0) expect((await post(i % 2 === 0 ? b : a, agent.token, [sipEvent(id, i * 10)])).duplicates).toBe(1);
    }
    const total = 2 + 2 * N;
    await sseA.waitFor((s) => s.messages.length === total);
    await sseB.waitFor((s) => s.messages.length === total);
    const stored = (await b.app.inject({ url: `/api/sessions/${id}/events?limit=1000`, headers: op })).json().events.map((e: { id: number }) => e.id);
    expect(stored).toHaveLength(total);
    expect(ids(sseA)).toEqual(stored);
    expect(ids(sseB)).toEqual(stored);
    // stop on B: A's client gets the final status too
    expect((await b.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op })).statusCode).toBe(200);
    await Promise.all([sseA.ended, sseB.ended]);
    for (const s of [sseA, sseB]) {
      expect(s.messages[s.messages.length - 1].event).toBe('status');
      expect(JSON.parse(s.messages[s.messages.length - 1].data)).toMatchObject({ session_id: id, status: 'stopped' });
    }
    expect((await a.app.inject({ url: `/api/sessions/${id}`, headers: op })).json().status).toBe('stopped');
  });

  it('Last-Event-ID resumes on the other center; a joining client misses nothing while ingest runs', async () => {
    const [a, b] = await twoCenters();
    const agent = await a.addAgent('edge');
    const id = await a.newSession({ criteria: { from: '1' }, agent_ids: [agent.id] });
    await post(a, agent.token, [0, 1, 2, 3, 4].map((i) => sipEvent(id, i)));
    const all = (await a.app.inject({ url: `/api/sessions/${id}/events`, headers: op })).json().events.map((e: { id: number }) => e.id);
    const resumed = await openSse(`${b.url}/api/sessions/${id}/stream`, { ...op, 'last-event-id': String(all[1]) });
    await resumed.waitFor((s) => s.messages.length === 3);
    expect(ids(resumed)).toEqual(all.slice(2));
    // joiners on B while A ingests without pause
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing && i < 200; i++) await post(a, agent.token, [sipEvent(id, 100 + i * 2), sipEvent(id, 101 + i * 2)]);
    })();
    const joiners: SseClient[] = [];
    for (let k = 0; k < 4; k++) {
      joiners.push(await openSse(`${b.url}/api/sessions/${id}/stream`, op));
      await new Promise((r) => setTimeout(r, 30));
    }
    writing = false;
    await writer;
    const final = (await a.app.inject({ url: `/api/sessions/${id}/events?limit=1000`, headers: op })).json().events.map((e: { id: number }) => e.id);
    for (const j of [...joiners, resumed]) {
      await j.waitFor((s) => ids(s).length > 0 && ids(s)[ids(s).length - 1] === final[final.length - 1]);
      j.close();
    }
    for (const j of joiners) expect(ids(j)).toEqual(final);
    expect(ids(resumed)).toEqual(final.slice(2));
  });

  it('shares everything else: login cookie, login rate limit, agent tokens, share links, export.tar', async () => {
    const [a, b] = await twoCenters();
    const login = await a.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
    expect(login.statusCode, login.body).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    expect((await b.app.inject({ url: '/api/sessions', headers: { cookie } })).statusCode).toBe(200);
    // failures on A count on B
    for (let i = 0; i < 10; i++) {
      const r = await (i % 2 ? a : b).app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: 'wrong password!' } });
      expect(r.statusCode).toBe(401);
    }
    expect((await b.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: 'wrong password!' } })).statusCode).toBe(429);
    // an agent saved on A: B can call it with its token (sealed in the database)
    const agent = await a.addAgent('edge');
    expect(await b.ctx.agents['o'].vault.get('edge')).toBe(agent.token);
    // share on A, read on B; packets ingested via B exported from A and from the share on B
    const id = await a.newSession({ criteria: { from: '1' }, agent_ids: [agent.id], capture_pcap: true });
    await post(b, agent.token, [sipEvent(id, 0), sipEvent(id, 1)]);
    const share = await a.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op });
    expect(share.statusCode).toBe(201);
    const token = share.json().token as string;
    expect((await b.app.inject({ url: `/api/share/${token}/events` })).json().events).toHaveLength(2);
    const tarA = await a.app.inject({ url: `/api/sessions/${id}/export.tar`, headers: op });
    expect(tarA.statusCode).toBe(200);
    expect(tarA.rawPayload.includes(Buffer.from('edge.pcap'))).toBe(true);
    const tarB = await b.app.inject({ url: `/api/share/${token}/export.tar` });
    expect(tarB.statusCode).toBe(200);
    expect(tarB.rawPayload.equals(tarA.rawPayload) || tarB.rawPayload.length > 1024).toBe(true);
    expect((await b.app.inject({ method: 'DELETE', url: `/api/sessions/${id}/share`, headers: op })).statusCode).toBeLessThan(300);
    expect((await a.app.inject({ url: `/api/share/${token}/events` })).statusCode).toBe(404);
  });

  it('two first starts at once on an empty database: one schema, one admin, credentials printed by one center only', async () => {
    const database = await server.createDatabase();
    const [x, y] = await Promise.all(
      [0, 1].map(() => createCenter({ database, dataDir: tempDataDir(), logLevel: 'silent', scryptLog2N: 10 })),
    );
    open.push(x, y);
    expect([x.bootstrap, y.bootstrap].filter((b) => b !== null)).toHaveLength(1);
    const creds = (x.bootstrap ?? y.bootstrap)!;
    for (const c of [x, y]) {
      expect((await c.app.inject({ url: '/api/sessions', headers: bearer(creds.token!) })).statusCode).toBe(200);
    }
    const login = await y.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password: creds.password } });
    expect(login.statusCode).toBe(200);
  });

  it('a rotated or revoked share link closes the streams it opened on every center, not the operators\' streams', async () => {
    const [a, b] = await twoCenters();
    const agent = await a.addAgent('edge');
    const id = await a.newSession({ criteria: { from: '1' }, agent_ids: [agent.id] });
    const share = async (): Promise<string> => (await a.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op })).json().token as string;
    const t1 = await share();
    const operator = await openSse(`${b.url}/api/sessions/${id}/stream`, op);
    const onB = await openSse(`${b.url}/api/share/${t1}/stream`, {});
    const onA = await openSse(`${a.url}/api/share/${t1}/stream`, {});
    expect([onA.status, onB.status]).toEqual([200, 200]);
    // rotation on A: the old link's streams on A and on B close (without a status: the link is gone)
    const t2 = await share();
    await onB.waitFor((c) => c.isEnded());
    await onA.waitFor((c) => c.isEnded());
    expect([...onA.messages, ...onB.messages].filter((m) => m.event === 'status')).toEqual([]);
    const again = await openSse(`${b.url}/api/share/${t2}/stream`, {});
    expect(again.status).toBe(200);
    // revocation on A closes the new link's stream on B
    expect((await a.app.inject({ method: 'DELETE', url: `/api/sessions/${id}/share`, headers: op })).statusCode).toBe(204);
    await again.waitFor((c) => c.isEnded());
    expect((await fetch(`${b.url}/api/share/${t2}/events`)).status).toBe(404);
    // the operator's own stream of the session stays open and live
    await post(a, agent.token, [sipEvent(id, 0)]);
    await operator.waitFor((c) => c.messages.length === 1);
    expect(operator.isEnded()).toBe(false);
    operator.close();
  });

  it('call-follow commands go out from the reconciling center only, each Call-ID once, whichever center stored the batch', async () => {
    const [a, b] = await twoCenters();
    const x = new FakeAgent();
    const y = new FakeAgent();
    await x.start();
    await y.start();
    open.push({ close: () => x.stop() }, { close: () => y.stop() });
    const token = 'agent-token-follow-0123456789abcdef';
    const add = async (name: string, url: string): Promise<number> =>
      (await a.app.inject({ method: 'POST', url: '/api/agents', headers: op, payload: { name, url, token: `${token}-${name}` } })).json().id as number;
    const xid = await add('sbc', x.url);
    const yid = await add('logs', y.url);
    // A takes the reconciler lock first; B finds it held
    a.ctx.agents.start(a.url);
    await a.ctx.agents.reconcile();
    b.ctx.agents.start(b.url);
    await b.ctx.agents.reconcile();
    expect([a.ctx.agents.isLeading, b.ctx.agents.isLeading]).toEqual([true, false]);
    const id = await b.newSession({ criteria: { from: '1' }, agent_ids: [xid, yid] });
    const follows = (f: FakeAgent): string[] =>
      f.seen.filter((s) => s.method === 'POST' && s.url === `/v1/captures/${id}/follow`).flatMap((s) => (s.body as { call_ids: string[] }).call_ids);
    const ev = (seq: number, call_id: string) => sipEvent(id, seq, { call_id });
    // the same dialogs stored through both centers (an agent's uploads spread by the load balancer)
    await post(b, `${token}-sbc`, [ev(0, 'c1'), ev(1, 'c2')]);
    await post(a, `${token}-sbc`, [ev(2, 'c1'), ev(3, 'c3')]);
    await post(b, `${token}-sbc`, [ev(4, 'c3'), ev(5, 'c2')]);
    // many Call-IDs at once from B: forwarded in chunks that fit a notification
    const many = Array.from({ length: 300 }, (_, i) => `bulk-${i}-${'x'.repeat(60)}@example.com`);
    await post(b, `${token}-sbc`, many.map((cid, i) => ev(100 + i, cid)));
    // the follower's own events for a followed call: nothing goes back to the SBC agent
    await post(b, `${token}-logs`, [ev(0, 'c1')]);
    const want = ['c1', 'c2', 'c3', ...many].sort();
    const deadline = Date.now() + 15_000;
    while (follows(y).length < want.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500)); // nothing more arrives
    expect([...follows(y)].sort()).toEqual(want);
    expect(follows(x)).toEqual([]);
    // B called no agent at all: not the PUTs of the session it created, not the follows of its batches
    expect([b.ctx.agents.reachOf(xid), b.ctx.agents.reachOf(yid)]).toEqual([undefined, undefined]);
    expect(y.seen.some((s) => s.method === 'PUT' && s.url === `/v1/captures/${id}`)).toBe(true);
  });

  it('one reconciler at a time: the lock has one holder; it passes on when the holder goes', async () => {
    const database = await server.createDatabase();
    await (await createCenter({ database, dataDir: tempDataDir(), logLevel: 'silent', scryptLog2N: 10 })).close(); // schema
    const l1 = new PostgresLeadership(database, 0);
    const l2 = new PostgresLeadership(database, 0);
    try {
      expect(await l1.isLeader()).toBe(true);
      expect(await l2.isLeader()).toBe(false);
      expect(await l1.isLeader()).toBe(true);
      await l1.close();
      expect(await l2.isLeader()).toBe(true);
    } finally {
      await l1.close();
      await l2.close();
    }
  });
});
