// RTCP compound packet parsing: SR, RR, SDES, BYE, APP (RFC 3550 §6.4–6.7), transport/payload
// feedback headers (RFC 4585 §6.1) and XR (RFC 3611) with its VoIP Metrics block (§4.7), RRT (§4.4)
// and DLRR (§4.5). Never throws: a broken first packet is a ParseError, a broken later packet
// ends the compound with `error` set and the packets decoded so far.
// It does not own quality computation (jitter/loss/MOS from RTP live above protocol).

import type { ParseError } from './errors.js';
import { parseError } from './errors.js';

export interface RtcpReportBlock {
  ssrc: number;
  /** fraction lost, 0–255 (/256) */
  fractionLost: number;
  /** cumulative packets lost, signed 24-bit */
  cumulativeLost: number;
  highestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

export interface RtcpSr {
  type: 200;
  name: 'SR';
  ssrc: number;
  ntpSec: number;
  ntpFrac: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  reports: RtcpReportBlock[];
}
export interface RtcpRr {
  type: 201;
  name: 'RR';
  ssrc: number;
  reports: RtcpReportBlock[];
}
export interface RtcpSdesItem {
  type: number;
  /** CNAME, NAME, EMAIL, PHONE, LOC, TOOL, NOTE, PRIV or `type-N` */
  name: string;
  value: string;
  /** PRIV items only: the prefix string */
  prefix?: string;
}
export interface RtcpSdes {
  type: 202;
  name: 'SDES';
  chunks: { ssrc: number; items: RtcpSdesItem[] }[];
}
export interface RtcpBye {
  type: 203;
  name: 'BYE';
  ssrcs: number[];
  reason?: string;
}
export interface RtcpApp {
  type: 204;
  name: 'APP';
  subtype: number;
  ssrc: number;
  appName: string;
  data: Buffer;
}
export interface RtcpFeedback {
  type: 205 | 206;
  name: 'RTPFB' | 'PSFB';
  fmt: number;
  senderSsrc: number;
  mediaSsrc: number;
  fci: Buffer;
}
export interface XrVoipMetrics {
  blockType: 7;
  ssrc: number;
  lossRate: number;
  discardRate: number;
  burstDensity: number;
  gapDensity: number;
  burstDuration: number;
  gapDuration: number;
  roundTripDelay: number;
  endSystemDelay: number;
  /** dBm, signed; 127 = unavailable */
  signalLevel: number;
  /** dBm, signed; 127 = unavailable */
  noiseLevel: number;
  rerl: number;
  gmin: number;
  rFactor: number;
  extRFactor: number;
  /** MOS × 10 (127 = unavailable) */
  mosLq: number;
  mosCq: number;
  /** RX config byte (RFC 3611 §4.7.6) and its fields: PLC (2 bits), JBA (2 bits), JB rate (4 bits) */
  rxConfig: number;
  plc: number;
  jba: number;
  jbRate: number;
  jbNominal: number;
  jbMaximum: number;
  jbAbsMax: number;
}
export interface XrRrt {
  blockType: 4;
  ntpSec: number;
  ntpFrac: number;
}
export interface XrDlrr {
  blockType: 5;
  items: { ssrc: number; lrr: number; dlrr: number }[];
}
export interface XrOther {
  blockType: number;
  typeSpecific: number;
  data: Buffer;
}
export type XrBlock = XrVoipMetrics | XrRrt | XrDlrr | XrOther;
export interface RtcpXr {
  type: 207;
  name: 'XR';
  ssrc: number;
  blocks: XrBlock[];
}
export interface RtcpOther {
  type: number;
  name: string;
  count: number;
  body: Buffer;
}
export type RtcpPacket = RtcpSr | RtcpRr | RtcpSdes | RtcpBye | RtcpApp | RtcpFeedback | RtcpXr | RtcpOther;

export interface RtcpCompound {
  ok: true;
  packets: RtcpPacket[];
  /** set when a later packet of the compound was malformed; `packets` holds those before it */
  error?: ParseError;
  /** bytes (< 4) after the last packet that cannot start another one */
  trailingBytes?: number;
}

const SDES_NAMES = ['END', 'CNAME', 'NAME', 'EMAIL', 'PHONE', 'LOC', 'TOOL', 'NOTE', 'PRIV'];

function reportBlocks(buf: Buffer, off: number, count: number): RtcpReportBlock[] {
  const out: RtcpReportBlock[] = [];
  for (let i = 0; i < count; i++, off += 24) {
    out.push({
      ssrc: buf.readUInt32BE(off),
      fractionLost: buf[off + 4],
      cumulativeLost: buf.readIntBE(off + 5, 3),
      highestSeq: buf.readUInt32BE(off + 8),
      jitter: buf.readUInt32BE(off + 12),
      lsr: buf.readUInt32BE(off + 16),
      dlsr: buf.readUInt32BE(off + 20),
    });
  }
  return out;
}

function parseXrBlocks(buf: Buffer, off: number, end: number): XrBlock[] | string {
  const blocks: XrBlock[] = [];
  while (off + 4 <= end) {
    const bt = buf[off];
    const ts = buf[off + 1];
    const blen = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (off + blen > end) return `XR block type ${bt} length ${blen} runs past the packet`;
    const b = off + 4;
    if (bt === 7 && blen === 36) {
      blocks.push({
        blockType: 7,
        ssrc: buf.readUInt32BE(b),
        lossRate: buf[b + 4],
        discardRate: buf[b + 5],
        burstDensity: buf[b + 6],
        gapDensity: buf[b + 7],
        burstDuration: buf.readUInt16BE(b + 8),
        gapDuration: buf.readUInt16BE(b + 10),
        roundTripDelay: buf.readUInt16BE(b + 12),
        endSystemDelay: buf.readUInt16BE(b + 14),
        signalLevel: buf.readInt8(b + 16),
        noiseLevel: buf.readInt8(b + 17),
        rerl: buf[b + 18],
        gmin: buf[b + 19],
        rFactor: buf[b + 20],
        extRFactor: buf[b + 21],
        mosLq: buf[b + 22],
        mosCq: buf[b + 23],
        rxConfig: buf[b + 24],
        plc: buf[b + 24] >> 6,
        jba: (buf[b + 24] >> 4) & 3,
        jbRate: buf[b + 24] & 0x0f,
        jbNominal: buf.readUInt16BE(b + 26),
        jbMaximum: buf.readUInt16BE(b + 28),
        jbAbsMax: buf.readUInt16BE(b + 30),
      });
    } else if (bt === 4 && blen === 12) {
      blocks.push({ blockType: 4, ntpSec: buf.readUInt32BE(b), ntpFrac: buf.readUInt32BE(b + 4) });
    } else if (bt === 5 && (blen - 4) % 12 === 0) {
      const items: XrDlrr['items'] = [];
      for (let i = b; i + 12 <= off + blen; i += 12) {
        items.push({ ssrc: buf.readUInt32BE(i), lrr: buf.readUInt32BE(i + 4), dlrr: buf.readUInt32BE(i + 8) });
      }
      blocks.push({ blockType: 5, items });
    } else {
      blocks.push({ blockType: bt, typeSpecific: ts, data: buf.subarray(b, off + blen) });
    }
    off += blen;
  }
  return blocks;
}

/** Parse one RTCP packet body at [off, off+bytes). Returns a message string on malformed input. */
function parseOne(buf: Buffer, off: number, bytes: number): RtcpPacket | string {
  const b0 = buf[off];
  const count = b0 & 0x1f;
  const pt = buf[off + 1];
  let end = off + bytes;
  if (b0 & 0x20) {
    const pad = buf[end - 1];
    if (pad === 0 || pad > bytes - 4) return `RTCP padding count ${pad} is invalid`;
    end -= pad;
  }
  const body = off + 4;
  const avail = end - body;
  switch (pt) {
    case 200: {
      if (avail < 24 + count * 24) return `SR with ${count} report blocks needs ${28 + count * 24} bytes`;
      return {
        type: 200,
        name: 'SR',
        ssrc: buf.readUInt32BE(body),
        ntpSec: buf.readUInt32BE(body + 4),
        ntpFrac: buf.readUInt32BE(body + 8),
        rtpTimestamp: buf.readUInt32BE(body + 12),
        packetCount: buf.readUInt32BE(body + 16),
        octetCount: buf.readUInt32BE(body + 20),
        reports: reportBlocks(buf, body + 24, count),
      };
    }
    case 201: {
      if (avail < 4 + count * 24) return `RR with ${count} report blocks needs ${8 + count * 24} bytes`;
      return { type: 201, name: 'RR', ssrc: buf.readUInt32BE(body), reports: reportBlocks(buf, body + 4, count) };
    }
    case 202: {
      const chunks: RtcpSdes['chunks'] = [];
      let p = body;
      for (let c = 0; c < count; c++) {
        if (p + 4 > end) return `SDES chunk ${c} runs past the packet`;
        const ssrc = buf.readUInt32BE(p);
        p += 4;
        const items: RtcpSdesItem[] = [];
        while (true) {
          if (p >= end) return `SDES chunk ${c} has no END item`;
          const it = buf[p];
          if (it === 0) {
            // END, then pad to the next 32-bit boundary (RFC 3550 §6.5)
            p++;
            while ((p - off) % 4 !== 0) p++;
            break;
          }
          if (p + 2 > end) return `SDES item runs past the packet`;
          const ilen = buf[p + 1];
          if (p + 2 + ilen > end) return `SDES item of ${ilen} bytes runs past the packet`;
          const vs = p + 2;
          const ve = p + 2 + ilen;
          if (it === 8 && ilen >= 1 && 1 + buf[vs] <= ilen) {
            // PRIV (RFC 3550 §6.5.8): prefix length, prefix, value
            const pe = vs + 1 + buf[vs];
            items.push({ type: 8, name: 'PRIV', prefix: buf.toString('utf8', vs + 1, pe), value: buf.toString('utf8', pe, ve) });
          } else items.push({ type: it, name: SDES_NAMES[it] ?? `type-${it}`, value: buf.toString('utf8', vs, ve) });
          p += 2 + ilen;
        }
        chunks.push({ ssrc, items });
      }
      return { type: 202, name: 'SDES', chunks };
    }
    case 203: {
      if (avail < count * 4) return `BYE with ${count} SSRCs needs ${4 + count * 4} bytes`;
      const ssrcs: number[] = [];
      for (let i = 0; i < count; i++) ssrcs.push(buf.readUInt32BE(body + i * 4));
      const bye: RtcpBye = { type: 203, name: 'BYE', ssrcs };
      const r = body + count * 4;
      if (r < end) {
        const rlen = buf[r];
        if (r + 1 + rlen > end) return `BYE reason of ${rlen} bytes runs past the packet`;
        bye.reason = buf.toString('utf8', r + 1, r + 1 + rlen);
      }
      return bye;
    }
    case 204: {
      if (avail < 8) return 'APP needs 12 bytes';
      return {
        type: 204,
        name: 'APP',
        subtype: count,
        ssrc: buf.readUInt32BE(body),
        appName: buf.toString('latin1', body + 4, body + 8),
        data: buf.subarray(body + 8, end),
      };
    }
    case 205:
    case 206: {
      if (avail < 8) return 'feedback packet needs 12 bytes';
      return {
        type: pt,
        name: pt === 205 ? 'RTPFB' : 'PSFB',
        fmt: count,
        senderSsrc: buf.readUInt32BE(body),
        mediaSsrc: buf.readUInt32BE(body + 4),
        fci: buf.subarray(body + 8, end),
      };
    }
    case 207: {
      if (avail < 4) return 'XR needs 8 bytes';
      const blocks = parseXrBlocks(buf, body + 4, end);
      if (typeof blocks === 'string') return blocks;
      return { type: 207, name: 'XR', ssrc: buf.readUInt32BE(body), blocks };
    }
    default:
      return { type: pt, name: `PT${pt}`, count, body: buf.subarray(body, end) };
  }
}

/** Parse an RTCP compound packet in buf[start, end). Never throws. Error offsets are relative to start. */
export function parseRtcp(buf: Buffer, start = 0, end = buf.length): RtcpCompound | ParseError {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  const packets: RtcpPacket[] = [];
  let off = start;
  const fail = (code: string, at: number, message: string): RtcpCompound | ParseError => {
    const e = parseError(code, at - start, message);
    return packets.length === 0 ? e : { ok: true, packets, error: e };
  };
  if (end - start < 4) return parseError('truncated', Math.max(end - start, 0), 'RTCP needs at least 4 bytes');
  while (off < end) {
    if (end - off < 4) {
      // Fewer bytes than a header after complete packets: trailing junk (seen from real gateways;
      // tshark ignores it too). Reported, not an error.
      return { ok: true, packets, trailingBytes: end - off };
    }
    if (buf[off] >> 6 !== 2) return fail('bad_version', off, `RTCP version ${buf[off] >> 6} at byte ${off - start}`);
    const bytes = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (off + bytes > end) {
      return fail('truncated', off, `RTCP packet at byte ${off - start} says ${bytes} bytes, ${end - off} available`);
    }
    const p = parseOne(buf, off, bytes);
    if (typeof p === 'string') return fail('malformed', off, `${p} (RTCP packet at byte ${off - start})`);
    packets.push(p);
    off += bytes;
  }
  return { ok: true, packets };
}
