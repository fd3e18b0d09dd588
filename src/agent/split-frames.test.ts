// Every original frame of a SIP message split over TCP segments or IP fragments reaches the PCAP
// (issue 17 item 3). No shared capture splits SIP (the only fragments are the fuzzed capture's bogus
// ones), so two are built from the real TCP/UDP capture of heplify (a TCP → UDP proxy with a
// retransmitted REGISTER): each SIP-over-TCP segment cut in three, each SIP-over-UDP datagram cut into IPv4
// fragments of 256 bytes. The agent replays each file with capture_pcap into a real HTTP ingest
// server; tshark (the oracle) says which frames carry the call's SIP messages (the messages' own
// frames, `tcp.segment`, `ip.fragment`): exactly those arrive, byte for byte, each once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../protocol/capture-file.js';
import { PcapWriter } from '../protocol/pcap-writer.js';
import { fragmentIpv4, segmentTcp4 } from '../protocol/testing/packets.js';
import { Agent } from './agent.js';
import type { ReplaySource } from './sources/replay.js';
import { IngestServer, waitFor } from './testing/ingest-server.js';

const SOURCE = resolve(process.cwd(), '../shared/pcaps/sip_tcp-to-udp-proxy_register-digest_retrans_sll__heplify.pcap');
const CALL_ID = '1c35908a84584771bcc93bd496e0a852';
const TOKEN = 'agent-split-token-0123456789';
/** Linux SLL: 16-byte header, protocol at 14 */
const SLL = 16;

let dir: string;
let center: IngestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-split-'));
  center = new IngestServer(TOKEN);
  await center.start(0);
});

afterAll(async () => {
  await center.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The source capture with each IPv4 packet of `proto` rewritten by `cut` (times 1 µs apart, in order). */
function build(name: string, proto: number, cut: (ip: Buffer) => Buffer[]): string {
  const src = readCaptureFile(readFileSync(SOURCE));
  const w = new PcapWriter({ linkType: 113 });
  const parts: Buffer[] = [w.header()];
  for (const r of src.records) {
    const ip = r.data.subarray(SLL);
    const pieces = r.data.readUInt16BE(14) === 0x0800 && ip[9] === proto ? cut(ip) : [ip];
    pieces.forEach((p, i) => {
      const frame = Buffer.concat([r.data.subarray(0, SLL), p]);
      parts.push(w.record(r.tsUs + i, frame, frame.length));
    });
  }
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

/** tshark: the frames that carry the call's SIP (the completing frames, their TCP segments and IP fragments). */
function oracleFrames(file: string): number[] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-Y', `sip.Call-ID == "${CALL_ID}"`, '-T', 'fields', '-E', 'separator=;', '-E', 'aggregator=,', '-E', 'occurrence=a', '-e', 'frame.number', '-e', 'tcp.segment', '-e', 'ip.fragment'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const set = new Set<number>();
  for (const line of out.trim().split('\n')) for (const n of line.split(/[;,]/)) if (n !== '') set.add(Number(n));
  return [...set].sort((a, b) => a - b);
}

async function replay(file: string, sid: string): Promise<Buffer[]> {
  const spool = mkdtempSync(join(dir, 'spool-'));
  writeFileSync(
    join(spool, 'captures.json'),
    JSON.stringify([{ session_id: sid, criteria: { call_id: CALL_ID }, capture_rtp: false, capture_pcap: true, expires_at: new Date(Date.now() + 300_000).toISOString(), ingest_url: center.url }]),
  );
  const agent = new Agent({ name: 'split', token: TOKEN, listen: null, read: file, replaySpeed: 0, spoolDir: spool });
  await agent.start();
  await (agent.sources.find((s) => s.kind === 'replay') as ReplaySource).done();
  await waitFor(() => center.of(sid).filter((e) => e.kind === 'sip').length >= 8);
  await agent.frameUploader.flush();
  await agent.stop();
  const fromEvents = center.of(sid).flatMap((e) => (e.frame ? [Buffer.from(e.frame.data, 'base64')] : []));
  return [...fromEvents, ...center.framesOf(sid).map((f) => f.data)];
}

function expectSameFrames(file: string, got: Buffer[], label: string): void {
  const records = readCaptureFile(readFileSync(file)).records;
  const want = oracleFrames(file).map((n) => Buffer.from(records[n - 1].data));
  const hex = (l: Buffer[]) => l.map((b) => b.toString('hex')).sort();
  console.log(`[split frames] ${label}: tshark ${want.length} frames carry the call's SIP; ours ${got.length}`);
  expect(hex(got)).toEqual(hex(want));
}

describe('SIP split over TCP segments or IP fragments: every original frame reaches the PCAP', () => {
  it('TCP: each SIP-over-TCP segment cut in three: all segments of each message, once', async () => {
    const file = build('segments.pcap', 6, (ip) => segmentTcp4(ip, 3));
    const want = oracleFrames(file);
    // the oracle sees multi-segment messages (more frames than messages)
    expect(want.length).toBeGreaterThan(8 + 6);
    expectSameFrames(file, await replay(file, 'd0000000000000000001'), 'TCP segments');
    expect(center.frameDuplicates).toBe(0);
  });

  it('IP fragments: each SIP-over-UDP datagram cut into 256-byte IPv4 fragments: all fragments of each message, once', async () => {
    const file = build('fragments.pcap', 17, (ip) => fragmentIpv4(ip, 256));
    expect(oracleFrames(file).length).toBeGreaterThan(8 + 4);
    expectSameFrames(file, await replay(file, 'd0000000000000000002'), 'IP fragments');
  });
});
