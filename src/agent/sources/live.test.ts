// Live capture with real tcpdump on lo and real sipp (ports 5092-5093 belong to this file).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { Agent } from '../agent.js';
import { IngestServer, waitFor } from '../testing/ingest-server.js';
import { LiveSource } from './live.js';

const TOKEN = 'live-test-token-0123456789';
const UAS_PORT = 5092;
const UAC_PORT = 5093;
const S_CALL = 'a0000000000000000001';
const S_FROM = 'a0000000000000000002';
const S_NONE = 'a0000000000000000003';
const S_TEXT = 'a0000000000000000004';

let dir: string;
let center: IngestServer;
let agent: Agent;
let uasPid: number | undefined;

const put = async (id: string, criteria: Record<string, string>): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${agent.port}/v1/captures/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      criteria,
      capture_rtp: false,
      capture_pcap: true,
      expires_at: new Date(Date.now() + 120_000).toISOString(),
      ingest_url: center.url,
    }),
  });
  return res.status;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-live-'));
  center = new IngestServer(TOKEN);
  await center.start(0);
  agent = new Agent({
    name: 'live-test',
    token: TOKEN,
    listen: { host: '127.0.0.1', port: 0 },
    interfaces: ['lo'],
    bpf: `udp portrange ${UAS_PORT}-${UAC_PORT}`,
    snaplen: 4096,
    liveStatsIntervalMs: 200,
  });
  await agent.start();
});

