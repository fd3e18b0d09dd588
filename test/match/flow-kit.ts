// Building blocks of the call-flow suite (call-flows.test.ts): SIP messages written out as text the
// way RFC 3261/3665 show them, RTP packets, and the two runners every flow goes through — the
// agent's engine (MatchEngine.onDatagram, the raw pre-checks included, then the parsed path through
// onSip) and `tunaio filter` (a pcapng of the flow, read back by runFilter).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MatchEngine } from '../../src/core/match/engine.js';
import type { Criteria } from '../../src/core/schema/criteria-rules.js';
import { parseSipDatagram } from '../../src/protocol/sip.js';
import { runFilter } from '../../src/cli/commands/filter.js';
import { ethernet, ipv4, ipv6, pcapng, udp } from '../../src/protocol/testing/packets.js';

export interface Pkt {
  /** SIP text, or an RTP/RTCP datagram */
  data: Buffer;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** seconds from the start of the flow */
  t: number;
  label: string;
}

export interface Party {
  /** name-addr, e.g. `"Alice" <sip:alice@atlanta.example.com>` */
  uri: string;
  tag: string;
  ip: string;
  port?: number;
}

export interface MsgOpts {
  callId: string;
  from: Party;
  to: Party;
  /** To carries the tag (in-dialog requests, responses other than 100) */
  toTag?: boolean;
  cseq: number;
  cseqMethod?: string;
  ruri?: string;
  branch: string;
  extra?: string[];
  sdp?: string;
  /** Content-Type and body given as is (multipart) */
  body?: { type: string; text: string };
  /** header names and layout as given, e.g. folded: the caller writes them all */
  rawHeaders?: string[];
}

