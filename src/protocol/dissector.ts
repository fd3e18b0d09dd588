// Frame → transport payload units. Walks link layer, tunnels (GRE incl. ERSPAN II/III and PPTP,
// IP-in-IP, IPv6-in-IPv4/IPv6, PPPoE, PPP, MPLS label stacks and pseudowires, and over UDP GTP-U,
// VXLAN and Geneve: tunnels.ts), IPv4/IPv6 with fragment reassembly, then UDP (each
// datagram as is), TCP (SIP messages framed from the reassembled stream, WebSocket messages after an
// Upgrade, or HEP packets on a HEP-over-TCP stream) and SCTP (DATA chunk payloads). Stateful
// (reassembly), bounded, never throws on malformed input: it counts it by reason in `stats`, and
// what it does not decode (ARP, ICMP, an unknown EtherType or link type) by kind. Whether
// a UDP payload is SIP, RTP or HEP is the consumer's decision.
import { ReaderRecord } from './capture-file.js';
import type { CaptureRecord } from './capture-file.js';
import { AddressCache, IPPROTO, newIpHeader, parseIpv4, parseIpv6 } from './ip.js';
import type { IpHeader } from './ip.js';
import { IpReassembler } from './ip-reassembly.js';
import type { IpReassemblyOptions, IpReassemblyStats } from './ip-reassembly.js';
import { ETHERTYPE, ethernetToL3, etherTypeAt, LINKTYPE, linkToL3, pppToL3, rawIpEtherType } from './link.js';
import type { L3Pos } from './link.js';
import { newSctpStats, SctpReassembler, sctpData } from './sctp.js';
import type { SctpStats } from './sctp.js';
import { HepStreamFramer } from './hep.js';
import { newFramingStats, SipStreamFramer } from './sip-framing.js';
import type { FramedKind, FramerLimits, FramingStats } from './sip-framing.js';
import { TcpReassembler } from './tcp-reassembly.js';
import type { StreamConsumer, TcpLimits, TcpStats } from './tcp-reassembly.js';
import { geneveToL3, gtpuToL3, mplsToL3, TUNNEL_INNER, TUNNEL_NOT, TUNNEL_UDP_PORT, vxlanToL3 } from './tunnels.js';
import type { TunnelResult } from './tunnels.js';

/** big-endian 16-bit read without Buffer method overhead (hot path; callers check bounds) */
const u16 = (b: Buffer, o: number): number => (b[o] << 8) | b[o + 1];

export type Transport = 'udp' | 'tcp' | 'sctp' | 'ws';

export interface Endpoint {
  ip: string;
  port: number;
}

export interface Unit {
  /** frame that completed this unit (last fragment / segment), 1-based as tshark counts */
  readonly frame: number;
  readonly tsUs: number;
  readonly transport: Transport;
  readonly ipVersion: 4 | 6;
  /** address text is made on first access (and cached per address) */
  readonly src: Endpoint;
  readonly dst: Endpoint;
  readonly srcPort: number;
  readonly dstPort: number;
  /** UDP: the datagram payload; TCP/WS/SCTP: one framed message. Made on first access. */
  readonly payload: Buffer;
  /**
   * Fast path for filters that want to look before paying for `payload`: the payload is
   * `payloadBuf[payloadOffset, payloadEnd)` (for UDP `payloadBuf` is usually the buffer that holds
   * the frame, i.e. the reader's chunk).
   */
  readonly payloadBuf: Buffer;
  readonly payloadOffset: number;
  readonly payloadEnd: number;
  /** the capture record of `frame` (for PCAP export) */
  readonly frameData: CaptureRecord;
  /**
   * With `keepFrames`: copies of the other frames that carried this unit (earlier IP fragments, earlier
   * TCP segments of a message split over several), in capture order; null when `frame` alone did.
   */
  readonly earlierFrames: readonly CaptureRecord[] | null;
}

