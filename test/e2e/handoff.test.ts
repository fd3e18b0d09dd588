// Scenario "handoff" (issue 6, Tests): a real center and a real agent capturing live on lo, sipp calls,
// a tcpdump capture taken alongside. The session's export.tar is extracted; tshark reads its pcap: the
// SIP messages equal the session's SIP events (count and Call-IDs), and its frames equal those of the
// tcpdump capture byte for byte. The share link serves the same tar without credentials.
// Ports 5230-5231 belong to this file.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untar } from '../support/tar.js';
import type { Agent } from '../../src/agent/agent.js';
import type { RunningCenter } from '../../src/center/index.js';
import type { Event } from '../../src/core/schema/index.js';
import { readCaptureFile } from '../../src/protocol/capture-file.js';
import { Api, e2eCenter, inProcessAgent, killPid, OPERATOR_TOKEN, sipp, sippBg, sleep, tempDir, waitFor } from './harness.js';

const UAS = 5230;
const UAC = 5231;
const CALLS = 3;
const FILTER = `udp and (port ${UAS} or port ${UAC})`;

let dir: string;
let center: RunningCenter;
let api: Api;
let agent: Agent;
let agentId: number;
let tcpdump: ChildProcess | undefined;
let uasPid: number | undefined;

async function startTcpdump(file: string): Promise<ChildProcess> {
  const td = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '4096', '-B', '8192', '-Z', 'root', '-w', file, FILTER], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  td.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await waitFor('tcpdump listening', () => err.includes('listening on'), 10_000, 20);
  return td;
}

async function allEvents(id: string): Promise<Event[]> {
  const out: Event[] = [];
  let after = 0;
  for (let i = 0; i < 100; i++) {
    const r = (await api.req('GET', `/api/sessions/${id}/events?after=${after}&limit=1000`)).json as { events: Event[]; next_after: number; more: boolean };
    out.push(...r.events);
    after = r.next_after;
    if (!r.more) break;
  }
  return out;
}

beforeAll(async () => {
  dir = tempDir('handoff');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  const a = await inProcessAgent(center, { name: 'edge-lo', interfaces: ['lo'], bpf: FILTER, snaplen: 4096, spoolDir: path.join(dir, 'spool') });
  agent = a.agent;
  agentId = a.id;
  await waitFor('tcpdump listening on lo', () => agent.sources.every((s) => s.status().state === 'running'));
}, 60_000);

afterAll(async () => {
  killPid(uasPid);
  if (tcpdump && tcpdump.exitCode === null) tcpdump.kill('SIGKILL');
  await agent?.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('handoff: export.tar of a live capture', () => {
  it('pcap frames equal a tcpdump capture taken alongside, byte for byte; its SIP equals the session\'s events; the share link serves it', async () => {
    const id = await api.newSession('handoff', { text: 'handoff-' }, [agentId], { capture_pcap: true });
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    const alongside = path.join(dir, 'alongside.pcap');
    tcpdump = await startTcpdump(alongside);
    uasPid = await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS)], dir);
    const uac = await sipp(
      ['-sn', 'uac', `127.0.0.1:${UAS}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', String(CALLS), '-r', '10', '-nostdin', '-cid_str', 'handoff-%u-%p@tunaio', '-timeout', '30s'],
      dir,
    );
    expect(uac.code, uac.stderr).toBe(0);
    await waitFor('every message stored', async () => (await api.detail(id)).event_count >= CALLS * 6, 20_000);
    await sleep(300);
    const exited = new Promise((r) => tcpdump!.once('exit', r));
    tcpdump.kill('SIGINT');
    await exited;

    const res = await fetch(`${center.url}/api/sessions/${id}/export.tar`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(res.status).toBe(200);
    const files = await untar(Buffer.from(await res.arrayBuffer()));
    expect([...files.keys()]).toEqual(['edge-lo.pcap', 'session.json']);
    const exported = path.join(dir, 'edge-lo.pcap');
    fs.writeFileSync(exported, files.get('edge-lo.pcap')!);

    const ours = readCaptureFile(files.get('edge-lo.pcap')!).records;
    const theirs = readCaptureFile(fs.readFileSync(alongside)).records;
    expect(theirs.length).toBe(CALLS * 6);
    expect(ours.length).toBe(theirs.length);
    const key = (d: Buffer) => d.toString('hex');
    // the agent uploads in batches: compare as sets of frames, then check order by capture time
    expect(ours.map((r) => key(r.data)).sort()).toEqual(theirs.map((r) => key(r.data)).sort());
    const tsOf = new Map(theirs.map((r) => [key(r.data), r.tsUs]));
    for (const r of ours) expect(Math.abs(r.tsUs - (tsOf.get(key(r.data)) ?? 0))).toBeLessThan(1000);
    expect(ours.every((r) => r.linkType === theirs[0].linkType)).toBe(true);

    const t = spawnTshark(exported);
    const events = (await allEvents(id)).filter((e) => e.kind === 'sip');
    expect(t.length).toBe(events.length);
    expect(t.map((r) => r[0]).sort()).toEqual(events.map((e) => e.call_id).sort());
    expect(new Set(events.map((e) => e.call_id)).size).toBe(CALLS);

    const meta = JSON.parse(files.get('session.json')!.toString('utf8'));
    expect(meta.agents[0]).toMatchObject({ name: 'edge-lo', files: [{ name: 'edge-lo.pcap', packets: CALLS * 6 }] });

    const share = (await api.req('POST', `/api/sessions/${id}/share`)).json as { token: string };
    const shared = await fetch(`${center.url}/api/share/${share.token}/export.tar`);
    expect(shared.status).toBe(200);
    const sharedFiles = await untar(Buffer.from(await shared.arrayBuffer()));
    expect(sharedFiles.get('edge-lo.pcap')!.equals(files.get('edge-lo.pcap')!)).toBe(true);
    const png = await fetch(`${center.url}/api/share/${share.token}/ladder.png`);
    expect(png.headers.get('content-type')).toBe('image/png');
    fs.writeFileSync(path.join(os.tmpdir(), 'tunaio-handoff-ladder.png'), Buffer.from(await png.arrayBuffer()));
  }, 90_000);
});

function spawnTshark(file: string): string[][] {
  const r = spawnSync('tshark', ['-r', file, '-d', `udp.port==${UAS},sip`, '-d', `udp.port==${UAC},sip`, '-Y', 'sip', '-T', 'fields', '-E', 'separator=|', '-e', 'sip.Call-ID', '-e', 'sip.Method', '-e', 'sip.Status-Code'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tshark: ${r.stderr}`);
  fs.writeFileSync(path.join(os.tmpdir(), 'tunaio-handoff-sip-stat.txt'), spawnSync('tshark', ['-r', file, '-d', `udp.port==${UAS},sip`, '-q', '-z', 'sip,stat'], { encoding: 'utf8' }).stdout);
  return r.stdout.trim().split('\n').map((l) => l.split('|'));
}
