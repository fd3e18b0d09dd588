// Two centers on one PostgreSQL behave as one (issue 11 items 2-4), in process: state shared through
// the database only (login cookies, rate limit, agents' tokens, sessions, shares, packets), live
// events fanned out between centers over LISTEN/NOTIFY gap-free and in order, stop and resume across
// centers, one admin from two first starts at once, one reconciler at a time.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../../test/support/postgres.js';
import type { TestPostgres } from '../../../test/support/postgres.js';
import { createCenter } from '../app.js';
import { ADMIN_PASSWORD, bearer, op, openSse, sipEvent, tempDataDir, testServer } from '../testing.js';
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

  it('one reconciler at a time: the lock has one holder; it passes on when the holder goes', async () => {
    const database = await server.createDatabase();
    await (await createCenter({ database, dataDir: tempDataDir(), logLevel: 'silent', scryptLog2N: 10 })).close(); // schema
    const l1 = new PostgresLeadership(database);
    const l2 = new PostgresLeadership(database);
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
