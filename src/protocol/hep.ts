// HEP (Homer Encapsulation Protocol) v1/v2 and v3 (EEP): decode, encode, and framing over a TCP
// stream. It owns the chunk catalogue of the HEP3 specification (sipcapture "HEP3 Network Protocol
// Specification", chunk table; cross-checked with heplify-server decoder/decoder.go and hep-js),
// exact round trip (encode(decode(bytes)) === bytes: chunk order, vendor chunks and unknown chunks are
// kept), IPv6 and UTF-8 payloads. It does not own what the payload means (SIP: sip.ts; RTCP reports
// in JSON, logs: callers), nor sockets.
//
// HEP3 wire format: "HEP3" | total length (uint16, whole packet incl. these 6 bytes) | chunks, each
// vendor id (uint16) | type id (uint16) | chunk length (uint16, incl. this 6-byte header) | value.
// HEP1/2 wire format (Kamailio/OpenSIPS `struct hep_hdr`): version u8 | header length u8 (16 for IPv4,
// 40 for IPv6) | family u8 (2 AF_INET, 10 AF_INET6) | ip proto u8 | src port u16be | dst port u16be |
// src ip | dst ip | (v2 only) `struct hep_timehdr` { tv_sec u32, tv_usec u32, captid u16, 2 pad }
// — senders fill the time header in host byte order, i.e. little-endian on every platform they run
// on, so it is read and written little-endian here — | payload (to the end of the datagram).

import { inflateRawSync, unzipSync } from 'node:zlib';
import type { ParseError } from './errors.js';
import { parseError } from './errors.js';
import { ipv6Text } from './ip.js';

/** HEP3 generic chunk type ids (vendor id 0). Sizes/types per the HEP3 specification. */
export const HEP3_CHUNK = {
  IP_FAMILY: 0x0001, // uint8: 2 = IPv4, 10 = IPv6
  IP_PROTO: 0x0002, // uint8: IP protocol id (6 TCP, 17 UDP, 132 SCTP)
  SRC_IPV4: 0x0003, // inet4-addr
  DST_IPV4: 0x0004, // inet4-addr
  SRC_IPV6: 0x0005, // inet6-addr
  DST_IPV6: 0x0006, // inet6-addr
  SRC_PORT: 0x0007, // uint16
  DST_PORT: 0x0008, // uint16
  TS_SEC: 0x0009, // uint32: timestamp, seconds since 1970
  TS_USEC: 0x000a, // uint32: timestamp, microseconds offset
  PROTO_TYPE: 0x000b, // uint8: 1 SIP, 5 RTCP (JSON), 34 RTP agent, 35 RTCP-XR, 53 DNS, 100 LOG, …
  CAPTURE_ID: 0x000c, // uint32: capture agent id
  KEEPALIVE: 0x000d, // uint16: keep-alive timer, seconds
  AUTH_KEY: 0x000e, // octet-string: authentication key (plain text)
  PAYLOAD: 0x000f, // octet-string: captured packet payload
  COMPRESSED_PAYLOAD: 0x0010, // octet-string: captured payload, compressed (zlib)
  CORRELATION_ID: 0x0011, // octet-string: internal correlation id
  VLAN: 0x0012, // uint16: VLAN id
  NODE_NAME: 0x0013, // octet-string: group id / node name
  SRC_MAC: 0x0014, // uint64: source MAC
  DST_MAC: 0x0015, // uint64: destination MAC
  ETH_TYPE: 0x0016, // uint16: Ethernet type
  TCP_FLAGS: 0x0017, // uint8: TCP flags [SYN…PUSH]
  IP_TOS: 0x0018, // uint8: IP TOS
  // 0x0019–0x001f reserved
  MOS: 0x0020, // uint16: MOS value (× 100)
  R_FACTOR: 0x0021, // uint16: R-factor
  GEO_LOCATION: 0x0022, // octet-string: GEO location
  JITTER: 0x0023, // uint32: jitter
  TRANSACTION_TYPE: 0x0024, // octet-string: transaction type [call, registration]
  PAYLOAD_JSON_KEYS: 0x0025, // octet-string: payload JSON keys (type of the JSON payload)
  TAG_VALUES: 0x0026, // octet-string: tags' values
  TAG_TYPE: 0x0027, // uint16: type of tag
} as const;

