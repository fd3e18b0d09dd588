// STUN message recognition (RFC 5389 §6: header, magic cookie, message type; §15 attribute TLVs with
// USERNAME and XOR-MAPPED-ADDRESS decoded) and the RFC 7983 §7 first-byte demultiplexer for a
// port shared by STUN, ZRTP, DTLS, TURN channels and RTP/RTCP.
// It does not own ICE state or message integrity checks.

import type { ParseError } from './errors.js';
import { parseError } from './errors.js';
import { ipv6Text } from './ip.js';

/** RFC 5389 §6 magic cookie */
export const STUN_MAGIC_COOKIE = 0x2112a442;

export type StunClass = 'request' | 'indication' | 'success' | 'error';

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  ok: true;
  /** the 14-bit message type as on the wire (e.g. 0x0001 Binding request) */
  messageType: number;
  /** method number (0x001 = Binding) */
  method: number;
  cls: StunClass;
  /** attribute section length */
  length: number;
  /** 12 bytes, lowercase hex */
  transactionId: string;
  attributes: StunAttribute[];
  username?: string;
  xorMappedAddress?: { family: 4 | 6; ip: string; port: number };
}

const CLASSES: StunClass[] = ['request', 'indication', 'success', 'error'];

/** Cheap check: top two bits zero, length multiple of 4 that fits, magic cookie present. */
export function looksLikeStun(buf: Buffer, start = 0, end = buf.length): boolean {
  if (end - start < 20) return false;
  if ((buf[start] & 0xc0) !== 0) return false;
  const len = buf.readUInt16BE(start + 2);
  if (len % 4 !== 0 || 20 + len > end - start) return false;
  return buf.readUInt32BE(start + 4) === STUN_MAGIC_COOKIE;
}

/** Parse a STUN message in buf[start, end). Never throws. */
export function parseStun(buf: Buffer, start = 0, end = buf.length): StunMessage | ParseError {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  if (end - start < 20) return parseError('truncated', Math.max(end - start, 0), 'STUN header needs 20 bytes');
  if ((buf[start] & 0xc0) !== 0) return parseError('not_stun', 0, 'STUN messages start with two zero bits');
  if (buf.readUInt32BE(start + 4) !== STUN_MAGIC_COOKIE) return parseError('not_stun', 4, 'STUN magic cookie missing');
  const length = buf.readUInt16BE(start + 2);
  if (length % 4 !== 0) return parseError('bad_length', 2, `STUN length ${length} is not a multiple of 4`);
  if (20 + length > end - start) return parseError('truncated', end - start, `STUN length ${length} runs past the datagram`);
  const t = buf.readUInt16BE(start);
  // RFC 5389 §6: class bits are C1 (bit 8) and C0 (bit 4); the method fills the other 12 bits.
  const cls = CLASSES[((t >> 7) & 0x2) | ((t >> 4) & 0x1)];
  const method = (t & 0x000f) | ((t & 0x00e0) >> 1) | ((t & 0x3e00) >> 2);
  const msg: StunMessage = {
    ok: true,
    messageType: t,
    method,
    cls,
    length,
    transactionId: buf.toString('hex', start + 8, start + 20),
    attributes: [],
  };
  let off = start + 20;
  const stop = start + 20 + length;
  while (off + 4 <= stop) {
    const type = buf.readUInt16BE(off);
    const alen = buf.readUInt16BE(off + 2);
    if (off + 4 + alen > stop) return parseError('malformed', off - start, `STUN attribute 0x${type.toString(16)} runs past the message`);
    const value = buf.subarray(off + 4, off + 4 + alen);
    msg.attributes.push({ type, value });
    if (type === 0x0006) msg.username = value.toString('utf8');
    else if (type === 0x0020 && alen >= 8) {
      const fam = value[1];
      const port = value.readUInt16BE(2) ^ (STUN_MAGIC_COOKIE >>> 16);
      if (fam === 0x01) {
        const x = (value.readUInt32BE(4) ^ STUN_MAGIC_COOKIE) >>> 0;
        msg.xorMappedAddress = { family: 4, ip: [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.'), port };
      } else if (fam === 0x02 && alen >= 20) {
        // XOR with the magic cookie followed by the transaction id (RFC 5389 §15.2)
        const ip = Buffer.alloc(16);
        for (let i = 0; i < 16; i++) ip[i] = value[4 + i] ^ buf[start + 4 + i];
        msg.xorMappedAddress = { family: 6, ip: ipv6Text(ip, 0), port };
      }
    }
    off += 4 + ((alen + 3) & ~3); // RFC 5389 §15: values are padded to 4 bytes
  }
  return msg;
}

export type Rfc7983Kind = 'stun' | 'zrtp' | 'dtls' | 'turn-channel' | 'rtp' | 'unknown';

/** RFC 7983 §7 demultiplexing by the first byte of a UDP payload. */
export function classifyRfc7983(firstByte: number): Rfc7983Kind {
  if (firstByte <= 3) return 'stun';
  if (firstByte >= 16 && firstByte <= 19) return 'zrtp';
  if (firstByte >= 20 && firstByte <= 63) return 'dtls';
  if (firstByte >= 64 && firstByte <= 79) return 'turn-channel';
  if (firstByte >= 128 && firstByte <= 191) return 'rtp'; // RTP or RTCP: see looksLikeRtcp (RFC 5761)
  return 'unknown';
}
