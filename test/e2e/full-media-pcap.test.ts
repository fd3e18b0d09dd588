// Full media in the PCAP (issue 17 item 3), live: sipp `uac_pcap` (G.711 and RFC 2833 DTMF played
// from sipp's pcaps) against `sipp -rtp_echo`, captured on lo by a real agent into a real center with
// capture_rtp + capture_pcap, while an independent tcpdump captures the same traffic. The agent's
// PCAP in export.tar must hold every RTP packet of the call: tshark (the oracle) reads both files and
// its `rtp,streams` table and its per-packet list (SSRC, sequence, ports, bytes) must be equal. The one
// named difference: two packet sockets (the agent's tcpdump and the reference) stamp the same packet
// each with its own clock read, a few µs apart (up to ~0.2 ms on a loaded machine), so times agree
// within 1 ms and the delta/jitter columns (ms), computed from those times, within 0.5 ms.
// The cap hit case: a second center with a small byte cap; the call's frames reach it, the session is
// capped with its reason, and the refused frames are counted by the agent (its status, the session's
// agent counters, /metrics).
// Ports 5240-5241, 5246-5247 and media 16200-16320 belong to this file.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import type { RunningCenter } from '../../src/center/index.js';
import { untar } from '../support/tar.js';
import { Api, e2eCenter, inProcessAgent, killPid, OPERATOR_TOKEN, sipp, sippBg, sleep, tempDir, waitFor } from './harness.js';

const UAS = 5240;
const UAC = 5241;
const MEDIA_UAS = 16200;
const MEDIA_UAC = 16300;
const FILTER = `udp portrange ${UAS}-${UAC} or udp portrange ${MEDIA_UAS}-${MEDIA_UAC + 20}`;

let dir: string;
let center: RunningCenter;
let api: Api;
let live: { agent: Agent; id: number };
let tcpdump: ChildProcess | undefined;
const pids: number[] = [];

beforeAll(async () => {
  dir = tempDir('fullmedia');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  live = await inProcessAgent(center, { name: 'edge-media', interfaces: ['lo'], bpf: FILTER, snaplen: 4096 });
  await waitFor('source running', () => live.agent.sources.every((s) => s.status().state === 'running'));
});

afterAll(async () => {
  for (const p of pids) killPid(p);
  if (tcpdump && tcpdump.exitCode === null) tcpdump.kill('SIGKILL');
  await live?.agent.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const tshark = (args: string[]): string =>
  execFileSync('tshark', ['-o', 'rtp.heuristic_rtp:TRUE', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });

/** tshark's rtp,streams rows (one per stream, sorted): the exact columns, and the time-derived numbers. */
function streams(file: string): { key: string; times: number[] }[] {
  return tshark(['-r', file, '-q', '-z', 'rtp,streams'])
    .split('\n')
    .filter((l) => /0x[0-9A-Fa-f]{8}/.test(l))
    .map((l) => {
      // start end src sport dst dport ssrc payload pkts lost (pct) minΔ meanΔ maxΔ minJ meanJ maxJ [X]
      const f = l.trim().split(/\s+/);
      return { key: [...f.slice(2, 11), f[17] ?? ''].join(' '), times: [f[0], f[1], ...f.slice(11, 17)].map(Number) };
    })
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Every RTP packet as tshark sees it: time, then SSRC, sequence number, ports and the RTP bytes. */
function rtpPackets(file: string): { t: number; key: string }[] {
  return tshark(['-r', file, '-Y', 'rtp', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'rtp.ssrc', '-e', 'rtp.seq', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'udp.payload'])
    .trim()
    .split('\n')
    .map((l) => ({ t: Number(l.split('|')[0]), key: l.split('|').slice(1).join('|') }));
}

/** One sipp uac_pcap call against an -rtp_echo UAS (its pid kept for afterAll). */
async function mediaCall(uas: number, uac: number, mediaUas: number, mediaUac: number, cidStr: string): Promise<void> {
  if (!fs.existsSync(path.join(dir, 'pcap'))) fs.symlinkSync('/usr/share/sip-tester', path.join(dir, 'pcap'));
  pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uas), '-rtp_echo', '-mp', String(mediaUas)], dir));
  const r = await sipp(
    ['-sn', 'uac_pcap', `127.0.0.1:${uas}`, '-i', '127.0.0.1', '-p', String(uac), '-mp', String(mediaUac), '-m', '1', '-nostdin', '-timeout', '60s', '-cid_str', cidStr],
    dir,
  );
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

