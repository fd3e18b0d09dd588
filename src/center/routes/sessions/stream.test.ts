// GET /api/sessions/{id}/stream on a real listening server: history then live, resume with
// Last-Event-ID and ?after=, heartbeat, final status on stop and expiry, and joining mid-session
// with after=0 while ingest runs concurrently — no gap, no duplicate.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../storage/sqlite.js';
import { bearer, op, openSse, sipEvent, tempDataDir, testServer } from '../../testing.js';
import type { SseClient, TestCenter } from '../../testing.js';

let c: TestCenter & { url: string };
afterEach(async () => {
  await c.close();
});

const ids = (s: SseClient) => s.messages.filter((m) => m.event !== 'status').map((m) => Number(m.id));
const statusOf = (s: SseClient) => s.messages.find((m) => m.event === 'status');

async function setup(over = {}) {
  c = await testServer(over);
  const a = await c.addAgent('a');
  const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
  return { a, id };
}

const postBatch = async (token: string, events: unknown[]) => {
  const r = await fetch(`${c.url}/api/ingest`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  expect(r.status).toBe(200);
  return (await r.json()) as { accepted: number };
};

describe('GET /api/sessions/{id}/stream', () => {
  it('GET /api/sessions/{id}/stream sends history, then live events, then a final status event and closes on stop', async () => {
    const { a, id } = await setup();
    await postBatch(a.token, [sipEvent(id, 0), sipEvent(id, 1, { kind: 'log', sip: null, payload: 'a log line' })]);
    const s = await openSse(`${c.url}/api/sessions/${id}/stream`, op);
    expect(s.status).toBe(200);
    await s.waitFor((x) => x.messages.length === 2);
    expect(s.messages.map((m) => m.event)).toEqual(['sip', 'log']);
    const first = JSON.parse(s.messages[0].data);
    expect(first).toMatchObject({ id: Number(s.messages[0].id), session_id: id, seq: 0, kind: 'sip', agent_id: 1 });
    expect(first).not.toHaveProperty('frame');
    await postBatch(a.token, [sipEvent(id, 2)]);
    await s.waitFor((x) => x.messages.length === 3);
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op });
    await s.ended;
    const st = statusOf(s);
    expect(st?.id).toBeUndefined();
    expect(JSON.parse(st?.data ?? '{}')).toMatchObject({ session_id: id, status: 'stopped' });
    expect(s.messages[s.messages.length - 1].event).toBe('status');
    expect(ids(s)).toEqual([...ids(s)].sort((x, y) => x - y));
  });

  it('GET /api/sessions/{id}/stream resumes after Last-Event-ID and after ?after= (the header wins)', async () => {
    const { a, id } = await setup();
    await postBatch(a.token, [0, 1, 2, 3, 4].map((i) => sipEvent(id, i)));
    const all = (await c.app.inject({ url: `/api/sessions/${id}/events`, headers: op })).json().events.map((e: { id: number }) => e.id);
    const byHeader = await openSse(`${c.url}/api/sessions/${id}/stream?after=${all[0]}`, { ...op, 'last-event-id': String(all[2]) });
    const byQuery = await openSse(`${c.url}/api/sessions/${id}/stream?after=${all[0]}`, op);
    await byHeader.waitFor((x) => x.messages.length === 2);
    await byQuery.waitFor((x) => x.messages.length === 4);
    expect(ids(byHeader)).toEqual(all.slice(3));
    expect(ids(byQuery)).toEqual(all.slice(1));
    byHeader.close();
    byQuery.close();
  });

  it('GET /api/sessions/{id}/stream sends a comment heartbeat at the configured period', async () => {
    const { id } = await setup({ heartbeatSeconds: 0.05 });
    const s = await openSse(`${c.url}/api/sessions/${id}/stream`, op);
    await s.waitFor((x) => x.comments.filter((k) => k === 'heartbeat').length >= 2);
    s.close();
  });

  it('GET /api/sessions/{id}/stream ends with status expired when the session expires', async () => {
    let now = Date.now();
    c = await testServer({ now: () => now });
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], duration_seconds: 10 });
    const s = await openSse(`${c.url}/api/sessions/${id}/stream`, op);
    await s.waitFor(() => c.ctx.hub.clients() === 1);
    now += 10_000;
    await c.ctx.lifecycle.sweep();
    await s.ended;
    expect(JSON.parse(statusOf(s)?.data ?? '{}')).toMatchObject({ status: 'expired' });
  });

  it('GET /api/sessions/{id}/stream: clients joining mid-session with after=0 get everything once, in order, under concurrent ingest', async () => {
    // History reads take a few ms, as over a network database, so batches land while a client
    // is still reading history: exactly the window the subscribe-first design must cover.
    const dataDir = tempDataDir();
    const storage = new SqliteStorage(path.join(dataDir, 'tunaio.db'));
    const listEvents = storage.listEvents.bind(storage);
    storage.listEvents = async (sid, after, limit) => {
      const page = await listEvents(sid, after, limit);
      await new Promise((r) => setTimeout(r, 15));
      return page;
    };
    const { a, id } = await setup({ dataDir, storage });
    const BATCHES = 40;
    const PER = 25;
    const clients: SseClient[] = [];
    let seq = 0;
    // ingest runs concurrently with the joins: a few batches in flight at any time
    const ingest = (async () => {
      for (let b = 0; b < BATCHES; b++) {
        const batch = Array.from({ length: PER }, () => sipEvent(id, seq++));
        const inflight = postBatch(a.token, batch);
        if (b % 8 === 0) clients.push(await openSse(`${c.url}/api/sessions/${id}/stream?after=0`, op));
        if (b % 2 === 0) await inflight;
        else void inflight;
      }
    })();
    // another agent-less joiner in the middle
    await new Promise((r) => setTimeout(r, 20));
    clients.push(await openSse(`${c.url}/api/sessions/${id}/stream`, op));
    await ingest;
    // wait until every posted event is stored
    const total = BATCHES * PER;
    for (let i = 0; i < 500; i++) {
      if ((await c.app.inject({ url: `/api/sessions/${id}`, headers: op })).json().event_count === total) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const stored: number[] = [];
    for (let after = 0, guard = 0; guard < 10; guard++) {
      const p = (await c.app.inject({ url: `/api/sessions/${id}/events?after=${after}&limit=1000`, headers: op })).json();
      stored.push(...p.events.map((e: { id: number }) => e.id));
      after = p.next_after;
      if (!p.more) break;
    }
    expect(stored.length).toBe(total);
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op });
    expect(clients.length).toBeGreaterThanOrEqual(5);
    for (const s of clients) {
      await s.ended;
      expect(ids(s)).toEqual(stored);
      expect(s.messages[s.messages.length - 1].event).toBe('status');
    }
  });

  it('GET /api/sessions/{id}/stream: unknown session → 404 JSON; bad Last-Event-ID or query → 400', async () => {
    const { id } = await setup();
    const r = await c.app.inject({ url: '/api/sessions/ffffffffffffffffffff/stream', headers: op });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('session_not_found');
    expect((await c.app.inject({ url: `/api/sessions/${id}/stream`, headers: { ...op, 'last-event-id': 'abc' } })).statusCode).toBe(400);
    expect((await c.app.inject({ url: `/api/sessions/${id}/stream?after=-5`, headers: op })).statusCode).toBe(400);
  });
});
