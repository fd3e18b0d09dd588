// The "bare Node loop" of issue 7: walk the pcap records, spot SIP in UDP over IPv4/Ethernet, and
// read the Call-ID and From header values, nothing else. Not a decoder (no TCP, no IPv6, no
// fragments, no compact forms beyond i:/f:, no validation): it is the practical ceiling that a
// correct decoder on this machine is compared with.
import { createReadStream } from 'node:fs';

const CALL_ID = Buffer.from('\r\nCall-ID:');
const CALL_ID_C = Buffer.from('\r\ni:');
const FROM = Buffer.from('\r\nFrom:');
const FROM_C = Buffer.from('\r\nf:');

export interface BareResult {
  packets: number;
  sip: number;
  /** sum of Call-ID and From lengths, so the reads cannot be optimised away */
  chars: number;
}

function headerValue(b: Buffer, start: number, end: number, name: Buffer, compact: Buffer): string {
  let i = b.indexOf(name, start);
  let n = name.length;
  if (i < 0 || i >= end) {
    i = b.indexOf(compact, start);
    n = compact.length;
    if (i < 0 || i >= end) return '';
  }
  const v = i + n;
  let e = b.indexOf(13, v);
  if (e < 0 || e > end) e = end;
  return b.toString('latin1', v, e).trim();
}

/** One record's frame at [o, o+len) of `b`. */
function frame(b: Buffer, o: number, len: number, r: BareResult): void {
  r.packets++;
  let ip = o + 14;
  let type = b.readUInt16BE(o + 12);
  if (type === 0x8100) {
    type = b.readUInt16BE(o + 16);
    ip += 4;
  }
  if (type !== 0x0800 || b[ip + 9] !== 17) return;
  const p = ip + (b[ip] & 15) * 4 + 8;
  const end = o + len;
  if (end - p < 12) return;
  const c = b[p];
  // SIP/2.0 status line, or an upper-case method followed by " sip:"
  if (c === 0x53 && b[p + 1] === 0x49 && b[p + 2] === 0x50 && b[p + 3] === 0x2f) {
    // status line
  } else if (c >= 0x41 && c <= 0x5a) {
    const sp = b.indexOf(32, p);
    if (sp < 0 || sp - p > 16 || b[sp + 1] !== 0x73 || b[sp + 2] !== 0x69 || b[sp + 3] !== 0x70) return;
  } else return;
  r.sip++;
  r.chars += headerValue(b, p, end, CALL_ID, CALL_ID_C).length + headerValue(b, p, end, FROM, FROM_C).length;
}

/** Streams a little-endian classic pcap of Ethernet frames, 1 MB at a time (like the pipeline). */
export async function bareLoop(path: string): Promise<BareResult> {
  const r: BareResult = { packets: 0, sip: 0, chars: 0 };
  let rest: Buffer | null = null;
  let first = true;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    let b = chunk as Buffer;
    if (rest !== null) b = Buffer.concat([rest, b]);
    let o = 0;
    if (first) {
      if (b.readUInt32LE(0) !== 0xa1b2c3d4 || b.readUInt32LE(20) !== 1) throw new Error(`${path}: bare loop reads only µs little-endian Ethernet pcap`);
      o = 24;
      first = false;
    }
    while (o + 16 <= b.length) {
      const len = b.readUInt32LE(o + 8);
      if (o + 16 + len > b.length) break;
      frame(b, o + 16, len, r);
      o += 16 + len;
    }
    rest = o < b.length ? b.subarray(o) : null;
  }
  return r;
}
