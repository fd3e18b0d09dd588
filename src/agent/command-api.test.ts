import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { Agent } from './agent.js';
import type { HepSource } from './sources/hep.js';
import { tokenMatches } from './command-api.js';
import { IngestServer, waitFor } from './testing/ingest-server.js';

const TOKEN = 'agent-token-abcdefghijklmnop';
const SID = '0123456789abcdef0123';

let agent: Agent;
let base: string;
let dir: string;

const cmd = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  session_id: SID,
  criteria: { from: '15554430191' },
  capture_rtp: false,
  capture_pcap: true,
  expires_at: new Date(Date.now() + 60_000).toISOString(),
  ingest_url: 'http://127.0.0.1:9/api/ingest',
  ...over,
});

const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN, raw?: string) => {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-api-'));
  agent = new Agent({ name: 'test-agent', token: TOKEN, version: '9.9.9', listen: { host: '127.0.0.1', port: 0 }, spoolDir: dir });
  const a = await agent.start();
  base = `http://127.0.0.1:${a!.port}`;
});
afterEach(async () => {
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('command API auth', () => {
  it('answers health without a token, everything else needs the agent token', async () => {
    expect((await call('GET', '/v1/health', undefined, null)).status).toBe(200);
    const none = await call('GET', '/v1/status', undefined, null);
    expect(none.status).toBe(401);
    expect(none.body.error).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/Bearer/) });
    const wrong = await call('GET', '/v1/status', undefined, 'agent-token-abcdefghijklmnoX');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error!.message).toMatch(/invalid agent token/);
    expect((await call('PUT', `/v1/captures/${SID}`, cmd(), 'nope')).status).toBe(401);
    expect((await call('DELETE', `/v1/captures/${SID}`, undefined, 'nope')).status).toBe(401);
    expect(agent.manager.ids()).toEqual([]);
  });

  it('compares tokens without regard to length', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abcd')).toBe(false);
    expect(tokenMatches('', 'abc')).toBe(false);
  });
});

