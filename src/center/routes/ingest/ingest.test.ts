// POST /api/ingest in-process: idempotency, per-event rejection, size limits (413), the 30 s grace,
// caps, counters and agent liveness.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, op, sipEvent, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

let c: TestCenter;
let now: number;
afterEach(async () => {
  await c.close();
});
beforeEach(async () => {
  now = Date.now();
  c = await testCenter({ now: () => now, maxSessionEvents: 5 });
});

const get = (url: string) => c.app.inject({ method: 'GET', url, headers: op });

describe('POST /api/ingest', () => {
  it('POST /api/ingest is idempotent on (session_id, agent, seq): the same batch posted twice is stored once', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const batch = [0, 1, 2].map((i) => sipEvent(id, i));
    expect((await c.ingest(a.token, batch)).body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect((await c.ingest(a.token, batch)).body).toEqual({ accepted: 0, duplicates: 3, rejected: [] });
    const events = (await get(`/api/sessions/${id}/events`)).json().events;
    expect(events.map((e: { seq: number }) => e.seq)).toEqual([0, 1, 2]);
    expect((await get(`/api/sessions/${id}`)).json().event_count).toBe(3);
    const metrics = (await get('/metrics')).body;
    expect(metrics).toContain('tunaio_ingest_events_total{result="duplicate"} 3');
    expect(metrics).toContain('tunaio_ingest_events_total{result="accepted"} 3');
  });

  it('POST /api/ingest: the drops an agent reports with its counters show in /metrics, per agent and reason', async () => {
    const a = await c.addAgent('edge-a');
    const s1 = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const s2 = await c.newSession({ criteria: { from: '2' }, agent_ids: [1] });
    const counters = (sid: string, dropped: Record<string, number>) => ({ session_id: sid, packets_seen: 10, packets_matched: 5, events_uploaded: 5, dropped });
    await c.ingest(a.token, [], { counters: [counters(s1, { hep_socket_dropped: 7, queue_full: 1 })] });
    await c.ingest(a.token, [], { counters: [counters(s2, { hep_socket_dropped: 3 })] });
    // cumulative per session: a later report replaces the earlier one
    await c.ingest(a.token, [], { counters: [counters(s1, { hep_socket_dropped: 9, queue_full: 1 })] });
    const metrics = (await get('/metrics')).body;
    expect(metrics).toContain('tunaio_agent_dropped{agent="edge-a",reason="hep_socket_dropped"} 12');
    expect(metrics).toContain('tunaio_agent_dropped{agent="edge-a",reason="queue_full"} 1');
  });

  it('POST /api/ingest lists invalid events in rejected with a reason and stores the valid ones', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const r = await c.ingest(a.token, [
      sipEvent(id, 0),
      { ...sipEvent(id, 1), kind: 'http' },
      'not an object',
      sipEvent(id, 2, { src: { ip: '999.0.0.1', port: 5060 } }),
      sipEvent(id, 3),
      { ...sipEvent(id, 4), agent_id: 99 },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected.map((x) => x.index)).toEqual([1, 2, 3, 5]);
    expect(r.body.rejected[0].reason).toMatch(/^invalid: kind/);
    expect(r.body.rejected[2].reason).toMatch(/src\.ip/);
    expect(r.body.rejected[3].reason).toMatch(/agent_id/);
    expect((await get(`/api/sessions/${id}/events`)).json().events.map((e: { seq: number }) => e.seq)).toEqual([0, 3]);
  });

  it('POST /api/ingest rejects events for unknown, unassigned and long-closed sessions, per event', async () => {
    const a = await c.addAgent('a');
    await c.addAgent('b');
    const mine = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const theirs = await c.newSession({ criteria: { from: '1' }, agent_ids: [2] });
    const r = await c.ingest(a.token, [sipEvent(mine, 0), sipEvent('eeeeeeeeeeeeeeeeeeee', 0), sipEvent(theirs, 0)]);
    expect(r.body).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [
        { index: 1, reason: 'unknown_session' },
        { index: 2, reason: 'not_assigned' },
      ],
    });
    // stop: batches in flight are accepted for 30 s, then rejected
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${mine}`, headers: op });
    now += 30_000;
    expect((await c.ingest(a.token, [sipEvent(mine, 1)])).body.accepted).toBe(1);
    now += 1;
    expect((await c.ingest(a.token, [sipEvent(mine, 2)])).body.rejected).toEqual([{ index: 0, reason: 'session_closed' }]);
  });

  it('POST /api/ingest: a capped session shows capped + why and rejects further events with session_capped', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const r = await c.ingest(a.token, [0, 1, 2, 3, 4, 5, 6].map((i) => sipEvent(id, i)));
    expect(r.body.accepted).toBe(5);
    expect(r.body.rejected).toEqual([
      { index: 5, reason: 'session_capped' },
      { index: 6, reason: 'session_capped' },
    ]);
    const d = (await get(`/api/sessions/${id}`)).json();
    expect(d).toMatchObject({ capped: true, capped_reason: 'max_events_per_session (5) reached', event_count: 5 });
  });

  it('POST /api/ingest: more than 1000 events → 413 payload_too_large, nothing stored', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const r = await c.ingest(a.token, Array.from({ length: 1001 }, (_, i) => sipEvent(id, i)));
    expect(r.status).toBe(413);
    expect(r.body.error?.code).toBe('payload_too_large');
    expect((await get(`/api/sessions/${id}`)).json().event_count).toBe(0);
  });

  it('POST /api/ingest: a body over 8 MB → 413 in our error format', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const big = 'x'.repeat(60 * 1024);
    const events = Array.from({ length: 140 }, (_, i) => sipEvent(id, i, { payload: big }));
    const r = await c.ingest(a.token, events);
    expect(r.status).toBe(413);
    expect(r.body.error).toEqual({ code: 'payload_too_large', message: expect.any(String) });
    // a batch just under the limit is accepted (the route's limit is 8 MB, not the 1 MB default)
    const ok = await c.ingest(a.token, events.slice(0, 5));
    expect(ok.status).toBe(200);
    expect(ok.body.accepted).toBe(5);
  });

  it('POST /api/ingest: a body that is not {events:[…]} → 400 validation_failed', async () => {
    const a = await c.addAgent('a');
    for (const payload of [{}, { events: 'x' }, { events: [], extra: 1 }]) {
      const r = await c.app.inject({ method: 'POST', url: '/api/ingest', headers: bearer(a.token), payload });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.code).toBe('validation_failed');
    }
  });

  it('POST /api/ingest marks the agent online with its version and sources; a disabled agent gets 403', async () => {
    const a = await c.addAgent('a');
    const list = async () => (await get('/api/agents')).json().agents[0];
    expect(await list()).toMatchObject({ status: 'offline', last_seen: null });
    const r = await c.ingest(a.token, [], { agent: { version: '0.1.0', sources: [{ type: 'hep', detail: 'udp:0.0.0.0:9060' }] } });
    expect(r.body).toEqual({ accepted: 0, duplicates: 0, rejected: [] });
    expect(await list()).toMatchObject({ status: 'online', version: '0.1.0', sources: [{ type: 'hep', detail: 'udp:0.0.0.0:9060' }] });
    now += 61_000;
    expect((await list()).status).toBe('offline');
    await c.app.inject({ method: 'POST', url: '/api/agents', headers: op, payload: { name: 'a', url: 'http://127.0.0.1:9070', enabled: false } });
    const denied = await c.ingest(a.token, []);
    expect(denied.status).toBe(403);
    expect(denied.body.error?.message).toContain('disabled');
  });

  it('POST /api/ingest is parsed with plain JSON.parse, yet "__proto__" and "constructor" keys pollute nothing: they are refused or rejected, never merged', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const post = (payload: string) =>
      c.app.inject({ method: 'POST', url: '/api/ingest', headers: { ...bearer(a.token), 'content-type': 'application/json' }, payload });
    const good = JSON.stringify(sipEvent(id, 1, { frame: { link_type: 1, data: 'AAAA', orig_len: 3 } }));
    // at the top of the body: an unknown field → 400, as for any unknown field
    for (const key of ['__proto__', 'constructor']) {
      const r = await post(`{"events":[${good}],"${key}":{"polluted":1,"prototype":{"polluted":1}}}`);
      expect(r.statusCode).toBe(400);
    }
    // inside an event or a nested object: that event is rejected as invalid, the others are stored
    const bad = [
      `{"__proto__":{"polluted":1},${good.slice(1)}`,
      `${good.slice(0, -1)},"constructor":{"prototype":{"polluted":1}}}`,
      good.replace('"sip":{', '"sip":{"__proto__":{"polluted":1},'),
      good.replace('"frame":{', '"frame":{"__proto__":{"polluted":1},'),
    ];
    const r = await post(`{"events":[${good},${bad.join(',')}]}`);
    expect(r.statusCode).toBe(200);
    expect(r.json().accepted).toBe(1);
    expect(r.json().rejected.map((x: { index: number; reason: string }) => [x.index, x.reason.split(':')[0]])).toEqual([
      [1, 'invalid'],
      [2, 'invalid'],
      [3, 'invalid'],
      [4, 'invalid'],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const events = (await get(`/api/sessions/${id}/events`)).json().events as Record<string, unknown>[];
    expect(events).toHaveLength(1);
    expect(Object.getPrototypeOf(events[0])).toBe(Object.prototype);
    expect(events[0]).not.toHaveProperty('polluted');
    // malformed JSON is a 400, as from the safe parser
    expect((await post('{"events":[')).statusCode).toBe(400);
  });
});
