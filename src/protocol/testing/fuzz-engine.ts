// Mutation fuzzer for the protocol layer, shared by src/protocol/fuzz.test.ts (short pass) and
// scripts/fuzz.ts (≥1 M mutations). Deterministic: a seeded PRNG picks a packet of a real capture and
// a mutation (bit flips, truncation, insertion, deletion, length-field lies in IP / UDP / TCP / HEP /
// Content-Length, pcap record-header lies), then runs reader → dissector → SIP/HEP parsers. A failure
// is anything thrown past a module boundary, a parser's `internal` error (its last-resort guard
// fired), or dissector memory above its bounds. Pure: inputs are given as Buffers.
import { createCaptureReader, readCaptureFile } from '../capture-file.js';
import type { CaptureRecord } from '../capture-file.js';
import { SipDecodePipeline } from '../decode-pipeline.js';
import { Dissector } from '../dissector.js';
import type { DissectorOptions } from '../dissector.js';
import { isParseError } from '../errors.js';
import { decodeHep, looksLikeHep } from '../hep.js';
import { ETHERTYPE, linkToL3, rawIpEtherType } from '../link.js';
import type { L3Pos } from '../link.js';
import { looksLikeSip, parseSip, parseSipDatagram, parseSipSummary } from '../sip.js';
import { prng } from './prng.js';

export interface FuzzInput {
  name: string;
  file: Buffer;
}

export interface FuzzOptions {
  seed: number;
  mutations: number;
  /** one whole-file (reader) mutation every this many mutations */
  fileMutationEvery?: number;
  /** bytes of a file fed to the reader per file mutation */
  fileWindow?: number;
  /** progress callback every 100k mutations */
  onProgress?: (done: number) => void;
}

export interface FuzzSummary {
  mutations: number;
  fileMutations: number;
  byKind: Record<string, number>;
  records: number;
  units: number;
  sipParsed: number;
  sipRejected: number;
  hepParsed: number;
  hepRejected: number;
  /** largest dissector buffered-bytes figure seen, and the bound it must stay under */
  maxBufferedBytes: number;
  bufferBound: number;
  malformedByReason: Record<string, number>;
  /** first failures (empty when all is well) */
  failures: string[];
  failureCount: number;
}

/** Small bounds so the fuzzer actually reaches them. */
export const FUZZ_LIMITS: DissectorOptions = {
  ip: { maxBytes: 512 * 1024, maxDatagrams: 256, timeoutUs: 30_000_000 },
  tcp: { maxTotalBytes: 1024 * 1024, maxStreamBytes: 128 * 1024, maxStreams: 512, maxOutOfOrderSegments: 32 },
  framing: { maxMessageBytes: 64 * 1024 },
};
/** SctpReassembler's own total bound (sctp.ts default) */
const SCTP_BOUND = 4 * 1024 * 1024;

const RECORD_KINDS = [
  'bitflip',
  'truncate',
  'insert',
  'delete',
  'ip_length',
  'ip_ihl',
  'ip_fragment',
  'ip_proto',
  'udp_length',
  'tcp_offset',
  'tcp_seq',
  'hep_length',
  'sip_content_length',
  'sip_text',
] as const;

interface Located {
  l3: number;
  v4: boolean;
  ihl: number;
  proto: number;
  l4: number;
}

const pos: L3Pos = { etherType: 0, off: 0 };

function locate(rec: CaptureRecord, b: Buffer): Located | null {
  if (!linkToL3(rec.linkType, b, 0, b.length, pos)) return null;
  let t = pos.etherType;
  if (t === ETHERTYPE.RAW_IP) t = rawIpEtherType(b, pos.off, b.length);
  const o = pos.off;
  if (t === ETHERTYPE.IPV4 && b.length - o >= 20) {
    const ihl = (b[o] & 15) * 4;
    return { l3: o, v4: true, ihl, proto: b[o + 9], l4: o + ihl };
  }
  if (t === ETHERTYPE.IPV6 && b.length - o >= 40) return { l3: o, v4: false, ihl: 40, proto: b[o + 6], l4: o + 40 };
  return null;
}

