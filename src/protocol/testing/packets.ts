// Test-only packet builders: Ethernet (+VLAN tags), Linux SLL2, IPv4/IPv6 (+fragments), UDP, TCP
// (with valid checksums so tshark is content), GRE, ERSPAN II/III, PPPoE, GTP-U, VXLAN, Geneve, MPLS
// (label stacks, pseudowire control word), and a pcapng writer with
// several interfaces. Small and explicit rather than complete; used by *.test.ts and the fuzzer.

export const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

export function ip6(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':').filter(Boolean) : [];
  const t = tail ? tail.split(':').filter(Boolean) : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

const sum16 = (b: Buffer, acc = 0): number => {
  for (let i = 0; i + 1 < b.length; i += 2) acc += b.readUInt16BE(i);
  if (b.length % 2 === 1) acc += b[b.length - 1] << 8;
  return acc;
};
const fold = (acc: number): number => {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
};

export interface Ether {
  dst?: Buffer;
  src?: Buffer;
  /** outer first: e.g. [{ tpid: 0x88a8, vid: 100 }, { tpid: 0x8100, vid: 200 }] */
  vlans?: { tpid: number; vid: number }[];
}

export function ethernet(etherType: number, payload: Buffer, o: Ether = {}): Buffer {
  const tags = (o.vlans ?? []).map((v) => {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(v.tpid, 0);
    t.writeUInt16BE(v.vid & 0xfff, 2);
    return t;
  });
  const head = Buffer.concat([o.dst ?? Buffer.from('020000000002', 'hex'), o.src ?? Buffer.from('020000000001', 'hex')]);
  const type = Buffer.alloc(2);
  type.writeUInt16BE(etherType);
  // each tag (TPID + TCI) sits where the EtherType was; the real EtherType follows the last tag
  const flat: Buffer[] = [head];
  for (let i = 0; i < tags.length; i++) flat.push(tags[i]);
  flat.push(type, payload);
  return Buffer.concat(flat);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2) header + payload. */
export function sll2(protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(1, 4); // ifindex
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[10] = 0; // to us
  h[11] = 6;
  Buffer.from('020000000001', 'hex').copy(h, 12);
  return Buffer.concat([h, payload]);
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  id?: number;
  /** fragment offset in bytes (multiple of 8) */
  fragOffset?: number;
  more?: boolean;
  dontFragment?: boolean;
  ttl?: number;
  /** override the total length field (for lies) */
  totalLength?: number;
}

