// The pusher and reconciler against a real HTTP peer speaking the agent command API (a scripted
// stand-in: the center may not import the agent; the real agent is exercised in test/e2e). Checks
// what the operator sees on GET /api/sessions/{id} for each way an agent can answer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent, op, testCenter } from '../testing.js';
import type { TestCenter } from '../testing.js';
import { AnswerTooLarge, readBounded } from './bounded-read.js';
import { AGENT_ANSWER_MAX_BYTES } from './commander.js';

const TOKEN = 'agent-token-commander-0123456789abcdef';
let c: TestCenter;
let fake: FakeAgent;

beforeEach(async () => {
  c = await testCenter({ reconcileSeconds: 3600, agentTimeoutSeconds: 1 });
  fake = new FakeAgent();
  await fake.start();
});
afterEach(async () => {
  await c.close();
  await fake.stop();
});

const addAgent = async (url: string, name = 'edge-1', token = TOKEN): Promise<number> => {
  const r = await c.app.inject({ method: 'POST', url: '/api/agents', headers: op, payload: { name, url, token } });
  return r.json().id as number;
};
const detail = async (id: string) => (await c.app.inject({ url: `/api/sessions/${id}`, headers: op })).json();
const settle = async () => {
  // the push runs in the background of POST /api/sessions; a reconcile pass waits for nothing else
  for (let i = 0; i < 50 && fake.seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
};

describe('pusher', () => {
  it('PUTs the capture command with the agent token, and the acknowledged agent shows capturing', async () => {
    const agentId = await addAgent(fake.url);
    c.ctx.agents.start('http://center.example:8080');
    await c.ctx.agents.reconcile();
    fake.seen = [];
    const id = await c.newSession({ label: 'x', criteria: { from: '+15551230001' }, agent_ids: [agentId], capture_rtp: true });
    await settle();
    const put = fake.seen.find((s) => s.method === 'PUT')!;
    expect(put.url).toBe(`/v1/captures/${id}`);
    expect(put.auth).toBe(`Bearer ${TOKEN}`);
    expect(put.body).toEqual({
      session_id: id,
      criteria: { from: '+15551230001' },
      capture_rtp: true,
      capture_pcap: false,
      expires_at: expect.stringMatching(/Z$/),
      ingest_url: 'http://center.example:8080/api/ingest',
    });
    const d = await detail(id);
    expect(d.agents[0]).toMatchObject({ name: 'edge-1', state: 'capturing', reason: null });

    // stop → DELETE at once
    fake.seen = [];
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op });
    await settle();
    expect(fake.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`DELETE /v1/captures/${id}`]);
  });

  it('a refused PUT shows failed with the agent\'s own message; a wrong token says which token to fix', async () => {
    const agentId = await addAgent(fake.url);
    c.ctx.agents.start('http://127.0.0.1:8080');
    fake.reply = (s) =>
      s.method === 'PUT' ? { status: 400, body: { error: { code: 'bad_request', message: 'this agent runs at most 256 captures at once' } } } : null;
    const id = await c.newSession({ label: 'x', criteria: { to: '4420700001' }, agent_ids: [agentId] });
    await settle();
    expect((await detail(id)).agents[0]).toMatchObject({
      state: 'failed',
      reason: 'the agent refused the capture (HTTP 400): this agent runs at most 256 captures at once',
    });

    fake.reply = () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'invalid agent token' } } });
    await c.ctx.agents.reconcile();
    const a = (await detail(id)).agents[0];
    expect(a.state).toBe('failed');
    expect(a.reason).toMatch(/rejected the center's token \(invalid agent token\).*"edge-1".*--token/);
  });

  it('an unreachable agent shows offline with the network error, on the session and in /api/agents', async () => {
    const dead = new FakeAgent();
    await dead.start();
    const url = dead.url;
    await dead.stop();
    const agentId = await addAgent(url);
    c.ctx.agents.start('http://127.0.0.1:8080');
    const id = await c.newSession({ label: 'x', criteria: { call_id: 'abc@host' }, agent_ids: [agentId] });
    await c.ctx.agents.reconcile();
    const a = (await detail(id)).agents[0];
    expect(a.state).toBe('offline');
    expect(a.reason).toBe(`cannot reach ${url}: connection refused (is the agent running?)`);
    const list = (await c.app.inject({ url: '/api/agents', headers: op })).json().agents;
    expect(list[0].status).toBe('offline');
  });
});

