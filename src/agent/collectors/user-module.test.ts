// User collector modules loaded by a real `tunaio agent --collector PATH` process, each in its worker
// thread: one whose SIP, call state, route and log events reach a session, one that throws in
// start(), one that emits 100 000 events a second, one that throws from its own timer, one that
// leaves a promise rejected, one that loops forever. The agent stays up, reports each in
// GET /v1/status, and keeps capturing the SIP that reaches it over HEP in the meantime, every message
// of it.
import { createSocket } from 'node:dgram';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHep3, HEP_PROTO_TYPE } from '../../protocol/hep.js';
import { freePort, spawnAgentProcess } from '../../../test/e2e/harness.js';
import { IngestServer, waitFor } from '../testing/ingest-server.js';
import type { ChildProcess } from 'node:child_process';

const TOKEN = 'user-module-agent-token-0123456789';
const SID = 'c0110c7000000000000a';
const TO = '15550100';

// The complete example module of docs/collectors.md, used as it is shipped.
const EXAMPLE = readFileSync(new URL('../../../docs/examples/pbx-feed-collector.mjs', import.meta.url), 'utf8');
const THROWS = `export function createCollector(ctx) {
  return { name: 'broken', start() { throw new Error('cannot reach the PBX API'); }, stop() {}, status() { return {}; } };
}`;
const FLOOD = `export function createCollector(ctx) {
  let timer; let sent = 0;
  return {
    name: 'flood',
    start() {
      // 1 000 events every 10 ms: 100 000 a second
      timer = setInterval(() => {
        for (let i = 0; i < 1000; i++) { sent++; ctx.emitCallState({ call_id: 'flood-' + (sent % 5000), platform: 'x', state: 'spam' }); }
      }, 10);
    },
    stop() { clearInterval(timer); },
    status() { return { counters: { attempted: sent } }; },
  };
}`;
const NOT_A_COLLECTOR = `export const hello = 1;`;
// each ends its thread a moment after start(): the agent restarts it (1 s, 2 s, 4 s…)
const TIMER_THROWS = `export function createCollector() {
  return { name: 'timer-throws', start() { setTimeout(() => { throw new TypeError('boom from a timer'); }, 50); }, stop() {}, status() { return {}; } };
}`;
const REJECTS = `export function createCollector() {
  return { name: 'rejects', start() { setTimeout(() => { Promise.reject(new Error('nobody catches me')); }, 50); }, stop() {}, status() { return {}; } };
}`;
const BUSY = `export function createCollector() {
  return { name: 'busy', start() { setTimeout(() => { for (;;) {} }, 50); }, stop() {}, status() { return {}; } };
}`;

let dir: string;
let center: IngestServer;
let agent: ChildProcess;
let api: string;
let hepPort: number;
let stderr = '';
let agentStart = 0;

async function udpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await cond()) return true;
  return cond();
}