/**
 * The one Unit implementation: a fixed-shape object whose address text and payload view are made
 * lazily, so a consumer that drops most packets (RTP when looking for SIP) never pays for them.
 */
class LazyUnit implements Unit {
  earlierFrames: readonly CaptureRecord[] | null = null;
  private s: Endpoint | null;
  private d: Endpoint | null;
  private p: Buffer | null = null;

  constructor(
    public frame: number,
    public tsUs: number,
    public transport: Transport,
    public ipVersion: 4 | 6,
    public frameData: CaptureRecord,
    private readonly addrs: AddressCache,
    private abuf: Buffer,
    private srcOff: number,
    private dstOff: number,
    public srcPort: number,
    public dstPort: number,
    public payloadBuf: Buffer,
    public payloadOffset: number,
    public payloadEnd: number,
    src: Endpoint | null,
    dst: Endpoint | null,
  ) {
    this.s = src;
    this.d = dst;
  }

  /** Refills the dissector's reused UDP unit (pushEach). */
  setUdp(rec: CaptureRecord, ipVersion: 4 | 6, abuf: Buffer, srcOff: number, dstOff: number, srcPort: number, dstPort: number, b: Buffer, off: number, end: number): void {
    this.frame = rec.frame;
    this.tsUs = rec.tsUs;
    this.frameData = rec;
    this.ipVersion = ipVersion;
    this.abuf = abuf;
    this.srcOff = srcOff;
    this.dstOff = dstOff;
    this.srcPort = srcPort;
    this.dstPort = dstPort;
    this.payloadBuf = b;
    this.payloadOffset = off;
    this.payloadEnd = end;
    this.s = null;
    this.d = null;
    this.p = null;
    this.earlierFrames = null;
  }

  get src(): Endpoint {
    return (this.s ??= { ip: this.addrs.at(this.ipVersion, this.abuf, this.srcOff), port: this.srcPort });
  }

  get dst(): Endpoint {
    return (this.d ??= { ip: this.addrs.at(this.ipVersion, this.abuf, this.dstOff), port: this.dstPort });
  }

  get payload(): Buffer {
    return (this.p ??= this.payloadOffset === 0 && this.payloadEnd === this.payloadBuf.length ? this.payloadBuf : this.payloadBuf.subarray(this.payloadOffset, this.payloadEnd));
  }

  toJSON(): object {
    const { frame, tsUs, transport, ipVersion, src, dst } = this;
    return { frame, tsUs, transport, ipVersion, src, dst, payloadBytes: this.payloadEnd - this.payloadOffset };
  }
}

export interface DissectorOptions {
  ip?: IpReassemblyOptions;
  tcp?: Partial<TcpLimits>;
  framing?: Partial<FramerLimits>;
  /** nested encapsulations followed before giving up (IP-in-IP, GRE, …) */
  maxTunnelDepth?: number;
  /**
   * Keep copies of the frames of units that span several (IP fragments, TCP segments) in
   * `Unit.earlierFrames`, so a PCAP export holds every original frame of a message. Costs a copy of
   * each fragment and of each segment that leaves a message incomplete (bounded below); the agent
   * turns it on, `decode`/`filter` do not need it.
   */
  keepFrames?: boolean;
}

/** bounds on frames kept for `keepFrames`: per message or datagram, and flows/datagrams remembered */
const KEPT_FRAMES_PER_UNIT = 256;
const KEPT_FRAME_KEYS = 4096;

/** A frame record that outlives the reader's chunk. */
function copyRecord(r: CaptureRecord): CaptureRecord {
  return { frame: r.frame, linkType: r.linkType, tsUs: r.tsUs, tsSec: r.tsSec, tsNsec: r.tsNsec, caplen: r.caplen, origLen: r.origLen, data: Buffer.from(r.data), interfaceId: r.interfaceId };
}

