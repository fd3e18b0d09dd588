// `tunaio filter`: apply the session criteria engine (core/match) to capture files, offline, in one
// pass: capture reader → dissector (→ HEP inside UDP) → MatchEngine, exactly like a live agent sees
// the packets. Matching frames are written byte-identical (original link type) to a pcap, and/or
// matching SIP messages printed as JSON lines shaped like `tunaio decode --json` plus `sessions`.
//
// Single pass, like live capture: a dialog is captured "from that point" (DESIGN §5). Messages of a
// dialog that came before the first message matching the criteria are not included (e.g. with
// `--text` naming a header that only the BYE carries). Two passes would hide that difference
// between offline triage and what an agent would have captured, so they are not done.
// Frames written are the ones that completed a unit: for a SIP message spread over several TCP
// segments or IP fragments, only the last segment/fragment is written.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import type { Command } from '../command.js';
import type { OptionValues } from '../options.js';
import { createCaptureReader } from '../../protocol/capture-file.js';
import type { CaptureEndStatus, CaptureRecord, ReaderRecord } from '../../protocol/capture-file.js';
import { Dissector } from '../../protocol/dissector.js';
import type { Unit } from '../../protocol/dissector.js';
import { decodeHep, HEP_PROTO_TYPE, hepPayloadType, looksLikeHep } from '../../protocol/hep.js';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { parseSipDatagram } from '../../protocol/sip.js';
import type { SipMessage } from '../../protocol/sip.js';
import { CRITERIA_REQUIRED_MESSAGE, criteriaFast, hasSearchCriterion } from '../../core/schema/criteria-rules.js';
import type { Criteria } from '../../core/schema/criteria-rules.js';
import { MatchEngine } from '../../core/match/engine.js';
import type { Endpoint, MediaHit, PacketMeta, SipHit, StatsEvent } from '../../core/match/engine.js';
import type { SipRow } from './decode.js';
import { formatJson, formatText, undecodedText } from './decode.js';

export const FILTER_SESSION_ID = 'filter';

export interface FilterOptions {
  files: string[];
  criteria: Criteria;
  rtp?: boolean;
  /** output pcap path */
  write?: string;
  /** JSON lines (else text lines) for matched SIP messages; null to print nothing */
  output?: 'json' | 'text' | null;
  tenantHeaders?: string[];
  /** headers naming a linked leg's Call-ID (default X-CID, X-Call-ID) */
  xcidHeaders?: string[];
  /** where lines go (default process.stdout) */
  out?: (s: string) => void;
  /** progress callback, about once a second of work */
  progress?: (packets: number) => void;
}

export interface FilterSummary {
  files: number;
  packets: number;
  sipMessages: number;
  matchedSip: number;
  matchedMedia: number;
  written: number;
  /** frames not written because their link type differs from the output file's */
  linkTypeSkipped: number;
  malformed: number;
  /** packets the dissector did not decode, by kind (ARP, ICMP, an unknown encapsulation…) */
  undecoded: Record<string, number>;
  evicted: number;
  /** final RTP stream summaries (with --rtp) */
  streams: StatsEvent[];
  /** per file: a capture the reader could not (fully) read */
  problems: { file: string; message: string; fatal: boolean }[];
}

const endpointText = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
const IPPROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

// Matched frames go into one 1 MiB buffer, record header and bytes written in place, and reach the
// file in one write when it fills: no Buffer per record, no concat.
const OUT_CHUNK = 1 << 20;
/** input read size: large enough that per-read costs vanish, small enough for any file size */
const READ_CHUNK = 8 << 20;

class Output {
  private fd: number | null = null;
  private writer: PcapWriter | null = null;
  private buf: Buffer = Buffer.allocUnsafe(OUT_CHUNK);
  private size = 0;
  written = 0;
  linkTypeSkipped = 0;
  /** link type of the first frame read: the type of an output with no match */
  firstLinkType: number | undefined;
  constructor(private readonly path: string | undefined) {}

