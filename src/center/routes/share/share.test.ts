// Share links: created by an operator, read with no credentials through every share route, only the
// allow-listed fields, rotated by a second POST, revoked → 404 everywhere and open streams closed.
import { afterEach, describe, expect, it } from 'vitest';
import { bearer, op, openSse, sipEvent, testServer } from '../../testing.js';
import type { TestCenter } from '../../testing.js';
import { SHARE_AGENT_KEYS, SHARE_SESSION_KEYS } from './present.js';

let c: TestCenter & { url: string };
afterEach(async () => {
  await c.close();
});

/** a client with no cookie jar and no Authorization header */
const anon = (path: string, init: RequestInit = {}) => fetch(`${c.url}${path}`, { ...init, redirect: 'manual' });

async function setup() {
  c = await testServer({ heartbeatSeconds: 60 });
  const a = await c.addAgent('edge-1');
  const id = await c.newSession({ label: 'ticket 4711', criteria: { from: '15554430191' }, agent_ids: [a.id], capture_pcap: true });
  const other = await c.newSession({ label: 'someone else', criteria: { from: '1999' }, agent_ids: [a.id] });
  const ing = await c.ingest(a.token, [sipEvent(id, 0, { call_id: 'shared-call@x' }), sipEvent(id, 1, { call_id: 'shared-call@x', sip: { status: 180, reason: 'Ringing', has_sdp: false }, src: { ip: '198.51.100.20', port: 5060 }, dst: { ip: '192.0.2.10', port: 5060 } })]);
  expect(ing.body.accepted).toBe(2);
  return { a, id, other };
}

async function createShare(id: string): Promise<{ token: string; url: string }> {
  const r = await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op });
  expect(r.statusCode).toBe(201);
  return r.json();
}

