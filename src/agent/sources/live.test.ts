// Live capture with real tcpdump on lo and real sipp (ports 5092-5093 belong to this file).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { Agent } from '../agent.js';
import { IngestServer, waitFor } from '../testing/ingest-server.js';
import { LiveSource, OUTPUT_BUFFER_BYTES } from './live.js';

const TOKEN = 'live-test-token-0123456789';
const UAS_PORT = 5092;
const UAC_PORT = 5093;
const MEDIA_UAS = 6000;
const MEDIA_UAC = 6100;
const S_CALL = 'a0000000000000000001';
const S_FROM = 'a0000000000000000002';
const S_NONE = 'a0000000000000000003';
const S_TEXT = 'a0000000000000000004';

let dir: string;
let center: IngestServer;
let agent: Agent;
let uasPid: number | undefined;

const put = async (id: string, criteria: Record<string, string>, captureRtp = false): Promise<number> => {
  const res = await fetch(`http://127.0.0.1:${agent.port}/v1/captures/${id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      criteria,
      capture_rtp: captureRtp,
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
    bpf: `udp portrange ${UAS_PORT}-${UAC_PORT} or udp portrange ${MEDIA_UAS}-${MEDIA_UAC + 10}`,
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
    process.kill(uasPid, 'SIGKILL'); // the next tests start their own UAS on the same port
    uasPid = undefined;

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

  it("raises the send buffer of tcpdump's output socket, so a busy agent does not make tcpdump block (and the kernel drop)", () => {
    const pid = (agent.sources[0] as unknown as { child: { pid: number } }).child.pid;
    // the process is tcpdump itself (perl exec'd it), and its stdout socket has the large buffer
    expect(execFileSync('cat', [`/proc/${pid}/comm`]).toString().trim()).toBe('tcpdump');
    const ss = execFileSync('ss', ['-xmp']).toString();
    const line = ss.split('\n').find((l) => l.includes(`pid=${pid},fd=1)`));
    expect(line, ss.slice(0, 2000)).toBeDefined();
    const tb = Number(/skmem:\([^)]*\btb(\d+)/.exec(line!)?.[1]);
    expect(tb).toBeGreaterThanOrEqual(OUTPUT_BUFFER_BYTES);
  });

  it('reports kernel drop counters from tcpdump (SIGUSR1)', async () => {
    const live = agent.sources[0] as LiveSource;
    expect(await waitFor(() => (live.status().counters.received_by_filter ?? 0) > 0, 5000)).toBe(true);
    expect(live.status().counters.kernel_dropped).toBe(0);
  });
});

describe('live capture: criteria against calls from several callers to several DIDs (sipp injection file)', () => {
  // calls.csv: 1 = +15551230001 → 4420700001 @pbx.example.com, tenant acme
  //            2 = +15551230002 → 4420700002 @pbx.example.com, tenant globex
  //            3 = +15551230003 → 4420700001 @other.example.net, tenant acme
  const cases: [string, Record<string, string>, number[]][] = [
    ['a0000000000000000011', { from: '5551230001' }, [1]], // national form matches the international caller
    ['a0000000000000000012', { to: '4420700001' }, [1, 3]],
    ['a0000000000000000013', { from: '4420700001' }, []], // a call *to* a number never matches `from`
    ['a0000000000000000014', { domain: 'example.com' }, [1, 2]], // parent domain
    ['a0000000000000000015', { tenant: 'globex' }, [2]], // X-Tenant header
    ['a0000000000000000016', { text: 'GLOBEX' }, [2]], // case-insensitive substring
    ['a0000000000000000017', { provider_ip: '127.0.0.0/8' }, [1, 2, 3]],
    ['a0000000000000000018', { to: '4420700001', domain: 'other.example.net' }, [3]], // every criterion must hold
    ['a0000000000000000019', { from: '5551230001', method: 'REGISTER' }, []], // method narrows to REGISTER dialogs
  ];

  it('gives each session every message of exactly the matching dialogs', async () => {
    for (const [id, criteria] of cases) expect(await put(id, criteria)).toBe(201);
    const fixtures = new URL('../testing/sipp/', import.meta.url).pathname;
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS_PORT), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    const pid = Number(/PID=\[(\d+)\]/.exec(uas.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    try {
      const uac = spawnSync(
        'sipp',
        [`127.0.0.1:${UAS_PORT}`, '-sf', join(fixtures, 'uac-injected.xml'), '-inf', join(fixtures, 'calls.csv'), '-i', '127.0.0.1', '-p', String(UAC_PORT), '-m', '3', '-r', '5', '-nostdin', '-cid_str', 'inj-%u@tunaio'],
        { cwd: dir, encoding: 'utf8', timeout: 30_000 },
      );
      expect(uac.status).toBe(0);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
    const total = cases.reduce((n, [, , calls]) => n + calls.length * 6, 0);
    await waitFor(() => cases.reduce((n, [id]) => n + center.of(id).length, 0) >= total, 10_000);
    await new Promise((r) => setTimeout(r, 400));
    for (const [id, criteria, calls] of cases) {
      const evs = center.of(id);
      const perCall = new Map<string, string[]>();
      for (const e of evs) perCall.set(e.call_id!, [...(perCall.get(e.call_id!) ?? []), e.sip?.method ?? String(e.sip?.status)]);
      const want = new Map(calls.map((n) => [`inj-${n}@tunaio`, ['INVITE', '180', '200', 'ACK', 'BYE', '200']]));
      expect(perCall, JSON.stringify(criteria)).toEqual(want);
    }
  });
});

describe('live capture: method REGISTER narrows to registrations', () => {
  it('takes REGISTER dialogs for method REGISTER, and nothing for method INVITE with the same user', async () => {
    const S_REG = 'a0000000000000000031';
    const S_INV = 'a0000000000000000032';
    expect(await put(S_REG, { from: 'alice-reg', method: 'REGISTER' })).toBe(201);
    expect(await put(S_INV, { from: 'alice-reg', method: 'INVITE' })).toBe(201);
    const fixtures = new URL('../testing/sipp/', import.meta.url).pathname;
    const uas = spawnSync('sipp', ['-sf', join(fixtures, 'register-uas.xml'), '-i', '127.0.0.1', '-p', String(UAS_PORT), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    const pid = Number(/PID=\[(\d+)\]/.exec(uas.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    try {
      const uac = spawnSync(
        'sipp',
        [`127.0.0.1:${UAS_PORT}`, '-sf', join(fixtures, 'register-uac.xml'), '-i', '127.0.0.1', '-p', String(UAC_PORT), '-m', '2', '-r', '5', '-nostdin', '-cid_str', 'reg-%u@tunaio'],
        { cwd: dir, encoding: 'utf8', timeout: 30_000 },
      );
      expect(uac.status).toBe(0);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await waitFor(() => center.of(S_REG).length >= 4, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const got = center.of(S_REG).map((e) => `${e.call_id} ${e.sip?.method ?? e.sip?.status}`);
    expect(got).toEqual(['reg-1@tunaio REGISTER', 'reg-1@tunaio 200', 'reg-2@tunaio REGISTER', 'reg-2@tunaio 200']);
    expect(center.of(S_INV)).toEqual([]);
  });
});

describe('live capture: RTP of the matched call only (sipp uac_pcap against an rtp_echo UAS)', () => {
  it('sends samples and final stats with 0 loss for the matched call, nothing for the other', async () => {
    const S_RTP = 'a0000000000000000021';
    const S_NO_RTP = 'a0000000000000000022';
    // The second call is the matched one: sipp's echo UAS answers every call from the same media
    // port, so the first call's packets must not leak into it.
    expect(await put(S_RTP, { call_id: 'rtp-2@tunaio' }, true)).toBe(201);
    expect(await put(S_NO_RTP, { call_id: 'rtp-1@tunaio' }, false)).toBe(201);
    symlinkSync('/usr/share/sip-tester', join(dir, 'pcap'));
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS_PORT), '-rtp_echo', '-mp', String(MEDIA_UAS), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    const pid = Number(/PID=\[(\d+)\]/.exec(uas.stdout)?.[1]);
    try {
      // two calls one after the other (-l 1): the echo UAS uses one media port for every call
      const uac = spawnSync(
        'sipp',
        ['-sn', 'uac_pcap', `127.0.0.1:${UAS_PORT}`, '-i', '127.0.0.1', '-p', String(UAC_PORT), '-mp', String(MEDIA_UAC), '-m', '2', '-l', '1', '-r', '5', '-nostdin', '-cid_str', 'rtp-%u@tunaio'],
        { cwd: dir, encoding: 'utf8', timeout: 60_000 },
      );
      expect(uac.status, `${uas.stdout}\n${uac.stdout}\n${uac.stderr}`).toBe(0);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 400));
    // Stopping the capture sends the final summary of each stream.
    const del = await fetch(`http://127.0.0.1:${agent.port}/v1/captures/${S_RTP}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(del.status).toBe(200);
    await waitFor(() => center.of(S_RTP).some((e) => e.stats?.final), 5000);
    await new Promise((r) => setTimeout(r, 300));

    const evs = center.of(S_RTP);
    expect(center.invalid.slice(0, 2)).toEqual([]);
    const summary = JSON.stringify({ n: evs.length, other: center.of(S_NO_RTP).length, ended: agent.manager.recentlyEnded().find((v) => v.session_id === S_RTP), engine: agent.manager.engine.counters, live: agent.sources[0].status() });
    expect(evs.length, summary).toBeGreaterThan(0);
    expect(evs.every((e) => e.call_id === 'rtp-2@tunaio')).toBe(true);
    const finals = evs.filter((e) => e.stats?.final);
    // audio both ways (the echo keeps the SSRC), plus the RFC 2833 DTMF both ways
    expect(finals.map((e) => `${e.src!.port}>${e.dst!.port} ${e.stats!.codec}`).sort()).toEqual([
      `${MEDIA_UAS}>${MEDIA_UAC + 4} PCMA`,
      `${MEDIA_UAS}>${MEDIA_UAC + 4} telephone-event`,
      `${MEDIA_UAC + 4}>${MEDIA_UAS} PCMA`,
      `${MEDIA_UAC + 4}>${MEDIA_UAS} telephone-event`,
    ]);
    expect(finals.filter((e) => e.stats!.codec === 'PCMA').every((e) => e.stats!.packets > 200)).toBe(true);
    // nothing lost: audio 0; the DTMF streams' lost is minus their duplicates, RFC 4733 §2.5.1.4's
    // retransmitted end-of-event packets (same sequence number), as tshark's rtp,streams shows it
    for (const f of finals) {
      expect(f.stats!.final).toBe(true);
      if (f.stats!.codec === 'PCMA') expect(f.stats).toMatchObject({ lost: 0, duplicates: 0 });
      else expect(f.stats!.lost).toBe(-(f.stats!.duplicates ?? 0));
    }
    const samples = evs.filter((e) => e.kind === 'rtp' && e.rtp !== null);
    for (const f of finals) {
      const n = f.stats!.packets;
      const mine = samples.filter((e) => e.src!.port === f.src!.port && e.dst!.port === f.dst!.port && e.rtp!.ssrc === f.stats!.ssrc);
      expect(mine.length, JSON.stringify(f)).toBe(Math.min(n, 10) + Math.max(0, Math.floor((n - 10) / 50)));
    }
    const other = center.of(S_NO_RTP);
    expect(other.length).toBeGreaterThan(0);
    expect(other.every((e) => e.kind === 'sip')).toBe(true);
  }, 90_000);
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
