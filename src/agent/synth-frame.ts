// Rebuilds a link-layer frame for a packet we only know by its addresses and payload (HEP carries
// no frame): LINKTYPE_RAW (101) — an IPv4 or IPv6 header, then UDP (or a TCP segment with PSH|ACK for
// TCP-borne SIP), then the payload. This is what HEP collectors (heplify-server, HOMER) do for their
// PCAP exports, so Wireshark shows the original addresses and ports. Pure: bytes in, bytes out.
import { isIPv4, isIPv6 } from 'node:net';

export const LINKTYPE_RAW = 101;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

function ipv4Bytes(ip: string): Buffer | null {
  if (!isIPv4(ip)) return null;
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer | null {
  if (!isIPv6(ip)) return null;
  let s = ip.replace(/%.*$/, '');
  // IPv4-suffixed forms (::ffff:1.2.3.4)
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = ipv4Bytes(m[1])!;
    s = s.slice(0, -m[1].length) + `${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16) & 0xffff, i * 2));
  return out;
}

function sum16(b: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += b.readUInt16BE(i);
  if (b.length & 1) acc += b[b.length - 1] << 8;
  return acc;
}

const fold = (acc: number): number => {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
};

export interface SynthInput {
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  transport: string;
  payload: Buffer;
  /** TCP sequence number to write (callers keep one per flow so Wireshark reassembles in order) */
  tcpSeq?: number;
}

/** A raw-IP frame for the packet, or null when an address is not an IP address we can write. */
export function synthFrame(p: SynthInput): Buffer | null {
  const tcp = p.transport === 'tcp' || p.transport === 'tls' || p.transport === 'ws' || p.transport === 'wss';
  const l4len = tcp ? 20 : 8;
  const l4 = Buffer.alloc(l4len + p.payload.length);
  l4.writeUInt16BE(p.src.port & 0xffff, 0);
  l4.writeUInt16BE(p.dst.port & 0xffff, 2);
  if (tcp) {
    l4.writeUInt32BE((p.tcpSeq ?? 1) >>> 0, 4);
    l4.writeUInt32BE(1, 8);
    l4[12] = 5 << 4; // data offset: 5 words
    l4[13] = 0x18; // PSH | ACK
    l4.writeUInt16BE(65535, 14);
  } else {
    l4.writeUInt16BE(Math.min(0xffff, l4.length), 4);
  }
  p.payload.copy(l4, l4len);
  const proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  const s4 = ipv4Bytes(p.src.ip);
  const d4 = ipv4Bytes(p.dst.ip);
  if (s4 && d4) {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(Math.min(0xffff, 20 + l4.length), 2);
    ip[8] = 64;
    ip[9] = proto;
    s4.copy(ip, 12);
    d4.copy(ip, 16);
    ip.writeUInt16BE(fold(sum16(ip)), 10);
    // RFC 768/793 pseudo-header checksum
    const pseudo = sum16(s4) + sum16(d4) + proto + l4.length;
    const ck = fold(sum16(l4, pseudo));
    l4.writeUInt16BE(tcp ? ck : ck === 0 ? 0xffff : ck, tcp ? 16 : 6);
    return Buffer.concat([ip, l4]);
  }
  const s6 = ipv6Bytes(p.src.ip.includes(':') ? p.src.ip : `::ffff:${p.src.ip}`);
  const d6 = ipv6Bytes(p.dst.ip.includes(':') ? p.dst.ip : `::ffff:${p.dst.ip}`);
  if (!s6 || !d6) return null;
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(Math.min(0xffff, l4.length), 4);
  ip[6] = proto;
  ip[7] = 64;
  s6.copy(ip, 8);
  d6.copy(ip, 24);
  // RFC 8200 §8.1 pseudo-header
  const pseudo = sum16(s6) + sum16(d6) + l4.length + proto;
  const ck = fold(sum16(l4, pseudo));
  l4.writeUInt16BE(tcp ? ck : ck === 0 ? 0xffff : ck, tcp ? 16 : 6);
  return Buffer.concat([ip, l4]);
}
