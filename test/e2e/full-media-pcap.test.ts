// Full media in the PCAP (issue 17 item 3), live: sipp `uac_pcap` (G.711 and RFC 2833 DTMF played
// from sipp's pcaps) against `sipp -rtp_echo`, captured on lo by a real agent into a real center with
// capture_rtp + capture_pcap, while an independent tcpdump captures the same traffic. The agent's
// PCAP in export.tar must hold every RTP packet of the call: tshark (the oracle) reads both files and
// its `rtp,streams` table and its per-packet list (SSRC, sequence, ports, bytes) must be equal. The one
// named difference: two packet sockets (the agent's tcpdump and the reference) stamp the same packet
// each with its own clock read, a few µs apart, so times agree within 100 µs and the delta/jitter
// columns, computed from those times, within 0.01 ms.
// Ports 5240-5241 and media 16200-16320 belong to this file.
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
    fs.symlinkSync('/usr/share/sip-tester', path.join(dir, 'pcap'));
    pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS), '-rtp_echo', '-mp', String(MEDIA_UAS)], dir));
    const r = await sipp(
      ['-sn', 'uac_pcap', `127.0.0.1:${UAS}`, '-i', '127.0.0.1', '-p', String(UAC), '-mp', String(MEDIA_UAC), '-m', '1', '-nostdin', '-timeout', '60s', '-cid_str', 'fm-%u@e2e.test'],
      dir,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
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
    // packet for packet: the same RTP packets (SSRC, sequence, ports, bytes) in the same order, times within 100 µs
    expect(ours.map((p) => p.key)).toEqual(want.map((p) => p.key));
    ours.forEach((p, i) => expect(Math.abs(p.t - want[i].t)).toBeLessThan(100e-6));
    expect(got.map((s) => s.key)).toEqual(ref.map((s) => s.key));
    got.forEach((s, i) => s.times.forEach((v, j) => expect(Math.abs(v - ref[i].times[j]), `${s.key} column ${j}`).toBeLessThan(0.01)));
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