  frame(rec: CaptureRecord): void {
    if (this.path === undefined) return;
    if (this.writer === null) {
      this.open(rec.linkType);
    } else if (rec.linkType !== this.writer.linkType) {
      this.linkTypeSkipped++;
      return;
    }
    const data = rec.data;
    const caplen = Math.min(data.length, this.writer!.snaplen);
    const need = 16 + caplen;
    if (this.size + need > this.buf.length) {
      this.flush();
      if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    }
    // pcap record header (libpcap format): ts_sec, ts_usec, incl_len, orig_len, little-endian
    const b = this.buf;
    const o = this.size;
    const sec = Math.floor(rec.tsUs / 1_000_000);
    b.writeUInt32LE(sec >>> 0, o);
    b.writeUInt32LE(rec.tsUs - sec * 1_000_000, o + 4);
    b.writeUInt32LE(caplen, o + 8);
    b.writeUInt32LE(Math.max(rec.origLen, caplen), o + 12);
    data.copy(b, o + 16, 0, caplen);
    this.size = o + need;
    this.written++;
  }

  private open(linkType: number): void {
    this.writer = new PcapWriter({ linkType });
    this.fd = openSync(this.path!, 'w');
    const h = this.writer.header();
    h.copy(this.buf, 0);
    this.size = h.length;
  }

  flush(): void {
    if (this.fd === null || this.size === 0) return;
    writeSync(this.fd, this.buf, 0, this.size);
    this.size = 0;
  }

