// The agent end to end with real components: a shared capture replayed (--read), captures resumed
// from the spool's state file, RTP samples and stats checked against tshark, log lines correlated by
// Call-ID and matched by `text`, events uploaded to a real HTTP ingest server and validated against
// the core ingest schema.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import type { ReplaySource } from './sources/replay.js';
import type { LogTailSource } from './sources/log-tail.js';
import { IngestServer, waitFor } from './testing/ingest-server.js';

const PCAPS = resolve(process.cwd(), '../shared/pcaps');
const FILE = join(PCAPS, 'sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap');
const CALL_ID = '1135D8701739D86@10.251.23.139';
const TOKEN = 'agent-e2e-token-0123456789';
const S_FROM = 'b0000000000000000001'; // from = national form of the caller
const S_WRONG_WAY = 'b0000000000000000002'; // to = the caller's number: must not match
const S_TEXT = 'b0000000000000000003'; // text marker found only in a log line

let dir: string;
let logFile: string;
let center: IngestServer;
let agent: Agent;
let stopped = false;

const capture = (id: string, criteria: Record<string, string>, rtp = true) => ({
  session_id: id,
  criteria,
  capture_rtp: rtp,
  capture_pcap: true,
  expires_at: new Date(Date.now() + 300_000).toISOString(),
  ingest_url: center.url,
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-agent-'));
  logFile = join(dir, 'proxy.log');
  writeFileSync(logFile, `old line mentioning ${CALL_ID} before the agent started\n`);
  center = new IngestServer(TOKEN);
  await center.start(0);
  // Captures the agent was running before a restart: it resumes them from the spool at once.
  writeFileSync(
    join(dir, 'captures.json'),
    JSON.stringify([capture(S_FROM, { from: '0360653674' }), capture(S_WRONG_WAY, { to: '+33360653674' }), capture(S_TEXT, { text: 'gw-marker-xyz' }, false)]),
  );
  agent = new Agent({ name: 'e2e', token: TOKEN, listen: null, read: FILE, replaySpeed: 0, logs: [logFile], spoolDir: dir });
  await agent.start();
  await (agent.sources.find((s) => s.kind === 'replay') as ReplaySource).done();
});

