// DTLS record recognition (RFC 6347 §4.1 record layer; RFC 9147 keeps the same plaintext header for
// legacy records): content type, version, epoch, sequence number and length of each record in a
// datagram, and the handshake message type of unencrypted handshake records (epoch 0).
// It does not decrypt, nor validate handshakes; fingerprints come from SDP (sdp.ts).

import type { ParseError } from './errors.js';
import { parseError } from './errors.js';

/** RFC 5246 / RFC 6347 / RFC 9146 content types */
export const DTLS_CONTENT_TYPES: Readonly<Record<number, string>> = {
  20: 'change_cipher_spec',
  21: 'alert',
  22: 'handshake',
  23: 'application_data',
  24: 'heartbeat',
  25: 'tls12_cid',
};

/** 0xfeff = DTLS 1.0, 0xfefd = DTLS 1.2 (also the legacy version of DTLS 1.3 records) */
export const DTLS_VERSIONS: Readonly<Record<number, string>> = { 0xfeff: 'DTLS 1.0', 0xfefd: 'DTLS 1.2' };

export interface DtlsRecord {
  contentType: number;
  contentTypeName: string;
  version: number;
  epoch: number;
  /** 48-bit sequence number (exact as a JS number) */
  sequence: number;
  length: number;
  /** offset of the record's fragment, relative to start */
  fragmentOffset: number;
  /** handshake message type (1 ClientHello, 2 ServerHello, …) for epoch-0 handshake records */
  handshakeType?: number;
}

export interface DtlsDatagram {
  ok: true;
  records: DtlsRecord[];
}

const isDtlsHeader = (buf: Buffer, off: number): boolean => {
  const ct = buf[off];
  if (ct < 20 || ct > 25) return false;
  const v = buf.readUInt16BE(off + 1);
  return v === 0xfeff || v === 0xfefd;
};

/** Cheap check: the first record header has a DTLS content type and version and fits. */
export function looksLikeDtls(buf: Buffer, start = 0, end = buf.length): boolean {
  if (end - start < 13) return false;
  if (!isDtlsHeader(buf, start)) return false;
  return 13 + buf.readUInt16BE(start + 11) <= end - start;
}

/** Parse every DTLS record header in buf[start, end). Never throws. */
export function parseDtls(buf: Buffer, start = 0, end = buf.length): DtlsDatagram | ParseError {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  const records: DtlsRecord[] = [];
  let off = start;
  while (off < end) {
    if (end - off >= 3 && !isDtlsHeader(buf, off)) return parseError('not_dtls', off - start, `no DTLS record header at byte ${off - start}`);
    if (end - off < 13) return parseError('truncated', off - start, `DTLS record header truncated at byte ${off - start}`);
    const length = buf.readUInt16BE(off + 11);
    if (off + 13 + length > end) return parseError('truncated', off - start, `DTLS record of ${length} bytes runs past the datagram`);
    const ct = buf[off];
    const rec: DtlsRecord = {
      contentType: ct,
      contentTypeName: DTLS_CONTENT_TYPES[ct],
      version: buf.readUInt16BE(off + 1),
      epoch: buf.readUInt16BE(off + 3),
      sequence: buf.readUIntBE(off + 5, 6),
      length,
      fragmentOffset: off + 13 - start,
    };
    if (ct === 22 && rec.epoch === 0 && length > 0) rec.handshakeType = buf[off + 13];
    records.push(rec);
    off += 13 + length;
  }
  if (records.length === 0) return parseError('truncated', 0, 'empty DTLS datagram');
  return { ok: true, records };
}