afterAll(async () => {
  if (uasPid) {
    try {
      process.kill(uasPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await agent?.stop();
  await center?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('live capture on lo with sipp', () => {
  it('is running once "listening on" was seen', () => {
    const st = agent.sources[0].status();
    expect(st).toMatchObject({ kind: 'live', name: 'live:lo', state: 'running' });
  });

  it('gives each session exactly its dialogs: 6 messages per call, nothing else', async () => {
    expect(await put(S_CALL, { call_id: 'live-3@tunaio' })).toBe(201);
    expect(await put(S_FROM, { from: 'sipp' })).toBe(201);
    expect(await put(S_NONE, { to: 'nobody-here' })).toBe(201);
    expect(await put(S_TEXT, { text: 'live-2@tunaio' })).toBe(201);

    // sipp -bg exits 99 after forking; the PID line is what counts.
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS_PORT), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    uasPid = Number(/PID=\[(\d+)\]/.exec(uas.stdout)?.[1]);
    expect(uasPid).toBeGreaterThan(0);
    const uac = spawnSync(
      'sipp',
      ['-sn', 'uac', `127.0.0.1:${UAS_PORT}`, '-i', '127.0.0.1', '-p', String(UAC_PORT), '-m', '5', '-r', '5', '-nostdin', '-cid_str', 'live-%u@tunaio'],
      { cwd: dir, encoding: 'utf8', timeout: 30_000 },
    );
    expect(uac.status).toBe(0);

    await waitFor(() => center.of(S_FROM).length >= 30 && center.of(S_CALL).length >= 6 && center.of(S_TEXT).length >= 6, 10_000);
    // a little longer, so that anything extra would have arrived too
    await new Promise((r) => setTimeout(r, 400));
    expect(center.invalid).toEqual([]);

    const call = center.of(S_CALL);
    const label = (e: (typeof call)[number]) => e.sip?.method ?? String(e.sip?.status);
    expect(call.map(label)).toEqual(['INVITE', '180', '200', 'ACK', 'BYE', '200']);
    expect(new Set(call.map((e) => e.call_id))).toEqual(new Set(['live-3@tunaio']));
    expect(call.every((e) => e.kind === 'sip' && e.transport === 'udp' && e.frame !== null)).toBe(true);

    const text = center.of(S_TEXT);
    expect(text.map(label)).toEqual(['INVITE', '180', '200', 'ACK', 'BYE', '200']);
    expect(new Set(text.map((e) => e.call_id))).toEqual(new Set(['live-2@tunaio']));

    const from = center.of(S_FROM);
    expect(from).toHaveLength(30);
    const perCall = new Map<string, number>();
    for (const e of from) perCall.set(e.call_id!, (perCall.get(e.call_id!) ?? 0) + 1);
    expect([...perCall.keys()].sort()).toEqual([1, 2, 3, 4, 5].map((i) => `live-${i}@tunaio`));
    expect([...perCall.values()]).toEqual([6, 6, 6, 6, 6]);
    // seqs strictly increase per session
    for (let i = 1; i < from.length; i++) expect(from[i].seq).toBeGreaterThan(from[i - 1].seq);

    expect(center.of(S_NONE)).toEqual([]);
    // the empty session still reports that packets were seen: "packets arrive but nothing matches"
    const view = agent.manager.view(S_NONE)!;
    expect(view.counters.packets_seen).toBeGreaterThanOrEqual(30);
    expect(view.counters.packets_matched).toBe(0);
    expect(center.countersOf(S_FROM)).toMatchObject({ packets_matched: 30 });

    // tshark (the oracle) reads the session's frames back: the dialog's 6 SIP messages, byte-exact frames
    const f0 = call[0].frame!;
    const w = new PcapWriter({ linkType: f0.link_type });
    const file = join(dir, 'call.pcap');
    writeFileSync(
      file,
      Buffer.concat([w.header(), ...call.map((e) => w.record(e.ts, Buffer.from(e.frame!.data, 'base64'), e.frame!.orig_len))]),
    );
    const out = execFileSync(
      'tshark',
      ['-r', file, '-d', `udp.port==${UAS_PORT},sip`, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID', '-e', 'sip.CSeq.method'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const rows = out.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.map((r) => r[0])).toEqual(Array(6).fill('live-3@tunaio'));
    expect(rows.map((r) => r[1])).toEqual(['INVITE', 'INVITE', 'INVITE', 'ACK', 'BYE', 'BYE']);
  });

  it('reports kernel drop counters from tcpdump (SIGUSR1)', async () => {
    const live = agent.sources[0] as LiveSource;
    expect(await waitFor(() => (live.status().counters.received_by_filter ?? 0) > 0, 5000)).toBe(true);
    expect(live.status().counters.kernel_dropped).toBe(0);
  });
});

describe('live source failures', () => {
  it('says clearly when tcpdump is missing', async () => {
    const s = new LiveSource({ iface: 'lo', onPacket: () => undefined, tcpdumpPath: '/nonexistent/tcpdump', restartMinMs: 60_000 });
    await s.start();
    expect(s.status()).toMatchObject({ state: 'failed', error: expect.stringMatching(/tcpdump is not installed/) });
    await s.stop();
  });

  it('says clearly when the interface does not exist', async () => {
    const s = new LiveSource({ iface: 'nosuchif0', onPacket: () => undefined, restartMinMs: 60_000 });
    await s.start();
    expect(s.status()).toMatchObject({ state: 'failed', error: expect.stringMatching(/no interface named "nosuchif0"/) });
    await s.stop();
  });

  it('says clearly when the filter is refused', async () => {
    const s = new LiveSource({ iface: 'lo', bpf: 'udp port banana', onPacket: () => undefined, restartMinMs: 60_000 });
    await s.start();
    expect(s.status()).toMatchObject({ state: 'failed', error: expect.stringMatching(/filter was refused/) });
    await s.stop();
  });

  it('restarts tcpdump when it dies', async () => {
    const s = new LiveSource({ iface: 'lo', bpf: 'udp port 5093', onPacket: () => undefined, restartMinMs: 100 });
    await s.start();
    expect(s.status().state).toBe('running');
    const pid = (s as unknown as { child: { pid: number } }).child.pid;
    process.kill(pid, 'SIGKILL');
    expect(await waitFor(() => s.status().counters.restarts === 1 && s.status().state === 'running', 5000)).toBe(true);
    await s.stop();
  });
});