/** Human names of the generic chunks, by type id. */
export const HEP3_CHUNK_NAMES: Readonly<Record<number, string>> = {
  0x01: 'ip family',
  0x02: 'ip proto',
  0x03: 'src ipv4',
  0x04: 'dst ipv4',
  0x05: 'src ipv6',
  0x06: 'dst ipv6',
  0x07: 'src port',
  0x08: 'dst port',
  0x09: 'ts sec',
  0x0a: 'ts usec',
  0x0b: 'proto type',
  0x0c: 'capture agent id',
  0x0d: 'keepalive',
  0x0e: 'auth key',
  0x0f: 'payload',
  0x10: 'compressed payload',
  0x11: 'correlation id',
  0x12: 'vlan',
  0x13: 'node name',
  0x14: 'src mac',
  0x15: 'dst mac',
  0x16: 'ethernet type',
  0x17: 'tcp flags',
  0x18: 'ip tos',
  0x20: 'mos',
  0x21: 'r-factor',
  0x22: 'geo location',
  0x23: 'jitter',
  0x24: 'transaction type',
  0x25: 'payload json type',
  0x26: 'tags values',
  0x27: 'tag type',
};

/** HEP proto types (chunk 0x000b) as heplify-server and the HEP Wireshark plugin name them. */
export const HEP_PROTO_TYPE = {
  SIP: 1,
  RTCP_JSON: 5, // RTCP report as JSON (rtpengine, FreeSWITCH)
  QOS_JSON: 32,
  RTP_AGENT: 34,
  RTCP_XR: 35,
  HORACLIFIX: 38,
  DNS: 53,
  LOG: 100,
} as const;

export interface HepChunk {
  vendorId: number;
  typeId: number;
  /** chunk value (subarray of the input, no copy) */
  value: Buffer;
}

/** Fields common to all versions; everything optional because a sender may omit any chunk. */
export interface HepFields {
  ipFamily?: number;
  ipProto?: number;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number;
  dstPort?: number;
  tsSec?: number;
  tsUsec?: number;
  protoType?: number;
  captureId?: number;
  keepAlive?: number;
  authKey?: string;
  correlationId?: string;
  vlan?: number;
  nodeName?: string;
  srcMac?: string;
  dstMac?: string;
  ethType?: number;
  tcpFlags?: number;
  ipTos?: number;
  mos?: number;
  rFactor?: number;
  geoLocation?: string;
  jitter?: number;
  transactionType?: string;
  payloadJsonKeys?: string;
  tagValues?: string;
  tagType?: number;
}

export interface HepPacket extends HepFields {
  ok: true;
  version: 1 | 2 | 3;
  /** the captured payload; inflated when it came in chunk 0x0010 */
  payload: Buffer;
  /** true when the payload came compressed (chunk 0x0010) */
  compressed: boolean;
  /** set when the compressed payload could not be inflated (payload is then empty) */
  payloadError?: string;
  /** HEP3: every chunk in wire order (vendor and unknown chunks included). Empty for v1/v2. */
  chunks: HepChunk[];
  /** generic chunks whose size did not match the specification (kept in `chunks`, field not set) */
  badChunks: number;
  /** the bytes of this packet (subarray) */
  raw: Buffer;
  /** HEP2: the 2 padding bytes after captid, kept for an exact round trip */
  v2Pad?: number;
}

/** Bound for inflating chunk 0x0010 (a HEP packet is at most 64 KiB; SIP compresses ~5×). */
export const HEP_MAX_INFLATED = 1 << 20;

const HEP3_MAGIC = 0x48455033; // "HEP3"

/** Cheap check for a HEP datagram: "HEP3", or a plausible HEP1/2 header. */
export function looksLikeHep(buf: Buffer, start = 0, end = buf.length): boolean {
  if (end - start < 6) return false;
  if (buf.readUInt32BE(start) === HEP3_MAGIC) return true;
  return looksLikeHep2(buf, start, end);
}

