// /api/sessions in-process (app.inject): create (seed examples, validation), list, get, events,
// stop, purge, expiry across a restart. Test names start with the route for the closing note's count.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SEED_SESSION_BODIES } from '../../../core/schema/index.js';
import { op, sipEvent, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

let c: TestCenter;
beforeEach(async () => {
  c = await testCenter();
});
afterEach(async () => {
  await c.close();
});

const post = (payload: unknown) => c.app.inject({ method: 'POST', url: '/api/sessions', headers: op, payload: payload as object });
const get = (url: string) => c.app.inject({ method: 'GET', url, headers: op });
const del = (url: string) => c.app.inject({ method: 'DELETE', url, headers: op });

describe('POST /api/sessions', () => {
  it('POST /api/sessions accepts the three seed bodies as written and answers exactly the seed fields', async () => {
    for (let i = 1; i <= 29; i++) await c.addAgent(`agent-${i}`);
    for (const body of SEED_SESSION_BODIES) {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const r = await post(body);
      expect(r.statusCode, r.body).toBe(201);
      expect(r.headers['content-type']).toMatch(/application\/json/);
      const j = r.json();
      expect(Object.keys(j).sort()).toEqual(['agents', 'expires_at', 'id', 'status', 'stream']);
      expect(j.id).toMatch(/^[0-9a-f]{20}$/);
      expect(j.status).toBe('running');
      expect(j.agents).toBe(body.agent_ids.length);
      expect(j.stream).toBe(`/api/sessions/${j.id}/stream`);
      expect(j.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const exp = Date.parse(j.expires_at);
      expect(exp - before).toBeGreaterThanOrEqual(body.duration_seconds * 1000);
      expect(exp - before).toBeLessThanOrEqual(body.duration_seconds * 1000 + 5000);
      const detail = (await get(`/api/sessions/${j.id}`)).json();
      expect(detail.agents.map((a: { id: number }) => a.id)).toEqual([...body.agent_ids]);
      expect(detail).toMatchObject({ label: body.label, capture_pcap: body.capture_pcap, capture_rtp: body.capture_rtp });
    }
  });

  it('POST /api/sessions: method alone → 400 criteria_required naming the accepted criteria', async () => {
    await c.addAgent('a');
    for (const criteria of [{ method: 'INVITE' }, {}, { from: '   ', method: 'INVITE' }]) {
      const r = await post({ criteria, agent_ids: [1] });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.code).toBe('criteria_required');
      for (const k of ['from', 'to', 'tenant', 'domain', 'provider_ip', 'text', 'call_id']) expect(r.json().error.message).toContain(k);
    }
    expect((await post({ agent_ids: [1] })).json().error.code).toBe('criteria_required');
  });

  it('POST /api/sessions: unknown and disabled agents → 400 naming them; nothing is created', async () => {
    await c.addAgent('a');
    await c.addAgent('off', { enabled: false });
    const unknown = await post({ criteria: { from: '1' }, agent_ids: [1, 41, 42] });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toEqual({ code: 'unknown_agents', message: expect.stringContaining('41, 42') });
    const disabled = await post({ criteria: { from: '1' }, agent_ids: [1, 2] });
    expect(disabled.statusCode).toBe(400);
    expect(disabled.json().error.code).toBe('disabled_agents');
    expect(disabled.json().error.message).toContain('2 (off)');
    expect((await get('/api/sessions')).json().sessions).toEqual([]);
  });

  it('POST /api/sessions: agent_tags selects enabled agents carrying any tag; no match → 400', async () => {
    await c.addAgent('edge-1', { tags: ['edge', 'fra'] });
    await c.addAgent('edge-2', { tags: ['EDGE'] });
    await c.addAgent('edge-off', { tags: ['edge'], enabled: false });
    await c.addAgent('pbx', { tags: ['pbx'] });
    const r = await post({ criteria: { domain: 'example.com' }, agent_tags: ['edge'] });
    expect(r.statusCode).toBe(201);
    expect(r.json().agents).toBe(2);
    const both = await post({ criteria: { domain: 'example.com' }, agent_tags: ['fra'], agent_ids: [4] });
    expect(both.json().agents).toBe(2);
    const none = await post({ criteria: { domain: 'example.com' }, agent_tags: ['media'] });
    expect(none.statusCode).toBe(400);
    expect(none.json().error).toEqual({ code: 'no_agents_selected', message: expect.stringContaining('media') });
    const noSel = await post({ criteria: { domain: 'example.com' } });
    expect(noSel.json().error.code).toBe('no_agents_selected');
  });

  it.each([
    ['unknown top-level field', { criteria: { from: '1' }, agent_ids: [1], agents: [1] }, 'agents'],
    ['unknown criterion', { criteria: { caller: '1' }, agent_ids: [1] }, 'caller'],
    ['duration below 10 s', { criteria: { from: '1' }, agent_ids: [1], duration_seconds: 5 }, 'duration_seconds'],
    ['duration above 24 h', { criteria: { from: '1' }, agent_ids: [1], duration_seconds: 86_401 }, 'duration_seconds'],
    ['label too long', { criteria: { from: '1' }, agent_ids: [1], label: 'x'.repeat(201) }, 'label'],
    ['criterion too long', { criteria: { to: '1'.repeat(257) }, agent_ids: [1] }, 'criteria.to'],
    ['provider_ip not an IP', { criteria: { provider_ip: '10.0.0.300' }, agent_ids: [1] }, 'provider_ip'],
    ['agent_ids not integers', { criteria: { from: '1' }, agent_ids: ['1'] }, 'agent_ids'],
    ['body not an object', [1, 2], 'body'],
  ])('POST /api/sessions: %s → 400 validation_failed', async (_n, body, where) => {
    await c.addAgent('a');
    const r = await post(body);
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('validation_failed');
    expect(r.json().error.message).toContain(where);
  });

  it('POST /api/sessions: malformed JSON → 400 in our error format, no stack trace', async () => {
    const r = await c.app.inject({
      method: 'POST',
      url: '/api/sessions',
      headers: { ...op, 'content-type': 'application/json' },
      payload: '{"criteria": {',
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('bad_request');
    expect(r.body).not.toMatch(/at .*\.(js|ts):\d+/);
    const proto = await c.app.inject({
      method: 'POST',
      url: '/api/sessions',
      headers: { ...op, 'content-type': 'application/json' },
      payload: '{"__proto__": {"admin": true}, "criteria": {"from": "1"}}',
    });
    expect(proto.statusCode).toBe(400);
    const text = await c.app.inject({ method: 'POST', url: '/api/sessions', headers: { ...op, 'content-type': 'text/plain' }, payload: 'x' });
    expect(text.statusCode).toBe(400);
    expect(text.json().error.message).toContain('application/json');
  });
});

describe('GET /api/sessions', () => {
  it('GET /api/sessions lists recent first with the contract fields and pages with ?limit=&before=', async () => {
    await c.addAgent('a');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await c.newSession({ label: `s${i}`, criteria: { from: `${i}` }, agent_ids: [1] }));
    const p1 = (await get('/api/sessions?limit=2')).json();
    expect(p1.sessions.map((s: { id: string }) => s.id)).toEqual([ids[4], ids[3]]);
    expect(Object.keys(p1.sessions[0]).sort()).toEqual(
      ['agent_count', 'created_at', 'criteria', 'event_count', 'expires_at', 'id', 'label', 'org_id', 'shared', 'status', 'stopped_at'].sort(),
    );
    expect(p1).toMatchObject({ more: true, next_before: ids[3] });
    const p2 = (await get(`/api/sessions?limit=2&before=${p1.next_before}`)).json();
    expect(p2.sessions.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
    const p3 = (await get(`/api/sessions?limit=2&before=${p2.next_before}`)).json();
    expect(p3).toMatchObject({ more: false, next_before: null });
    expect(p3.sessions.map((s: { id: string }) => s.id)).toEqual([ids[0]]);
  });

  it.each(['limit=0', 'limit=201', 'limit=x', 'before=nothex', 'before=ffffffffffffffffffff', 'foo=1'])(
    'GET /api/sessions?%s → 400',
    async (q) => {
      const r = await get(`/api/sessions?${q}`);
      expect(r.statusCode).toBe(400);
      expect(['validation_failed', 'bad_request']).toContain(r.json().error.code);
    },
  );
});

describe('GET /api/sessions/{id}', () => {
  it('GET /api/sessions/{id} shows per-agent state and counters, counts per kind, pcap and share state, caps', async () => {
    const a = await c.addAgent('a');
    await c.addAgent('b');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1, 2], capture_pcap: true });
    await c.ingest(a.token, [sipEvent(id, 0), sipEvent(id, 1, { kind: 'log', payload: 'x', sip: null }), sipEvent(id, 2, { frame: { link_type: 1, data: 'AAAA', orig_len: 3 } })], {
      counters: [{ session_id: id, packets_seen: 50, packets_matched: 3, events_uploaded: 3, dropped: { spool_full: 2 } }],
    });
    const d = (await get(`/api/sessions/${id}`)).json();
    expect(d).toMatchObject({
      id,
      status: 'running',
      event_count: 3,
      agent_count: 2,
      counts: { sip: 2, log: 1, rtp: 0, rtcp: 0, webrtc: 0 },
      pcap_available: true,
      shared: false,
      share: { shared: false, created_at: null },
      capped: false,
      capped_reason: null,
    });
    expect(d.agents[0]).toMatchObject({
      id: 1,
      name: 'a',
      state: 'capturing',
      counters: { packets_seen: 50, packets_matched: 3, events_uploaded: 3, events_stored: 3, dropped: { spool_full: 2 } },
    });
    // agent b never reported: it is offline while the session runs
    expect(d.agents[1]).toMatchObject({ id: 2, state: 'offline', reason: expect.stringMatching(/^never heard from this agent/) });
    await c.ingest(a.token, [], { counters: [{ session_id: id, state: 'failed', reason: 'interface eth9 not found' }] });
    expect((await get(`/api/sessions/${id}`)).json().agents[0]).toMatchObject({ state: 'failed', reason: 'interface eth9 not found' });
    // once the session is stopped its agents show stopped, not capturing (issue 14 walkthrough); a failure stays
    await del(`/api/sessions/${id}`);
    expect((await get(`/api/sessions/${id}`)).json().agents.map((x: { state: string }) => x.state)).toEqual(['failed', 'stopped']);
  });

  it('GET /api/sessions/{id}: unknown → 404, malformed id → 400', async () => {
    const r = await get('/api/sessions/ffffffffffffffffffff');
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('session_not_found');
    expect((await get('/api/sessions/XYZ')).statusCode).toBe(400);
  });
});