export function ipv4(o: Ipv4Opts, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(o.totalLength ?? 20 + payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE(((o.fragOffset ?? 0) / 8) | (o.more ? 0x2000 : 0) | (o.dontFragment ? 0x4000 : 0), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  ip4(o.src).copy(h, 12);
  ip4(o.dst).copy(h, 16);
  h.writeUInt16BE(fold(sum16(h)), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  /** next header of the first header after the fixed one */
  nextHeader: number;
  hopLimit?: number;
}

export function ipv6(o: Ipv6Opts, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h[6] = o.nextHeader;
  h[7] = o.hopLimit ?? 64;
  ip6(o.src).copy(h, 8);
  ip6(o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** IPv6 Fragment extension header (RFC 8200 §4.5) followed by the fragment bytes. */
export function ipv6FragmentHeader(nextHeader: number, fragOffset: number, more: boolean, id: number, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = nextHeader;
  h.writeUInt16BE(fragOffset | (more ? 1 : 0), 2);
  h.writeUInt32BE(id, 4);
  return Buffer.concat([h, data]);
}

/** Hop-by-hop or destination options header with PadN filling 8 bytes. */
export function ipv6OptionsHeader(nextHeader: number): Buffer {
  return Buffer.from([nextHeader, 0, 1, 4, 0, 0, 0, 0]);
}

function pseudo(src: Buffer, dst: Buffer, proto: number, len: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return p;
}

const addr = (s: string): Buffer => (s.includes(':') ? ip6(s) : ip4(s));

export function udp(src: string, sport: number, dst: string, dport: number, payload: Buffer, lengthLie?: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(lengthLie ?? 8 + payload.length, 4);
  const seg = Buffer.concat([h, payload]);
  let c = fold(sum16(seg, sum16(pseudo(addr(src), addr(dst), 17, seg.length))));
  if (c === 0) c = 0xffff;
  seg.writeUInt16BE(c, 6);
  return seg;
}

export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

export function tcp(src: string, sport: number, dst: string, dport: number, seq: number, ack: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([h, payload]);
  seg.writeUInt16BE(fold(sum16(seg, sum16(pseudo(addr(src), addr(dst), 6, seg.length)))), 16);
  return seg;
}

/** IPv4 + UDP in one call. */
export function udp4(src: string, sport: number, dst: string, dport: number, payload: Buffer, id = 1): Buffer {
  return ipv4({ src, dst, proto: 17, id }, udp(src, sport, dst, dport, payload));
}

/** IPv4 + TCP in one call. */
export function tcp4(src: string, sport: number, dst: string, dport: number, seq: number, flags: number, payload: Buffer, ack = 1): Buffer {
  return ipv4({ src, dst, proto: 6 }, tcp(src, sport, dst, dport, seq, ack, flags | TCP.ACK, payload));
}

export interface GreOpts {
  key?: number;
  seq?: number;
  checksum?: boolean;
}

/** GRE version 0 (RFC 2784/2890). */
export function gre(proto: number, payload: Buffer, o: GreOpts = {}): Buffer {
  let flags = 0;
  const extra: Buffer[] = [];
  if (o.checksum) {
    flags |= 0x8000;
    extra.push(Buffer.alloc(4));
  }
  if (o.key !== undefined) {
    flags |= 0x2000;
    const k = Buffer.alloc(4);
    k.writeUInt32BE(o.key);
    extra.push(k);
  }
  if (o.seq !== undefined) {
    flags |= 0x1000;
    const s = Buffer.alloc(4);
    s.writeUInt32BE(o.seq);
    extra.push(s);
  }
  const h = Buffer.alloc(4);
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(proto, 2);
  const out = Buffer.concat([h, ...extra, payload]);
  if (o.checksum) out.writeUInt16BE(fold(sum16(out)), 4);
  return out;
}

/** ERSPAN type II header (8 bytes): version 1, VLAN 0, session id. */
export function erspan2Header(session = 1): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x1000, 0); // ver=1
  h.writeUInt16BE(session & 0x3ff, 2);
  return h;
}

/** ERSPAN type III header (12 bytes), optionally with the 8-byte platform sub-header (O flag). */
export function erspan3Header(session = 1, platform = false): Buffer {
  const h = Buffer.alloc(12 + (platform ? 8 : 0));
  h.writeUInt16BE(0x2000, 0); // ver=2 (type III)
  h.writeUInt16BE(session & 0x3ff, 2);
  h.writeUInt32BE(123456, 4); // timestamp
  if (platform) h[11] |= 1;
  return h;
}

/**
 * GTP-U G-PDU (TS 29.281 §5.1) around an IP packet; with `qfi`, the E flag and one PDU session
 * container extension header (type 0x85, 4 octets: length 1, PDU type/QFI, next type 0), as 5G UPFs send.
 */
export function gtpu(teid: number, ipPacket: Buffer, qfi?: number): Buffer {
  const ext = qfi === undefined ? Buffer.alloc(0) : Buffer.from([0, 0, 0, 0x85, 1, 0x10, qfi & 0x3f, 0]);
  const h = Buffer.alloc(8);
  h[0] = qfi === undefined ? 0x30 : 0x34; // version 1, PT 1, E when an extension follows
  h[1] = 0xff; // G-PDU
  h.writeUInt16BE(ext.length + ipPacket.length, 2);
  h.writeUInt32BE(teid, 4);
  return Buffer.concat([h, ext, ipPacket]);
}

/** VXLAN header (RFC 7348 §5): I flag, VNI. */
export function vxlan(vni: number, ethernetFrame: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUInt32BE((vni & 0xffffff) << 8, 4);
  return Buffer.concat([h, ethernetFrame]);
}

/** Geneve header (RFC 8926 §3.4) with one 8-byte option when `option` is set; protocol 0x6558 (Ethernet) or an IP EtherType. */
export function geneve(vni: number, protocol: number, inner: Buffer, option = false): Buffer {
  const opt = option ? Buffer.from([0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef]) : Buffer.alloc(0); // class 0x0102, type 0x80, 1 word
  const h = Buffer.alloc(8);
  h[0] = opt.length / 4;
  h.writeUInt16BE(protocol, 2);
  h.writeUInt32BE((vni & 0xffffff) << 8, 4);
  return Buffer.concat([h, opt, inner]);
}

/** An MPLS label stack (RFC 3032), bottom-of-stack on the last label. */
export function mpls(labels: number[], inner: Buffer): Buffer {
  const h = Buffer.alloc(labels.length * 4);
  labels.forEach((l, i) => h.writeUInt32BE(((l & 0xfffff) << 12) | (i === labels.length - 1 ? 0x100 : 0) | 64, i * 4));
  return Buffer.concat([h, inner]);
}

/** Ethernet pseudowire payload with the RFC 4385 control word (first nibble 0, sequence number). */
export function pwControlWord(seq: number, ethernetFrame: Buffer): Buffer {
  const cw = Buffer.alloc(4);
  cw.writeUInt16BE(seq & 0xffff, 2);
  return Buffer.concat([cw, ethernetFrame]);
}

/** PPPoE session header + PPP protocol 0x0021 (IPv4) or 0x0057 (IPv6). */
export function pppoe(ipPacket: Buffer, v6 = false): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x11;
  h.writeUInt16BE(0x1234, 2);
  h.writeUInt16BE(ipPacket.length + 2, 4);
  h.writeUInt16BE(v6 ? 0x57 : 0x21, 6);
  return Buffer.concat([h, ipPacket]);
}

/** Splits an IPv4 payload into fragments of at most `size` bytes (multiple of 8). */
export function ipv4Fragments(o: Omit<Ipv4Opts, 'fragOffset' | 'more'>, payload: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const part = payload.subarray(off, off + size);
    out.push(ipv4({ ...o, fragOffset: off, more: off + size < payload.length }, part));
  }
  return out;
}

/** Splits an IPv6 upper-layer payload into fragments carried in Fragment headers. */
export function ipv6Fragments(o: Omit<Ipv6Opts, 'nextHeader'>, nextHeader: number, payload: Buffer, size: number, id = 0x1234): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const part = payload.subarray(off, off + size);
    out.push(ipv6({ ...o, nextHeader: 44 }, ipv6FragmentHeader(nextHeader, off, off + size < payload.length, id, part)));
  }
  return out;
}