const hdr = (o: MsgOpts, method: string): string[] => {
  if (o.rawHeaders !== undefined) return o.rawHeaders;
  return [
    `Via: SIP/2.0/UDP ${o.from.ip.includes(':') ? `[${o.from.ip}]` : o.from.ip}:5060;branch=${o.branch}`,
    'Max-Forwards: 70',
    `From: ${o.from.uri};tag=${o.from.tag}`,
    `To: ${o.to.uri}${o.toTag ? `;tag=${o.to.tag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.cseqMethod ?? method}`,
    ...(o.extra ?? []),
  ];
};

const withBody = (lines: string[], o: MsgOpts): string => {
  let body = '';
  const hs = [...lines];
  if (o.sdp !== undefined) {
    body = o.sdp;
    hs.push('Content-Type: application/sdp');
  } else if (o.body !== undefined) {
    body = o.body.text;
    hs.push(`Content-Type: ${o.body.type}`);
  }
  hs.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${hs.join('\r\n')}\r\n\r\n${body}`;
};

export function req(method: string, o: MsgOpts): string {
  const ruri = o.ruri ?? /<([^>]+)>/.exec(o.to.uri)?.[1] ?? o.to.uri;
  return `${method} ${ruri} SIP/2.0\r\n${withBody(hdr(o, method), o)}`;
}

export function resp(code: number, reason: string, method: string, o: MsgOpts): string {
  return `SIP/2.0 ${code} ${reason}\r\n${withBody(hdr({ ...o, toTag: o.toTag ?? code !== 100 }, method), o)}`;
}

export const sdp = (ip: string, port: number, extra: string[] = []): string => {
  const fam = ip.includes(':') ? 'IP6' : 'IP4';
  return [`v=0`, `o=- 1 1 IN ${fam} ${ip}`, 's=-', `c=IN ${fam} ${ip}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ...extra, ''].join('\r\n');
};

export function rtp(seq: number, ssrc = 0x1234): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

/** A flow: its packets in order, then criteria with the exact packets each must take (by label). */
export interface Flow {
  name: string;
  /** where the expectation comes from */
  source: string;
  packets: Pkt[];
  cases: { criteria: Criteria; rtp?: boolean; expect: string[]; why: string }[];
}

export const at = (t: number, src: Party | string, dst: Party | string, text: string | Buffer, label: string, ports?: [number, number]): Pkt => {
  const sIp = typeof src === 'string' ? src : src.ip;
  const dIp = typeof dst === 'string' ? dst : dst.ip;
  return {
    data: typeof text === 'string' ? Buffer.from(text, 'latin1') : text,
    src: sIp,
    sport: ports?.[0] ?? (typeof src === 'string' ? 5060 : (src.port ?? 5060)),
    dst: dIp,
    dport: ports?.[1] ?? (typeof dst === 'string' ? 5060 : (dst.port ?? 5060)),
    t,
    label,
  };
};

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;

/** The agent's engine on datagrams (raw pre-checks, then the parse): labels of the packets taken. */
export function throughEngine(f: Flow, c: Flow['cases'][number]): string[] {
  const e = new MatchEngine();
  e.addSession({ id: 's', criteria: c.criteria, captureRtp: c.rtp ?? false });
  const out: string[] = [];
  for (const p of f.packets) {
    const h = e.onDatagram({ tsUs: T0 + Math.round(p.t * SEC), transport: 'udp', src: { ip: p.src, port: p.sport }, dst: { ip: p.dst, port: p.dport } }, p.data);
    if (h !== null && (h.kind !== 'sip' || h.sessions.length > 0)) out.push(p.label);
  }
  return out;
}

/** The engine on parsed messages (TCP/HEP path, no raw pre-check): SIP labels taken. */
export function throughParsed(f: Flow, c: Flow['cases'][number]): string[] {
  const e = new MatchEngine();
  e.addSession({ id: 's', criteria: c.criteria, captureRtp: c.rtp ?? false });
  const out: string[] = [];
  for (const p of f.packets) {
    const meta = { tsUs: T0 + Math.round(p.t * SEC), transport: 'udp', src: { ip: p.src, port: p.sport }, dst: { ip: p.dst, port: p.dport } };
    const m = parseSipDatagram(p.data);
    const h = m.ok ? e.onSip(meta, m) : e.onDatagram(meta, p.data);
    if (h !== null) out.push(p.label);
  }
  return out;
}

let dir: string | undefined;
let n = 0;

/** A pcapng of the flow (Ethernet, IPv4 or IPv6, UDP). */
export function flowPcap(f: Flow): string {
  dir ??= mkdtempSync(path.join(tmpdir(), 'tunaio-flows-'));
  const file = path.join(dir, `flow-${++n}.pcapng`);
  const packets = f.packets.map((p) => {
    const seg = udp(p.src, p.sport, p.dst, p.dport, p.data);
    const ip = p.src.includes(':') ? ipv6({ src: p.src, dst: p.dst, nextHeader: 17 }, seg) : ipv4({ src: p.src, dst: p.dst, proto: 17 }, seg);
    return { iface: 0, ts: BigInt(T0 + Math.round(p.t * SEC)), data: ethernet(p.src.includes(':') ? 0x86dd : 0x0800, ip) };
  });
  writeFileSync(file, pcapng([{ linkType: 1 }], packets));
  return file;
}

export function cleanFlows(): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

/** `tunaio filter` on the flow's pcapng: labels of the frames it kept (SIP from its JSON lines, media by count). */
export async function throughFilter(f: Flow, c: Flow['cases'][number], file: string): Promise<{ sip: string[]; media: number }> {
  let text = '';
  const sum = await runFilter({ files: [file], criteria: c.criteria, rtp: c.rtp ?? false, output: 'json', out: (s) => (text += s) });
  const sip: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    // SIP rows only: with --rtp the filter also prints rtp_stream summary lines (no frame)
    const frame = (JSON.parse(line) as { frame?: number }).frame;
    if (typeof frame === 'number') sip.push(f.packets[frame - 1].label);
  }
  return { sip, media: sum.matchedMedia };
}