/** Appends to a bounded map of frame lists (the oldest key goes first when full; a list keeps its last frames). */
function keepFrame(m: Map<string, CaptureRecord[]>, key: string, frames: readonly CaptureRecord[]): void {
  let l = m.get(key);
  if (l === undefined) {
    if (m.size >= KEPT_FRAME_KEYS) m.delete(m.keys().next().value as string);
    m.set(key, (l = []));
  }
  l.push(...frames);
  if (l.length > KEPT_FRAMES_PER_UNIT) l.splice(0, l.length - KEPT_FRAMES_PER_UNIT);
}

export interface DissectorStats {
  packets: number;
  units: number;
  udp: number;
  tcpSegments: number;
  /** frames without IP (ARP, LLC, …) or of link types we do not decode */
  notIp: number;
  /** malformed packets by reason, e.g. `ipv4_short`, `udp_length` */
  malformed: Record<string, number>;
  /**
   * packets carrying something not decoded, by kind: `arp`, `icmp`, `ethertype_0x88cc`, `ipproto_50`,
   * `linktype_147`, `gtpu_type_1`, `mpls_gach`… (an unknown encapsulation is counted, never dropped silently)
   */
  undecoded: Record<string, number>;
  ip: IpReassemblyStats;
  tcp: TcpStats;
  framing: FramingStats;
  sctp: SctpStats;
}

const NONE: Unit[] = [];

/**
 * A flow key (one direction) from the raw addresses and ports, without address text: each 16-bit
 * group is one character, so the string is short, flat and quick to hash. `l4` is the offset of the
 * transport header, whose first 4 bytes are the ports (TCP, UDP, SCTP).
 */
function flowKey(h: IpHeader, l4b: Buffer, l4: number): string {
  const a = h.buf;
  const s = h.srcOff;
  const d = h.dstOff;
  const p = String.fromCharCode(u16(l4b, l4), u16(l4b, l4 + 2));
  if (h.version === 4) return String.fromCharCode(u16(a, s), u16(a, s + 2), u16(a, d), u16(a, d + 2)) + p;
  return (
    String.fromCharCode(u16(a, s), u16(a, s + 2), u16(a, s + 4), u16(a, s + 6), u16(a, s + 8), u16(a, s + 10), u16(a, s + 12), u16(a, s + 14)) +
    String.fromCharCode(u16(a, d), u16(a, d + 2), u16(a, d + 4), u16(a, d + 6), u16(a, d + 8), u16(a, d + 10), u16(a, d + 12), u16(a, d + 14)) +
    p
  );
}
/** names for the commonest things that are not ours, so the summary reads `arp 12`, not `ethertype_0x0806 12` */
const ETHERTYPE_NAMES: Record<number, string> = { 0x0806: 'arp', 0x8035: 'rarp', 0x88cc: 'lldp', 0x8863: 'pppoe_discovery', 0x888e: 'eapol', 0x88f7: 'ptp' };
const IPPROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 50: 'esp', 51: 'ah', 58: 'icmpv6', 59: 'ipv6_no_next', 89: 'ospf', 103: 'pim', 112: 'vrrp' };
/** link types linkToL3 reads: a failure there is a short or odd header, not an unknown link type */
const KNOWN_LINKTYPES = new Set<number>(Object.values(LINKTYPE));

const EMPTY = Buffer.alloc(0);
const EMPTY_RECORD: CaptureRecord = new ReaderRecord(0, 0, 0, 0, 0, 0, 0, 0, EMPTY, 0);