export interface PcapngInterface {
  linkType: number;
  snaplen?: number;
  /** if_tsresol byte: 6 = µs (default), 9 = ns, 0x80|n = 2^-n */
  tsresol?: number;
}

const pad4 = (n: number): number => (n + 3) & ~3;

/** A little-endian pcapng file: one section, the given interfaces, EPBs (and SPBs when `simple`). */
export function pcapng(
  ifaces: PcapngInterface[],
  packets: { iface: number; ts: bigint; data: Buffer; simple?: boolean }[],
  opts: { extraSection?: boolean } = {},
): Buffer {
  const blocks: Buffer[] = [];
  const shb = (): Buffer => {
    const b = Buffer.alloc(28);
    b.writeUInt32LE(0x0a0d0d0a, 0);
    b.writeUInt32LE(28, 4);
    b.writeUInt32LE(0x1a2b3c4d, 8);
    b.writeUInt16LE(1, 12);
    b.writeUInt16LE(0, 14);
    b.writeBigInt64LE(-1n, 16);
    b.writeUInt32LE(28, 24);
    return b;
  };
  const idb = (i: PcapngInterface): Buffer => {
    const hasRes = i.tsresol !== undefined;
    const len = 20 + (hasRes ? 8 + 4 : 0);
    const b = Buffer.alloc(len);
    b.writeUInt32LE(1, 0);
    b.writeUInt32LE(len, 4);
    b.writeUInt16LE(i.linkType, 8);
    b.writeUInt32LE(i.snaplen ?? 262144, 12);
    if (hasRes) {
      b.writeUInt16LE(9, 16); // if_tsresol
      b.writeUInt16LE(1, 18);
      b[20] = i.tsresol!;
      b.writeUInt32LE(0, 24); // opt_endofopt
    }
    b.writeUInt32LE(len, len - 4);
    return b;
  };
  const nrb = (): Buffer => {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(4, 0);
    b.writeUInt32LE(16, 4);
    b.writeUInt32LE(16, 12);
    return b;
  };
  const section = (): void => {
    blocks.push(shb());
    for (const i of ifaces) blocks.push(idb(i));
    blocks.push(nrb());
  };
  section();
  const each = (p: (typeof packets)[number]): void => {
    if (p.simple) {
      const len = 16 + pad4(p.data.length);
      const b = Buffer.alloc(len);
      b.writeUInt32LE(3, 0);
      b.writeUInt32LE(len, 4);
      b.writeUInt32LE(p.data.length, 8);
      p.data.copy(b, 12);
      b.writeUInt32LE(len, len - 4);
      blocks.push(b);
      return;
    }
    const len = 32 + pad4(p.data.length);
    const b = Buffer.alloc(len);
    b.writeUInt32LE(6, 0);
    b.writeUInt32LE(len, 4);
    b.writeUInt32LE(p.iface, 8);
    b.writeUInt32LE(Number(p.ts >> 32n), 12);
    b.writeUInt32LE(Number(p.ts & 0xffffffffn), 16);
    b.writeUInt32LE(p.data.length, 20);
    b.writeUInt32LE(p.data.length, 24);
    p.data.copy(b, 28);
    b.writeUInt32LE(len, len - 4);
    blocks.push(b);
  };
  const half = opts.extraSection ? Math.ceil(packets.length / 2) : packets.length;
  packets.slice(0, half).forEach(each);
  if (opts.extraSection) {
    section();
    packets.slice(half).forEach(each);
  }
  return Buffer.concat(blocks);
}

