// Scenario "bad input" (issue 4, Tests): hostile packets on the agent's HEP ports (UDP and TCP) and
// garbage lines in a tailed log are counted, nothing crashes, and the session still gets exactly
// the real dialog (sent as HEP3, with its original addresses) and its correlated log line. The
// drops show on the session itself (GET /api/sessions/{id} → agents[].counters.dropped).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Agent } from '../../src/agent/agent.js';
import type { RunningCenter } from '../../src/center/index.js';
import { encodeHep3, HEP_PROTO_TYPE } from '../../src/protocol/hep.js';
import { Api, e2eCenter, freePort, inProcessAgent, sleep, tempDir, waitFor } from './harness.js';

const CALL_ID = 'hostile-1@e2e.test';
const INVITE = [
  `INVITE sip:4420709999@pbx.example.com SIP/2.0`,
  'Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-hostile-1',
  'From: <sip:+15550001111@10.1.2.3>;tag=a1',
  'To: <sip:4420709999@pbx.example.com>',
  `Call-ID: ${CALL_ID}`,
  'CSeq: 1 INVITE',
  'Max-Forwards: 70',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');
const OK = [
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 10.1.2.3:5060;branch=z9hG4bK-hostile-1',
  'From: <sip:+15550001111@10.1.2.3>;tag=a1',
  'To: <sip:4420709999@pbx.example.com>;tag=b2',
  `Call-ID: ${CALL_ID}`,
  'CSeq: 1 INVITE',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

/** xorshift32: a fixed seed, so a failure reproduces */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

let dir: string;
let center: RunningCenter;
let api: Api;
let agent: Agent;
let agentId: number;
let hepPort: number;
let logFile: string;
let sessionId: string;

beforeAll(async () => {
  dir = tempDir('hostile');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  hepPort = await freePort();
  logFile = path.join(dir, 'proxy.log');
  fs.writeFileSync(logFile, 'start\n');
  const a = await inProcessAgent(center, {
    name: 'edge-hostile',
    hep: [`udp:127.0.0.1:${hepPort}`, `tcp:127.0.0.1:${hepPort}`],
    logs: [logFile],
  });
  agent = a.agent;
  agentId = a.id;
  await waitFor('sources running', () => agent.sources.every((s) => s.status().state === 'running'));
  sessionId = await api.newSession('hostile', { call_id: CALL_ID }, [agentId]);
  await waitFor('capture acknowledged', async () => (await api.detail(sessionId)).agents[0].state === 'capturing');
});

afterAll(async () => {
  await agent?.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const hep = (payload: string, src: string, dst: string): Buffer =>
  encodeHep3({
    ipProto: 17,
    srcIp: src,
    dstIp: dst,
    srcPort: 5060,
    dstPort: 5060,
    tsSec: 1_700_000_000,
    tsUsec: 123_456,
    protoType: HEP_PROTO_TYPE.SIP,
    captureId: 2001,
    payload,
  });

describe('hostile input on the HEP ports and in a tailed log', () => {
  it('random and malformed HEP (UDP and TCP) is counted; the real HEP3 dialog still arrives with its original addresses', async () => {
    const udp = dgram.createSocket('udp4');
    const next = rng(0xc0ffee);
    const sendUdp = (b: Buffer): Promise<void> => new Promise((r) => udp.send(b, hepPort, '127.0.0.1', () => r()));
    // mutated copies of a real packet of another call: some still decode, and must not reach the session
    const valid = hep(INVITE.replaceAll(CALL_ID, 'decoy-1@e2e.test'), '10.1.2.3', '10.9.8.7');
    let hostile = 0;
    for (let i = 0; i < 1500; i++) {
      const len = next() % 1400;
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = next() & 0xff;
      if (i % 3 === 0 && len >= 6) b.write('HEP3', 0, 'latin1'); // look like HEP3, with a random length and chunks
      if (i % 5 === 0) {
        // a valid packet, cut or with one byte changed in its chunk headers
        const v = Buffer.from(valid);
        v[6 + (next() % 20)] ^= 0xff;
        await sendUdp(i % 2 ? v : v.subarray(0, next() % v.length));
      } else {
        await sendUdp(b);
      }
      hostile++;
      if (i % 100 === 0) await sleep(5); // no kernel buffer overflow: this test counts, it does not flood
    }
    // TCP: a connection that sends garbage (a bogus HEP3 length, then junk) only spoils itself;
    // the real INVITE comes on a second connection
    const badConn = net.connect(hepPort, '127.0.0.1');
    await new Promise<void>((r) => badConn.once('connect', () => r()));
    const junk = Buffer.alloc(5000);
    for (let j = 0; j < junk.length; j++) junk[j] = next() & 0xff;
    badConn.write(Buffer.concat([Buffer.from('HEP3\x00\x09', 'latin1'), junk, Buffer.from('HEP3\xff\xff', 'latin1'), junk]));
    const sock = net.connect(hepPort, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(hep(INVITE, '10.1.2.3', '10.9.8.7'));
    await sleep(200);
    // the real 200 OK over UDP
    await sendUdp(hep(OK, '10.9.8.7', '10.1.2.3'));
    await sleep(200);
    sock.destroy();
    badConn.destroy();
    udp.close();

    const events = await waitFor('the dialog', async () => {
      const ev = await api.events(sessionId);
      return ev.filter((e) => e.kind === 'sip').length >= 2 ? ev : null;
    }, 15_000);
    await sleep(1000);
    const sip = (await api.events(sessionId)).filter((e) => e.kind === 'sip');
    console.log(`[e2e hostile] HEP: ${hostile} hostile datagrams + TCP garbage; expected 2 messages, received ${sip.length}`);
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(sip.map((e) => e.sip?.method ?? e.sip?.status)).toEqual(['INVITE', 200]);
    expect(sip[0]).toMatchObject({ src: { ip: '10.1.2.3', port: 5060 }, dst: { ip: '10.9.8.7', port: 5060 }, call_id: CALL_ID });
    expect(sip[0].ts).toBe(1_700_000_000_123_456);

    const st = agent.sources.find((s) => s.kind === 'hep' && s.name.startsWith('hep:udp'))!.status();
    const bad = Object.entries(st.counters).filter(([k]) => k.startsWith('bad_')).reduce((n, [, v]) => n + v, 0);
    expect(st.state).toBe('running');
    expect(bad + (st.counters.sip_malformed ?? 0) + (st.counters.no_addresses ?? 0)).toBeGreaterThan(hostile / 2);
    // the operator sees the drops on the session, with their reason
    const d = await waitFor('drops on the session', async () => {
      const x = await api.detail(sessionId);
      return (x.agents[0].counters.dropped.hep_malformed ?? 0) > 0 ? x : null;
    }, 10_000);
    expect(d.agents[0].state).toBe('capturing');
  });

  it('garbage log lines are counted and skipped; the line with the Call-ID becomes one `log` event', async () => {
    const next = rng(42);
    const bin = Buffer.alloc(3000);
    for (let j = 0; j < bin.length; j++) bin[j] = next() & 0xff;
    bin[10] = 0; // binary: holds NUL
    fs.appendFileSync(logFile, Buffer.concat([bin, Buffer.from('\n')]));
    fs.appendFileSync(logFile, `${'x'.repeat(100_000)}\n`); // overlong
    fs.appendFileSync(logFile, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])); // invalid UTF-8
    fs.appendFileSync(logFile, 'garbage without any call id \u0001\u0002\n');
    fs.appendFileSync(logFile, `2026-11-26 NOTICE proxy: relaying INVITE callid=${CALL_ID} to 10.9.8.7\n`);
    const logs = await waitFor('the log event', async () => {
      const ev = (await api.events(sessionId)).filter((e) => e.kind === 'log');
      return ev.length > 0 ? ev : null;
    }, 15_000);
    await sleep(1000);
    const all = await api.events(sessionId);
    const logEvents = all.filter((e) => e.kind === 'log');
    console.log(`[e2e hostile] log: 4 garbage lines + 1 correlated; expected 1 log event, received ${logEvents.length}`);
    expect(logs[0].payload).toContain(`callid=${CALL_ID}`);
    expect(logEvents).toHaveLength(1);
    expect(logEvents[0].call_id).toBe(CALL_ID);
    const st = agent.sources.find((s) => s.kind === 'log')!.status();
    expect(st.state).toBe('running');
    expect(st.counters.binary).toBeGreaterThanOrEqual(1);
    expect(st.counters.overlong).toBeGreaterThanOrEqual(1);
    // still alive and answering
    const r = await fetch(`${(await api.req('GET', '/api/agents')).json.agents[0].url}/v1/health`);
    expect(r.ok).toBe(true);
  });
});