describe('full media in the PCAP: sipp uac_pcap against -rtp_echo, agent on lo vs tcpdump', () => {
  it("export.tar's agent PCAP holds every RTP packet of the call: tshark rtp,streams and per-packet lists equal tcpdump's", async () => {
    const id = await api.newSession('full media', { call_id: 'fm-1@e2e.test' }, [live.id], { capture_rtp: true, capture_pcap: true });
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    const reference = path.join(dir, 'tcpdump.pcap');
    const td = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '4096', '-B', '8192', '-Z', 'root', '-w', reference, FILTER], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    tcpdump = td;
    let err = '';
    td.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    await waitFor('tcpdump listening', () => err.includes('listening on'), 10_000, 20);
    await mediaCall(UAS, UAC, MEDIA_UAS, MEDIA_UAC, 'fm-%u@e2e.test');
    await sleep(500);
    td.kill('SIGINT');
    await new Promise((res) => td.once('close', res));
    // stopping the session: the agent sends what its frame queue still holds
    expect((await api.req('DELETE', `/api/sessions/${id}`)).status).toBe(200);
    const want = rtpPackets(reference);
    expect(want.length).toBeGreaterThan(400);
    let ours: { t: number; key: string }[] = [];
    const file = path.join(dir, 'edge-media.pcap');
    await waitFor(
      'every RTP packet exported',
      async () => {
        const res = await fetch(`${center.url}/api/sessions/${id}/export.tar`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
        const files = await untar(Buffer.from(await res.arrayBuffer()));
        const pcap = files.get('edge-media.pcap');
        if (!pcap) return false;
        fs.writeFileSync(file, pcap);
        ours = rtpPackets(file);
        return ours.length >= want.length;
      },
      20_000,
      500,
    );
    const ref = streams(reference);
    const got = streams(file);
    console.log(
      `[full media] RTP packets: tcpdump ${want.length}, export ${ours.length}; tshark rtp,streams (src dst ssrc payload packets lost | start end deltas jitters):\n` +
        ref.map((r, i) => `  tcpdump ${r.key} | ${r.times.join(' ')}\n  export  ${got[i]?.key} | ${got[i]?.times.join(' ')}`).join('\n'),
    );
    // packet for packet: the same RTP packets (SSRC, sequence, ports, bytes) in the same order, times within 1 ms
    expect(ours.map((p) => p.key)).toEqual(want.map((p) => p.key));
    ours.forEach((p, i) => expect(Math.abs(p.t - want[i].t)).toBeLessThan(1e-3));
    expect(got.map((s) => s.key)).toEqual(ref.map((s) => s.key));
    got.forEach((s, i) => s.times.forEach((v, j) => expect(Math.abs(v - ref[i].times[j]), `${s.key} column ${j}`).toBeLessThan(j < 2 ? 1e-3 : 0.5)));
    expect(ref.length).toBe(4); // PCMA and telephone-event, each way
    // the events kept only the samples (first 10 of a stream, then 1 in 50)
    const events = await api.events(id);
    const samples = events.filter((e) => e.kind === 'rtp' && e.rtp !== null).length;
    expect(samples).toBeGreaterThan(0);
    expect(samples).toBeLessThan(want.length / 5);
    const d = await api.detail(id);
    expect(d.capped).toBe(false);
  }, 120_000);
});

describe('full media in the PCAP: the byte cap hit', () => {
  it('a center with a 60 kB cap: the session is capped with its reason, refused frames are counted on the agent, the session and /metrics', async () => {
    const CAP = 60_000;
    const small = await e2eCenter(path.join(dir, 'data-small'), { maxSessionBytes: CAP });
    const capApi = new Api(small.url);
    const edge = await inProcessAgent(small, { name: 'edge-capped', interfaces: ['lo'], bpf: `udp portrange 5246-5247 or udp portrange ${MEDIA_UAS}-${MEDIA_UAC + 20}`, snaplen: 4096 });
    try {
      await waitFor('source running', () => edge.agent.sources.every((s) => s.status().state === 'running'));
      const id = await capApi.newSession('capped', { call_id: 'fm-cap-1@e2e.test' }, [edge.id], { capture_rtp: true, capture_pcap: true });
      await waitFor('capture acknowledged', async () => (await capApi.detail(id)).agents[0].state === 'capturing');
      await mediaCall(5246, 5247, 16220, 16260, 'fm-cap-%u@e2e.test');
      const d = await waitFor('session capped', async () => {
        const x = await capApi.detail(id);
        return x.capped ? x : null;
      });
      expect(d.capped_reason).toBe(`max_bytes_per_session (${CAP} bytes) reached`);
      // the agent counts the frames the center refused; its counters reach the session with the next upload
      const dropsOf = () => edge.agent.manager.view(id)?.counters.dropped.frames_session_capped ?? 0;
      await waitFor('refused frames counted by the agent', () => dropsOf() > 100);
      const agentRow = await waitFor('counted on the session', async () => {
        const a = (await capApi.detail(id)).agents[0];
        return (a.counters.dropped.frames_session_capped ?? 0) > 0 ? a : null;
      });
      const metrics = await (await fetch(`${small.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).text();
      const refused = Number(/tunaio_ingest_frames_total\{result="session_capped"\} (\d+)/.exec(metrics)?.[1]);
      console.log(`[full media cap] cap ${CAP} B: agent counted ${dropsOf()} frames refused, session shows ${agentRow.counters.dropped.frames_session_capped}, /metrics ${refused}`);
      expect(refused).toBeGreaterThan(100);
      expect(metrics).toMatch(/tunaio_agent_dropped\{agent="edge-capped",reason="frames_session_capped"\} [1-9]/);
      // what was kept fits the cap
      const res = await fetch(`${small.url}/api/sessions/${id}/export.tar`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
      const pcap = (await untar(Buffer.from(await res.arrayBuffer()))).get('edge-capped.pcap')!;
      expect(pcap.length).toBeLessThan(CAP);
    } finally {
      await edge.agent.stop();
      await small.close();
    }
  }, 120_000);
});
