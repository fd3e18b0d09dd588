// IPv4 and IPv6 headers (IPv6 extension headers: hop-by-hop, routing, destination options,
// fragment, AH), and address text. Parsing fills a caller-owned `IpHeader` without allocating;
// addresses stay as offsets into the packet until someone needs their text (AddressCache).
// Fragment reassembly is in ip-reassembly.ts; what runs on top of IP is in dissector.ts.

/** big-endian 16-bit read without Buffer method overhead (hot path; callers check bounds) */
const u16 = (b: Buffer, o: number): number => (b[o] << 8) | b[o + 1];

export const IPPROTO = {
  HOPOPT: 0,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
} as const;

export interface IpHeader {
  version: 4 | 6;
  /** the buffer the header was read from (addresses are read from it at srcOff/dstOff) */
  buf: Buffer;
  srcOff: number;
  dstOff: number;
  /** upper-layer protocol after all extension headers */
  proto: number;
  /** offset of the upper-layer payload */
  payloadOff: number;
  /** end of the payload (total length, cut to what was captured) */
  payloadEnd: number;
  /** true when the header says more bytes than were captured */
  cut: boolean;
  /** fragment: identification, offset in bytes, more-fragments flag */
  fragment: boolean;
  fragId: number;
  fragOffset: number;
  fragMore: boolean;
}

export const newIpHeader = (): IpHeader => ({
  version: 4,
  buf: Buffer.alloc(0),
  srcOff: 0,
  dstOff: 0,
  proto: 0,
  payloadOff: 0,
  payloadEnd: 0,
  cut: false,
  fragment: false,
  fragId: 0,
  fragOffset: 0,
  fragMore: false,
});

/** IPv4 (RFC 791). Returns null when usable, else the reason it is malformed. The checksum is not checked (tshark does not drop on it). */
export function parseIpv4(b: Buffer, off: number, end: number, h: IpHeader): string | null {
  if (end - off < 20) return 'ipv4_short';
  const vihl = b[off];
  if (vihl >> 4 !== 4) return 'ipv4_version';
  const ihl = (vihl & 15) * 4;
  if (ihl < 20) return 'ipv4_ihl';
  if (end - off < ihl) return 'ipv4_short';
  let total = u16(b, off + 2);
  let cut = false;
  if (total === 0) total = end - off; // TSO/GSO captures leave it zero
  if (total < ihl) return 'ipv4_total_length';
  if (total > end - off) {
    cut = true;
    total = end - off;
  }
  const ff = u16(b, off + 6);
  h.version = 4;
  h.buf = b;
  h.srcOff = off + 12;
  h.dstOff = off + 16;
  h.proto = b[off + 9];
  h.payloadOff = off + ihl;
  h.payloadEnd = off + total; // anything after total length is Ethernet padding
  h.cut = cut;
  h.fragOffset = (ff & 0x1fff) * 8;
  h.fragMore = (ff & 0x2000) !== 0;
  h.fragment = h.fragMore || h.fragOffset !== 0;
  h.fragId = u16(b, off + 4);
  return null;
}

/** IPv6 (RFC 8200) and its extension header chain. Returns null when usable, else the reason. */
export function parseIpv6(b: Buffer, off: number, end: number, h: IpHeader): string | null {
  if (end - off < 40) return 'ipv6_short';
  if (b[off] >> 4 !== 6) return 'ipv6_version';
  let plen = u16(b, off + 4);
  let cut = false;
  if (plen === 0) plen = end - off - 40; // jumbogram or TSO: take what is there
  if (plen > end - off - 40) {
    cut = true;
    plen = end - off - 40;
  }
  const pend = off + 40 + plen;
  let nh = b[off + 6];
  let o = off + 40;
  h.fragment = false;
  h.fragOffset = 0;
  h.fragMore = false;
  h.fragId = 0;
  for (let i = 0; i < 16; i++) {
    if (nh === IPPROTO.HOPOPT || nh === IPPROTO.ROUTING || nh === IPPROTO.DSTOPTS) {
      if (pend - o < 8) return 'ipv6_ext_short';
      const len = (b[o + 1] + 1) * 8;
      if (pend - o < len) return 'ipv6_ext_short';
      nh = b[o];
      o += len;
    } else if (nh === IPPROTO.FRAGMENT) {
      if (pend - o < 8) return 'ipv6_ext_short';
      const fo = u16(b, o + 2);
      h.fragment = true;
      h.fragOffset = fo & 0xfff8;
      h.fragMore = (fo & 1) !== 0;
      h.fragId = b.readUInt32BE(o + 4);
      nh = b[o];
      o += 8;
      // An atomic fragment (offset 0, M=0; RFC 6946) is a whole datagram.
      if (h.fragOffset === 0 && !h.fragMore) h.fragment = false;
      if (h.fragment) break; // the rest of the chain is in the reassembled payload
    } else if (nh === IPPROTO.AH) {
      if (pend - o < 8) return 'ipv6_ext_short';
      const len = (b[o + 1] + 2) * 4;
      if (pend - o < len) return 'ipv6_ext_short';
      nh = b[o];
      o += len;
    } else break;
  }
  h.version = 6;
  h.buf = b;
  h.srcOff = off + 8;
  h.dstOff = off + 24;
  h.proto = nh;
  h.payloadOff = o;
  h.payloadEnd = pend;
  h.cut = cut;
  return null;
}

export function ipv4Text(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (≥2) of zero groups as `::`. */
export function ipv6Text(b: Buffer, off: number): string {
  let bestStart = -1;
  let bestLen = 0;
  let curStart = -1;
  for (let i = 0; i < 8; i++) {
    const g = u16(b, off + i * 2);
    if (g === 0) {
      if (curStart < 0) curStart = i;
      const len = i - curStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = curStart;
      }
    } else curStart = -1;
  }
  if (bestLen < 2) bestStart = -1;
  // IPv4-mapped (::ffff:a.b.c.d, RFC 5952 §5)
  if (bestStart === 0 && bestLen === 5 && u16(b, off + 10) === 0xffff) return `::ffff:${ipv4Text(b, off + 12)}`;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += u16(b, off + i * 2).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

/**
 * Address text with a bounded cache: the same few addresses recur in every packet of a capture, so
 * formatting (IPv6 especially) happens once per address rather than once per packet.
 */
export class AddressCache {
  private v4 = new Map<number, string>();
  private v6 = new Map<string, string>();
  constructor(private readonly max = 4096) {}

  v4At(b: Buffer, off: number): string {
    const k = b.readUInt32BE(off);
    let s = this.v4.get(k);
    if (s === undefined) {
      if (this.v4.size >= this.max) this.v4.clear();
      s = ipv4Text(b, off);
      this.v4.set(k, s);
    }
    return s;
  }

  v6At(b: Buffer, off: number): string {
    const k = b.toString('latin1', off, off + 16);
    let s = this.v6.get(k);
    if (s === undefined) {
      if (this.v6.size >= this.max) this.v6.clear();
      s = ipv6Text(b, off);
      this.v6.set(k, s);
    }
    return s;
  }

  at(version: 4 | 6, b: Buffer, off: number): string {
    return version === 4 ? this.v4At(b, off) : this.v6At(b, off);
  }
}
