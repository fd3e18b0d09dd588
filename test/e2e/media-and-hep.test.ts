// Scenarios "RTP" and "HEP and logs" (issue 4, Tests), through the real center:
// - sipp uac_pcap against an -rtp_echo UAS, captured live on lo: the session with capture_rtp gets
//   the RTP samples and final per-stream stats of its call only, with 0 loss;
// - Kamailio proxies sipp UAC → UAS and mirrors every message as HEP3 (siptrace) to the agent, and
//   its xlog lines carrying the Call-ID are tailed: the session sees the proxied call from the HEP
//   source and the log lines as correlated `log` events.
// Ports 5080-5085 and media 16000-16110 belong to this file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../src/agent/agent.js';
import type { RunningCenter } from '../../src/center/index.js';
import { Api, e2eCenter, freePort, inProcessAgent, killPid, sipp, sippBg, sleep, tempDir, waitFor } from './harness.js';
import { kamailioTraceConfig } from '../support/kamailio.js';

const RTP_UAS = 5080;
const RTP_UAC = 5081;
const MEDIA_UAS = 16000;
const MEDIA_UAC = 16100;
const PROXY = 5083;
const KAM_UAS = 5084;
const KAM_UAC = 5085;

let dir: string;
let center: RunningCenter;
let api: Api;
let live: { agent: Agent; id: number };
let hepAgent: { agent: Agent; id: number };
let hepPort: number;
const pids: number[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = tempDir('media');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  live = await inProcessAgent(center, {
    name: 'edge-rtp',
    interfaces: ['lo'],
    bpf: `udp portrange ${RTP_UAS}-${RTP_UAC} or udp portrange ${MEDIA_UAS}-${MEDIA_UAC + 10}`,
    snaplen: 4096,
  });
  hepPort = await freePort();
  fs.writeFileSync(path.join(dir, 'kamailio.log'), '');
  hepAgent = await inProcessAgent(center, {
    name: 'edge-kamailio',
    hep: [`udp:127.0.0.1:${hepPort}`],
    logs: [path.join(dir, 'kamailio.log')],
  });
  await waitFor('sources running', () => [...live.agent.sources, ...hepAgent.agent.sources].every((s) => s.status().state === 'running'));
});

afterAll(async () => {
  for (const p of pids) killPid(p);
  // SIGTERM: Kamailio's main process then stops its workers; SIGKILL would leave them running, orphaned
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await live?.agent.stop();
  await hepAgent?.agent.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('RTP: sipp uac_pcap against an -rtp_echo UAS', () => {
  it('the capture_rtp session gets samples and final stats of its call only, with 0 loss', async () => {
    const id = await api.newSession('rtp', { call_id: 'rtp-2@e2e.test' }, [live.id], { capture_rtp: true });
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    fs.symlinkSync('/usr/share/sip-tester', path.join(dir, 'pcap'));
    pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(RTP_UAS), '-rtp_echo', '-mp', String(MEDIA_UAS)], dir));
    // two calls one after the other: the echo UAS answers both from one media port, so the first
    // call's packets must not leak into the session of the second
    const r = await sipp(
      ['-sn', 'uac_pcap', `127.0.0.1:${RTP_UAS}`, '-i', '127.0.0.1', '-p', String(RTP_UAC), '-mp', String(MEDIA_UAC), '-m', '2', '-l', '1',
        '-r', '5', '-nostdin', '-timeout', '60s', '-cid_str', 'rtp-%u@e2e.test'],
      dir,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await sleep(500);
    // stopping the session makes the agent send each stream's final summary (ingest grace)
    expect((await api.req('DELETE', `/api/sessions/${id}`)).status).toBe(200);
    await waitFor('final stats', async () => (await api.events(id)).filter((e) => e.stats?.final).length >= 4, 10_000).catch(() => undefined);
    await sleep(500);
    const events = await api.events(id);
    expect(events.every((e) => e.call_id === 'rtp-2@e2e.test')).toBe(true);
    const finals = events.filter((e) => e.stats?.final);
    expect(finals.map((e) => `${e.src!.port}>${e.dst!.port} ${e.stats!.codec}`).sort()).toEqual([
      `${MEDIA_UAS}>${MEDIA_UAC + 4} PCMA`,
      `${MEDIA_UAS}>${MEDIA_UAC + 4} telephone-event`,
      `${MEDIA_UAC + 4}>${MEDIA_UAS} PCMA`,
      `${MEDIA_UAC + 4}>${MEDIA_UAS} telephone-event`,
    ]);
    // lost = expected − received (RFC 3550 §6.4.1, as tshark): 0 for the audio; the DTMF streams carry
    // RFC 4733 §2.5.1.4's retransmitted end-of-event packets (same sequence number), so duplicates make it negative
    for (const f of finals) {
      expect(f.stats, JSON.stringify(f.stats)).toMatchObject({ final: true, lost: f.stats!.expected - f.stats!.packets });
      if (f.stats!.codec === 'PCMA') expect(f.stats).toMatchObject({ lost: 0, duplicates: 0 });
      else expect(f.stats!.lost).toBe(-(f.stats!.duplicates ?? 0));
    }
    const audio = finals.filter((e) => e.stats!.codec === 'PCMA');
    expect(audio.every((e) => e.stats!.packets > 200)).toBe(true);
    const samples = events.filter((e) => e.kind === 'rtp' && e.rtp !== null);
    let expectedSamples = 0;
    for (const f of finals) {
      const n = f.stats!.packets;
      expectedSamples += Math.min(n, 10) + Math.max(0, Math.floor((n - 10) / 50));
    }
    const sipCount = events.filter((e) => e.kind === 'sip').length;
    console.log(
      `[e2e rtp] SIP: expected 6, received ${sipCount}; RTP samples: expected ${expectedSamples}, received ${samples.length}; ` +
        `streams ${finals.length} (audio ${audio.map((e) => e.stats!.packets).join('/')} packets, lost ${finals.map((e) => e.stats!.lost).join('/')})`,
    );
    expect(sipCount).toBe(6);
    expect(samples.length).toBe(expectedSamples);
    const d = await api.detail(id);
    expect(d.counts.rtp).toBeGreaterThan(0);
  }, 90_000);
});

