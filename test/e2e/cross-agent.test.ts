// One session, all its agents (issue 13 item 3): a live-capture agent on `lo` and a log-tail-only
// agent in one session. The live agent matches a call; the center tells the log agent to follow its
// Call-ID; the log agent delivers that call's log lines — those written just before the follow
// command reached it too — and nothing of other calls.
import { createSocket } from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import type { RunningCenter } from '../../src/center/index.js';
import { Api, e2eCenter, freePort, inProcessAgent, settle, tempDir, waitFor } from './harness.js';

let dir: string;
let center: RunningCenter;
let api: Api;
let live: { agent: Agent; id: number };
let tail: { agent: Agent; id: number };
let logFile: string;
let port: number;

beforeAll(async () => {
  dir = tempDir('cross-agent');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  port = await freePort();
  logFile = path.join(dir, 'kamailio.log');
  fs.writeFileSync(logFile, '');
  live = await inProcessAgent(center, { name: 'sbc-live', interfaces: ['lo'], bpf: `udp port ${port}`, snaplen: 4096, spoolDir: path.join(dir, 'spool-a') });
  tail = await inProcessAgent(center, { name: 'proxy-logs', logs: [logFile], spoolDir: path.join(dir, 'spool-b') });
  await waitFor('sources running', () => [...live.agent.sources, ...tail.agent.sources].every((s) => s.status().state === 'running'), 30_000);
}, 60_000);

afterAll(async () => {
  await live?.agent.stop();
  await tail?.agent.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const msg = (start: string, callId: string, method: string, cseq: number, toTag: boolean): Buffer =>
  Buffer.from(
    `${start}\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${method}${cseq}\r\nFrom: <sip:alice@sbc.example.com>;tag=a1\r\n` +
      `To: <sip:bob@example.com>${toTag ? ';tag=b1' : ''}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nContent-Length: 0\r\n\r\n`,
  );

describe('a log-tail-only agent follows the calls its session matched on another agent', () => {
  it('the log lines of the call matched by the live agent arrive from the log agent', async () => {
    const sid = await api.newSession('cross-agent', { from: 'alice' }, [live.id, tail.id]);
    await waitFor('both agents capturing', async () => (await api.detail(sid)).agents.every((a) => a.state === 'capturing'), 20_000);
    const callId = `cross-${Date.now()}@sbc.example.com`;
    const sock = createSocket('udp4');
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, port, '127.0.0.1', () => r()));
    const log = (line: string) => fs.appendFileSync(logFile, `${line}\n`);
    try {
      log(`Dec  4 17:00:00 proxy kamailio[100]: INFO: <script>: other call call-id=unrelated-1@x`);
      await send(msg('INVITE sip:bob@example.com SIP/2.0', callId, 'INVITE', 1, false));
      // written right away: before the follow command can have reached the log agent
      log(`Dec  4 17:00:01 proxy kamailio[100]: INFO: <script>: new INVITE ci=${callId} from alice`);
      await send(msg('SIP/2.0 180 Ringing', callId, 'INVITE', 1, true));
      await send(msg('SIP/2.0 200 OK', callId, 'INVITE', 1, true));
      await send(msg(`ACK sip:bob@127.0.0.1 SIP/2.0`, callId, 'ACK', 1, true));
      await waitFor('the log agent follows the call', () => tail.agent.manager.engine.dialogsOf(sid).includes(callId), 15_000);
      log(`Dec  4 17:00:05 proxy kamailio[100]: INFO: <script>: relayed BYE ci=${callId}`);
      log(`Dec  4 17:00:05 proxy kamailio[100]: INFO: <script>: other call call-id=unrelated-2@x`);
      await send(msg(`BYE sip:bob@127.0.0.1 SIP/2.0`, callId, 'BYE', 2, true));
      await send(msg('SIP/2.0 200 OK', callId, 'BYE', 2, true));
    } finally {
      sock.close();
    }
    const count = async () => (await api.events(sid)).length;
    await settle(count, 8, 20_000);
    const events = await api.events(sid);
    const sip = events.filter((e) => e.kind === 'sip');
    const logs = events.filter((e) => e.kind === 'log');
    console.log(`cross-agent: ${sip.length} SIP events from sbc-live (expected 6), ${logs.length} log lines from proxy-logs (expected 2)`);
    expect(sip.every((e) => e.agent_id === live.id && e.call_id === callId)).toBe(true);
    expect(sip.length).toBe(6);
    expect(logs.map((e) => [e.agent_id, e.call_id])).toEqual([
      [tail.id, callId],
      [tail.id, callId],
    ]);
    expect(logs.map((e) => e.payload)).toEqual([expect.stringContaining('new INVITE'), expect.stringContaining('relayed BYE')]);
  }, 90_000);
});