export class Dissector {
  readonly stats: DissectorStats;
  private readonly ipr: IpReassembler;
  private readonly tcp: TcpReassembler;
  private readonly sctpr: SctpReassembler;
  private readonly framerLimits: FramerLimits;
  private readonly maxDepth: number;
  private readonly addrs = new AddressCache();
  private readonly pos: L3Pos = { etherType: 0, off: 0 };
  private readonly h: IpHeader = newIpHeader();
  // per-packet context
  private rec: CaptureRecord | null = null;
  private readonly keepFrames: boolean;
  /** keepFrames: earlier fragments' frames by datagram key; TCP segments held back (out of order) by flow */
  private readonly fragFrames = new Map<string, CaptureRecord[]>();
  private readonly parkedSegments = new Map<string, CaptureRecord[]>();
  /** the earlier fragments of the datagram being handled (while its reassembled payload is dissected) */
  private curFragFrames: CaptureRecord[] | null = null;
  /** set when the TCP segment being handled delivered bytes to its stream */
  private delivered = false;
  private out: Unit[] = NONE;
  // pushEach: units collected in one reused array, UDP datagrams in one reused unit
  private reuse = false;
  private readonly each: Unit[] = [];
  private eachN = 0;
  private readonly udpUnit = new LazyUnit(0, 0, 'udp', 4, EMPTY_RECORD, this.addrs, EMPTY, 0, 0, 0, 0, EMPTY, 0, 0, null, null);
  private udpUsed = false;

  constructor(opts: DissectorOptions = {}) {
    this.keepFrames = opts.keepFrames === true;
    this.ipr = new IpReassembler(opts.ip);
    this.framerLimits = { maxMessageBytes: 256 * 1024, maxProbeSegments: 8, ...opts.framing };
    const framing = newFramingStats();
    this.tcp = new TcpReassembler((key) => this.newStreamConsumer(key), opts.tcp);
    this.maxDepth = opts.maxTunnelDepth ?? 8;
    this.stats = {
      packets: 0,
      units: 0,
      udp: 0,
      tcpSegments: 0,
      notIp: 0,
      malformed: {},
      undecoded: {},
      ip: this.ipr.stats,
      tcp: this.tcp.stats,
      framing,
      sctp: newSctpStats(),
    };
    this.sctpr = new SctpReassembler(this.stats.sctp, this.framerLimits.maxMessageBytes);
  }

  /** Bytes held for reassembly (IP fragments, TCP out-of-order data and partial messages). */
  get bufferedBytes(): number {
    return this.ipr.stats.bufferedBytes + this.tcp.stats.bufferedBytes + this.stats.sctp.bufferedBytes;
  }

  /** Dissects one frame; returns the units it completed (often none, usually one). Never throws. */
  push(rec: CaptureRecord): Unit[] {
    this.reuse = false;
    this.dissect(rec);
    const out = this.out;
    this.out = NONE;
    return out;
  }

  /**
   * Like push, for consumers that look at each unit once and keep none: `fn` gets the units one by
   * one, and a UDP datagram's unit is an object the dissector reuses for the next frame (no object
   * per datagram). Use a unit only during the call. Errors thrown by `fn` propagate.
   */
  pushEach(rec: CaptureRecord, fn: (u: Unit) => void): void {
    this.reuse = true;
    this.udpUsed = false;
    this.eachN = 0;
    this.dissect(rec);
    this.reuse = false;
    const list = this.each;
    const n = this.eachN;
    for (let i = 0; i < n; i++) {
      const u = list[i];
      list[i] = this.udpUnit; // drop the reference (a placeholder keeps the array's element kind)
      fn(u);
    }
  }

  private dissect(rec: CaptureRecord): void {
    this.stats.packets++;
    this.rec = rec;
    this.out = NONE;
    try {
      // reader records expose their chunk and offset: no Buffer view per frame on the hot path
      let b: Buffer;
      let off = 0;
      let end: number;
      if (rec instanceof ReaderRecord) {
        b = rec.buf;
        off = rec.offset;
        end = off + rec.caplen;
      } else {
        b = rec.data;
        end = b.length;
      }
      if (!linkToL3(rec.linkType, b, off, end, this.pos)) this.notDecodedLink(rec.linkType, b, off, end);
      else this.l3(this.pos.etherType, b, this.pos.off, end, 0);
    } catch {
      // a bug, not an input problem: keep going, but make it visible
      this.malformed('internal_error');
    }
    this.rec = null;
  }

