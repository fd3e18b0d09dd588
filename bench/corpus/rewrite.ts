// Frame surgery for the corpus generator: find the UDP payload of an Ethernet/IPv4 frame, rebuild
// the frame around a new payload and new ports (IP total length, IP header checksum and UDP length
// fixed; UDP checksum zeroed, which RFC 768 allows over IPv4 and tshark accepts), and the SIP text
// helpers (Call-ID, Content-Length). Frames of any other shape are copied unchanged by the caller.

export interface UdpView {
  /** offset of the IPv4 header */
  ip: number;
  /** offset of the UDP header */
  udp: number;
  /** offset of the UDP payload */
  payload: number;
  /** end of the UDP payload (from the UDP length, bounded by the captured bytes) */
  end: number;
  srcPort: number;
  dstPort: number;
}

/** Ethernet (optionally one 802.1Q tag) → IPv4 (not a fragment) → UDP, else null. */
export function udpView(f: Buffer): UdpView | null {
  let ip = 14;
  if (f.length < 14 + 20 + 8) return null;
  let type = f.readUInt16BE(12);
  if (type === 0x8100) {
    type = f.readUInt16BE(16);
    ip = 18;
  }
  if (type !== 0x0800 || f.length < ip + 28) return null;
  if (f[ip] >> 4 !== 4 || f[ip + 9] !== 17) return null;
  const ihl = (f[ip] & 0x0f) * 4;
  if (f.readUInt16BE(ip + 6) & 0x3fff) return null; // MF set or offset ≠ 0: a fragment
  const udp = ip + ihl;
  if (f.length < udp + 8) return null;
  const udpLen = f.readUInt16BE(udp + 4);
  const end = Math.min(f.length, udp + Math.max(8, udpLen));
  return { ip, udp, payload: udp + 8, end, srcPort: f.readUInt16BE(udp), dstPort: f.readUInt16BE(udp + 2) };
}

/** RFC 791 header checksum over `len` bytes at `off`. */
function ipChecksum(b: Buffer, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A copy of frame `f` carrying `payload` between new ports; lengths and checksums made consistent. */
export function rebuildUdp(f: Buffer, v: UdpView, payload: Buffer, srcPort: number, dstPort: number): Buffer {
  const out = Buffer.allocUnsafe(v.payload + payload.length);
  f.copy(out, 0, 0, v.payload);
  payload.copy(out, v.payload);
  const ihl = v.udp - v.ip;
  out.writeUInt16BE(ihl + 8 + payload.length, v.ip + 2);
  out.writeUInt16BE(0, v.ip + 10);
  out.writeUInt16BE(ipChecksum(out, v.ip, ihl), v.ip + 10);
  out.writeUInt16BE(srcPort, v.udp);
  out.writeUInt16BE(dstPort, v.udp + 2);
  out.writeUInt16BE(8 + payload.length, v.udp + 4);
  out.writeUInt16BE(0, v.udp + 6);
  return out;
}

const SIP_START = /^(?:SIP\/2\.0 \d{3}|[A-Z]{2,16} \S+ SIP\/2\.0\r?\n)/;

/** The payload as latin1 text when it starts like a SIP message, else null. */
export function sipText(p: Buffer): string | null {
  if (p.length < 12 || p[0] < 0x41 || p[0] > 0x5a) return null;
  const head = p.toString('latin1', 0, Math.min(p.length, 200));
  return SIP_START.test(head) ? p.toString('latin1') : null;
}

const CALL_ID = /^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)/im;

export function callIdOf(text: string): string | undefined {
  const hdrEnd = text.indexOf('\r\n\r\n');
  const m = CALL_ID.exec(hdrEnd >= 0 ? text.slice(0, hdrEnd) : text);
  return m?.[1];
}

const CONTENT_LENGTH = /^(Content-Length|l)([ \t]*:[ \t]*)(\d+)/im;

/**
 * After the body was rewritten: set Content-Length to the new body length, but only when it was
 * right before (a capture that lies about it on purpose keeps its lie).
 */
export function fixContentLength(before: string, after: string): string {
  const bEnd = before.indexOf('\r\n\r\n');
  const aEnd = after.indexOf('\r\n\r\n');
  if (bEnd < 0 || aEnd < 0) return after;
  const m = CONTENT_LENGTH.exec(before.slice(0, bEnd));
  if (m === null || Number(m[3]) !== Buffer.byteLength(before.slice(bEnd + 4), 'latin1')) return after;
  const bodyLen = after.length - (aEnd + 4);
  const head = after.slice(0, aEnd).replace(CONTENT_LENGTH, (_all, name: string, sep: string) => `${name}${sep}${bodyLen}`);
  return head + after.slice(aEnd);
}
