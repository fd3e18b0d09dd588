// export.tar and ladder.svg/.png end to end on real traffic (ports 5210-5211 belong to this file):
// sipp calls on loopback captured by tcpdump; the frames, decoded into the events an agent sends,
// go through POST /api/ingest; the exported pcaps are checked with tshark and byte for byte against
// the tcpdump capture. Also: 404 without packets, 410 after PCAP retention, purge and retention
// leave no pcap behind.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../protocol/capture-file.js';
import { Dissector } from '../../../protocol/dissector.js';
import { isParseError } from '../../../protocol/errors.js';
import { parseSipDatagram } from '../../../protocol/sip.js';
import { untar } from '../../../../test/support/tar.js';
import { op, sipEvent, testCenter, testServer } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

const UAS = 5210;
const UAC = 5211;
const CALLS = 3;
let dir: string;
let capture: string;

async function captureSippCalls(file: string): Promise<void> {
  const td = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '4096', '-B', '8192', '-Z', 'root', '-w', file, `udp and (port ${UAS} or port ${UAC})`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    td.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    td.on('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
  });
  const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS), '-bg', '-nostdin'], { encoding: 'utf8', cwd: dir });
  const pid = /PID=\[(\d+)\]/.exec(uas.stdout)?.[1];
  try {
    const uac = spawnSync(
      'sipp',
      ['-sn', 'uac', `127.0.0.1:${UAS}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', String(CALLS), '-r', '10', '-nostdin', '-cid_str', 'export-%u-%p@tunaio', '-timeout', '20s'],
      { encoding: 'utf8', cwd: dir, timeout: 30_000 },
    );
    if (uac.status !== 0) throw new Error(`sipp uac failed (${uac.status}): ${uac.stderr}`);
  } finally {
    if (pid) process.kill(Number(pid), 'SIGTERM');
  }
  await new Promise((r) => setTimeout(r, 200));
  const exited = new Promise((r) => td.once('exit', r));
  td.kill('SIGINT');
  await exited;
}

/** The events a live-capture agent sends for these frames: SIP summary + the original frame. */
function eventsOf(file: string, sessionId: string): Record<string, unknown>[] {
  const { records } = readCaptureFile(fs.readFileSync(file));
  const d = new Dissector();
  const out: Record<string, unknown>[] = [];
  for (const rec of records) {
    const data = Buffer.from(rec.data);
    for (const u of d.push(rec)) {
      const msg = parseSipDatagram(u.payload);
      if (isParseError(msg)) continue;
      out.push({
        session_id: sessionId,
        seq: out.length,
        ts: u.tsUs,
        kind: 'sip',
        transport: 'udp',
        src: { ip: u.src.ip, port: u.src.port },
        dst: { ip: u.dst.ip, port: u.dst.port },
        call_id: msg.callId ?? null,
        sip: {
          ...(msg.isRequest ? { method: msg.method } : { status: msg.statusCode, reason: msg.reason }),
          cseq_seq: msg.cseq?.seq,
          cseq_method: msg.cseq?.method,
          has_sdp: msg.body.length > 0,
        },
        payload: msg.raw.toString('utf8'),
        frame: { link_type: rec.linkType, data: data.toString('base64'), orig_len: rec.origLen },
      });
    }
  }
  return out;
}


function tshark(file: string, ...args: string[]): string {
  const r = spawnSync('tshark', ['-r', file, '-d', `udp.port==${UAS},sip`, '-d', `udp.port==${UAC},sip`, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark: ${r.stderr}`);
  return r.stdout;
}

const pngSize = (b: Buffer): { width: number; height: number } => {
  expect(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(b.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
};

let c: TestCenter;
let agentToken: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-export-'));
  capture = path.join(dir, 'tcpdump.pcap');
  await captureSippCalls(capture);
  c = await testCenter();
  agentToken = (await c.addAgent('edge-1')).token;
}, 60_000);

afterAll(async () => {
  await c?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('export.tar', () => {
  it('holds <agent-name>.pcap whose frames equal the tcpdump capture byte for byte and whose SIP equals the session\'s events, plus session.json', async () => {
    const id = await c.newSession({ label: 'sipp calls', criteria: { text: 'export-' }, agent_ids: [1], capture_pcap: true });
    const events = eventsOf(capture, id);
    expect(events.length).toBe(CALLS * 6);
    for (let i = 0; i < events.length; i += 7) {
      const r = await c.ingest(agentToken, events.slice(i, i + 7));
      expect(r.body.rejected).toEqual([]);
    }
    const res = await c.app.inject({ url: `/api/sessions/${id}/export.tar`, headers: op });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    const files = await untar(res.rawPayload);
    expect([...files.keys()]).toEqual(['edge-1.pcap', 'session.json']);
    const out = path.join(dir, 'edge-1.pcap');
    fs.writeFileSync(out, files.get('edge-1.pcap')!);

    // byte for byte: every frame and its timestamp, in order
    const ours = readCaptureFile(files.get('edge-1.pcap')!).records;
    const theirs = readCaptureFile(fs.readFileSync(capture)).records;
    expect(ours.length).toBe(theirs.length);
    ours.forEach((r, i) => {
      expect(r.linkType).toBe(theirs[i].linkType);
      expect(r.tsUs).toBe(theirs[i].tsUs);
      expect(r.origLen).toBe(theirs[i].origLen);
      expect(r.data.equals(theirs[i].data)).toBe(true);
    });

    // tshark: the SIP messages equal the session's SIP events (count and Call-IDs)
    const rows = tshark(out, '-Y', 'sip', '-T', 'fields', '-E', 'separator=|', '-e', 'sip.Call-ID', '-e', 'sip.Method', '-e', 'sip.Status-Code')
      .trim()
      .split('\n');
    const api = (await c.app.inject({ url: `/api/sessions/${id}/events?limit=1000`, headers: op })).json().events as { call_id: string; sip: { method?: string; status?: number } }[];
    expect(rows.length).toBe(api.length);
    expect(rows.map((r) => r.split('|')[0])).toEqual(api.map((e) => e.call_id));
    expect(new Set(api.map((e) => e.call_id)).size).toBe(CALLS);
    expect(rows.map((r) => r.split('|')[1] || r.split('|')[2])).toEqual(api.map((e) => e.sip.method ?? String(e.sip.status)));
    fs.writeFileSync(path.join(os.tmpdir(), 'tunaio-export-sip-stat.txt'), tshark(out, '-q', '-z', 'sip,stat'));

    const meta = JSON.parse(files.get('session.json')!.toString('utf8'));
    expect(meta.session).toMatchObject({ id, label: 'sipp calls', criteria: { text: 'export-' }, capture_pcap: true, event_count: CALLS * 6 });
    expect(meta.agents).toEqual([
      expect.objectContaining({ id: 1, name: 'edge-1', files: [{ name: 'edge-1.pcap', link_type: 1, packets: CALLS * 6, bytes: files.get('edge-1.pcap')!.length }] }),
    ]);
    expect(JSON.stringify(meta)).not.toContain('http://');

    // the ladder of the same session, drawn by the core renderer: lanes, labels; PNG grows with arrows
    const svg = await c.app.inject({ url: `/api/sessions/${id}/ladder.svg`, headers: op });
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    expect(svg.body).toContain(`127.0.0.1:${UAS}`);
    expect(svg.body).toContain(`127.0.0.1:${UAC}`);
    expect(svg.body).toContain('180 Ringing');
    expect(svg.headers['x-ladder-rows']).toBe(`${CALLS * 6}/${CALLS * 6}`);
    const all = await c.app.inject({ url: `/api/sessions/${id}/ladder.png`, headers: op });
    const one = await c.app.inject({ url: `/api/sessions/${id}/ladder.png?call_id=${encodeURIComponent(api[0].call_id)}`, headers: op });
    expect(all.headers['content-type']).toBe('image/png');
    const big = pngSize(all.rawPayload);
    const small = pngSize(one.rawPayload);
    expect(one.headers['x-ladder-rows']).toBe('6/6');
    expect(big.height).toBeGreaterThan(small.height);
    expect(big.width).toBe(small.width);
    fs.writeFileSync(path.join(os.tmpdir(), 'tunaio-ladder-export.png'), all.rawPayload);
    const none = await c.app.inject({ url: `/api/sessions/${id}/ladder.png?call_id=nope`, headers: op });
    expect(none.statusCode).toBe(404);
    expect(none.json().error.message).toContain('no dialog with Call-ID "nope"');
  }, 60_000);

  it('404 with a clear message without packets; 401 without credentials', async () => {
    const plain = await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    let r = await c.app.inject({ url: `/api/sessions/${plain}/export.tar`, headers: op });
    expect(r.statusCode).toBe(404);
    expect(r.json().error).toEqual({ code: 'no_packets', message: `session ${plain} was started without capture_pcap, so it kept no packets to export` });
    const empty = await c.newSession({ criteria: { from: '2' }, agent_ids: [1], capture_pcap: true });
    r = await c.app.inject({ url: `/api/sessions/${empty}/export.tar`, headers: op });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.message).toBe(`session ${empty} has no packets yet: no agent sent a packet matching its criteria`);
    expect((await c.app.inject({ url: `/api/sessions/${empty}/export.tar` })).statusCode).toBe(401);
    expect((await c.app.inject({ url: `/api/sessions/${empty}/ladder.png`, headers: { authorization: `Bearer ${agentToken}` } })).statusCode).toBe(403);
    expect((await c.app.inject({ url: '/api/sessions/00000000000000000000/export.tar', headers: op })).statusCode).toBe(404);
  });

  it('keeps call states and route decisions in session.json, counts them per kind, lists them and draws them on ladder.svg', async () => {
    const id = await c.newSession({ criteria: { text: 'export-' }, agent_ids: [1], capture_pcap: true });
    const sipEvents = eventsOf(capture, id).slice(0, 6) as { call_id: string; ts: number }[];
    const callId = sipEvents[0].call_id;
    const t = sipEvents[0].ts;
    const meta = [
      { session_id: id, seq: 1000, ts: t + 1, kind: 'route', call_id: callId, payload: `NOTICE: route=RELAY callid=${callId} dst=sip:127.0.0.1:${UAS}`, route: { route: 'RELAY', destination: `sip:127.0.0.1:${UAS}`, source: 'log:/var/log/kamailio.log' } },
      { session_id: id, seq: 1001, ts: t + 2, kind: 'callstate', call_id: callId, callstate: { platform: 'freeswitch', state: 'hangup', cause: 'NORMAL_CLEARING', q850: 16, source: 'esl:127.0.0.1:8021', fields: { 'Unique-ID': 'u-1' } } },
    ];
    const r = await c.ingest(agentToken, [...sipEvents, ...meta]);
    expect(r.body.rejected).toEqual([]);
    const res = await c.app.inject({ url: `/api/sessions/${id}/export.tar`, headers: op });
    const files = await untar(res.rawPayload);
    const json = JSON.parse(files.get('session.json')!.toString('utf8'));
    expect(json.session.counts).toMatchObject({ sip: 6, callstate: 1, route: 1 });
    expect(json.call_events).toEqual([
      expect.objectContaining({ kind: 'route', call_id: callId, ts: t + 1, route: meta[0].route, payload: meta[0].payload }),
      expect.objectContaining({ kind: 'callstate', call_id: callId, ts: t + 2, callstate: meta[1].callstate }),
    ]);
    const listed = (await c.app.inject({ url: `/api/sessions/${id}/events?limit=100`, headers: op })).json().events as { kind: string; callstate: unknown }[];
    expect(listed.find((e) => e.kind === 'callstate')?.callstate).toEqual(meta[1].callstate);
    const svg = await c.app.inject({ url: `/api/sessions/${id}/ladder.svg`, headers: op });
    expect(svg.body).toContain('freeswitch: hangup · NORMAL_CLEARING · Q.850 16');
    expect(svg.body).toContain(`route RELAY → sip:127.0.0.1:${UAS}`);
  });

  it('purge leaves no pcap behind', async () => {
    const id = await c.newSession({ criteria: { text: 'export-' }, agent_ids: [1], capture_pcap: true });
    await c.ingest(agentToken, eventsOf(capture, id).slice(0, 6));
    const folder = path.join(c.dataDir, 'pcap', id);
    expect(fs.readdirSync(folder)).toEqual(['agent-1.pcap']);
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op });
    expect((await c.app.inject({ method: 'DELETE', url: `/api/sessions/${id}?purge=1`, headers: op })).statusCode).toBe(204);
    expect(fs.existsSync(folder)).toBe(false);
    // a batch still in flight for the purged session writes nothing
    await c.ingest(agentToken, eventsOf(capture, id).slice(6, 12));
    expect(fs.existsSync(folder)).toBe(false);
  });
});