  private malformed(reason: string): void {
    this.stats.malformed[reason] = (this.stats.malformed[reason] ?? 0) + 1;
  }

  private undecoded(kind: string): void {
    this.stats.undecoded[kind] = (this.stats.undecoded[kind] ?? 0) + 1;
  }

  private notIp(kind: string): void {
    this.stats.notIp++;
    this.undecoded(kind);
  }

  private notDecodedLink(linkType: number, b: Buffer, off: number, end: number): void {
    if (linkType === LINKTYPE.ETHERNET && end - off >= 14) {
      const t = u16(b, off + 12);
      // 802.3 frames with a length field carry LLC (STP, CDP…); a tag stack that ends too early is short
      return t < 0x0600 ? this.notIp('llc') : this.malformed('ethernet_short');
    }
    if (KNOWN_LINKTYPES.has(linkType)) return this.malformed('link_header');
    this.notIp(`linktype_${linkType}`);
  }

  /** A tunnel header read by tunnels.ts: follow the inner packet, or count why not. */
  private tunnel(r: TunnelResult, b: Buffer, end: number, depth: number): void {
    if (r === TUNNEL_INNER) return this.l3(this.pos.etherType, b, this.pos.off, end, depth + 1);
    if (typeof r === 'string') {
      if (r.startsWith('undecoded:')) this.undecoded(r.slice(10));
      else this.malformed(r);
    }
  }

  private l3(type: number, b: Buffer, off: number, end: number, depth: number): void {
    if (depth > this.maxDepth) return this.malformed('tunnel_depth');
    if (type === ETHERTYPE.RAW_IP) type = rawIpEtherType(b, off, end);
    if (type === ETHERTYPE.ETHERNET) {
      if (!ethernetToL3(b, off, end, this.pos)) return end - off >= 14 && u16(b, off + 12) < 0x0600 ? this.notIp('llc') : this.malformed('ethernet_short');
      return this.l3(this.pos.etherType, b, this.pos.off, end, depth + 1);
    }
    const h = this.h;
    let err: string | null;
    if (type === ETHERTYPE.IPV4) err = parseIpv4(b, off, end, h);
    else if (type === ETHERTYPE.IPV6) err = parseIpv6(b, off, end, h);
    else if (type === ETHERTYPE.MPLS || type === ETHERTYPE.MPLS_MC) return this.tunnel(mplsToL3(b, off, end, this.pos), b, end, depth);
    else if (type === -1) return this.malformed('ip_version');
    else return this.notIp(ETHERTYPE_NAMES[type] ?? `ethertype_0x${type.toString(16).padStart(4, '0')}`);
    if (err !== null) return this.malformed(err);
    if (h.fragment) {
      const key = this.fragKey(h);
      const whole = this.ipr.add(key, h.fragOffset, h.fragMore, b.subarray(h.payloadOff, h.payloadEnd), this.rec!.tsUs);
      if (!this.keepFrames) {
        if (whole === null) return;
        return this.l4(h, whole, 0, whole.length, depth);
      }
      if (whole === null) {
        keepFrame(this.fragFrames, key, [copyRecord(this.rec!)]);
        return;
      }
      const earlier = this.fragFrames.get(key) ?? null;
      this.fragFrames.delete(key);
      this.curFragFrames = earlier;
      try {
        return this.l4(h, whole, 0, whole.length, depth);
      } finally {
        this.curFragFrames = null;
      }
    }
    this.l4(h, b, h.payloadOff, h.payloadEnd, depth);
  }

  private fragKey(h: IpHeader): string {
    const len = h.version === 4 ? 4 : 16;
    return `${h.version}|${h.buf.toString('latin1', h.srcOff, h.srcOff + len)}|${h.buf.toString('latin1', h.dstOff, h.dstOff + len)}|${h.fragId}|${h.proto}`;
  }

