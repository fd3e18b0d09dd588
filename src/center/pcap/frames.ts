// Frames for the center's PCAP files: fitting a frame to a file's link type, and rebuilding a whole
// Ethernet frame for a packet known only by its event fields (HEP-sourced SIP whose agent sent no frame).
// Pure: bytes in, bytes out. It does not decide which file a frame goes to (store.ts does).
//
// Why Ethernet: HEP carries no link layer, and agents rebuild HEP packets as LINKTYPE_RAW (101). One
// agent often has both live capture (Ethernet on `lo` and most NICs) and HEP, and one pcap file has one
// link type, so a raw IP packet is given a 14-byte Ethernet header (locally administered MACs) and
// lands in the same file as the agent's captured frames. Wireshark then shows the original addresses,
// ports and timestamps of the HEP packet.
import { isIPv4, isIPv6 } from 'node:net';

/** tcpdump.org link-layer header types */
export const LINKTYPE = {
  ETHERNET: 1,
  RAW: 101,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ARPHRD_NONE = 0xfffe;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** The link types whose frames are bare IP packets. */
export const isRawIp = (linkType: number): boolean =>
  linkType === LINKTYPE.RAW || linkType === LINKTYPE.IPV4 || linkType === LINKTYPE.IPV6;

/** The link type a new file gets for its first frame: raw IP becomes Ethernet, the rest stays. */
export const fileLinkTypeFor = (linkType: number): number => (isRawIp(linkType) ? LINKTYPE.ETHERNET : linkType);

function etherTypeOf(ip: Buffer): number | null {
  const v = ip.length > 0 ? ip[0] >> 4 : 0;
  return v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : null;
}

/**
 * The frame written to a file of link type `fileLinkType`: unchanged when the types agree (live
 * capture stays byte-identical), raw IP with a link header prepended where one can be made, else null
 * (the caller puts it in a file of its own link type).
 */
export function fitFrame(data: Buffer, linkType: number, fileLinkType: number): Buffer | null {
  if (linkType === fileLinkType) return data;
  if (!isRawIp(linkType)) return null;
  const et = etherTypeOf(data);
  if (et === null) return null;
  if (fileLinkType === LINKTYPE.ETHERNET) {
    // IEEE 802.3 §3.1.1: dst MAC, src MAC, EtherType; 02:… = locally administered
    const h = Buffer.from([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, et >> 8, et & 0xff]);
    return Buffer.concat([h, data]);
  }
  if (fileLinkType === LINKTYPE.LINUX_SLL2) {
    // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html: protocol, reserved, ifindex, ARPHRD, pkttype, addrlen, addr[8]
    const h = Buffer.alloc(20);
    h.writeUInt16BE(et, 0);
    h.writeUInt16BE(ARPHRD_NONE, 8);
    h[10] = 4; // PACKET_OUTGOING: the packet as the SIP server sent or received it is unknown; "sent by us"
    return Buffer.concat([h, data]);
  }
  if (fileLinkType === LINKTYPE.LINUX_SLL) {
    // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html: pkttype, ARPHRD, addrlen, addr[8], protocol
    const h = Buffer.alloc(16);
    h.writeUInt16BE(4, 0);
    h.writeUInt16BE(ARPHRD_NONE, 2);
    h.writeUInt16BE(et, 14);
    return Buffer.concat([h, data]);
  }
  if (fileLinkType === LINKTYPE.RAW) return data;
  return null;
}

function ipv4Bytes(ip: string): Buffer | null {
  return isIPv4(ip) ? Buffer.from(ip.split('.').map(Number)) : null;
}

function ipv6Bytes(ip: string): Buffer | null {
  if (!isIPv6(ip)) return null;
  let s = ip.replace(/%.*$/, '');
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m) {
    const v4 = ipv4Bytes(m[1]);
    if (!v4) return null;
    s = s.slice(0, -m[1].length) + `${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16) & 0xffff, i * 2));
  return out;
}

function sum16(b: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += b.readUInt16BE(i);
  if (b.length & 1) acc += b[b.length - 1] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

export interface PacketFields {
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  /** udp, or a TCP-borne transport (tcp, tls, ws, wss) written as a TCP segment */
  transport: string;
  payload: Buffer;
  /** TCP sequence number (callers keep one per flow so Wireshark reassembles in order) */
  tcpSeq?: number;
}

const TCP_TRANSPORTS: ReadonlySet<string> = new Set(['tcp', 'tls', 'ws', 'wss']);

/**
 * An Ethernet frame carrying an IPv4 (both addresses IPv4) or IPv6 packet with a UDP datagram or a
 * TCP segment (PSH|ACK) around the payload, checksums computed; null when the addresses cannot be
 * written or the packet would exceed 64 KB.
 */
export function buildEthernetFrame(p: PacketFields): Buffer | null {
  const tcp = TCP_TRANSPORTS.has(p.transport);
  if (!tcp && p.transport !== 'udp') return null;
  const l4len = tcp ? 20 : 8;
  if (p.payload.length + l4len + 40 > 0xffff) return null;
  const l4 = Buffer.alloc(l4len + p.payload.length);
  l4.writeUInt16BE(p.src.port & 0xffff, 0);
  l4.writeUInt16BE(p.dst.port & 0xffff, 2);
  if (tcp) {
    // RFC 9293 §3.1: seq, ack, data offset 5 words, flags PSH|ACK, window
    l4.writeUInt32BE((p.tcpSeq ?? 1) >>> 0, 4);
    l4.writeUInt32BE(1, 8);
    l4[12] = 5 << 4;
    l4[13] = 0x18;
    l4.writeUInt16BE(65535, 14);
  } else {
    l4.writeUInt16BE(l4.length, 4); // RFC 768 length
  }
  p.payload.copy(l4, l4len);
  const proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  const ckOffset = tcp ? 16 : 6;
  const s4 = ipv4Bytes(p.src.ip);
  const d4 = ipv4Bytes(p.dst.ip);
  let ip: Buffer;
  if (s4 && d4) {
    // RFC 791 §3.1: version 4, IHL 5, total length, TTL 64, protocol, header checksum
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = proto;
    s4.copy(ip, 12);
    d4.copy(ip, 16);
    ip.writeUInt16BE(fold(sum16(ip)), 10);
    const ck = fold(sum16(l4, sum16(s4) + sum16(d4) + proto + l4.length));
    l4.writeUInt16BE(!tcp && ck === 0 ? 0xffff : ck, ckOffset);
  } else {
    const s6 = ipv6Bytes(isIPv4(p.src.ip) ? `::ffff:${p.src.ip}` : p.src.ip);
    const d6 = ipv6Bytes(isIPv4(p.dst.ip) ? `::ffff:${p.dst.ip}` : p.dst.ip);
    if (!s6 || !d6) return null;
    // RFC 8200 §3: version 6, payload length, next header, hop limit
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = proto;
    ip[7] = 64;
    s6.copy(ip, 8);
    d6.copy(ip, 24);
    // RFC 8200 §8.1 pseudo-header
    const ck = fold(sum16(l4, sum16(s6) + sum16(d6) + l4.length + proto));
    l4.writeUInt16BE(!tcp && ck === 0 ? 0xffff : ck, ckOffset);
  }
  return fitFrame(Buffer.concat([ip, l4]), LINKTYPE.RAW, LINKTYPE.ETHERNET);
}