const kamailioCfg = (port: number): string => kamailioTraceConfig({ listenPort: PROXY, hepPort: port, nextHopPort: KAM_UAS });

describe('HEP and logs: Kamailio siptrace between sipp UAC and UAS', () => {
  it('the session sees the proxied call from the HEP source and the Kamailio log lines carrying its Call-ID', async () => {
    const CALL = 'kam-2@e2e.test';
    const id = await api.newSession('kamailio', { call_id: CALL }, [hepAgent.id]);
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    fs.writeFileSync(path.join(dir, 'k.cfg'), kamailioCfg(hepPort));
    const logFd = fs.openSync(path.join(dir, 'kamailio.log'), 'a');
    const kam = spawn('kamailio', ['-f', path.join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8'], { stdio: ['ignore', 'pipe', logFd] });
    children.push(kam);
    fs.closeSync(logFd);
    let out = '';
    kam.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4096)));
    await waitFor('kamailio listening', () => /Listening on/.test(out), 10_000);
    pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(KAM_UAS)], dir));
    const r = await sipp(
      ['-sn', 'uac', `127.0.0.1:${PROXY}`, '-i', '127.0.0.1', '-p', String(KAM_UAC), '-m', '3', '-r', '5', '-nostdin', '-timeout', '30s', '-cid_str', 'kam-%u@e2e.test'],
      dir,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // 7 messages on the UAC leg (with Kamailio's 100 Trying) and 6 on the UAS leg, each mirrored once
    const expectedSip = 13;
    const logLines = () => fs.readFileSync(path.join(dir, 'kamailio.log'), 'utf8').split('\n').filter((l) => l.includes(`callid=${CALL}`));
    await waitFor('the proxied call and its log lines', async () => {
      const ev = await api.events(id);
      return ev.filter((e) => e.kind === 'sip').length >= expectedSip && ev.filter((e) => e.kind === 'log').length >= logLines().length;
    }, 15_000).catch(() => undefined);
    await sleep(1000);
    const events = await api.events(id);
    const sip = events.filter((e) => e.kind === 'sip');
    const logs = events.filter((e) => e.kind === 'log');
    console.log(`[e2e hep] SIP via HEP: expected ${expectedSip}, received ${sip.length}; log lines: expected ${logLines().length}, received ${logs.length}`);
    expect(logLines()).toHaveLength(3); // INVITE, ACK, BYE
    expect(sip).toHaveLength(expectedSip);
    expect(sip.every((e) => e.call_id === CALL)).toBe(true);
    expect(new Set(sip.map((e) => `${e.src!.port}>${e.dst!.port}`))).toEqual(
      new Set([`${KAM_UAC}>${PROXY}`, `${PROXY}>${KAM_UAC}`, `${PROXY}>${KAM_UAS}`, `${KAM_UAS}>${PROXY}`]),
    );
    expect(logs.map((e) => e.payload)).toEqual(logLines());
    expect(logs.every((e) => e.call_id === CALL)).toBe(true);
    expect(events).toHaveLength(sip.length + logs.length);
    const agents = (await api.req('GET', '/api/agents')).json.agents as { name: string; sources: { type: string }[] }[];
    expect(agents.find((a) => a.name === 'edge-kamailio')!.sources.map((s) => s.type).sort()).toEqual(['hep', 'log']);
  }, 60_000);
});