describe('export.tar streaming', () => {
  it('a client that goes away mid-download leaves no file open, and the next export is whole', async () => {
    const srv = await testServer();
    try {
      const a = await srv.addAgent('bulk');
      const id = await srv.newSession({ criteria: { text: 'bulk' }, agent_ids: [a.id], capture_pcap: true });
      const frame = Buffer.alloc(1400, 0x41).toString('base64');
      for (let b = 0; b < 6; b++) {
        const evs = Array.from({ length: 500 }, (_, i) =>
          sipEvent(id, b * 500 + i, { frame: { link_type: 1, data: frame, orig_len: 1400 } }),
        );
        expect((await srv.ingest(a.token, evs)).body.accepted).toBe(500);
      }
      const openPcaps = (): number =>
        fs.readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`).includes(path.join('pcap', id));
          } catch {
            return false;
          }
        }).length;
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${srv.url}/api/sessions/${id}/export.tar`, { headers: op }, (res) => {
          expect(res.statusCode).toBe(200);
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e) => (e.message.includes('socket hang up') || e.message.includes('aborted') ? resolve() : reject(e)));
      });
      // closing is asynchronous; a loaded CI machine can take a while, so wait up to 10 s
      for (let i = 0; i < 200 && openPcaps() > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(openPcaps()).toBe(0);
      const whole = await fetch(`${srv.url}/api/sessions/${id}/export.tar`, { headers: op });
      const files = await untar(Buffer.from(await whole.arrayBuffer()));
      expect(readCaptureFile(files.get('bulk.pcap')!).records).toHaveLength(3000);
    } finally {
      await srv.close();
    }
  }, 30_000);
});