describe('GET /api/sessions/{id}/events', () => {
  it('GET /api/sessions/{id}/events pages ascending, gap-free by next_after, without frames', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], capture_pcap: true });
    const other = await c.newSession({ criteria: { from: '2' }, agent_ids: [1] });
    const mixed = [];
    for (let i = 0; i < 25; i++) {
      mixed.push(sipEvent(id, i, { frame: { link_type: 1, data: 'AAAA', orig_len: 3 } }));
      mixed.push(sipEvent(other, i));
    }
    expect((await c.ingest(a.token, mixed)).body.accepted).toBe(50);
    const seen: number[] = [];
    let after = 0;
    for (let guard = 0; guard < 10; guard++) {
      const p = (await get(`/api/sessions/${id}/events?after=${after}&limit=10`)).json();
      for (const e of p.events) {
        expect(e.session_id).toBe(id);
        expect(e).not.toHaveProperty('frame');
        seen.push(e.seq);
      }
      after = p.next_after;
      if (!p.more) break;
    }
    expect(seen).toEqual([...Array(25).keys()]);
    const end = (await get(`/api/sessions/${id}/events?after=${after}`)).json();
    expect(end).toEqual({ events: [], next_after: after, more: false });
  });

  it.each(['limit=1001', 'limit=0', 'after=-1', 'after=abc', 'x=1'])('GET /api/sessions/{id}/events?%s → 400', async (q) => {
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    expect((await get(`/api/sessions/${id}/events?${q}`)).statusCode).toBe(400);
  });

  it('GET /api/sessions/{id}/events: unknown session → 404', async () => {
    expect((await get('/api/sessions/ffffffffffffffffffff/events')).statusCode).toBe(404);
  });
});