  private l4(h: IpHeader, b: Buffer, off: number, end: number, depth: number): void {
    switch (h.proto) {
      case IPPROTO.UDP:
        return this.udp(h, b, off, end, depth);
      case IPPROTO.TCP:
        return this.tcpSegment(h, b, off, end);
      case IPPROTO.SCTP:
        return this.sctp(h, b, off, end);
      case IPPROTO.IPIP:
        return this.l3(ETHERTYPE.IPV4, b, off, end, depth + 1);
      case IPPROTO.IPV6:
        return this.l3(ETHERTYPE.IPV6, b, off, end, depth + 1);
      case IPPROTO.GRE:
        return this.gre(b, off, end, depth);
      default:
        // ICMP, ESP, OSPF…: not ours, but counted (an encapsulation we do not follow shows up here)
        return this.undecoded(IPPROTO_NAMES[h.proto] ?? `ipproto_${h.proto}`);
    }
  }

  private endpoint(h: IpHeader, src: boolean, port: number): Endpoint {
    return { ip: this.addrs.at(h.version, h.buf, src ? h.srcOff : h.dstOff), port };
  }

  private emit(unit: Unit): void {
    this.stats.units++;
    if (this.reuse) this.each[this.eachN++] = unit;
    else if (this.out === NONE) this.out = [unit];
    else this.out.push(unit);
  }

  private udp(h: IpHeader, b: Buffer, off: number, end: number, depth: number): void {
    if (end - off < 8) return this.malformed('udp_short');
    const len = u16(b, off + 4);
    let pend = off + len;
    if (len < 8) {
      if (len !== 0 || h.version !== 6) return this.malformed('udp_length');
      pend = end; // jumbogram (RFC 2675)
    } else if (pend > end) {
      // Longer than the IP payload: cut by the snap length, or a bogus length. Like tshark, keep
      // the bytes the IP layer delimits (and count the lie).
      if (!h.cut) this.malformed('udp_length_exceeds_ip');
      pend = end;
    }
    const sport = u16(b, off);
    const dport = u16(b, off + 2);
    // Overlay tunnels on their IANA ports; a header that is not the tunnel's is ordinary UDP (RTP
    // may use these ports), as tunnels.ts decides.
    if (dport === TUNNEL_UDP_PORT.GTPU || sport === TUNNEL_UDP_PORT.GTPU || dport === TUNNEL_UDP_PORT.VXLAN || dport === TUNNEL_UDP_PORT.GENEVE) {
      const port = dport === TUNNEL_UDP_PORT.GTPU || sport === TUNNEL_UDP_PORT.GTPU ? TUNNEL_UDP_PORT.GTPU : dport;
      const r =
        port === TUNNEL_UDP_PORT.GTPU ? gtpuToL3(b, off + 8, pend, this.pos) : port === TUNNEL_UDP_PORT.VXLAN ? vxlanToL3(b, off + 8, pend, this.pos) : geneveToL3(b, off + 8, pend, this.pos);
      if (r !== TUNNEL_NOT) return this.tunnel(r, b, pend, depth);
    }
    this.stats.udp++;
    const rec = this.rec!;
    if (this.reuse && !this.udpUsed) {
      this.udpUsed = true;
      const u = this.udpUnit;
      u.setUdp(rec, h.version, h.buf, h.srcOff, h.dstOff, sport, dport, b, off + 8, pend);
      u.earlierFrames = this.curFragFrames;
      return this.emit(u);
    }
    const u = new LazyUnit(rec.frame, rec.tsUs, 'udp', h.version, rec, this.addrs, h.buf, h.srcOff, h.dstOff, sport, dport, b, off + 8, pend, null, null);
    u.earlierFrames = this.curFragFrames;
    this.emit(u);
  }

  // TCP: the stream key carries the endpoints, so the consumer can label its messages.
  // The segment being handled, for newStreamConsumer: endpoints are made only for a new stream.
  private curH: IpHeader | null = null;
  private curSport = 0;
  private curDport = 0;