describe('command API captures', () => {
  it('starts a capture idempotently, shows it in status, and stops it', async () => {
    const first = await call('PUT', `/v1/captures/${SID}`, cmd());
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ session_id: SID, capture_pcap: true, counters: { packets_seen: 0 } });
    const again = await call('PUT', `/v1/captures/${SID}`, cmd());
    expect(again.status).toBe(200);
    const st = await call('GET', '/v1/status');
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ name: 'test-agent', version: '9.9.9', sources: [] });
    expect((st.body.captures as { session_id: string }[]).map((c) => c.session_id)).toEqual([SID]);
    const del = await call('DELETE', `/v1/captures/${SID}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ session_id: SID, stopped: true });
    expect((await call('DELETE', `/v1/captures/${SID}`)).status).toBe(404);
    expect(agent.manager.ids()).toEqual([]);
  });

  it('takes the session id from the URL when the body omits it', async () => {
    const body = cmd();
    delete body.session_id;
    expect((await call('PUT', `/v1/captures/${SID}`, body)).status).toBe(201);
  });

  it.each([
    ['a bad session id in the URL', '/v1/captures/XYZ', cmd(), /not a session id/],
    ['a body id that differs from the URL', `/v1/captures/${SID}`, cmd({ session_id: 'ffffffffffffffffffff' }), /differs from the URL/],
    ['a bad provider_ip', `/v1/captures/${SID}`, cmd({ criteria: { provider_ip: '999.1.1.1' } }), /criteria\.provider_ip: provider_ip must be an IPv4 or IPv6 address or a CIDR/],
    ['method alone', `/v1/captures/${SID}`, cmd({ criteria: { method: 'INVITE' } }), /at least one search criterion/],
    ['an unknown field', `/v1/captures/${SID}`, cmd({ bogus: 1 }), /unknown field "bogus"/],
    ['a missing ingest_url', `/v1/captures/${SID}`, cmd({ ingest_url: undefined }), /ingest_url/],
    ['a non-http ingest_url', `/v1/captures/${SID}`, cmd({ ingest_url: 'ftp://x/y' }), /ingest_url/],
    ['an expiry in the past', `/v1/captures/${SID}`, cmd({ expires_at: '2001-01-01T00:00:00Z' }), /in the past/],
    ['a text shorter than 3', `/v1/captures/${SID}`, cmd({ criteria: { text: 'ab' } }), /text needs at least 3/],
  ])('refuses %s with 400 and a precise message', async (_what, path, body, message) => {
    const r = await call('PUT', path, body);
    expect(r.status).toBe(400);
    expect(r.body.error!.message).toMatch(message);
    expect(agent.manager.ids()).toEqual([]);
  });

  it('refuses bad JSON, a non-object body and an oversized body', async () => {
    const bad = await call('PUT', `/v1/captures/${SID}`, undefined, TOKEN, '{"criteria":');
    expect(bad.status).toBe(400);
    expect(bad.body.error!.message).toMatch(/not valid JSON/);
    expect((await call('PUT', `/v1/captures/${SID}`, [1, 2])).status).toBe(400);
    const big = await call('PUT', `/v1/captures/${SID}`, undefined, TOKEN, JSON.stringify({ pad: 'x'.repeat(100_000) }));
    expect(big.status).toBe(413);
    expect((await call('GET', '/v1/nothing')).status).toBe(404);
    expect((await call('POST', '/v1/status')).status).toBe(400);
  });

  it('stops a capture by itself at expires_at', async () => {
    await call('PUT', `/v1/captures/${SID}`, cmd({ expires_at: new Date(Date.now() + 300).toISOString() }));
    expect(agent.manager.ids()).toEqual([SID]);
    for (let i = 0; i < 100 && agent.manager.ids().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(agent.manager.ids()).toEqual([]);
    const st = await call('GET', '/v1/status');
    expect(st.body.recently_ended).toEqual([expect.objectContaining({ session_id: SID, ended: 'expired' })]);
  });

  it('remembers running captures across a restart (spool dir)', async () => {
    await call('PUT', `/v1/captures/${SID}`, cmd());
    await agent.stop();
    agent = new Agent({ name: 'test-agent', token: TOKEN, listen: { host: '127.0.0.1', port: 0 }, spoolDir: dir });
    await agent.start();
    expect(agent.manager.ids()).toEqual([SID]);
  });
});

describe('counters for the center', () => {
  it('sends a capture\'s counters even when nothing matches, with the reason the agent cannot capture', async () => {
    const center = new IngestServer(TOKEN);
    await center.start(0);
    const a = new Agent({ name: 'idle', token: TOKEN, listen: { host: '127.0.0.1', port: 0 }, heartbeatS: 1, hep: ['udp:127.0.0.1:0'] });
    const b = new Agent({ name: 'no-sources', token: TOKEN, listen: { host: '127.0.0.1', port: 0 }, heartbeatS: 1 });
    try {
      await a.start();
      await b.start();
      a.manager.put(cmd({ ingest_url: center.url }));
      b.manager.put(cmd({ session_id: 'fedcba9876543210fedc', ingest_url: center.url }));
      expect(await waitFor(() => center.countersOf(SID) !== undefined && center.countersOf('fedcba9876543210fedc') !== undefined, 5000)).toBe(true);
      expect(center.countersOf(SID)).toMatchObject({ packets_seen: 0, packets_matched: 0, events_uploaded: 0, state: 'capturing' });
      // hostile bytes on the HEP port show up on the session as a drop reason
      const sock = createSocket('udp4');
      const port = (a.sources[0] as HepSource).port;
      await new Promise<void>((r) => sock.send(Buffer.from('HEP3 but not really'), port, '127.0.0.1', () => r()));
      sock.close();
      expect(await waitFor(() => (center.countersOf(SID)?.dropped.hep_malformed ?? 0) === 1, 5000)).toBe(true);
      expect(center.countersOf('fedcba9876543210fedc')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/no capture source/) });
      expect(center.events).toEqual([]);
    } finally {
      await a.stop();
      await b.stop();
      await center.stop();
    }
  });
});

describe('POST /v1/captures/{id}/follow', () => {
  it('the capture follows the Call-IDs (its log lines too, also those logged just before); bad input is a 4xx', async () => {
    expect((await call('POST', `/v1/captures/${SID}/follow`, { call_ids: ['c1'] })).status).toBe(404);
    expect((await call('PUT', `/v1/captures/${SID}`, cmd())).status).toBe(201);
    // a line of the call logged before the follow command arrived
    agent.manager.onLogLine('INFO route call-id=c2 to gw-2', 1, 'kamailio');
    const ok = await call('POST', `/v1/captures/${SID}/follow`, { call_ids: ['c1', 'c2'] });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ session_id: SID, following: 2 });
    expect(agent.manager.engine.dialogsOf(SID).sort()).toEqual(['c1', 'c2']);
    expect(agent.manager.view(SID)?.counters.packets_matched).toBe(1);
    agent.manager.onLogLine('INFO call-id=c1 answered', 2, 'kamailio');
    expect(agent.manager.view(SID)?.counters.packets_matched).toBe(2);
    for (const bad of [{}, { call_ids: [] }, { call_ids: [''] }, { call_ids: 'c1' }, { call_ids: ['c1'], extra: 1 }]) {
      const r = await call('POST', `/v1/captures/${SID}/follow`, bad);
      expect(r.status).toBe(400);
      expect(r.body.error?.code).toBe('validation_failed');
    }
    expect((await call('GET', `/v1/captures/${SID}/follow`)).status).toBe(400);
    expect((await call('POST', `/v1/captures/${SID}/follow`, { call_ids: ['c1'] }, 'nope')).status).toBe(401);
  });
});