describe('DELETE /api/sessions/{id}', () => {
  it('DELETE /api/sessions/{id} stops a running session → 200 with the session; again → 200 unchanged', async () => {
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const r = await del(`/api/sessions/${id}`);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id, status: 'stopped' });
    expect(r.json().stopped_at).not.toBeNull();
    const again = await c.app.inject({
      method: 'DELETE',
      url: `/api/sessions/${id}`,
      headers: { ...op, 'content-type': 'application/json' },
      payload: '',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().stopped_at).toBe(r.json().stopped_at);
  });

  it('DELETE /api/sessions/{id}?purge=1: running → 409, unknown → 404, stopped → 204 and gone', async () => {
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const running = await del(`/api/sessions/${id}?purge=1`);
    expect(running.statusCode).toBe(409);
    expect(running.json().error.code).toBe('session_running');
    expect((await get(`/api/sessions/${id}`)).json().status).toBe('running');
    expect((await del('/api/sessions/ffffffffffffffffffff?purge=1')).statusCode).toBe(404);
    expect((await del('/api/sessions/ffffffffffffffffffff')).statusCode).toBe(404);
    await del(`/api/sessions/${id}`);
    const purged = await del(`/api/sessions/${id}?purge=1`);
    expect(purged.statusCode).toBe(204);
    expect(purged.body).toBe('');
    expect((await get(`/api/sessions/${id}`)).statusCode).toBe(404);
    expect((await del(`/api/sessions/${id}?purge=1`)).statusCode).toBe(404);
    expect((await del(`/api/sessions/${id}?purge=yes`)).statusCode).toBe(400);
  });

  it('DELETE /api/sessions/{id}?purge=1 leaves nothing behind in the database or the data folder', async () => {
    const a = await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], capture_pcap: true });
    const keep = await c.newSession({ criteria: { from: '2' }, agent_ids: [1], capture_pcap: true });
    const dir = path.join(c.dataDir, 'pcap', id);
    expect(fs.existsSync(dir)).toBe(true);
    fs.writeFileSync(path.join(dir, 'a.pcap'), Buffer.alloc(24)); // what the PCAP writer will leave later
    await c.ingest(a.token, [0, 1, 2].map((i) => sipEvent(id, i, { frame: { link_type: 1, data: 'AAAA', orig_len: 3 } })));
    await c.ingest(a.token, [sipEvent(keep, 0)]);
    // a share row, as the share issue will create
    const raw = new Database(path.join(c.dataDir, 'tunaio.db'));
    raw.prepare('INSERT INTO shares (session_id, token_hash, created_at) VALUES (?, ?, ?)').run(id, 'x'.repeat(64), Date.now());
    expect((await get(`/api/sessions/${id}`)).json().shared).toBe(true);
    await del(`/api/sessions/${id}`);
    expect((await del(`/api/sessions/${id}?purge=1`)).statusCode).toBe(204);
    const tables = (raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    for (const t of tables) {
      const cols = (raw.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((x) => x.name);
      const col = cols.includes('session_id') ? 'session_id' : t === 'sessions' ? 'id' : null;
      if (!col) continue;
      const n = (raw.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE ${col} = ?`).get(id) as { n: number }).n;
      expect(n, `rows of ${id} left in ${t}`).toBe(0);
    }
    // and nothing else in any column, e.g. in a JSON body; the audit log alone keeps who made and purged it
    for (const t of tables.filter((x) => x !== 'audit')) {
      const rows = raw.prepare(`SELECT * FROM ${t}`).all();
      expect(JSON.stringify(rows)).not.toContain(id);
    }
    raw.close();
    expect(fs.existsSync(dir)).toBe(false);
    expect(fs.readdirSync(path.join(c.dataDir, 'pcap'))).toEqual([keep]);
    expect((await get(`/api/sessions/${keep}/events`)).json().events.length).toBe(1);
  });
});

describe('session expiry', () => {
  it('expiry survives a restart: an overdue session is expired at start, with stopped_at = expires_at', async () => {
    let now = Date.parse('2026-06-20T20:00:00Z');
    const dataDir = c.dataDir;
    await c.close();
    c = await testCenter({ dataDir, now: () => now });
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], duration_seconds: 60 });
    const expiresAt = (await get(`/api/sessions/${id}`)).json().expires_at;
    expect(expiresAt).toBe('2026-06-20T20:01:00Z');
    await c.close();
    now += 3_600_000; // the center was down while the session's time ran out
    c = await testCenter({ dataDir, now: () => now });
    const d = (await get(`/api/sessions/${id}`)).json();
    expect(d).toMatchObject({ status: 'expired', stopped_at: expiresAt });
    // the SSE stream of an expired session replays the history and closes with the final status
    const s = await get(`/api/sessions/${id}/stream`);
    expect(s.body).toContain(`event: status\ndata: {"session_id":"${id}","status":"expired","stopped_at":"${expiresAt}"}`);
  });

  it('a running session expires at expires_at by its timer', async () => {
    let now = Date.now();
    const dataDir = c.dataDir;
    await c.close();
    c = await testCenter({ dataDir, now: () => now });
    await c.addAgent('a');
    const id = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], duration_seconds: 10 });
    now += 10_000; // the clock moves; the timer (real time) is rescheduled against it
    await c.ctx.lifecycle.sweep();
    expect((await get(`/api/sessions/${id}`)).json().status).toBe('expired');
  });
});