const status = async (): Promise<{ sources: { name: string; kind: string; state: string; error?: string; counters: Record<string, number> }[] }> =>
  (await fetch(`${api}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as never;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-collectors-'));
  writeFileSync(join(dir, 'feed.jsonl'), '');
  for (const [f, src] of [['good.mjs', EXAMPLE], ['throws.mjs', THROWS], ['flood.mjs', FLOOD], ['nothing.mjs', NOT_A_COLLECTOR], ['timer.mjs', TIMER_THROWS], ['rejects.mjs', REJECTS], ['busy.mjs', BUSY]]) {
    writeFileSync(join(dir, f), src);
  }
  center = new IngestServer(TOKEN);
  await center.start(0);
  const port = await freePort();
  hepPort = await udpPort();
  api = `http://127.0.0.1:${port}`;
  agentStart = Date.now();
  agent = spawnAgentProcess(
    ['--name', 'modules', '--listen', `127.0.0.1:${port}`, '--hep', `udp:127.0.0.1:${hepPort}`,
      '--collector', join(dir, 'good.mjs'), '--collector', join(dir, 'throws.mjs'), '--collector', join(dir, 'flood.mjs'),
      '--collector', join(dir, 'nothing.mjs'), '--collector', join(dir, 'missing.mjs'), '--collector', join(dir, 'timer.mjs'),
      '--collector', join(dir, 'rejects.mjs'), '--collector', join(dir, 'busy.mjs')],
    { TUNAIO_TOKEN: TOKEN, MY_PBX_FEED: join(dir, 'feed.jsonl') },
  );
  agent.stderr!.on('data', (d: string) => (stderr += d));
  expect(await waitFor(() => /command API on/.test(stderr), 30_000)).toBe(true);
  const put = await fetch(`${api}/v1/captures/${SID}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ session_id: SID, criteria: { to: TO }, capture_rtp: false, capture_pcap: false, expires_at: new Date(Date.now() + 300_000).toISOString(), ingest_url: center.url }),
  });
  expect(put.status).toBeLessThan(300);
}, 60_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }
  await center?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const hepSip = (callId: string, i: number, text: string): Buffer =>
  encodeHep3({ ipProto: 17, srcIp: i % 2 ? '198.51.100.2' : '198.51.100.1', dstIp: i % 2 ? '198.51.100.1' : '198.51.100.2', srcPort: 5060, dstPort: 5060, tsSec: Math.floor(Date.now() / 1000), tsUsec: i, protoType: HEP_PROTO_TYPE.SIP, captureId: 1, payload: text });

function dialog(callId: string): string[] {
  const h = (first: string, cseq: string, tag = ''): string =>
    `${first}\r\nVia: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK-${cseq.replace(' ', '')}\r\nFrom: <sip:bob@example.com>;tag=b1\r\nTo: <sip:${TO}@example.com>${tag}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq}\r\nContent-Length: 0\r\n\r\n`;
  return [
    h(`INVITE sip:${TO}@example.com SIP/2.0`, '1 INVITE'),
    h('SIP/2.0 180 Ringing', '1 INVITE', ';tag=t1'),
    h('SIP/2.0 200 OK', '1 INVITE', ';tag=t1'),
    h(`ACK sip:${TO}@example.com SIP/2.0`, '1 ACK', ';tag=t1'),
    h(`BYE sip:${TO}@example.com SIP/2.0`, '2 BYE', ';tag=t1'),
    h('SIP/2.0 200 OK', '2 BYE', ';tag=t1'),
  ];
}

describe('user collector modules (--collector)', () => {
  it('contains the failing ones and bounds the flood, and says so in /v1/status', async () => {
    expect(await waitFor(() => false, 1200)).toBe(false); // let the flood run for a while
    const st = await status();
    const by = Object.fromEntries(st.sources.map((s) => [s.name, s]));
    expect(by['pbx-feed']).toMatchObject({ kind: 'collector', state: 'running' });
    expect(by.broken).toMatchObject({ kind: 'collector', state: 'failed', error: 'start() failed: cannot reach the PBX API' });
    expect(by['collector:nothing.mjs']).toMatchObject({ state: 'failed', error: expect.stringMatching(/does not export createCollector/) });
    expect(by['collector:missing.mjs']).toMatchObject({ state: 'failed', error: expect.stringMatching(/^createCollector failed: cannot load .*missing\.mjs/) });
    const flood = by.flood.counters;
    expect(flood.attempted).toBeGreaterThan(50_000);
    expect(flood.dropped_rate_limited).toBeGreaterThan(0);
    // the bound holds: at most --collector-rate (20 000) a second got through
    expect(flood.events + flood.dropped_rate_limited).toBeLessThanOrEqual(flood.attempted);
    expect(flood.events).toBeLessThanOrEqual(20_000 * (Math.ceil((Date.now() - agentStart) / 1000) + 1));
    expect(agent.exitCode).toBeNull();
  });

  it('contains a throw from a timer, an unhandled rejection and a busy loop: each thread ends, is counted, said and restarted', async () => {
    // the busy loop is noticed after 5 s without a heartbeat
    expect(await until(async () => ((await status()).sources.find((s) => s.name === 'busy')?.counters.stalls ?? 0) >= 1, 30_000)).toBe(true);
    expect(await until(async () => (await status()).sources.filter((s) => ['timer-throws', 'rejects'].includes(s.name) && (s.counters.crashes ?? 0) >= 2).length === 2, 30_000)).toBe(true);
    const by = Object.fromEntries((await status()).sources.map((s) => [s.name, s]));
    expect(by['timer-throws'].error).toMatch(/crashed: TypeError: boom from a timer/);
    expect(by.rejects.error).toMatch(/crashed: Error: nobody catches me/);
    expect(by.busy.error).toMatch(/stalled: no heartbeat for 5 s \(a busy loop or a blocking call\); its thread was terminated/);
    for (const s of [by['timer-throws'], by.rejects]) {
      expect(['restarting', 'running']).toContain(s.state);
      expect(s.counters.restarts).toBeGreaterThanOrEqual(1);
    }
    expect(stderr).toMatch(/timer-throws: crashed: TypeError: boom from a timer; restarting in 1 s/);
    expect(agent.exitCode).toBeNull();
  }, 60_000);

  it("delivers a module's SIP, call state, route and log events to the session, and keeps capturing HEP SIP during the flood", async () => {
    const id = 'module-call-1@pbx';
    const invite = `INVITE sip:${TO}@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-m1\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:${TO}@pbx.example.com>\r\nCall-ID: ${id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`;
    const t = Date.now() * 1000;
    appendFileSync(
      join(dir, 'feed.jsonl'),
      [
        { type: 'sip', ts_us: t, src: '192.0.2.1:5060', dst: '192.0.2.2:5060', text: invite },
        { type: 'state', ts_us: t + 1, call_id: id, state: 'created', fields: { queue: 'sales' } },
        { type: 'route', ts_us: t + 2, call_id: id, route: 'SALES', destination: 'sip:agent-7@pbx' },
        { type: 'log', ts_us: t + 3, call_id: id, line: 'picked agent 7' },
      ].map((o) => JSON.stringify(o)).join('\n') + '\nnot json\n',
    );
    const sock = createSocket('udp4');
    const hepCalls = ['hep-call-1@edge', 'hep-call-2@edge', 'hep-call-3@edge'];
    for (const id of hepCalls) {
      const msgs = dialog(id);
      for (let i = 0; i < msgs.length; i++) {
        await new Promise<void>((r) => sock.send(hepSip(id, i, msgs[i]), hepPort, '127.0.0.1', () => r()));
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    sock.close();
    const of = (id: string) => center.events.filter((e) => e.call_id === id);
    expect(await waitFor(() => hepCalls.every((id) => of(id).length === 6) && of('module-call-1@pbx').length === 4, 20_000)).toBe(true);
    expect(of('module-call-1@pbx').map((e) => e.kind).sort()).toEqual(['callstate', 'log', 'route', 'sip']);
    const cs = of('module-call-1@pbx').find((e) => e.kind === 'callstate')!;
    expect(cs.callstate).toEqual({ platform: 'mypbx', state: 'created', source: 'pbx-feed', fields: { queue: 'sales' } });
    expect(of('module-call-1@pbx').find((e) => e.kind === 'route')!.route).toMatchObject({ route: 'SALES', destination: 'sip:agent-7@pbx' });
    for (const id of hepCalls) expect(of(id).map((e) => e.sip?.method ?? e.sip?.status)).toEqual(['INVITE', 180, 200, 'ACK', 'BYE', 200]);
    // no flood event reached the session: its Call-IDs belong to no captured dialog
    expect(center.events.some((e) => e.call_id?.startsWith('flood-'))).toBe(false);
    expect(center.invalid).toEqual([]);
    expect(stderr).toMatch(/pbx-feed: following .*feed\.jsonl/);
    // the module's status comes with its thread's heartbeat (every 250 ms)
    const feed = async () => (await status()).sources.find((x) => x.name === 'pbx-feed')!;
    expect(await until(async () => (await feed()).counters.lines === 5, 5000)).toBe(true);
    expect((await feed()).counters).toMatchObject({ lines: 5, bad_lines: 1, refused: 0 });
    expect(agent.exitCode).toBeNull();
  }, 30_000);
});

