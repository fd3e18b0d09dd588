// One message, one row (issue 17 item 5), live: Kamailio proxies sipp UAC → UAS and mirrors every
// message as HEP3 to an agent that ALSO captures the same traffic on lo, so each message reaches the
// agent twice. Each SIP message must be one event listing both sources, and the ladder must mark no
// retransmission. A real retransmission: a second call whose UAS starts ~1 s late, so Kamailio's tm
// retransmits the INVITE (Timer A, 500 ms then 1 s): those stay separate events, marked.
// Ports 5242-5245 belong to this file.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import type { RunningCenter } from '../../src/center/index.js';
import { buildLadder } from '../../src/core/ladder/index.js';
import type { Event } from '../../src/core/schema/index.js';
import { kamailioTraceConfig } from '../support/kamailio.js';
import { Api, e2eCenter, freePort, inProcessAgent, killPid, sipp, sippBg, sleep, tempDir, waitFor } from './harness.js';

const PROXY = 5242;
const UAS = 5243;
const UAC = 5244;

let dir: string;
let center: RunningCenter;
let api: Api;
let both: { agent: Agent; id: number };
let hepPort: number;
let kam: ChildProcess | undefined;
const pids: number[] = [];

beforeAll(async () => {
  dir = tempDir('onerow');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  hepPort = await freePort();
  both = await inProcessAgent(center, { name: 'edge-both', interfaces: ['lo'], bpf: `udp portrange ${PROXY}-${UAC}`, snaplen: 4096, hep: [`udp:127.0.0.1:${hepPort}`] });
  await waitFor('sources running', () => both.agent.sources.length === 2 && both.agent.sources.every((s) => s.status().state === 'running'));
  fs.writeFileSync(path.join(dir, 'k.cfg'), kamailioTraceConfig({ listenPort: PROXY, hepPort, nextHopPort: UAS }));
  kam = spawn('kamailio', ['-f', path.join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  kam.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4096)));
  kam.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4096)));
  await waitFor('kamailio listening', () => /Listening on/.test(out), 10_000);
}, 60_000);

afterAll(async () => {
  for (const p of pids) killPid(p);
  // SIGTERM: Kamailio's main process then stops its workers
  if (kam && kam.exitCode === null && kam.signalCode === null) kam.kill('SIGTERM');
  await both?.agent.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const LIVE = 'live:lo';
const HEP = () => `hep:udp:127.0.0.1:${hepPort}`;
const hop = (e: Event) => `${e.sip?.method ?? e.sip?.status} ${e.src!.port}>${e.dst!.port}`;

async function sessionEvents(id: string, atLeast: number): Promise<Event[]> {
  await waitFor(`${atLeast} SIP events`, async () => (await api.events(id)).filter((e) => e.kind === 'sip').length >= atLeast, 20_000).catch(() => undefined);
  await sleep(1500);
  return (await api.events(id)).filter((e) => e.kind === 'sip');
}

describe('one message, one row: live capture on lo plus Kamailio HEP of the same calls', () => {
  it('each SIP message of the proxied call is one event with both sources; no retransmission marked', async () => {
    const CALL = 'row-a-1@e2e.test';
    const id = await api.newSession('one row', { call_id: CALL }, [both.id]);
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    const uas = await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS)], dir);
    pids.push(uas);
    const r = await sipp(['-sn', 'uac', `127.0.0.1:${PROXY}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', '1', '-nostdin', '-timeout', '30s', '-cid_str', 'row-a-%u@e2e.test'], dir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    killPid(uas);
    // 7 messages on the UAC leg (with Kamailio's 100 Trying) and 6 on the UAS leg
    const sip = await sessionEvents(id, 13);
    console.log(`[one row] ${sip.length} SIP events: ${sip.map((e) => `${hop(e)} [${(e.sources ?? []).join(' + ')}]`).join('; ')}`);
    expect(sip).toHaveLength(13);
    expect(sip.every((e) => e.call_id === CALL)).toBe(true);
    for (const e of sip) expect(e.sources, hop(e)).toEqual(expect.arrayContaining([LIVE, HEP()]));
    const ladder = buildLadder(sip);
    expect(ladder.arrows).toHaveLength(13);
    expect(ladder.arrows.filter((a) => a.retransmission)).toEqual([]);
    // the agent's status counts the 13 copies merged
    expect(both.agent.manager.view(id)?.counters.duplicates_merged).toBe(13);
  }, 60_000);

  it('a real retransmission (Kamailio tm, Timer A) stays separate events, marked as retransmissions, each with both sources', async () => {
    const CALL = 'row-b-1@e2e.test';
    const id = await api.newSession('retransmission', { call_id: CALL }, [both.id]);
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    // the UAS is not there yet: Kamailio sends the INVITE at 0 s and retransmits at 0.5 s and 1.5 s
    const uac = sipp(['-sn', 'uac', `127.0.0.1:${PROXY}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', '1', '-nostdin', '-timeout', '30s', '-cid_str', 'row-b-%u@e2e.test'], dir);
    await sleep(1000);
    pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS)], dir));
    expect((await uac).code).toBe(0);
    const sip = await sessionEvents(id, 14);
    const invites = sip.filter((e) => e.sip?.method === 'INVITE' && e.src!.port === PROXY);
    console.log(`[one row] retransmission call: ${sip.length} SIP events; INVITEs Kamailio → UAS at ${invites.map((e) => `${Math.round((e.ts - invites[0].ts) / 1000)} ms [${(e.sources ?? []).join(' + ')}]`).join(', ')}`);
    expect(invites.length).toBeGreaterThanOrEqual(2);
    for (const e of invites) expect(e.sources).toEqual(expect.arrayContaining([LIVE, HEP()]));
    expect(sip).toHaveLength(13 + invites.length - 1);
    const ladder = buildLadder(sip);
    const arrows = ladder.arrows.filter((a) => a.method === 'INVITE' && invites.some((e) => e.id === a.eventId));
    expect(arrows.map((a) => a.retransmission)).toEqual(invites.map((_, i) => i > 0));
    // every message but the retransmitted INVITEs: marked nowhere else
    expect(ladder.arrows.filter((a) => a.retransmission)).toHaveLength(invites.length - 1);
  }, 60_000);
});