describe('share links', () => {
  it('created by an operator, readable with no credentials, only allow-listed keys, one session only', async () => {
    const { a, id, other } = await setup();
    expect((await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share` })).statusCode).toBe(401);
    expect((await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: bearer(a.token) })).statusCode).toBe(403);
    const { token, url } = await createShare(id);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits
    expect(url).toBe(`http://localhost:80/share/${token}`); // the UI page, on the host the operator called
    const viaHttp = (await (await anon(`/api/sessions/${other}/share`, { method: 'POST', headers: op })).json()) as { token: string; url: string };
    expect(Object.keys(viaHttp)).toEqual(['token', 'url']);
    expect(viaHttp.url).toBe(`${c.url}/share/${viaHttp.token}`);
    // stored hashed: the token itself is nowhere in the database
    const db = (c.storage as unknown as { db: { prepare(s: string): { all(): unknown[] } } }).db;
    expect(JSON.stringify(db.prepare('SELECT * FROM shares').all())).not.toContain(token);

    const r = await anon(`/api/share/${token}`);
    expect(r.status).toBe(200);
    const s = (await r.json()) as Record<string, unknown> & { agents: Record<string, unknown>[] };
    expect(Object.keys(s).sort()).toEqual([...SHARE_SESSION_KEYS].sort());
    expect(s.agents.length).toBe(1);
    for (const ag of s.agents) expect(Object.keys(ag).sort()).toEqual([...SHARE_AGENT_KEYS].sort());
    expect(s).toMatchObject({ id, label: 'ticket 4711', status: 'running', event_count: 2, pcap_available: true, stream: `/api/share/${token}/stream` });
    const text = JSON.stringify(s);
    for (const secret of ['http://127.0.0.1:9070', a.token, other, 'someone else', 'shared', 'share']) {
      if (secret === 'share') expect(text.replace(`/api/share/${token}/stream`, '')).not.toContain(secret);
      else expect(text).not.toContain(secret);
    }

    const ev = (await (await anon(`/api/share/${token}/events`)).json()) as { events: { session_id: string; call_id: string }[]; more: boolean };
    expect(ev.events.map((e) => e.call_id)).toEqual(['shared-call@x', 'shared-call@x']);
    expect(ev.events.every((e) => e.session_id === id)).toBe(true);
    expect(ev.events[0]).not.toHaveProperty('frame');

    const tarRes = await anon(`/api/share/${token}/export.tar`);
    expect(tarRes.status).toBe(200);
    expect(tarRes.headers.get('content-type')).toBe('application/x-tar');
    // file names carry the session label (and the call, for one call's picture)
    expect(tarRes.headers.get('content-disposition')).toBe(`attachment; filename="ticket_4711-${id}.tar"`);
    const tarBody = Buffer.from(await tarRes.arrayBuffer());
    expect(tarBody.includes(Buffer.from('edge-1.pcap'))).toBe(true);
    expect(tarBody.includes(Buffer.from('http://127.0.0.1:9070'))).toBe(false);
    const svg = await anon(`/api/share/${token}/ladder.svg?call_id=shared-call%40x`);
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-disposition')).toBe(`inline; filename="ticket_4711-shared-call_x-${id}.svg"`);
    expect(await svg.text()).toContain('180 Ringing');
    const png = await anon(`/api/share/${token}/ladder.png`);
    expect(png.headers.get('content-type')).toBe('image/png');

    // the token opens its session only: the operator routes of any session still need credentials
    expect((await anon(`/api/sessions/${id}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await anon(`/api/sessions/${other}`)).status).toBe(401);
    expect((await c.app.inject({ url: `/api/sessions/${id}`, headers: op })).json().share.shared).toBe(true);
  });

  it('behind a proxy, the link is on the configured public URL, whatever Host the request carried', async () => {
    c = await testServer({ heartbeatSeconds: 60, publicUrl: 'https://tuna.example.net/capture' });
    const a = await c.addAgent('edge-1');
    const id = await c.newSession({ label: 'proxied', criteria: { from: '15554430191' }, agent_ids: [a.id] });
    const r = await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: { ...op, host: '10.0.0.5:8080' } });
    const { token, url } = r.json<{ token: string; url: string }>();
    expect(url).toBe(`https://tuna.example.net/capture/share/${token}`);
  });

  it('GET shows the current link again without rotating it; the database alone does not reveal it', async () => {
    const { id, other } = await setup();
    expect((await c.app.inject({ url: `/api/sessions/${id}/share`, headers: op })).json().error.code).toBe('share_not_found');
    const made = await createShare(id);
    const shown = await c.app.inject({ url: `/api/sessions/${id}/share`, headers: op });
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toMatchObject({ token: made.token, url: made.url });
    expect((await anon(`/api/share/${made.token}`)).status).toBe(200);
    // a sealed entry copied onto another session does not open there (the session id is associated data)
    await createShare(other);
    const db = (c.storage as unknown as { db: { prepare(s: string): { run(...a: unknown[]): unknown; all(): unknown[] } } }).db;
    expect(JSON.stringify(db.prepare('SELECT * FROM shares').all())).not.toContain(made.token);
    db.prepare('UPDATE shares SET token_sealed = (SELECT token_sealed FROM shares WHERE session_id = ?) WHERE session_id = ?').run(id, other);
    const copied = await c.app.inject({ url: `/api/sessions/${other}/share`, headers: op });
    expect(copied.statusCode).toBe(409);
    // a link made before tokens were sealed: still valid, cannot be shown
    db.prepare('UPDATE shares SET token_sealed = NULL WHERE session_id = ?').run(id);
    expect((await c.app.inject({ url: `/api/sessions/${id}/share`, headers: op })).statusCode).toBe(409);
    expect((await anon(`/api/share/${made.token}`)).status).toBe(200);
    expect((await c.app.inject({ url: `/api/sessions/${id}/share`, headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
  });

  it('a second POST rotates the link: the old token answers 404 at once, the new one works', async () => {
    const { id } = await setup();
    const first = await createShare(id);
    const second = await createShare(id);
    expect(second.token).not.toBe(first.token);
    expect((await anon(`/api/share/${first.token}`)).status).toBe(404);
    expect((await anon(`/api/share/${second.token}`)).status).toBe(200);
  });

  it('revoked → 404 on every share route, and an open stream is closed', async () => {
    const { a, id } = await setup();
    const { token } = await createShare(id);
    const sse = await openSse(`${c.url}/api/share/${token}/stream`, {});
    const operatorSse = await openSse(`${c.url}/api/sessions/${id}/stream`, op);
    expect(sse.status).toBe(200);
    await sse.waitFor((x) => x.messages.length === 2);
    await c.ingest(a.token, [sipEvent(id, 2, { call_id: 'shared-call@x' })]);
    await sse.waitFor((x) => x.messages.length === 3);

    const del = await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}/share`, headers: op });
    expect(del.statusCode).toBe(204);
    await sse.ended;
    expect(sse.isEnded()).toBe(true);
    expect(sse.messages.some((m) => m.event === 'status')).toBe(false);
    // the operator's stream of the same session stays open
    await c.ingest(a.token, [sipEvent(id, 3, { call_id: 'shared-call@x' })]);
    await operatorSse.waitFor((x) => x.messages.length === 4);
    expect(operatorSse.isEnded()).toBe(false);
    operatorSse.close();

    for (const p of ['', '/events', '/stream', '/export.tar', '/ladder.png', '/ladder.svg']) {
      const r = await anon(`/api/share/${token}${p}`);
      expect(r.status, p).toBe(404);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('share_not_found');
    }
    expect((await c.app.inject({ url: `/api/sessions/${id}`, headers: op })).json().share).toEqual({ shared: false, created_at: null });
    // revoking again is fine; garbage tokens are the same 404
    expect((await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}/share`, headers: op })).statusCode).toBe(204);
    expect((await anon('/api/share/x')).status).toBe(404);
    expect((await anon(`/api/share/${'A'.repeat(43)}`)).status).toBe(404);
    expect((await c.app.inject({ method: 'POST', url: '/api/sessions/00000000000000000000/share', headers: op })).statusCode).toBe(404);
  });

  it('purging a session ends its share link', async () => {
    const { id } = await setup();
    const { token } = await createShare(id);
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op });
    expect((await anon(`/api/share/${token}`)).status).toBe(200);
    expect((await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}?purge=1`, headers: op })).statusCode).toBe(204);
    expect((await anon(`/api/share/${token}`)).status).toBe(404);
  });
  it('a link revoked while its stream opens (after the check, before the subscription) does not stay open', async () => {
    const { id } = await setup();
    const { token } = await createShare(id);
    // the revocation lands right after the route read the share: it finds no subscriber to close
    const storage = c.ctx.storage;
    const read = storage.getShareByTokenHash.bind(storage);
    let reads = 0;
    storage.getShareByTokenHash = async (digest) => {
      const share = await read(digest);
      if (++reads === 1) await storage.deleteShare(id);
      return share;
    };
    const s = await openSse(`${c.url}/api/share/${token}/stream`, {});
    expect(s.status).toBe(200);
    await s.waitFor((x) => x.isEnded());
    expect(s.messages).toEqual([]);
    expect(reads).toBe(2);
  });
});