  private tcpSegment(h: IpHeader, b: Buffer, off: number, end: number): void {
    if (end - off < 20) return this.malformed('tcp_short');
    const doff = (b[off + 12] >> 4) * 4;
    if (doff < 20 || doff > end - off) return this.malformed('tcp_header_length');
    this.stats.tcpSegments++;
    this.curH = h;
    this.curSport = u16(b, off);
    this.curDport = u16(b, off + 2);
    const key = flowKey(h, b, off);
    this.delivered = false;
    this.tcp.segment(key, b.readUInt32BE(off + 4), b[off + 13], b.subarray(off + doff, end), this.rec!.tsUs);
    this.curH = null;
    // a segment with data that delivered nothing was held back (out of order) or repeated bytes
    // (a retransmission): its frame goes with the next message of the flow
    if (this.keepFrames && !this.delivered && end - off > doff) keepFrame(this.parkedSegments, key, [...(this.curFragFrames ?? []), copyRecord(this.rec!)]);
  }

  /**
   * A TCP stream carries SIP (framed by Content-Length, or WebSocket after an Upgrade) unless its
   * first bytes are "HEP3": then it is HEP over TCP (Kamailio/heplify `tcp:` transport) and each HEP
   * packet becomes a unit (transport 'tcp'; the consumer decodes the HEP).
   */
  private newStreamConsumer(key: string): StreamConsumer {
    const h = this.curH!;
    const src = this.endpoint(h, true, this.curSport);
    const dst = this.endpoint(h, false, this.curDport);
    const ipVersion = h.version;
    let sip: SipStreamFramer | null = null;
    let hep: HepStreamFramer | null = null;
    /**
     * keepFrames: copies of the frames whose bytes the framer holds (a message begun, not finished).
     * The first message a delivery completes was carried by them, by the parked and fragment frames,
     * and by the current frame; a later message of the same delivery by the current frame (and its
     * fragments) only. A frame that ends one message and starts the next is listed for both (the
     * agent sends a frame once per session).
     */
    let held: CaptureRecord[] = [];
    let earlier: CaptureRecord[] | null = null;
    const onMessage = (payload: Buffer, kind: FramedKind): void => {
      const rec = this.rec;
      if (rec === null) return;
      const u = this.messageUnit(rec, kind, ipVersion, src, dst, payload);
      if (earlier !== null) {
        u.earlierFrames = earlier.length > 0 ? earlier : null;
        earlier = this.curFragFrames ?? [];
      }
      this.emit(u);
    };
    const framed = (data: Buffer): void => {
      if (sip === null && hep === null) {
        if (data.length >= 4 && data[0] === 0x48 && data[1] === 0x45 && data[2] === 0x50 && data[3] === 0x33) hep = new HepStreamFramer();
        else sip = new SipStreamFramer(this.stats.framing, this.framerLimits);
      }
      if (sip !== null) return sip.push(data, onMessage);
      for (const p of hep!.push(data)) onMessage(p, 'tcp');
      if (hep!.pending > this.framerLimits.maxMessageBytes) hep = new HepStreamFramer(); // bounded
    };
    return {
      push: (data: Buffer) => {
        this.delivered = true;
        if (!this.keepFrames) return framed(data);
        const parked = this.parkedSegments.get(key);
        if (parked !== undefined) this.parkedSegments.delete(key);
        earlier = [...held, ...(parked ?? []), ...(this.curFragFrames ?? [])];
        const before = earlier;
        framed(data);
        const completed = earlier !== before;
        earlier = null;
        // what the framer still holds began in the frames since the last completed message
        const pendingBytes = sip !== null ? sip.bufferedBytes : hep !== null ? hep.pending : 0;
        held = pendingBytes === 0 ? [] : [...(completed ? (this.curFragFrames ?? []) : before), copyRecord(this.rec!)].slice(-KEPT_FRAMES_PER_UNIT);
      },
      gap: () => {
        if (sip !== null) sip.gap();
        else if (hep !== null) hep = new HepStreamFramer();
      },
      get bufferedBytes() {
        return sip !== null ? sip.bufferedBytes : hep !== null ? hep.pending : 0;
      },
    };
  }

