// RTP fixed header parsing (RFC 3550 §5.1, header extension §5.3.1) and the cheap RTP/RTCP
// recognisers used on hot paths (RFC 5761 §4 demultiplexing of RTP and RTCP on one port).
// It does not own stream statistics (loss, jitter, MOS live in core/agent) nor RTCP bodies (rtcp.ts).

import type { ParseError } from './errors.js';
import { parseError } from './errors.js';

export interface RtpHeader {
  ok: true;
  version: number;
  padding: boolean;
  extension: boolean;
  csrcCount: number;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  csrc: number[];
  /** RFC 3550 §5.3.1 profile-defined 16 bits, when `extension` */
  extensionProfile?: number;
  /** extension data length in bytes (the header's 32-bit word count × 4) */
  extensionLength?: number;
  /** offset of the payload (relative to the start given) */
  payloadOffset: number;
  /** payload length without the padding */
  payloadLength: number;
  /** padding byte count (last byte of the packet when `padding`) */
  paddingLength: number;
}

/** Parse an RTP header from buf[start, end). Never throws. */
export function parseRtp(buf: Buffer, start = 0, end = buf.length): RtpHeader | ParseError {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  const len = end - start;
  if (len < 12) return parseError('truncated', Math.max(len, 0), `RTP header needs 12 bytes, got ${Math.max(len, 0)}`);
  const b0 = buf[start];
  const version = b0 >> 6;
  if (version !== 2) return parseError('bad_version', 0, `RTP version ${version}, expected 2`);
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  const b1 = buf[start + 1];
  let off = 12 + csrcCount * 4;
  if (off > len) return parseError('truncated', len, `RTP CSRC list (${csrcCount}) runs past the packet end`);
  const csrc: number[] = [];
  for (let i = 0; i < csrcCount; i++) csrc.push(buf.readUInt32BE(start + 12 + i * 4));
  const h: RtpHeader = {
    ok: true,
    version,
    padding,
    extension,
    csrcCount,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: buf.readUInt16BE(start + 2),
    timestamp: buf.readUInt32BE(start + 4),
    ssrc: buf.readUInt32BE(start + 8),
    csrc,
    payloadOffset: 0,
    payloadLength: 0,
    paddingLength: 0,
  };
  if (extension) {
    if (off + 4 > len) return parseError('truncated', len, 'RTP header extension header runs past the packet end');
    h.extensionProfile = buf.readUInt16BE(start + off);
    const words = buf.readUInt16BE(start + off + 2);
    h.extensionLength = words * 4;
    off += 4 + words * 4;
    if (off > len) return parseError('truncated', len, `RTP header extension (${words} words) runs past the packet end`);
  }
  let payloadEnd = len;
  if (padding) {
    const pad = buf[end - 1];
    if (pad === 0 || off + pad > len) return parseError('bad_padding', len - 1, `RTP padding count ${pad} is invalid`);
    h.paddingLength = pad;
    payloadEnd -= pad;
  }
  h.payloadOffset = off;
  h.payloadLength = payloadEnd - off;
  return h;
}

/**
 * RTCP packet types as seen in byte 1 (RFC 3550 §12.1, RFC 4585, RFC 3611): 200 SR … 207 XR.
 * RFC 5761 §4: on a muxed port, a second byte of 200–207 (RTP marker + PT 72–79) means RTCP.
 */
export const isRtcpPacketType = (b1: number): boolean => b1 >= 200 && b1 <= 207;

/** Heuristic: version 2, not an RTCP packet type, header (CSRC/extension/padding) consistent with the length. */
export function looksLikeRtp(buf: Buffer, start = 0, end = buf.length): boolean {
  const len = end - start;
  if (len < 12) return false;
  const b0 = buf[start];
  if (b0 >> 6 !== 2) return false;
  const pt = buf[start + 1] & 0x7f;
  // RFC 5761 §4: PT 72–76 collide with RTCP SR/RR/SDES/BYE/APP (and 77–79 with RTPFB/PSFB/XR).
  if (pt >= 72 && pt <= 79) return false;
  let off = 12 + (b0 & 0x0f) * 4;
  if (off > len) return false;
  if (b0 & 0x10) {
    if (off + 4 > len) return false;
    off += 4 + buf.readUInt16BE(start + off + 2) * 4;
    if (off > len) return false;
  }
  if (b0 & 0x20) {
    const pad = buf[end - 1];
    if (pad === 0 || off + pad > len) return false;
  }
  return true;
}

/** Heuristic: version 2, packet type 200–207 and the first packet's length fits in the datagram. */
export function looksLikeRtcp(buf: Buffer, start = 0, end = buf.length): boolean {
  const len = end - start;
  if (len < 8) return false;
  if (buf[start] >> 6 !== 2) return false;
  if (!isRtcpPacketType(buf[start + 1])) return false;
  const bytes = (buf.readUInt16BE(start + 2) + 1) * 4;
  return bytes <= len;
}
