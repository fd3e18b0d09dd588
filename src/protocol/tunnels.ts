// Overlay tunnels and label stacks that carry a whole inner packet: GTP-U (3GPP TS 29.281), VXLAN
// (RFC 7348), Geneve (RFC 8926) over UDP, and MPLS label stacks (RFC 3032) with IP or an Ethernet
// pseudowire inside (RFC 4448, control word RFC 4385). Each function reads one header in place and
// says where the inner packet starts (a caller-owned `L3Pos`), without allocating. GRE and ERSPAN
// (over IP) are in dissector.ts; link layers in link.ts. The dissector owns recursion and depth.
import { ETHERTYPE } from './link.js';
import type { L3Pos } from './link.js';

const u16 = (b: Buffer, o: number): number => (b[o] << 8) | b[o + 1];

/** IANA-assigned UDP ports of the tunnels read here (tshark decodes the same ports). */
export const TUNNEL_UDP_PORT = {
  GTPU: 2152, // 3GPP TS 29.281 §4.4.2
  VXLAN: 4789, // RFC 7348 §5
  GENEVE: 6081, // RFC 8926 §3.3
} as const;

/**
 * The outcome of reading a tunnel header: `TUNNEL_INNER` when `out` names the inner packet,
 * `TUNNEL_NOT` when the bytes are not this tunnel (plain UDP on that port, e.g. RTP that happens to
 * use it), or a reason string: the header is this tunnel's but unusable (malformed, or a kind we do
 * not follow, prefixed `undecoded:`).
 */
export type TunnelResult = 0 | 1 | string;
export const TUNNEL_NOT = 0;
export const TUNNEL_INNER = 1;

/** First nibble of an inner IP packet → EtherType for the dissector, or -1. */
function ipByNibble(b: Buffer, off: number): number {
  const v = b[off] >> 4;
  return v === 4 ? ETHERTYPE.IPV4 : v === 6 ? ETHERTYPE.IPV6 : -1;
}

/** GTP message type of a G-PDU, the only one carrying a user packet (TS 29.281 §6.1). */
const GTP_G_PDU = 255;

/**
 * GTP-U v1 (TS 29.281 §5.1): flags (version 1, PT 1, E, S, PN), type, length, TEID; when any of E/S/PN
 * is set, sequence number, N-PDU number and next extension header type follow (§5.2.1), then a chain of
 * extension headers, each `length` (4-octet units) … `next type`. A G-PDU carries an IPv4/IPv6 packet.
 */
export function gtpuToL3(b: Buffer, off: number, end: number, out: L3Pos): TunnelResult {
  if (end - off < 8) return TUNNEL_NOT;
  const flags = b[off];
  if (flags >> 5 !== 1 || (flags & 0x10) === 0) return TUNNEL_NOT; // version 1, protocol type GTP
  const type = b[off + 1];
  const len = u16(b, off + 2);
  let stop = off + 8 + len;
  if (stop > end) stop = end; // cut by the snap length
  if (type !== GTP_G_PDU) return `undecoded:gtpu_type_${type}`; // echo, error indication, end marker
  let o = off + 8;
  if ((flags & 0x07) !== 0) {
    if (stop - o < 4) return 'gtpu_short';
    let next = b[o + 3];
    o += 4;
    // Extension headers (§5.2.1): PDU session container (0x85), UDP port, PDCP PDU number, …
    for (let i = 0; next !== 0; i++) {
      if (i >= 16 || stop - o < 4) return 'gtpu_extension';
      const l = b[o] * 4;
      if (l === 0 || stop - o < l) return 'gtpu_extension';
      next = b[o + l - 1];
      o += l;
    }
  }
  if (o >= stop) return 'gtpu_short';
  const t = ipByNibble(b, o);
  if (t < 0) return 'undecoded:gtpu_non_ip';
  out.etherType = t;
  out.off = o;
  return TUNNEL_INNER;
}

/**
 * VXLAN (RFC 7348 §5): flags with the I bit (0x08; the group-policy extension also sets 0x80),
 * 24 reserved bits, VNI, 8 reserved bits, then an Ethernet frame.
 */
export function vxlanToL3(b: Buffer, off: number, end: number, out: L3Pos): TunnelResult {
  if (end - off < 8 + 14) return TUNNEL_NOT;
  const f = b[off];
  if (f !== 0x08 && f !== 0x88) return TUNNEL_NOT;
  out.etherType = ETHERTYPE.ETHERNET;
  out.off = off + 8;
  return TUNNEL_INNER;
}

/**
 * Geneve (RFC 8926 §3.4): version (2 bits, 0) and options length (6 bits, 4-octet units), O/C flags,
 * protocol type (an EtherType; 0x6558 is Ethernet), VNI, then the options, then the inner packet.
 */
export function geneveToL3(b: Buffer, off: number, end: number, out: L3Pos): TunnelResult {
  if (end - off < 8) return TUNNEL_NOT;
  if (b[off] >> 6 !== 0) return TUNNEL_NOT;
  const proto = u16(b, off + 2);
  const o = off + 8 + (b[off] & 0x3f) * 4;
  if (o > end) return 'geneve_short';
  if (proto === ETHERTYPE.TEB) out.etherType = ETHERTYPE.ETHERNET;
  else if (proto === ETHERTYPE.IPV4 || proto === ETHERTYPE.IPV6) out.etherType = proto;
  else return TUNNEL_NOT;
  out.off = o;
  return TUNNEL_INNER;
}

const MAX_LABELS = 16;

/**
 * An MPLS label stack (RFC 3032 §2.1: label 20 bits, TC 3, bottom-of-stack S, TTL 8) and what follows
 * the bottom label, which MPLS does not name; like tshark, the first nibble decides: 4 IPv4, 6 IPv6,
 * 0 a pseudowire control word (RFC 4385 §3) before an Ethernet frame (RFC 4448), 1 the associated
 * channel (G-ACh, RFC 5586: OAM, not user traffic); anything else is an Ethernet pseudowire without
 * a control word.
 */
export function mplsToL3(b: Buffer, off: number, end: number, out: L3Pos): TunnelResult {
  let o = off;
  for (let i = 0; ; i++) {
    if (i >= MAX_LABELS) return 'mpls_label_stack';
    if (end - o < 4) return 'mpls_short';
    const bottom = (b[o + 2] & 1) !== 0;
    o += 4;
    if (bottom) break;
  }
  if (o >= end) return 'mpls_short';
  const nibble = b[o] >> 4;
  if (nibble === 4 || nibble === 6) {
    out.etherType = ipByNibble(b, o);
    out.off = o;
    return TUNNEL_INNER;
  }
  if (nibble === 1) return 'undecoded:mpls_gach';
  if (nibble === 0) o += 4; // control word: 0000, flags, fragment bits, length, sequence number
  if (end - o < 14) return 'mpls_short';
  out.etherType = ETHERTYPE.ETHERNET;
  out.off = o;
  return TUNNEL_INNER;
}