describe('reconciler', () => {
  it('keeps last_seen/version/sources, copies counters, re-PUTs what the agent lacks, DELETEs what the center does not run', async () => {
    const agentId = await addAgent(fake.url);
    c.ctx.agents.start('http://127.0.0.1:8080');
    await c.ctx.agents.reconcile();
    const id = await c.newSession({ label: 'x', criteria: { text: 'hello' }, agent_ids: [agentId] });
    await settle();
    // the agent restarted: it reports a stranger and not our capture
    const stranger = 'ffffffffffffffffffff';
    fake.captures = [{ session_id: stranger, counters: {} }];
    fake.seen = [];
    await c.ctx.agents.reconcile();
    expect(fake.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /v1/status', `PUT /v1/captures/${id}`, `DELETE /v1/captures/${stranger}`]);

    fake.captures = [{ session_id: id, counters: { packets_seen: 1000, packets_matched: 12, events_uploaded: 12, dropped: { queue_full: 2 } } }];
    fake.seen = [];
    await c.ctx.agents.reconcile();
    expect(fake.seen.map((s) => s.method)).toEqual(['GET']);
    const a = (await detail(id)).agents[0];
    expect(a).toMatchObject({ state: 'capturing', reason: null });
    expect(a.counters).toMatchObject({ packets_seen: 1000, packets_matched: 12, events_uploaded: 12, dropped: { queue_full: 2 } });
    const list = (await c.app.inject({ url: '/api/agents', headers: op })).json().agents;
    expect(list[0]).toMatchObject({ status: 'online', version: '9.9.9', sources: [{ type: 'hep', detail: 'hep:udp:127.0.0.1:9060: running' }] });
  });

  it('an agent whose every source failed shows failed with the sources\' reasons', async () => {
    const agentId = await addAgent(fake.url);
    c.ctx.agents.start('http://127.0.0.1:8080');
    const id = await c.newSession({ label: 'x', criteria: { text: 'hello' }, agent_ids: [agentId] });
    await settle();
    fake.captures = [{ session_id: id, counters: {} }];
    fake.reply = (s) =>
      s.url === '/v1/status'
        ? {
            status: 200,
            body: {
              version: '1',
              sources: [{ name: 'live:lo', kind: 'live', state: 'failed', error: 'capture not permitted: run as root or grant CAP_NET_RAW' }],
              captures: fake.captures,
            },
          }
        : null;
    await c.ctx.agents.reconcile();
    const a = (await detail(id)).agents[0];
    expect(a.state).toBe('failed');
    expect(a.reason).toBe('every source of the agent failed: live:lo: capture not permitted: run as root or grant CAP_NET_RAW');
  });

  it('without a listening center (in-process use) agents are never called', async () => {
    const agentId = await addAgent(fake.url);
    const id = await c.newSession({ label: 'x', criteria: { text: 'hello' }, agent_ids: [agentId] });
    await c.ctx.agents.reconcile();
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.seen).toEqual([]);
    expect((await detail(id)).agents[0].state).toBe('offline');
  });
});

describe('bounded reads of what an agent sends (issue 16)', () => {
  /** An "agent" whose /v1/status is 400 MB of JSON, streamed (no Content-Length) or declared up front. */
  async function hugeAgent(declared: boolean): Promise<{ url: string; written: () => number; stop: () => Promise<void> }> {
    const TOTAL = 400 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET') {
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', ...(declared ? { 'content-length': String(TOTAL) } : {}) });
      res.write('{"version":"1","sources":[],"pad":"');
      const pump = (): void => {
        while (written < TOTAL) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('"}');
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      written: () => written,
      stop: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it.each([false, true])('a 400 MB status answer (Content-Length declared: %s) is cut at the 1 MiB limit, counted and shown on the session', async (declared) => {
    const huge = await hugeAgent(declared);
    // a generous call timeout: on a loaded machine the limit, not the clock, must end the read
    await c.close();
    c = await testCenter({ reconcileSeconds: 3600, agentTimeoutSeconds: 60 });
    try {
      const agentId = await addAgent(huge.url);
      c.ctx.agents.start('http://127.0.0.1:8080');
      const id = await c.newSession({ label: 'x', criteria: { text: 'hello' }, agent_ids: [agentId] });
      await c.ctx.agents.reconcile();
      const a = (await detail(id)).agents[0];
      expect(a.state).toBe('offline');
      expect(a.reason).toBe(`the agent's answer to GET /v1/status is larger than the center reads (${AGENT_ANSWER_MAX_BYTES / 1024 / 1024} MiB); ignored`);
      // the peer could only push what fits the socket buffers before the center hung up
      console.log(`[bounded read] declared=${declared}: the peer wrote ${(huge.written() / 1024 / 1024).toFixed(1)} MiB of a 400 MiB answer`);
      expect(huge.written()).toBeLessThan(64 * 1024 * 1024);
      const m = (await c.app.inject({ url: '/metrics', headers: op })).body;
      expect(m).toMatch(/tunaio_agent_answers_too_large_total\{agent="edge-1"\} [1-9]/);
    } finally {
      await huge.stop();
    }
  });

  it('readBounded: at the limit reads all; one byte over throws AnswerTooLarge', async () => {
    const body = (n: number) => new Response(new Blob([Buffer.alloc(n, 0x61)]).stream());
    expect((await readBounded(body(1000), 1000)).length).toBe(1000);
    await expect(readBounded(body(1001), 1000)).rejects.toBeInstanceOf(AnswerTooLarge);
  });
});