/** A small SIP request with a Content-Length body. */
export function sipRequest(method: string, callId: string, cseq: number, body = '', extra = ''): Buffer {
  return Buffer.from(
    `${method} sip:bob@example.com SIP/2.0\r\n` +
      `Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-${callId}-${cseq}\r\n` +
      `From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n` +
      `Call-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nMax-Forwards: 70\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** A small SIP response. */
export function sipResponse(code: number, reason: string, callId: string, cseq: number, method: string): Buffer {
  return Buffer.from(
    `SIP/2.0 ${code} ${reason}\r\n` +
      `Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-${callId}-${cseq}\r\n` +
      `From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\n` +
      `Call-ID: ${callId}\r\nCSeq: ${cseq} ${method}\r\nContent-Length: 0\r\n\r\n`,
  );
}

/**
 * An IPv4 packet cut into fragments whose payloads are at most `chunk` bytes (a multiple of 8,
 * RFC 791 §3.2), same id, addresses and protocol; the packet itself when it fits in one.
 */
export function fragmentIpv4(packet: Buffer, chunk: number): Buffer[] {
  const ihl = (packet[0] & 0x0f) * 4;
  const payload = packet.subarray(ihl, packet.readUInt16BE(2));
  if (payload.length <= chunk) return [packet];
  const src = [...packet.subarray(12, 16)].join('.');
  const dst = [...packet.subarray(16, 20)].join('.');
  const out: Buffer[] = [];
  for (let off = 0; off < payload.length; off += chunk) {
    const part = payload.subarray(off, off + chunk);
    out.push(ipv4({ src, dst, proto: packet[9], id: packet.readUInt16BE(4), fragOffset: off, more: off + chunk < payload.length, ttl: packet[8] }, part));
  }
  return out;
}

/**
 * An IPv4 TCP segment cut into `pieces` segments of its payload (sequence numbers advanced, options
 * kept, lengths and checksums recomputed); the segment itself when it carries too few bytes.
 */
export function segmentTcp4(packet: Buffer, pieces: number): Buffer[] {
  const ihl = (packet[0] & 0x0f) * 4;
  const end = packet.readUInt16BE(2);
  const doff = (packet[ihl + 12] >> 4) * 4;
  const data = packet.subarray(ihl + doff, end);
  if (data.length < pieces * 2) return [packet];
  const size = Math.ceil(data.length / pieces);
  const out: Buffer[] = [];
  const seq = packet.readUInt32BE(ihl + 4);
  for (let off = 0; off < data.length; off += size) {
    const hdr = Buffer.from(packet.subarray(ihl, ihl + doff));
    hdr.writeUInt32BE((seq + off) >>> 0, 4);
    hdr.writeUInt16BE(0, 16);
    const seg = Buffer.concat([hdr, data.subarray(off, off + size)]);
    seg.writeUInt16BE(fold(sum16(seg, sum16(pseudo(packet.subarray(12, 16), packet.subarray(16, 20), 6, seg.length)))), 16);
    const ip = Buffer.from(packet.subarray(0, ihl));
    ip.writeUInt16BE(ihl + seg.length, 2);
    ip.writeUInt16BE(0, 10);
    ip.writeUInt16BE(fold(sum16(ip)), 10);
    out.push(Buffer.concat([ip, seg]));
  }
  return out;
}