  close(): void {
    // No match: still an empty but valid pcap, so scripts can open it.
    if (this.path !== undefined && this.writer === null) this.open(this.firstLinkType ?? 1);
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

// The engine's view of a unit: addresses are read through the unit's lazy getters, so a packet the
// engine drops without looking at its addresses (most of them) never has its address text made.
class UnitMeta implements PacketMeta {
  u: Unit | null = null;
  tsUs = 0;
  transport = 'udp';
  get src(): Endpoint {
    return this.u!.src;
  }
  get dst(): Endpoint {
    return this.u!.dst;
  }
}

/** Runs the filter over files in order. Rejects only on I/O errors (unreadable input, unwritable output). */
export async function runFilter(o: FilterOptions): Promise<FilterSummary> {
  const streams: StatsEvent[] = [];
  const engine = new MatchEngine({
    tenantHeaders: o.tenantHeaders !== undefined && o.tenantHeaders.length > 0 ? o.tenantHeaders : undefined,
    linkHeaders: o.xcidHeaders !== undefined && o.xcidHeaders.length > 0 ? o.xcidHeaders : undefined,
    onStats: (ev) => {
      if (ev.final) streams.push(ev);
    },
    statsIntervalUs: 0,
  });
  engine.addSession({ id: FILTER_SESSION_ID, criteria: o.criteria, captureRtp: o.rtp ?? false });
  const out = new Output(o.write);
  const print = o.out ?? ((s: string) => void process.stdout.write(s));
  const fmt = o.output === undefined ? 'text' : o.output;
  let text = '';
  const summary: FilterSummary = {
    files: 0,
    packets: 0,
    sipMessages: 0,
    matchedSip: 0,
    matchedMedia: 0,
    written: 0,
    linkTypeSkipped: 0,
    malformed: 0,
    undecoded: {},
    evicted: 0,
    streams,
    problems: [],
  };
  const meta = new UnitMeta();
  let lastFrameWritten = -1;
  let nextProgress = 1 << 16;

  const line = (hit: SipHit, u: Unit, m: PacketMeta, hep: boolean): void => {
    if (fmt === null) return;
    const msg: SipMessage = hit.msg;
    const row: SipRow = {
      frame: u.frame,
      tsUs: m.tsUs,
      src: endpointText(m.src.ip, m.src.port),
      dst: endpointText(m.dst.ip, m.dst.port),
      transport: hep ? (m.transport as SipRow['transport']) : u.transport,
    };
    if (hep) row.hep = true;
    if (msg.callId !== undefined) row.callId = msg.callId;
    if (msg.isRequest) row.method = msg.method;
    else {
      row.status = msg.statusCode;
      row.reason = msg.reason;
    }
    if (msg.cseq !== undefined) row.cseq = `${msg.cseq.seq} ${msg.cseq.method}`;
    const sessions = hit.sessions.map((s) => s.id);
    if (fmt === 'json') {
      const j = formatJson(row);
      // B2BUA/SBC legs of the call (inferred: by number and time, no header named them)
      const legs = hit.legs === undefined ? '' : `,"legs":${JSON.stringify(hit.legs)}${hit.legsInferred === true ? ',"legs_inferred":true' : ''}`;
      text += `${j.slice(0, -1)},"sessions":${JSON.stringify(sessions)}${legs}}\n`;
    } else {
      text += `${formatText(row)} sessions=${sessions.join(',')}\n`;
    }
    if (text.length > 65536) {
      print(text);
      text = '';
    }
  };

  const take = (u: Unit): void => {
    // A frame holding several matched units (TCP segment with two messages) is written once.
    if (u.frame === lastFrameWritten) return;
    lastFrameWritten = u.frame;
    out.frame(u.frameData);
  };

  const unit = (u: Unit): void => {
    const off = u.payloadOffset;
    const end = u.payloadEnd;
    if (end <= off) return;
    const pb = u.payloadBuf;
    const b0 = pb[off];
    if (u.transport === 'udp' && end - off > 4 && (b0 === 0x48 || b0 === 1 || b0 === 2) && looksLikeHep(pb, off, end)) return hepUnit(u);
    // Neither SIP-looking nor possibly media: dropped before any view of the payload is made.
    if (!engine.mayTake(pb, off, end)) return;
    meta.u = u;
    meta.tsUs = u.tsUs;
    meta.transport = u.transport;
    // Datagrams and framed TCP/WebSocket/SCTP messages alike: the engine's no-match path skips
    // the parse of messages no session can take.
    const before = engine.counters.sipMessages;
    const hit: SipHit | MediaHit | null = engine.onDatagram(meta, u.payload);
    if (engine.counters.sipMessages !== before) summary.sipMessages++;
    if (hit === null) return;
    take(u);
    if (hit.kind === 'sip') {
      summary.matchedSip++;
      line(hit, u, meta, false);
    } else summary.matchedMedia++;
  };

  const hepUnit = (u: Unit): void => {
    const hep = decodeHep(u.payload);
    if (!hep.ok) {
      summary.malformed++;
      return;
    }
    if (hepPayloadType(hep) !== HEP_PROTO_TYPE.SIP) return;
    // HEP carries one datagram's payload: a short body is shown as far as it goes, like tshark does.
    const msg = parseSipDatagram(hep.payload);
    if (!msg.ok) {
      summary.malformed++;
      return;
    }
    summary.sipMessages++;
    // The original addresses and capture time inside HEP are what the SIP dialog is about.
    const m: PacketMeta = {
      tsUs: hep.tsSec !== undefined ? hep.tsSec * 1_000_000 + (hep.tsUsec ?? 0) : u.tsUs,
      transport: IPPROTO_NAMES[hep.ipProto ?? 17] ?? 'udp',
      src: { ip: hep.srcIp ?? '', port: hep.srcPort ?? 0 },
      dst: { ip: hep.dstIp ?? '', port: hep.dstPort ?? 0 },
    };
    const hit = engine.onSip(m, msg);
    if (hit === null) return;
    take(u);
    summary.matchedSip++;
    line(hit, u, m, true);
  };

  try {
    for (const file of o.files) {
      summary.files++;
      const reader = createCaptureReader();
      const dissector = new Dissector();
      lastFrameWritten = -1;
      // Synchronous reads of large chunks: no stream machinery or promise per chunk.
      const fd = openSync(file, 'r');
      const onUnit = (u: Unit): void => unit(u);
      const onRecord = (rec: ReaderRecord): void => {
        if (out.firstLinkType === undefined) out.firstLinkType = rec.linkType;
        dissector.pushEach(rec, onUnit);
      };
      try {
        let chunk = Buffer.allocUnsafe(READ_CHUNK);
        for (;;) {
          const n = readSync(fd, chunk, 0, READ_CHUNK, null);
          if (n === 0) break;
          reader.pushEach(n === READ_CHUNK ? chunk : chunk.subarray(0, n), onRecord);
          if (reader.error !== null) break;
          // Reassembly (IP fragments, TCP segments held out of order, a partial message) may point
          // into this chunk: then the next read goes to a new buffer. Otherwise nothing refers to
          // it any more (the reader copies a record that spans chunks, the output copies frames).
          if (dissector.bufferedBytes > 0) chunk = Buffer.allocUnsafe(READ_CHUNK);
          if (o.progress !== undefined && dissector.stats.packets >= nextProgress) {
            nextProgress = dissector.stats.packets + (1 << 16);
            o.progress(summary.packets + dissector.stats.packets);
          }
        }
      } finally {
        closeSync(fd);
      }
      const st: CaptureEndStatus = reader.end();
      summary.packets += dissector.stats.packets;
      for (const n of Object.values(dissector.stats.malformed)) summary.malformed += n;
      for (const [k, n] of Object.entries(dissector.stats.undecoded)) summary.undecoded[k] = (summary.undecoded[k] ?? 0) + n;
      if (st.error !== undefined) summary.problems.push({ file, message: st.error.message, fatal: true });
      else if (st.truncated)
        summary.problems.push({ file, message: `capture truncated at byte ${st.offset ?? st.bytes}: ${st.reason ?? 'file ends early'}`, fatal: false });
    }
  } finally {
    engine.flush();
    // with --rtp --json, the per-stream table follows the SIP lines, one JSON line per stream
    if (fmt === 'json' && o.rtp === true) for (const ev of streams) text += `${streamJson(ev)}\n`;
    if (text.length > 0) print(text);
    out.close();
  }
  summary.written = out.written;
  summary.linkTypeSkipped = out.linkTypeSkipped;
  summary.malformed += engine.counters.sipMalformed;
  summary.evicted = engine.counters.dialogsEvicted;
  return summary;
}

/**
 * The criteria from the command line, validated by the API's own schema and rule. The usual ones take
 * the schema's zod-free fast path; the schema itself (and zod) is loaded only when that path is unsure.
 */
export async function criteriaFromOptions(values: OptionValues): Promise<{ criteria: Criteria } | { error: string }> {
  const raw: Record<string, unknown> = {};
  const map: [string, keyof Criteria][] = [
    ['from', 'from'],
    ['to', 'to'],
    ['tenant', 'tenant'],
    ['domain', 'domain'],
    ['provider-ip', 'provider_ip'],
    ['text', 'text'],
    ['call-id', 'call_id'],
    ['method', 'method'],
  ];
  for (const [flag, key] of map) if (typeof values[flag] === 'string') raw[key] = values[flag];
  let criteria = criteriaFast(raw);
  if (criteria === undefined) {
    const { criteriaSchema } = await import('../../core/schema/criteria.js');
    const parsed = criteriaSchema.safeParse(raw);
    if (!parsed.success) return { error: parsed.error.issues.map((i) => i.message).join('; ') };
    criteria = parsed.data;
  }
  if (!hasSearchCriterion(criteria)) return { error: CRITERIA_REQUIRED_MESSAGE };
  return { criteria };
}

/**
 * One RTP stream as a JSON line (`"type":"rtp_stream"`), the fields and units of tshark's
 * `-z rtp,streams`: packets, lost (expected − received, negative with duplicates), max delta,
 * mean/max jitter in ms, plus what tshark folds into "Problems?": duplicates and out-of-order.
 */
export function streamJson(ev: StatsEvent): string {
  const st = ev.stats;
  return JSON.stringify({
    type: 'rtp_stream',
    call_id: ev.callId,
    src: endpointText(st.src.ip, st.src.port),
    dst: endpointText(st.dst.ip, st.dst.port),
    ssrc: `0x${st.ssrc.toString(16).toUpperCase().padStart(8, '0')}`,
    pt: st.pt,
    codec: st.codec ?? null,
    start: st.firstTsUs,
    duration_ms: st.durationMs,
    packets: st.packets,
    expected: st.expected,
    lost: st.lost,
    lost_pct: st.expected > 0 ? Math.round((st.lost / st.expected) * 10000) / 100 : 0,
    duplicates: st.duplicates,
    out_of_order: st.reordered,
    max_delta_ms: st.maxDeltaMs,
    jitter_ms: st.jitterMs,
    mean_jitter_ms: st.meanJitterMs,
    max_jitter_ms: st.maxJitterMs,
    mos: st.mos ?? null,
  });
}

function summaryText(s: FilterSummary, writePath: string | undefined): string {
  const lines = [
    `tunaio filter: ${s.packets} packets read from ${s.files} file(s), ${s.sipMessages} SIP messages, ` +
      `${s.matchedSip} SIP matched, ${s.matchedMedia} media packets matched, ` +
      `${writePath !== undefined ? `${s.written} frames written to ${writePath}` : 'nothing written (no --write)'}, ` +
      `${s.malformed} malformed, ${s.evicted} dialogs evicted` +
      (Object.keys(s.undecoded).length > 0 ? `, not decoded: ${undecodedText(s.undecoded)}` : ''),
  ];
  if (s.linkTypeSkipped > 0)
    lines.push(`tunaio filter: warning: ${s.linkTypeSkipped} matched frames not written: their link type differs from the output's`);
  for (const ev of s.streams) {
    const st = ev.stats;
    lines.push(
      `tunaio filter: rtp ${endpointText(st.src.ip, st.src.port)} -> ${endpointText(st.dst.ip, st.dst.port)} ssrc=0x${st.ssrc
        .toString(16)
        .padStart(8, '0')} ${st.codec ?? `pt${st.pt}`} packets=${st.packets} expected=${st.expected} lost=${st.lost} ` +
        `duplicates=${st.duplicates} out_of_order=${st.reordered} duration=${st.durationMs}ms ` +
        `jitter=${st.jitterMs}ms mean_jitter=${st.meanJitterMs}ms max_jitter=${st.maxJitterMs}ms max_delta=${st.maxDeltaMs}ms mos=${st.mos ?? '-'} call_id=${ev.callId}`,
    );
  }
  return lines.join('\n') + '\n';
}

export const filter: Command = {
  spec: {
    name: 'filter',
    summary: 'apply capture criteria to pcap/pcapng files; write matching packets',
    usage: 'tunaio filter --read FILE… [--from N] [--to N] … [--write OUT.pcap] [--json]',
    positionals: true,
    options: [
      { name: 'read', type: 'string', multiple: true, arg: 'FILE', help: 'input capture file (more files may follow as arguments)' },
      { name: 'from', type: 'string', arg: 'NUMBER', help: 'caller (From/PAI/PPI/RPID user)' },
      { name: 'to', type: 'string', arg: 'NUMBER', help: 'called number (R-URI/To/Diversion/History-Info user)' },
      { name: 'tenant', type: 'string', arg: 'CODE', help: 'tenant code' },
      { name: 'domain', type: 'string', arg: 'DOMAIN', help: 'SIP domain (or parent domain)' },
      { name: 'provider-ip', type: 'string', arg: 'IP|CIDR', help: 'source or destination IP' },
      { name: 'text', type: 'string', arg: 'TEXT', help: 'case-insensitive substring' },
      { name: 'call-id', type: 'string', arg: 'CALLID', help: 'exact Call-ID' },
      { name: 'method', type: 'string', arg: 'METHOD', help: 'method that creates the dialog' },
      { name: 'rtp', type: 'boolean', help: 'also keep RTP/RTCP negotiated by matched dialogs' },
      { name: 'write', type: 'string', arg: 'OUT.pcap', help: 'write matching packets to this pcap' },
      { name: 'json', type: 'boolean', help: 'print matching SIP messages as JSON lines (with --rtp, then one `rtp_stream` line per RTP stream)' },
      { name: 'tenant-header', type: 'string', multiple: true, arg: 'HEADER', help: 'SIP header naming the tenant (default X-Tenant, X-Tenant-Id, X-Tenant-Code)' },
      { name: 'xcid-header', type: 'string', multiple: true, arg: 'HEADER', help: "SIP header naming a B2BUA/SBC leg's other Call-ID (default X-CID, X-Call-ID)" },
    ],
  },
  async run(values, positionals) {
    const files = [...((values.read as string[] | undefined) ?? []), ...positionals];
    if (files.length === 0) {
      process.stderr.write('tunaio filter: give at least one capture file with --read FILE (see tunaio filter --help)\n');
      return 2;
    }
    const c = await criteriaFromOptions(values);
    if ('error' in c) {
      process.stderr.write(`tunaio filter: ${c.error}\n`);
      return 2;
    }
    const write = typeof values.write === 'string' ? values.write : undefined;
    const tty = process.stderr.isTTY === true;
    let summary: FilterSummary;
    try {
      summary = await runFilter({
        files,
        criteria: c.criteria,
        rtp: values.rtp === true,
        write,
        // With --write alone the pcap is the output; lines only when asked for or when nothing is written.
        output: values.json === true ? 'json' : write === undefined ? 'text' : null,
        tenantHeaders: (values['tenant-header'] as string[] | undefined) ?? [],
        xcidHeaders: (values['xcid-header'] as string[] | undefined) ?? [],
        progress: tty ? (n) => void process.stderr.write(`\rtunaio filter: ${n} packets…`) : undefined,
      });
    } catch (e) {
      if (tty) process.stderr.write('\n');
      const err = e as NodeJS.ErrnoException;
      process.stderr.write(`tunaio filter: ${err.path ?? ''}: ${err.code ?? err.message}\n`);
      return 2;
    }
    if (tty) process.stderr.write('\r\x1b[K');
    let code = 0;
    for (const p of summary.problems) {
      process.stderr.write(`tunaio filter: ${p.file}: ${p.fatal ? '' : 'warning: '}${p.message}\n`);
      if (p.fatal) code = 2;
    }
    process.stderr.write(summaryText(summary, write));
    return code;
  },
};