function looksLikeHep2(buf: Buffer, start: number, end: number): boolean {
  const v = buf[start];
  if (v !== 1 && v !== 2) return false;
  const hl = buf[start + 1];
  const fam = buf[start + 2];
  if (!((fam === 2 && hl === 16) || (fam === 10 && hl === 40))) return false;
  const timeLen = v === 2 ? 12 : 0;
  return end - start >= hl + timeLen;
}

function ipv4Text(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

function macText(v: Buffer): string {
  // The spec types MACs as uint64; senders put the 6 MAC bytes last (or send exactly 6).
  const m = v.length === 8 ? v.subarray(2) : v;
  const parts: string[] = [];
  for (let i = 0; i < m.length; i++) parts.push(m[i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

function inflatePayload(v: Buffer): Buffer | string {
  try {
    return unzipSync(v, { maxOutputLength: HEP_MAX_INFLATED });
  } catch {
    try {
      return inflateRawSync(v, { maxOutputLength: HEP_MAX_INFLATED });
    } catch (e) {
      return `compressed payload could not be inflated: ${(e as Error).message}`;
    }
  }
}

/** Apply one generic chunk to the packet. Returns false when its size does not fit its type. */
function applyChunk(p: HepPacket, type: number, v: Buffer): boolean {
  const n = v.length;
  switch (type) {
    case 0x01: if (n !== 1) return false; p.ipFamily = v[0]; return true;
    case 0x02: if (n !== 1) return false; p.ipProto = v[0]; return true;
    case 0x03: if (n !== 4) return false; p.srcIp = ipv4Text(v, 0); return true;
    case 0x04: if (n !== 4) return false; p.dstIp = ipv4Text(v, 0); return true;
    case 0x05: if (n !== 16) return false; p.srcIp = ipv6Text(v, 0); return true;
    case 0x06: if (n !== 16) return false; p.dstIp = ipv6Text(v, 0); return true;
    case 0x07: if (n !== 2) return false; p.srcPort = v.readUInt16BE(0); return true;
    case 0x08: if (n !== 2) return false; p.dstPort = v.readUInt16BE(0); return true;
    case 0x09: if (n !== 4) return false; p.tsSec = v.readUInt32BE(0); return true;
    case 0x0a: if (n !== 4) return false; p.tsUsec = v.readUInt32BE(0); return true;
    case 0x0b: if (n !== 1) return false; p.protoType = v[0]; return true;
    case 0x0c:
      // uint32 per the spec; early senders used uint16
      if (n === 4) p.captureId = v.readUInt32BE(0);
      else if (n === 2) p.captureId = v.readUInt16BE(0);
      else return false;
      return true;
    case 0x0d: if (n !== 2) return false; p.keepAlive = v.readUInt16BE(0); return true;
    case 0x0e: p.authKey = v.toString('utf8'); return true;
    case 0x0f:
      if (!p.compressed && p.payload.length === 0) p.payload = v;
      return true;
    case 0x10: {
      const r = inflatePayload(v);
      p.compressed = true;
      if (typeof r === 'string') {
        p.payload = v.subarray(0, 0);
        p.payloadError = r;
      } else p.payload = r;
      return true;
    }
    case 0x11: p.correlationId = v.toString('utf8'); return true;
    case 0x12: if (n !== 2) return false; p.vlan = v.readUInt16BE(0); return true;
    case 0x13: p.nodeName = v.toString('utf8'); return true;
    case 0x14: if (n !== 6 && n !== 8) return false; p.srcMac = macText(v); return true;
    case 0x15: if (n !== 6 && n !== 8) return false; p.dstMac = macText(v); return true;
    case 0x16: if (n !== 2) return false; p.ethType = v.readUInt16BE(0); return true;
    case 0x17: if (n !== 1) return false; p.tcpFlags = v[0]; return true;
    case 0x18: if (n !== 1) return false; p.ipTos = v[0]; return true;
    case 0x20: if (n !== 2) return false; p.mos = v.readUInt16BE(0); return true;
    case 0x21: if (n !== 2) return false; p.rFactor = v.readUInt16BE(0); return true;
    case 0x22: p.geoLocation = v.toString('utf8'); return true;
    case 0x23: if (n !== 4) return false; p.jitter = v.readUInt32BE(0); return true;
    case 0x24: p.transactionType = v.toString('utf8'); return true;
    case 0x25: p.payloadJsonKeys = v.toString('utf8'); return true;
    case 0x26: p.tagValues = v.toString('utf8'); return true;
    case 0x27: if (n !== 2) return false; p.tagType = v.readUInt16BE(0); return true;
    default:
      return true; // unknown generic chunk: kept in `chunks` only
  }
}

function decodeHep3(buf: Buffer, start: number, end: number): HepPacket | ParseError {
  const total = buf.readUInt16BE(start + 4);
  if (total < 6) return parseError('bad_length', 4, `HEP3 length ${total} is smaller than its header`);
  if (total > end - start) return parseError('truncated', end - start, `HEP3 length ${total} but ${end - start} bytes available`);
  const stop = start + total;
  const p: HepPacket = {
    ok: true,
    version: 3,
    payload: buf.subarray(stop, stop),
    compressed: false,
    chunks: [],
    badChunks: 0,
    raw: buf.subarray(start, stop),
  };
  let off = start + 6;
  while (off < stop) {
    if (stop - off < 6) return parseError('truncated', off - start, `HEP3 chunk header truncated at byte ${off - start}`);
    const vendorId = buf.readUInt16BE(off);
    const typeId = buf.readUInt16BE(off + 2);
    const clen = buf.readUInt16BE(off + 4);
    if (clen < 6) return parseError('bad_chunk', off - start, `HEP3 chunk 0x${typeId.toString(16)} length ${clen} < 6 at byte ${off - start}`);
    if (off + clen > stop) return parseError('bad_chunk', off - start, `HEP3 chunk 0x${typeId.toString(16)} of ${clen} bytes runs past the packet at byte ${off - start}`);
    const value = buf.subarray(off + 6, off + clen);
    p.chunks.push({ vendorId, typeId, value });
    // Vendor chunks (vendor id != 0) are skipped by their length: kept, not interpreted.
    if (vendorId === 0 && !applyChunk(p, typeId, value)) p.badChunks++;
    off += clen;
  }
  return p;
}

function decodeHep2(buf: Buffer, start: number, end: number): HepPacket | ParseError {
  const v = buf[start] as 1 | 2;
  const hl = buf[start + 1];
  const fam = buf[start + 2];
  if (!((fam === 2 && hl === 16) || (fam === 10 && hl === 40))) {
    return parseError('bad_header', 1, `HEP${v} header length ${hl} does not match family ${fam}`);
  }
  const timeLen = v === 2 ? 12 : 0;
  if (end - start < hl + timeLen) return parseError('truncated', end - start, `HEP${v} header needs ${hl + timeLen} bytes`);
  const p: HepPacket = {
    ok: true,
    version: v,
    ipFamily: fam,
    ipProto: buf[start + 3],
    srcPort: buf.readUInt16BE(start + 4),
    dstPort: buf.readUInt16BE(start + 6),
    payload: buf.subarray(start + hl + timeLen, end),
    compressed: false,
    chunks: [],
    badChunks: 0,
    raw: buf.subarray(start, end),
  };
  if (fam === 2) {
    p.srcIp = ipv4Text(buf, start + 8);
    p.dstIp = ipv4Text(buf, start + 12);
  } else {
    p.srcIp = ipv6Text(buf, start + 8);
    p.dstIp = ipv6Text(buf, start + 24);
  }
  if (v === 2) {
    const t = start + hl;
    p.tsSec = buf.readUInt32LE(t);
    p.tsUsec = buf.readUInt32LE(t + 4);
    p.captureId = buf.readUInt16LE(t + 8);
    p.v2Pad = buf.readUInt16LE(t + 10);
  }
  return p;
}

/**
 * What the payload is (chunk 0x000b). HEP1/HEP2 have no such field: they only ever carried SIP
 * (Kamailio/OpenSIPS siptrace), so SIP it is.
 */
export function hepPayloadType(p: HepPacket): number | undefined {
  return p.protoType ?? (p.version < 3 ? HEP_PROTO_TYPE.SIP : undefined);
}

/** Decode one HEP packet (v1, v2 or v3) from buf[start, end). Never throws. */
export function decodeHep(buf: Buffer, start = 0, end = buf.length): HepPacket | ParseError {
  try {
    if (start < 0) start = 0;
    if (end > buf.length) end = buf.length;
    if (end - start < 6) return parseError('truncated', Math.max(end - start, 0), 'HEP needs at least 6 bytes');
    if (buf.readUInt32BE(start) === HEP3_MAGIC) return decodeHep3(buf, start, end);
    const v = buf[start];
    if (v === 1 || v === 2) return decodeHep2(buf, start, end);
    return parseError('not_hep', 0, 'neither "HEP3" nor a HEP1/2 version byte');
  } catch (e) {
    return parseError('internal', 0, `HEP decoder failed: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Parse IPv4 dotted text into 4 bytes, or null. */
export function ipv4Bytes(s: string): Buffer | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parse IPv6 text (with `::`, optional brackets, optional trailing dotted IPv4) into 16 bytes, or null. */
export function ipv6Bytes(s: string): Buffer | null {
  let t = s.trim();
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  const pct = t.indexOf('%');
  if (pct >= 0) t = t.slice(0, pct);
  const groups: number[] = [];
  let tail4: Buffer | null = null;
  const lastColon = t.lastIndexOf(':');
  if (lastColon >= 0 && t.indexOf('.', lastColon) >= 0) {
    tail4 = ipv4Bytes(t.slice(lastColon + 1));
    if (tail4 === null) return null;
    t = t.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = t.indexOf('::');
  if (dbl >= 0 && t.indexOf('::', dbl + 1) >= 0) return null;
  const parseGroups = (x: string): number[] | null => {
    if (x === '') return [];
    const out: number[] = [];
    for (const g of x.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    const a = parseGroups(t.slice(0, dbl));
    const b = parseGroups(t.slice(dbl + 2));
    if (a === null || b === null || a.length + b.length > 7) return null;
    groups.push(...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b);
  } else {
    const a = parseGroups(t);
    if (a === null || a.length !== 8) return null;
    groups.push(...a);
  }
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i], i * 2);
  if (tail4 !== null) tail4.copy(out, 12);
  return out;
}

function chunkBytes(vendorId: number, typeId: number, value: Buffer): Buffer {
  const b = Buffer.allocUnsafe(6 + value.length);
  b.writeUInt16BE(vendorId, 0);
  b.writeUInt16BE(typeId, 2);
  b.writeUInt16BE(6 + value.length, 4);
  value.copy(b, 6);
  return b;
}

/** Assemble a HEP3 packet from a chunk list, in that order. Throws RangeError when it exceeds 65535 bytes. */
export function encodeHep3Chunks(chunks: readonly HepChunk[]): Buffer {
  const parts: Buffer[] = [Buffer.from('HEP3\0\0', 'latin1')];
  let total = 6;
  for (const c of chunks) {
    if (6 + c.value.length > 0xffff) throw new RangeError(`HEP3 chunk 0x${c.typeId.toString(16)} too large`);
    const b = chunkBytes(c.vendorId, c.typeId, c.value);
    parts.push(b);
    total += b.length;
  }
  if (total > 0xffff) throw new RangeError(`HEP3 packet of ${total} bytes exceeds 65535`);
  const out = Buffer.concat(parts, total);
  out.writeUInt16BE(total, 4);
  return out;
}

const u8 = (n: number): Buffer => Buffer.from([n & 0xff]);
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const macBytes = (s: string): Buffer => {
  const hex = s.replace(/[:-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) throw new RangeError(`bad MAC address ${s}`);
  return Buffer.concat([Buffer.alloc(2), Buffer.from(hex, 'hex')]); // uint64 per the spec
};

export interface Hep3EncodeFields extends HepFields {
  /** the payload; sent in chunk 0x000f, or deflated (zlib) into 0x0010 when `compress` is true */
  payload?: Buffer | string;
  compress?: boolean;
  /** extra chunks appended after the generic ones (vendor chunks, for instance) */
  extraChunks?: HepChunk[];
}

/**
 * Build a HEP3 packet from fields, in the conventional chunk order (family, proto, addresses, ports,
 * time, proto type, capture id, …, payload last). IPv6 addresses go in chunks 0x0005/0x0006.
 * Throws RangeError on invalid caller input (bad address text, packet over 64 KiB): a programming
 * error, not hostile input.
 */
export function encodeHep3(f: Hep3EncodeFields, deflate?: (b: Buffer) => Buffer): Buffer {
  const c: HepChunk[] = [];
  const add = (typeId: number, value: Buffer): void => {
    c.push({ vendorId: 0, typeId, value });
  };
  const v6 = (f.srcIp !== undefined && f.srcIp.includes(':')) || (f.dstIp !== undefined && f.dstIp.includes(':'));
  const family = f.ipFamily ?? (v6 ? 10 : 2);
  add(HEP3_CHUNK.IP_FAMILY, u8(family));
  if (f.ipProto !== undefined) add(HEP3_CHUNK.IP_PROTO, u8(f.ipProto));
  const addr = (ip: string, t4: number, t6: number): void => {
    if (ip.includes(':')) {
      const b = ipv6Bytes(ip);
      if (b === null) throw new RangeError(`bad IPv6 address ${ip}`);
      add(t6, b);
    } else {
      const b = ipv4Bytes(ip);
      if (b === null) throw new RangeError(`bad IPv4 address ${ip}`);
      add(t4, b);
    }
  };
  if (f.srcIp !== undefined) addr(f.srcIp, HEP3_CHUNK.SRC_IPV4, HEP3_CHUNK.SRC_IPV6);
  if (f.dstIp !== undefined) addr(f.dstIp, HEP3_CHUNK.DST_IPV4, HEP3_CHUNK.DST_IPV6);
  if (f.srcPort !== undefined) add(HEP3_CHUNK.SRC_PORT, u16(f.srcPort));
  if (f.dstPort !== undefined) add(HEP3_CHUNK.DST_PORT, u16(f.dstPort));
  if (f.tsSec !== undefined) add(HEP3_CHUNK.TS_SEC, u32(f.tsSec));
  if (f.tsUsec !== undefined) add(HEP3_CHUNK.TS_USEC, u32(f.tsUsec));
  if (f.protoType !== undefined) add(HEP3_CHUNK.PROTO_TYPE, u8(f.protoType));
  if (f.captureId !== undefined) add(HEP3_CHUNK.CAPTURE_ID, u32(f.captureId));
  if (f.keepAlive !== undefined) add(HEP3_CHUNK.KEEPALIVE, u16(f.keepAlive));
  if (f.authKey !== undefined) add(HEP3_CHUNK.AUTH_KEY, Buffer.from(f.authKey, 'utf8'));
  if (f.correlationId !== undefined) add(HEP3_CHUNK.CORRELATION_ID, Buffer.from(f.correlationId, 'utf8'));
  if (f.vlan !== undefined) add(HEP3_CHUNK.VLAN, u16(f.vlan));
  if (f.nodeName !== undefined) add(HEP3_CHUNK.NODE_NAME, Buffer.from(f.nodeName, 'utf8'));
  if (f.srcMac !== undefined) add(HEP3_CHUNK.SRC_MAC, macBytes(f.srcMac));
  if (f.dstMac !== undefined) add(HEP3_CHUNK.DST_MAC, macBytes(f.dstMac));
  if (f.ethType !== undefined) add(HEP3_CHUNK.ETH_TYPE, u16(f.ethType));
  if (f.tcpFlags !== undefined) add(HEP3_CHUNK.TCP_FLAGS, u8(f.tcpFlags));
  if (f.ipTos !== undefined) add(HEP3_CHUNK.IP_TOS, u8(f.ipTos));
  if (f.mos !== undefined) add(HEP3_CHUNK.MOS, u16(f.mos));
  if (f.rFactor !== undefined) add(HEP3_CHUNK.R_FACTOR, u16(f.rFactor));
  if (f.geoLocation !== undefined) add(HEP3_CHUNK.GEO_LOCATION, Buffer.from(f.geoLocation, 'utf8'));
  if (f.jitter !== undefined) add(HEP3_CHUNK.JITTER, u32(f.jitter));
  if (f.transactionType !== undefined) add(HEP3_CHUNK.TRANSACTION_TYPE, Buffer.from(f.transactionType, 'utf8'));
  if (f.payloadJsonKeys !== undefined) add(HEP3_CHUNK.PAYLOAD_JSON_KEYS, Buffer.from(f.payloadJsonKeys, 'utf8'));
  if (f.tagValues !== undefined) add(HEP3_CHUNK.TAG_VALUES, Buffer.from(f.tagValues, 'utf8'));
  if (f.tagType !== undefined) add(HEP3_CHUNK.TAG_TYPE, u16(f.tagType));
  if (f.payload !== undefined) {
    // Buffer.from(string, 'utf8') keeps every UTF-8 byte (hep-js truncates at the UTF-16 length).
    const body = typeof f.payload === 'string' ? Buffer.from(f.payload, 'utf8') : f.payload;
    if (f.compress) {
      if (deflate === undefined) throw new RangeError('compress needs a deflate function');
      add(HEP3_CHUNK.COMPRESSED_PAYLOAD, deflate(body));
    } else add(HEP3_CHUNK.PAYLOAD, body);
  }
  if (f.extraChunks) for (const x of f.extraChunks) c.push(x);
  return encodeHep3Chunks(c);
}

/** Encode a HEP1/HEP2 packet from decoded fields (the inverse of decodeHep for versions 1 and 2). */
export function encodeHep2(p: Pick<HepPacket, 'version' | 'payload' | 'v2Pad'> & HepFields): Buffer {
  const v6 = p.ipFamily === 10 || (p.srcIp ?? '').includes(':');
  const hl = v6 ? 40 : 16;
  const timeLen = p.version === 2 ? 12 : 0;
  const b = Buffer.alloc(hl + timeLen);
  b[0] = p.version;
  b[1] = hl;
  b[2] = v6 ? 10 : 2;
  b[3] = p.ipProto ?? 17;
  b.writeUInt16BE(p.srcPort ?? 0, 4);
  b.writeUInt16BE(p.dstPort ?? 0, 6);
  const src = v6 ? ipv6Bytes(p.srcIp ?? '::') : ipv4Bytes(p.srcIp ?? '0.0.0.0');
  const dst = v6 ? ipv6Bytes(p.dstIp ?? '::') : ipv4Bytes(p.dstIp ?? '0.0.0.0');
  if (src === null || dst === null) throw new RangeError(`bad address ${p.srcIp} / ${p.dstIp}`);
  src.copy(b, 8);
  dst.copy(b, 8 + src.length);
  if (p.version === 2) {
    b.writeUInt32LE((p.tsSec ?? 0) >>> 0, hl);
    b.writeUInt32LE((p.tsUsec ?? 0) >>> 0, hl + 4);
    b.writeUInt16LE((p.captureId ?? 0) & 0xffff, hl + 8);
    b.writeUInt16LE((p.v2Pad ?? 0) & 0xffff, hl + 10);
  }
  return Buffer.concat([b, p.payload]);
}

/** Re-encode a decoded packet: HEP3 from its chunk list (exact bytes), HEP1/2 from its fields. */
export function encodeHep(p: HepPacket): Buffer {
  return p.version === 3 ? encodeHep3Chunks(p.chunks) : encodeHep2(p);
}

// ---------------------------------------------------------------------------------------------
// Framing over a TCP stream

export interface HepFramerStats {
  packets: number;
  /** times the framer lost sync and searched for the next "HEP3" */
  resyncs: number;
  /** bytes discarded while resynchronising */
  skippedBytes: number;
}

/**
 * Splits a TCP byte stream into HEP packets. HEP3 packets carry their length; a HEP1/2 packet has a
 * fixed header and no length, so its end is found from the inner SIP message (header block plus
 * Content-Length). Garbage is skipped up to the next "HEP3", counted in `stats`. Buffered bytes are
 * bounded by one maximal packet (64 KiB) plus the last chunk pushed.
 */
export class HepStreamFramer {
  readonly stats: HepFramerStats = { packets: 0, resyncs: 0, skippedBytes: 0 };
  private buf: Buffer = Buffer.alloc(0);

  /** Feed bytes; returns the complete packets now available (each a standalone Buffer). */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    let off = 0;
    const b = this.buf;
    // Each pass consumes at least one byte or stops: bounded by the buffer length.
    while (off < b.length) {
      const avail = b.length - off;
      if (avail < 6) {
        if (!this.couldStartPacket(b, off)) off = this.resync(b, off);
        break;
      }
      if (b.readUInt32BE(off) === HEP3_MAGIC) {
        const total = b.readUInt16BE(off + 4);
        if (total < 6) {
          off = this.resync(b, off + 1, 1);
          continue;
        }
        if (total > avail) break;
        out.push(b.subarray(off, off + total));
        this.stats.packets++;
        off += total;
        continue;
      }
      if (b[off] === 1 || b[off] === 2) {
        const n = this.hep2Length(b, off);
        if (n > 0) {
          out.push(b.subarray(off, off + n));
          this.stats.packets++;
          off += n;
          continue;
        }
        if (n === 0) break; // need more bytes
      }
      off = this.resync(b, off + 1, 1);
    }
    this.buf = off >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(off));
    if (this.buf.length > 2 * 0x10000) {
      // A HEP1/2 payload without an end in sight: give up on it.
      this.stats.skippedBytes += this.buf.length;
      this.stats.resyncs++;
      this.buf = Buffer.alloc(0);
    }
    return out.map((p) => Buffer.from(p));
  }

  /** Bytes buffered, waiting for the rest of a packet. */
  get pending(): number {
    return this.buf.length;
  }

  private couldStartPacket(b: Buffer, off: number): boolean {
    const magic = Buffer.from('HEP3', 'latin1');
    for (let i = off, j = 0; i < b.length && j < 4; i++, j++) if (b[i] !== magic[j]) return b[off] === 1 || b[off] === 2;
    return true;
  }

  /** Skip to the next "HEP3" at or after `from`; counts a resync. Returns the new offset. */
  private resync(b: Buffer, from: number, skippedBefore = 0): number {
    const idx = b.indexOf('HEP3', from, 'latin1');
    let next: number;
    if (idx >= 0) next = idx;
    else next = Math.max(from, b.length - 3); // keep a possible partial magic
    this.stats.resyncs++;
    this.stats.skippedBytes += next - from + skippedBefore;
    return next;
  }

  /** >0: length of a complete HEP1/2 packet; 0: need more data; -1: not a HEP1/2 packet. */
  private hep2Length(b: Buffer, off: number): number {
    const avail = b.length - off;
    if (avail < 4) return 0;
    const v = b[off];
    const hl = b[off + 1];
    const fam = b[off + 2];
    if (!((fam === 2 && hl === 16) || (fam === 10 && hl === 40))) return -1;
    const head = hl + (v === 2 ? 12 : 0);
    if (avail < head) return 0;
    // The SIP message: header block ends at an empty line; the body is Content-Length bytes.
    const s = off + head;
    const text = b.toString('latin1', s, Math.min(b.length, s + 0x10000));
    let he = text.indexOf('\r\n\r\n');
    let sep = 4;
    const lf = text.indexOf('\n\n');
    if (lf >= 0 && (he < 0 || lf < he)) {
      he = lf;
      sep = 2;
    }
    if (he < 0) return avail - head > 0x10000 ? -1 : 0;
    const m = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*(\d+)/i.exec(text.slice(0, he));
    if (m === null) return -1;
    const total = head + he + sep + Number(m[1]);
    return total <= avail ? total : 0;
  }
}
