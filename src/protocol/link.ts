// Link layers and the non-IP encapsulations between a frame and its IP header: Ethernet with
// 802.1Q/802.1ad/QinQ tags, Linux SLL and SLL2, BSD NULL/loopback, raw IP, PPP, PPPoE session.
// Each function finds the next layer's EtherType and offset without allocating (results go into a
// caller-owned `L3Pos`). IP, GRE and the tunnels that run over IP live in ip.ts and dissector.ts.

/** big-endian 16-bit read without Buffer method overhead (hot path; callers check bounds) */
const u16 = (b: Buffer, o: number): number => (b[o] << 8) | b[o + 1];

/** LINKTYPE_* values (tcpdump.org/linktypes.html) */
export const LINKTYPE = {
  NULL: 0, // BSD loopback, AF_ value in host byte order
  ETHERNET: 1,
  PPP: 9,
  RAW_OPENBSD: 12, // historically DLT_RAW on some BSDs
  RAW_BSDOS: 14,
  RAW: 101,
  LOOP: 108, // OpenBSD loopback, AF_ value big-endian
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

/** EtherTypes used here (IEEE registry) */
export const ETHERTYPE = {
  IPV4: 0x0800,
  IPV6: 0x86dd,
  VLAN: 0x8100, // 802.1Q
  QINQ: 0x88a8, // 802.1ad service tag
  QINQ_OLD: 0x9100, // pre-standard QinQ
  QINQ_OLD2: 0x9200,
  PPPOE_SESSION: 0x8864,
  PPP: 0x880b, // PPP over GRE (PPTP)
  TEB: 0x6558, // transparent Ethernet bridging over GRE
  ERSPAN2: 0x88be, // also ERSPAN type I (no header)
  ERSPAN3: 0x22eb,
  MPLS: 0x8847, // RFC 3032 unicast
  MPLS_MC: 0x8848, // RFC 5332 multicast
  /** pseudo value for "IP, look at the version nibble" (raw IP link types) */
  RAW_IP: 0x10000,
  /** pseudo value: Ethernet frame follows (used by tunnels) */
  ETHERNET: 0x10001,
} as const;

/** Where the next layer starts; `etherType` names it. Reused per packet by the caller. */
export interface L3Pos {
  etherType: number;
  off: number;
}

const MAX_TAGS = 8;

/** Ethernet II with any stack of 802.1Q / 802.1ad tags, and PPPoE session → PPP. false: not IP or malformed. */
export function ethernetToL3(b: Buffer, off: number, end: number, out: L3Pos): boolean {
  if (end - off < 14) return false;
  let type = u16(b, off + 12);
  let o = off + 14;
  for (let i = 0; i < MAX_TAGS; i++) {
    if (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ || type === ETHERTYPE.QINQ_OLD || type === ETHERTYPE.QINQ_OLD2) {
      if (end - o < 4) return false;
      type = u16(b, o + 2);
      o += 4;
      continue;
    }
    break;
  }
  if (type < 0x0600) return false; // 802.3 length field: LLC/SNAP, not carrying SIP in practice
  if (type === ETHERTYPE.PPPOE_SESSION) return pppoeToL3(b, o, end, out);
  out.etherType = type;
  out.off = o;
  return true;
}

/** PPPoE session stage (RFC 2516 §4): ver/type, code 0, session id, length, then a PPP protocol field. */
export function pppoeToL3(b: Buffer, off: number, end: number, out: L3Pos): boolean {
  if (end - off < 8) return false;
  if (b[off] !== 0x11 || b[off + 1] !== 0x00) return false;
  return pppProtoToL3(b, off + 6, end, out);
}

/** PPP (RFC 1661) with optional address/control (0xff 0x03) and protocol-field compression. */
export function pppToL3(b: Buffer, off: number, end: number, out: L3Pos): boolean {
  if (end - off >= 2 && b[off] === 0xff && b[off + 1] === 0x03) off += 2;
  return pppProtoToL3(b, off, end, out);
}

function pppProtoToL3(b: Buffer, off: number, end: number, out: L3Pos): boolean {
  if (end - off < 1) return false;
  let proto: number;
  if ((b[off] & 1) === 1) {
    proto = b[off]; // compressed one-byte protocol field (RFC 1661 §6.5)
    off += 1;
  } else {
    if (end - off < 2) return false;
    proto = u16(b, off);
    off += 2;
  }
  if (proto === 0x21) out.etherType = ETHERTYPE.IPV4;
  else if (proto === 0x57) out.etherType = ETHERTYPE.IPV6;
  else return false;
  out.off = off;
  return true;
}

/** Maps a BSD AF_ value to an EtherType: 2 is AF_INET; AF_INET6 is 24, 28 or 30 depending on the OS. */
function afToEther(af: number): number {
  if (af === 2) return ETHERTYPE.IPV4;
  if (af === 24 || af === 28 || af === 30 || af === 10) return ETHERTYPE.IPV6;
  return -1;
}

/** From the start of a frame of the given link type to its network layer. */
export function linkToL3(linkType: number, b: Buffer, off: number, end: number, out: L3Pos): boolean {
  switch (linkType) {
    case 1: // LINKTYPE.ETHERNET
      return ethernetToL3(b, off, end, out);
    case 113: {
      // LINKTYPE.LINUX_SLL
      // SLL v1: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
      if (end - off < 16) return false;
      const proto = u16(b, off + 14);
      return etherTypeAt(proto, b, off + 16, end, out);
    }
    case 276: {
      // LINKTYPE.LINUX_SLL2
      // SLL2: protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
      if (end - off < 20) return false;
      const proto = u16(b, off);
      return etherTypeAt(proto, b, off + 20, end, out);
    }
    case 0: {
      // LINKTYPE.NULL
      if (end - off < 4) return false;
      // host byte order of the writer: a small value read little-endian means a little-endian writer
      let af = b.readUInt32LE(off);
      if (af > 0xffff) af = b.readUInt32BE(off);
      const t = afToEther(af);
      if (t < 0) return false;
      out.etherType = t;
      out.off = off + 4;
      return true;
    }
    case 108: {
      // LINKTYPE.LOOP
      if (end - off < 4) return false;
      const t = afToEther(b.readUInt32BE(off));
      if (t < 0) return false;
      out.etherType = t;
      out.off = off + 4;
      return true;
    }
    case 101: // LINKTYPE.RAW
    case 12: // LINKTYPE.RAW_OPENBSD
    case 14: // LINKTYPE.RAW_BSDOS
      out.etherType = ETHERTYPE.RAW_IP;
      out.off = off;
      return true;
    case 228: // LINKTYPE.IPV4
      out.etherType = ETHERTYPE.IPV4;
      out.off = off;
      return true;
    case 229: // LINKTYPE.IPV6
      out.etherType = ETHERTYPE.IPV6;
      out.off = off;
      return true;
    case 9: // LINKTYPE.PPP
      return pppToL3(b, off, end, out);
    default:
      return false;
  }
}

/** Continues after a header that names an EtherType (SLL, GRE): handles VLAN tags and PPPoE too. */
export function etherTypeAt(type: number, b: Buffer, off: number, end: number, out: L3Pos): boolean {
  for (let i = 0; i < MAX_TAGS; i++) {
    if (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ || type === ETHERTYPE.QINQ_OLD || type === ETHERTYPE.QINQ_OLD2) {
      if (end - off < 4) return false;
      type = u16(b, off + 2);
      off += 4;
      continue;
    }
    break;
  }
  if (type === ETHERTYPE.PPPOE_SESSION) return pppoeToL3(b, off, end, out);
  if (type === ETHERTYPE.PPP) return pppToL3(b, off, end, out);
  out.etherType = type;
  out.off = off;
  return true;
}

/** Version nibble of a raw IP packet → EtherType, or -1. */
export function rawIpEtherType(b: Buffer, off: number, end: number): number {
  if (off >= end) return -1;
  const v = b[off] >> 4;
  if (v === 4) return ETHERTYPE.IPV4;
  if (v === 6) return ETHERTYPE.IPV6;
  return -1;
}