describe('export.tar after PCAP retention', () => {
  it('410 saying so, and no pcap left on disk', async () => {
    let now = Date.now();
    const r = await testCenter({ now: () => now, pcapRetentionHours: 1, eventRetentionHours: 100 });
    try {
      const a = await r.addAgent('edge-2');
      const id = await r.newSession({ criteria: { text: 'export-' }, agent_ids: [a.id], capture_pcap: true });
      await r.ingest(a.token, eventsOf(capture, id).slice(0, 6));
      expect((await r.app.inject({ url: `/api/sessions/${id}/export.tar`, headers: op })).statusCode).toBe(200);
      await r.app.inject({ method: 'DELETE', url: `/api/sessions/${id}`, headers: op });
      now += 2 * 3_600_000;
      await r.runRetention();
      const res = await r.app.inject({ url: `/api/sessions/${id}/export.tar`, headers: op });
      expect(res.statusCode).toBe(410);
      expect(res.json().error.code).toBe('gone');
      expect(res.json().error.message).toMatch(new RegExp(`^the packets of session ${id} were deleted by PCAP retention at .* \\(packets are kept 1 h after a session ends\\); its events can still be listed$`));
      expect(fs.existsSync(path.join(r.dataDir, 'pcap', id))).toBe(false);
      // the events are still there, and so is the ladder
      expect((await r.app.inject({ url: `/api/sessions/${id}/ladder.svg`, headers: op })).statusCode).toBe(200);
    } finally {
      await r.close();
    }
  });
});