afterAll(async () => {
  if (!stopped) await agent.stop();
  await center.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent: replay, RTP, logs, upload', () => {
  it('resumed the captures from the spool and replayed the whole file', () => {
    expect(agent.manager.ids().sort()).toEqual([S_FROM, S_WRONG_WAY, S_TEXT]);
    expect(agent.sources.find((s) => s.kind === 'replay')!.status()).toMatchObject({ state: 'done', counters: { frames: 527 } });
  });

  it('captures the dialog for `from` (national form of +33…), and nothing for `to` with the caller number', async () => {
    expect(await waitFor(() => center.of(S_FROM).filter((e) => e.kind === 'sip').length >= 7)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const sip = center.of(S_FROM).filter((e) => e.kind === 'sip');
    expect(sip.map((e) => e.sip?.method ?? e.sip?.status)).toEqual(['INVITE', 100, 183, 200, 'ACK', 'BYE', 200]);
    expect(sip[0].sip).toMatchObject({ from_user: '+33360653674', to_user: '147', cseq_method: 'INVITE', has_sdp: true });
    expect(sip.every((e) => e.call_id === CALL_ID && e.frame?.link_type === 1)).toBe(true);
    expect(center.of(S_WRONG_WAY)).toEqual([]);
    expect(center.invalid).toEqual([]);
  });

  it('sends RTP samples: the first 10 of each stream, then 1 in 50', async () => {
    const samples = center.of(S_FROM).filter((e) => e.kind === 'rtp' && e.rtp !== null);
    const bySsrc = new Map<number, number>();
    for (const e of samples) bySsrc.set(e.rtp!.ssrc, (bySsrc.get(e.rtp!.ssrc) ?? 0) + 1);
    // tshark: 0x446E4B53 has 248 packets, 0x2D7B0B2C has 261 → 10 + 4 and 10 + 5 samples
    expect(Object.fromEntries(bySsrc)).toEqual({ [0x446e4b53]: 14, [0x2d7b0b2c]: 15 });
    // their frames travel on the frames path (below), not with the samples
    expect(samples.every((e) => e.rtp!.codec === 'PCMA' && e.frame === null)).toBe(true);
  });

  it('uploads every RTP/RTCP frame of the call on the frames path, in capture order, as tshark counts them', async () => {
    // tshark (rtp heuristics on): 509 RTP/RTCP frames in the capture, all of this call
    const oracle = execFileSync('tshark', ['-r', FILE, '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp or rtcp', '-T', 'fields', '-e', 'frame.time_epoch'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n');
    expect(oracle.length).toBe(509);
    await agent.frameUploader.flush();
    expect(await waitFor(() => center.framesOf(S_FROM).length >= oracle.length)).toBe(true);
    const frames = center.framesOf(S_FROM);
    expect(frames.map((f) => f.tsUs)).toEqual(oracle.map((t) => Math.round(Number(t) * 1e6)));
    expect(frames.every((f) => f.linkType === 1 && f.data.length === f.origLen)).toBe(true);
    // numbered without a gap, nothing sent twice; nothing for the session without capture_rtp
    expect(frames.map((f) => f.seq - frames[0].seq)).toEqual(frames.map((_, i) => i));
    expect(center.frameDuplicates).toBe(0);
    expect(center.framesOf(S_TEXT)).toEqual([]);
  });

  it('correlates appended log lines by Call-ID, matches `text` on log lines, and skips history', async () => {
    const tail = agent.sources.find((s) => s.kind === 'log') as LogTailSource;
    appendFileSync(logFile, `NOTICE: relaying call ${CALL_ID} to gw1\nunrelated line\nroute chosen gw-marker-xyz for tenant\n`);
    appendFileSync(logFile, Buffer.from([0x00, 0x01, 0x02, 0x0a]));
    await tail.poll();
    expect(await waitFor(() => center.of(S_FROM).some((e) => e.kind === 'log') && center.of(S_TEXT).length > 0)).toBe(true);
    const logs = center.of(S_FROM).filter((e) => e.kind === 'log');
    expect(logs.map((e) => [e.payload, e.call_id])).toEqual([[`NOTICE: relaying call ${CALL_ID} to gw1`, CALL_ID]]);
    expect(logs[0].log?.source).toBe(`log:${logFile}`);
    expect(center.of(S_TEXT).map((e) => [e.kind, e.payload, e.call_id])).toEqual([['log', 'route chosen gw-marker-xyz for tenant', null]]);
    expect(tail.status().counters.binary).toBe(1);
  });

  it('reports per-session counters with the upload', () => {
    const c = center.countersOf(S_WRONG_WAY);
    expect(c).toBeUndefined(); // nothing to upload, nothing sent
    const view = agent.manager.view(S_WRONG_WAY)!;
    // every unit the dissector produced while the capture ran
    expect(view.counters.packets_seen).toBe(agent.sources.find((s) => s.kind === 'replay')!.status().counters.units);
    expect(view.counters.packets_seen).toBeGreaterThan(500);
    expect(view.counters.packets_matched).toBe(0);
    expect(center.countersOf(S_FROM)!.packets_matched).toBeGreaterThan(500);
  });

  it('sends final per-stream stats on stop that agree with tshark (packets, 0 loss)', async () => {
    await agent.stop();
    stopped = true;
    const finals = center.of(S_FROM).filter((e) => e.stats?.final);
    const oracle = execFileSync('tshark', ['-r', FILE, '-q', '-z', 'rtp,streams'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const expected = new Map<number, number>();
    for (const line of oracle.split('\n')) {
      const m = /(0x[0-9A-Fa-f]{8})\s+\S+\s+(\d+)\s+(-?\d+)/.exec(line);
      if (m) expected.set(Number(m[1]), Number(m[2]));
    }
    expect(expected.size).toBe(2);
    expect(new Map(finals.map((e) => [e.stats!.ssrc, e.stats!.packets]))).toEqual(expected);
    for (const e of finals) {
      expect(e.stats).toMatchObject({ lost: 0, codec: 'PCMA', final: true });
      expect(e.stats!.mos).toBeGreaterThan(4);
    }
  });
});

describe('agent: SIP over WebSocket is also a webrtc event', () => {
  it('sends every message of the dialog, and a webrtc event for each one carried over WebSocket', async () => {
    const wsFile = join(PCAPS, 'sip_websocket_and_udp_b2bua_407__heplify.pcap');
    const wsCall = 'kovfhoptshgn59q712sr';
    const sid = 'b0000000000000000009';
    const wdir = mkdtempSync(join(tmpdir(), 'tunaio-agent-ws-'));
    writeFileSync(join(wdir, 'captures.json'), JSON.stringify([{ ...capture(sid, { call_id: wsCall }, false), capture_pcap: false }]));
    const a = new Agent({ name: 'ws', token: TOKEN, listen: null, read: wsFile, spoolDir: wdir });
    try {
      await a.start();
      await (a.sources.find((s) => s.kind === 'replay') as ReplaySource).done();
      const oracle = (filter: string): number =>
        execFileSync('tshark', ['-r', wsFile, '-Y', filter], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').length;
      const all = oracle(`sip.Call-ID == "${wsCall}"`);
      const overWs = oracle(`websocket && sip.Call-ID == "${wsCall}"`);
      // the B2BUA's other leg (another Call-ID, linked by number and time) is captured too: not counted here
      const ofCall = () => center.of(sid).filter((e) => e.call_id === wsCall);
      expect(await waitFor(() => ofCall().length >= all + overWs)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      const evs = ofCall();
      const sip = evs.filter((e) => e.kind === 'sip');
      const webrtc = evs.filter((e) => e.kind === 'webrtc');
      expect(sip).toHaveLength(all);
      expect(sip.filter((e) => e.transport === 'ws')).toHaveLength(overWs);
      expect(webrtc).toHaveLength(overWs);
      expect(webrtc.every((e) => e.transport === 'ws' && e.call_id === wsCall && e.sip !== null && e.frame === null)).toBe(true);
      expect(evs.every((e) => e.frame === null)).toBe(true); // capture_pcap off: no frames travel
    } finally {
      await a.stop();
      rmSync(wdir, { recursive: true, force: true });
    }
  });
});