export function runFuzz(inputs: FuzzInput[], opts: FuzzOptions): FuzzSummary {
  const rnd = prng(opts.seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const fileEvery = opts.fileMutationEvery ?? 500;
  const window = opts.fileWindow ?? 64 * 1024;
  const lim = FUZZ_LIMITS;
  const bound = lim.ip!.maxBytes! + lim.tcp!.maxTotalBytes! + lim.tcp!.maxStreamBytes! + SCTP_BOUND + 65536;
  const s: FuzzSummary = {
    mutations: 0,
    fileMutations: 0,
    byKind: {},
    records: 0,
    units: 0,
    sipParsed: 0,
    sipRejected: 0,
    hepParsed: 0,
    hepRejected: 0,
    maxBufferedBytes: 0,
    bufferBound: bound,
    malformedByReason: {},
    failures: [],
    failureCount: 0,
  };
  const fail = (what: string): void => {
    s.failureCount++;
    if (s.failures.length < 20) s.failures.push(what);
  };

  const records: { input: number; rec: CaptureRecord }[] = [];
  inputs.forEach((inp, i) => {
    for (const rec of readCaptureFile(inp.file).records) records.push({ input: i, rec });
  });
  const dissectors = inputs.map(() => new Dissector(lim));
  // Most packets of the real captures are RTP: pick SIP/HEP/TCP/SCTP carriers more often.
  const interesting: number[] = [];
  {
    const probe = inputs.map(() => new Dissector(lim));
    records.forEach((r, idx) => {
      for (const u of probe[r.input].push(r.rec)) {
        if (u.transport !== 'udp' || looksLikeSip(u.payload) || looksLikeHep(u.payload)) {
          interesting.push(idx);
          break;
        }
      }
    });
  }

  const parseUnitPayload = (p: Buffer, datagram: boolean): void => {
    if (looksLikeHep(p)) {
      const h = decodeHep(p);
      if (isParseError(h)) {
        if (h.code === 'internal') fail(`decodeHep internal error: ${h.message}`);
        s.hepRejected++;
        return;
      }
      s.hepParsed++;
      p = h.payload;
    }
    // the strict parser on everything (its rejection paths get exercised too) …
    const m = parseSip(p);
    if (isParseError(m)) {
      if (m.code === 'internal') fail(`parseSip internal error: ${m.message}`);
      s.sipRejected++;
    } else s.sipParsed++;
    // … and the datagram variant where the decode pipeline uses it
    if (datagram && looksLikeSip(p)) {
      const d = parseSipDatagram(p);
      if (isParseError(d) && d.code === 'internal') fail(`parseSipDatagram internal error: ${d.message}`);
      // the decode pipeline's summary parse must read exactly what the full parse reads
      const sum = parseSipSummary(p);
      if (isParseError(d)) {
        if (sum !== null) fail(`parseSipSummary accepted what parseSipDatagram rejected (${d.code})`);
      } else if (
        sum === null ||
        sum.isRequest !== d.isRequest ||
        sum.method !== d.method ||
        sum.statusCode !== d.statusCode ||
        sum.reason !== d.reason ||
        sum.callId !== d.callId ||
        sum.cseq?.seq !== d.cseq?.seq ||
        sum.cseq?.method !== d.cseq?.method
      )
        fail(`parseSipSummary differs from parseSipDatagram: ${JSON.stringify(sum)} vs ${JSON.stringify({ method: d.method, status: d.statusCode, reason: d.reason, callId: d.callId, cseq: d.cseq })}`);
    }
  };

  for (let i = 0; i < opts.mutations; i++) {
    s.mutations++;
    if (opts.onProgress && i > 0 && i % 100_000 === 0) opts.onProgress(i);
    if (i % fileEvery === 0 || records.length === 0) {
      fileMutation(i);
      continue;
    }
    const pick = interesting.length > 0 && rnd() < 0.6 ? interesting[int(interesting.length)] : int(records.length);
    const { input, rec } = records[pick];
    const kind = RECORD_KINDS[int(RECORD_KINDS.length)];
    s.byKind[kind] = (s.byKind[kind] ?? 0) + 1;
    let data: Buffer;
    try {
      data = mutateRecord(rec, kind);
    } catch (e) {
      fail(`mutator itself failed (${kind}): ${(e as Error).message}`);
      continue;
    }
    const mutated: CaptureRecord = { ...rec, data, caplen: data.length };
    const d = dissectors[input];
    try {
      const units = d.push(mutated);
      s.records++;
      for (const u of units) {
        s.units++;
        parseUnitPayload(u.payload, u.transport === 'udp' || u.transport === 'sctp');
      }
    } catch (e) {
      fail(`#${i} ${inputs[input].name} frame ${rec.frame} ${kind}: threw ${(e as Error).stack ?? String(e)}`);
    }
    const bb = d.bufferedBytes;
    if (bb > s.maxBufferedBytes) s.maxBufferedBytes = bb;
    if (bb > bound) fail(`#${i} buffered ${bb} bytes > bound ${bound}`);
  }
  for (const d of dissectors) {
    const internal = d.stats.malformed.internal_error;
    if (internal) fail(`dissector caught ${internal} internal errors (a bug, not bad input)`);
    for (const [k, v] of Object.entries(d.stats.malformed)) s.malformedByReason[k] = (s.malformedByReason[k] ?? 0) + v;
  }
  return s;

  function mutateRecord(rec: CaptureRecord, kind: (typeof RECORD_KINDS)[number]): Buffer {
    let b = Buffer.from(rec.data);
    const L = locate(rec, b);
    const r16 = (): number => [0, 1, 7, 8, 20, 40, 0xffff, int(0x10000), int(2000)][int(9)];
    switch (kind) {
      case 'bitflip': {
        const n = 1 + int(8);
        for (let k = 0; k < n && b.length > 0; k++) b[int(b.length)] ^= 1 << int(8);
        return b;
      }
      case 'truncate':
        return b.subarray(0, int(b.length + 1));
      case 'insert': {
        const at = int(b.length + 1);
        const ins = Buffer.alloc(1 + int(16));
        for (let k = 0; k < ins.length; k++) ins[k] = int(256);
        return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
      }
      case 'delete': {
        const at = int(b.length + 1);
        return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(32)))]);
      }
      case 'ip_length':
        if (L && L.l3 + 6 <= b.length) b.writeUInt16BE(r16(), L.l3 + (L.v4 ? 2 : 4));
        return b;
      case 'ip_ihl':
        if (L && L.v4) b[L.l3] = 0x40 | int(16);
        return b;
      case 'ip_fragment':
        if (L && L.v4 && L.l3 + 8 <= b.length) b.writeUInt16BE(int(0x10000), L.l3 + 6);
        else if (L && !L.v4 && L.l3 + 7 <= b.length) b[L.l3 + 6] = 44; // claim a fragment header
        return b;
      case 'ip_proto':
        if (L) b[L.l3 + (L.v4 ? 9 : 6)] = [4, 6, 17, 41, 47, 132, 0, 43, 60, int(256)][int(10)];
        return b;
      case 'udp_length':
        if (L && L.proto === 17 && L.l4 + 6 <= b.length) b.writeUInt16BE(r16(), L.l4 + 4);
        return b;
      case 'tcp_offset':
        if (L && L.proto === 6 && L.l4 + 13 <= b.length) b[L.l4 + 12] = int(16) << 4;
        return b;
      case 'tcp_seq':
        if (L && L.proto === 6 && L.l4 + 8 <= b.length) b.writeUInt32BE((b.readUInt32BE(L.l4 + 4) + int(4000) - 2000) >>> 0, L.l4 + 4);
        return b;
      case 'hep_length': {
        const at = b.indexOf('HEP3');
        if (at < 0 || at + 6 > b.length) return b;
        if (rnd() < 0.4) {
          b.writeUInt16BE(r16(), at + 4);
          return b;
        }
        // lie in one chunk's length: walk to a random chunk
        let o = at + 6;
        const stop = int(12);
        for (let k = 0; k < stop && o + 6 <= b.length; k++) {
          const len = b.readUInt16BE(o + 4);
          if (len < 6) break;
          o += len;
        }
        if (o + 6 <= b.length) b.writeUInt16BE(r16(), o + 4);
        return b;
      }
      case 'sip_content_length': {
        const s = b.toString('latin1');
        const m = /(content-length|\nl)\s*:\s*\d+/i.exec(s);
        if (!m) return b;
        const lie = String([0, 1, 99999, 4294967295, int(5000), -1][int(6)]);
        b = Buffer.from(s.slice(0, m.index) + m[0].replace(/\d+$/, lie) + s.slice(m.index + m[0].length), 'latin1');
        return b;
      }
      case 'sip_text': {
        // damage the text where parsers look: CR/LF, colons, spaces, NULs
        const n = 1 + int(4);
        for (let k = 0; k < n && b.length > 0; k++) b[int(b.length)] = [0x0d, 0x0a, 0x3a, 0x20, 0x00, 0x2c, 0x3b][int(7)];
        return b;
      }
    }
  }

  function fileMutation(i: number): void {
    s.fileMutations++;
    const inp = inputs[int(inputs.length)];
    const f = Buffer.from(inp.file.subarray(0, window));
    const kind = ['caplen_lie', 'header_flip', 'bitflip', 'magic', 'truncate'][int(5)];
    s.byKind[`file_${kind}`] = (s.byKind[`file_${kind}`] ?? 0) + 1;
    const le = f.length >= 4 && f.readUInt32LE(0) === 0xa1b2c3d4;
    if (kind === 'caplen_lie' && le) {
      // walk to a random record header and lie in caplen or origLen
      let o = 24;
      const stop = int(50);
      for (let k = 0; k < stop && o + 16 <= f.length; k++) o += 16 + f.readUInt32LE(o + 8);
      if (o + 16 <= f.length) f.writeUInt32LE([0, 1, 15, 65536, 262145, 0xffffffff, int(3000)][int(7)], o + (rnd() < 0.7 ? 8 : 12));
    } else if (kind === 'header_flip') {
      for (let k = 0; k < 3; k++) f[int(Math.min(24, f.length))] ^= 1 << int(8);
    } else if (kind === 'bitflip') {
      for (let k = 0; k < 16; k++) f[int(f.length)] ^= 1 << int(8);
    } else if (kind === 'magic') {
      const magics = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a, 0x474d4255];
      f.writeUInt32BE(magics[int(magics.length)], 0);
    }
    const body = kind === 'truncate' ? f.subarray(0, int(f.length + 1)) : f;
    try {
      const p = new SipDecodePipeline(lim);
      const reader = createCaptureReader();
      // two different feeders: the pipeline in random chunks, and a bare reader in one piece
      let o = 0;
      while (o < body.length) {
        const n = 1 + int(4096);
        p.push(body.subarray(o, o + n), () => undefined);
        o += n;
      }
      p.end();
      reader.push(body);
      reader.end();
      if (p.dissector.stats.malformed.internal_error) fail(`#${i} file ${inp.name} ${kind}: dissector internal error`);
    } catch (e) {
      fail(`#${i} file ${inp.name} ${kind}: threw ${(e as Error).stack ?? String(e)}`);
    }
  }
}