  private messageUnit(rec: CaptureRecord, transport: Transport, ipVersion: 4 | 6, src: Endpoint, dst: Endpoint, payload: Buffer): LazyUnit {
    return new LazyUnit(rec.frame, rec.tsUs, transport, ipVersion, rec, this.addrs, payload, 0, 0, src.port, dst.port, payload, 0, payload.length, src, dst);
  }

  private sctp(h: IpHeader, b: Buffer, off: number, end: number): void {
    if (end - off < 12) return this.malformed('sctp_short');
    const rec = this.rec!;
    const src = this.endpoint(h, true, u16(b, off));
    const dst = this.endpoint(h, false, u16(b, off + 2));
    const ipVersion = h.version;
    const flow = flowKey(h, b, off);
    sctpData(b, off, end, this.stats.sctp, (c) => {
      const payload = this.sctpr.chunk(flow, c);
      if (payload === null) return;
      this.emit(this.messageUnit(rec, 'sctp', ipVersion, src, dst, payload));
    });
  }

  /** GRE (RFC 2784/2890) and enhanced GRE v1 (PPTP, RFC 2637 §4.1). */
  private gre(b: Buffer, off: number, end: number, depth: number): void {
    if (end - off < 4) return this.malformed('gre_short');
    const f = u16(b, off);
    const version = f & 7;
    const proto = u16(b, off + 2);
    let o = off + 4;
    const seq = (f & 0x1000) !== 0;
    if (version === 0) {
      if ((f & 0x8000) !== 0 || (f & 0x4000) !== 0) o += 4; // checksum (+ reserved1 / offset)
      if ((f & 0x2000) !== 0) o += 4; // key
      if (seq) o += 4;
      if ((f & 0x4000) !== 0) {
        // source routing (RFC 1701): SREs until a zero-length one
        for (let i = 0; i < 16; i++) {
          if (end - o < 4) return this.malformed('gre_short');
          const sreLen = b[o + 3];
          o += 4 + sreLen;
          if (sreLen === 0) break;
        }
      }
    } else if (version === 1) {
      o += 4; // key: payload length + call id (mandatory in v1)
      if (seq) o += 4;
      if ((f & 0x0080) !== 0) o += 4; // acknowledgment number
    } else return this.malformed('gre_version');
    if (o > end) return this.malformed('gre_short');
    if (proto === ETHERTYPE.TEB) return this.l3(ETHERTYPE.ETHERNET, b, o, end, depth + 1);
    if (proto === ETHERTYPE.ERSPAN2) {
      // ERSPAN type II has an 8-byte header and sets the GRE sequence bit; type I has neither
      if (seq) o += 8;
      if (o > end) return this.malformed('erspan_short');
      return this.l3(ETHERTYPE.ETHERNET, b, o, end, depth + 1);
    }
    if (proto === ETHERTYPE.ERSPAN3) {
      // ERSPAN type III: 12-byte header, plus an 8-byte platform sub-header when O is set
      if (end - o < 12) return this.malformed('erspan_short');
      const withSub = (b[o + 11] & 1) !== 0;
      o += withSub ? 20 : 12;
      if (o > end) return this.malformed('erspan_short');
      return this.l3(ETHERTYPE.ETHERNET, b, o, end, depth + 1);
    }
    if (proto === ETHERTYPE.PPP) {
      if (!pppToL3(b, o, end, this.pos)) return this.notIp('ppp_non_ip');
      return this.l3(this.pos.etherType, b, this.pos.off, end, depth + 1);
    }
    if (!etherTypeAt(proto, b, o, end, this.pos)) return this.malformed('gre_short');
    this.l3(this.pos.etherType, b, this.pos.off, end, depth + 1);
  }
}
