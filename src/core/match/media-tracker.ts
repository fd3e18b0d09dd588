// Media attribution (DESIGN §5 "RTP/RTCP: streams whose addresses were negotiated in the SDP of a
// matched dialog"): the table of media addresses learnt from the SDP of captured dialogs, the choice
// of the dialog a media datagram belongs to, its classification (RFC 7983), per-stream RTP quality
// and the stream summaries. The engine hands it dialogs and packets; it owns no dialog life cycle.
import type { SipMessage } from '../../protocol/sip.js';
import { sdpOfBody } from '../../protocol/sip-body.js';
import type { MediaHit, PacketMeta, StatsEvent } from './engine-types.js';
import { expired, own, St, textHash, type Dialog, type SessionState } from './dialog.js';
import type { MessageView } from './message-view.js';
import { RtpStream } from './rtp-stats.js';
import { sdpMedia } from './sdp-media.js';
import { headerTag } from './uri-parts.js';
import { canonicalIp } from './ip-match.js';

/**
 * A media address as a table key: IPv4 as a number (address × 65536 + port, exact below 2^53),
 * anything else as "ip|port" text in the normalized form (normIp).
 */
type MediaKey = number | string;

/**
 * One side of a dialog's media (one UA and hop, see learnMedia) and its claim on the addresses its
 * latest SDP offered: the table of media addresses maps each key to the sides claiming it.
 */
interface Side {
  readonly d: Dialog;
  /** textHash of "tag|sender ip" (a collision needs two sides of one dialog to agree on 30 bits) */
  readonly key: number;
  /**
   * the media addresses of its SDP (the same key values as in the table): the first two in fields
   * (RTP and RTCP of one m= line, the common case), the others in `more` (no array per side then)
   */
  readonly e0: MediaKey | undefined;
  readonly e1: MediaKey | undefined;
  readonly more: readonly MediaKey[] | null;
  /** order of the SDP that made the claim (engine-wide, increasing) */
  readonly seq: number;
  /**
   * set on a latched side (no SDP: the address the far side's media really came from, behind a NAT):
   * the SDP address of this dialog it was sending to, so each address latches one source only
   */
  readonly latchedTo: MediaKey | undefined;
}

type Codec = { codec: string; clockRate: number };
/** payload type → codec; shared by the dialogs that negotiated the same table, never mutated */
type PayloadTable = ReadonlyMap<number, Codec>;

const NO_PAYLOADS: PayloadTable = new Map();
const NO_STREAMS: RtpStream[] = [];
const NO_SIDES: Side[] = [];
const NO_KEYS: readonly MediaKey[] = [];

// Per dialog only what differs between dialogs: sides in an exact-size array (1–2 usually), the
// payload table and codec entries shared through small intern tables, streams made on the first one.
export class DialogMedia {
  sides: Side[] = NO_SIDES;
  payloads: PayloadTable = NO_PAYLOADS;
  ptimeMs: number | undefined;
  streams: RtpStream[] = NO_STREAMS;
  other = 0;
  /** its SDP addresses that media reached from the negotiated peer (no NAT latching for them) */
  heard: readonly MediaKey[] = NO_KEYS;
}

/** Intern tables (bounded: once full, new entries are simply not shared). */
const INTERN_MAX = 4096;
const codecs = new Map<string, Codec>();
const payloadTables = new Map<string, PayloadTable>();

function internCodec(c: Codec): Codec {
  const k = `${c.codec}/${c.clockRate}`;
  const got = codecs.get(k);
  if (got !== undefined) return got;
  const fresh = { codec: own(c.codec), clockRate: c.clockRate };
  if (codecs.size < INTERN_MAX) codecs.set(own(k), fresh);
  return fresh;
}

/** `base` with `add`'s entries over it, as a shared table */
function mergePayloads(base: PayloadTable, add: ReadonlyMap<number, Codec>): PayloadTable {
  const merged = new Map(base);
  for (const [pt, c] of add) merged.set(pt, internCodec(c));
  const pts = [...merged.keys()].sort((a, b) => a - b);
  let k = '';
  for (const pt of pts) {
    const c = merged.get(pt)!;
    k += `${pt} ${c.codec}/${c.clockRate};`;
  }
  const got = payloadTables.get(k);
  if (got !== undefined) return got;
  if (payloadTables.size < INTERN_MAX) payloadTables.set(own(k), merged);
  return merged;
}
/** latched far-side addresses per dialog (audio, video, a few re-INVITEs): bounds what a flood can add */
const MAX_LATCHES = 8;
/** SDP addresses of dialogs not captured (see noteForeignSdp), remembered oldest-first */
const FOREIGN_MAX = 65536;

export interface MediaOptions {
  rtpSampleFirst: number;
  rtpSampleEvery: number;
  maxStreamsPerDialog: number;
  statsIntervalUs: number;
}

export class MediaTracker {
  /** dialogs with RTP streams (stream summaries) */
  private readonly mediaDialogs = new Set<Dialog>();
  /**
   * media address (mediaKey) → the side claiming it, or the sides when several do: media endpoints
   * learned from SDP. Several dialogs may claim one address (a UAS answering every call from one
   * port, a port handed out again while the previous call lingers); one claim is the common case.
   */
  private readonly mediaAt = new Map<MediaKey, Side | Side[]>();
  private sdpSeq = 0;
  private nextStatsUs = 0;
  /**
   * media addresses offered in the SDP of dialogs no session captured: a source one of them claims is
   * never latched to a captured dialog (the RTP of an uncaptured call sent to a shared media port)
   */
  private readonly foreign = new Set<MediaKey>();
  /** far-side addresses latched so far (media behind NAT), for the counters */
  latched = 0;

  constructor(
    private readonly opts: MediaOptions,
    private readonly onStats: ((ev: StatsEvent) => void) | undefined,
  ) {}

  /** true while any media address is tracked: only then can a non-SIP datagram be media */
  get active(): boolean {
    return this.mediaAt.size > 0;
  }

  /** A dialog leaves the engine: final summaries (when `final` or it still has sessions), addresses released. */
  release(d: Dialog, final: boolean): void {
    if (d.media === null) return;
    if (final || d.sessions.length > 0) this.emitStats(d, true, undefined);
    for (const side of d.media.sides) this.unbind(side);
    this.mediaDialogs.delete(d);
  }

  /** Periodic stream summaries, every statsIntervalUs of capture time. */
  periodic(now: number): void {
    const every = this.opts.statsIntervalUs;
    if (every > 0 && this.mediaDialogs.size > 0) {
      if (this.nextStatsUs === 0) this.nextStatsUs = now + every;
      else if (now >= this.nextStatsUs) {
        this.nextStatsUs = now + every;
        for (const d of this.mediaDialogs) this.emitStats(d, false, undefined);
      }
    }
  }

  /** End of input (filter) or shutdown: final summaries of every stream still tracked. */
  flush(): void {
    for (const d of this.mediaDialogs) this.emitStats(d, true, undefined);
    for (const d of this.mediaDialogs) if (d.media !== null) d.media.streams = NO_STREAMS;
  }

  /** SDP of a message of captured dialog `d`: its sender's side of the media. */
  learn(d: Dialog, msg: SipMessage, v: MessageView, meta: PacketMeta): void {
    if (msg.body.length === 0) return;
    let rtp = false;
    for (const s of d.sessions) if (s.captureRtp) rtp = true;
    if (!rtp) return;
    const body = sdpOfBody(msg.header('content-type'), msg.body); // multipart (SIP-I/SIP-T) included
    if (body === undefined) return;
    const sdp = sdpMedia(body);
    const media = (d.media ??= new DialogMedia());
    if (sdp.payloads.size > 0) media.payloads = mergePayloads(media.payloads, sdp.payloads);
    if (sdp.ptimeMs !== undefined) media.ptimeMs = sdp.ptimeMs;
    // One side per UA and hop: the sender's tag (From-tag on requests, To-tag on responses) and the
    // sender's address, so a proxy's copy with media-relay addresses (rtpengine) does not hide the
    // UA's own. A new offer or answer from that side (re-INVITE, UPDATE) replaces its addresses.
    const tag = msg.isRequest ? headerTag(msg.header('from')) : (v.toTag ?? undefined);
    const key = textHash(tag !== undefined ? `${tag}|${meta.src.ip}` : `|${meta.src.ip}|${meta.src.port}`);
    const sides = media.sides;
    let at = -1;
    for (let i = 0; i < sides.length; i++) if (sides[i].key === key) at = i;
    if (at >= 0) this.unbind(sides[at]);
    const eps: MediaKey[] = [];
    for (const e of sdp.endpoints) {
      const k = mediaKey(e.ip, e.port);
      if (!eps.includes(k)) eps.push(typeof k === 'string' ? own(k) : k);
    }
    const side: Side = { d, key, seq: ++this.sdpSeq, e0: eps[0], e1: eps[1], more: eps.length > 2 ? eps.slice(2) : null, latchedTo: undefined };
    if (at >= 0) {
      const next = sides.slice();
      next[at] = side;
      media.sides = next;
    } else {
      media.sides = sides.length === 0 ? [side] : [...sides, side];
    }
    this.bind(side);
  }

  /**
   * SDP of a message of no captured dialog (only read while a session captures RTP): its media
   * addresses are claimed by another dialog, so RTP from them is never latched to a captured one.
   */
  noteForeignSdp(body: Buffer): void {
    for (const e of sdpMedia(body).endpoints) this.rememberForeign(mediaKey(e.ip, e.port));
  }

  private rememberForeign(k: MediaKey): void {
    if (this.foreign.has(k)) return;
    if (this.foreign.size >= FOREIGN_MAX) this.foreign.delete(this.foreign.values().next().value!);
    this.foreign.add(typeof k === 'string' ? own(k) : k);
  }

  private bind(side: Side): void {
    for (let i = 0, k = side.e0; k !== undefined; k = keyOf(side, ++i)) {
      const cur = this.mediaAt.get(k);
      if (cur === undefined) this.mediaAt.set(k, side);
      else if (Array.isArray(cur)) cur.push(side);
      else this.mediaAt.set(k, [cur, side]);
    }
  }

  /**
   * Symmetric RTP / latching, as SBCs and rtpengine do it (RFC 4961; RFC 7362 §4): media sent to an
   * SDP address of exactly one live captured dialog, from a source no SDP claims, is that dialog's
   * far side behind a NAT (or a media server answering from another interface). The first such
   * source latches: its address (and port+1 for RTCP) becomes a side of the dialog, so the rest of
   * the stream and the reverse direction match on the 5-tuple.
   */
  private latch(meta: PacketMeta, srcKey: MediaKey, dstKey: MediaKey, atDst: Side | Side[], now: number): Dialog | null {
    if (this.foreign.has(srcKey)) return null;
    let d: Dialog | null = null;
    let ended: Dialog | null = null;
    const n = Array.isArray(atDst) ? atDst.length : 1;
    for (let i = 0; i < n; i++) {
      const c = Array.isArray(atDst) ? atDst[i] : atDst;
      if (c.latchedTo !== undefined || expired(c.d, now)) continue;
      if (c.d.state === St.Ended) {
        if (ended !== null && ended !== c.d) return null;
        ended = c.d;
        continue;
      }
      if (d !== null && d !== c.d) return null; // a shared media port: which call it is, is unknowable
      d = c.d;
    }
    d ??= ended;
    if (d === null || d.media === null || d.media.heard.includes(dstKey)) return null;
    let latches = 0;
    for (const side of d.media.sides) {
      if (side.latchedTo === undefined) continue;
      if (side.latchedTo === dstKey) return null; // that address already latched another source
      latches++;
    }
    if (latches >= MAX_LATCHES) return null;
    const rtcp = meta.src.port < 65535 ? mediaKey(meta.src.ip, meta.src.port + 1) : undefined;
    const side: Side = {
      d,
      key: -1 - latches,
      seq: ++this.sdpSeq,
      e0: typeof srcKey === 'string' ? own(srcKey) : srcKey,
      e1: rtcp !== undefined && !this.mediaAt.has(rtcp) && !this.foreign.has(rtcp) ? (typeof rtcp === 'string' ? own(rtcp) : rtcp) : undefined,
      more: null,
      latchedTo: dstKey,
    };
    d.media.sides = [...d.media.sides, side];
    this.bind(side);
    this.latched++;
    return d;
  }

  private unbind(side: Side): void {
    for (let i = 0, k = side.e0; k !== undefined; k = keyOf(side, ++i)) {
      // an address an SDP named (a side moved by a re-INVITE, a call that ended) is no NAT source
      if (side.latchedTo === undefined) this.rememberForeign(k);
      const cur = this.mediaAt.get(k);
      if (cur === undefined) continue;
      if (cur === side) {
        this.mediaAt.delete(k);
      } else if (Array.isArray(cur)) {
        const rest = cur.filter((x) => x !== side);
        if (rest.length === 0) this.mediaAt.delete(k);
        else this.mediaAt.set(k, rest.length === 1 ? rest[0] : rest);
      }
    }
  }


  // The dialog a media packet belongs to. A dialog whose SDP names both the source and the
  // destination (the 5-tuple) beats one that names only one of them; a live dialog beats one that
  // ended and lingers; then the most recent SDP wins. A dialog that knows the media addresses of
  // more than one side (offer and answer) takes a packet only on its 5-tuple: a shared address
  // (sipp's echo UAS, a media server's single port) otherwise pulls in the RTP of calls the engine
  // does not capture. With only one side known (offer without answer) one address is enough.
  //
  // A packet to a dialog's SDP address from a source that no SDP names (NAT) latches that source
  // (latch()): the dialog's SDP addresses of the far side are then private or stale ones.
  find(meta: PacketMeta, now: number): Dialog | null {
    const dstKey = mediaKey(meta.dst.ip, meta.dst.port);
    const srcKey = mediaKey(meta.src.ip, meta.src.port);
    const atDst = this.mediaAt.get(dstKey);
    const atSrc = this.mediaAt.get(srcKey);
    if (atDst === undefined && atSrc === undefined) return null;
    const d = this.findBy(atDst, atSrc, now);
    if (d === null) return atSrc === undefined ? this.latch(meta, srcKey, dstKey, atDst!, now) : null;
    if (this.full && atDst !== undefined) {
      // its negotiated peer sends to this address: no NAT in between, nothing to latch there
      const m = d.media!;
      if (!m.heard.includes(dstKey)) m.heard = [...m.heard, typeof dstKey === 'string' ? own(dstKey) : dstKey];
    }
    return d;
  }

  /** whether the last findBy() matched on both addresses */
  private full = false;

  private findBy(atDst: Side | Side[] | undefined, atSrc: Side | Side[] | undefined, now: number): Dialog | null {
    let best: Dialog | null = null;
    let bestRank = -1;
    let bestSeq = -1;
    for (let pass = 0; pass < 2; pass++) {
      const here = pass === 0 ? atDst : atSrc;
      const there = pass === 0 ? atSrc : atDst;
      if (here === undefined) continue;
      const hn = Array.isArray(here) ? here.length : 1;
      for (let i = 0; i < hn; i++) {
        const c = Array.isArray(here) ? here[i] : here;
        const d = c.d;
        if (expired(d, now)) continue;
        let seq = c.seq;
        let full = false;
        if (there !== undefined) {
          const tn = Array.isArray(there) ? there.length : 1;
          for (let j = 0; j < tn; j++) {
            const t = Array.isArray(there) ? there[j] : there;
            if (t.d === d) {
              full = true;
              if (t.seq > seq) seq = t.seq;
            }
          }
        }
        if (!full && d.media !== null && sidesWithMedia(d.media) > 1) continue;
        const rank = (full ? 2 : 0) + (d.state === St.Ended ? 0 : 1);
        if (rank > bestRank || (rank === bestRank && seq > bestSeq)) {
          best = d;
          this.full = full;
          bestRank = rank;
          bestSeq = seq;
        }
      }
    }
    return best;
  }

  /** A media datagram of `d` (found by find()) classified and counted for its sessions that capture RTP. */
  take(d: Dialog, meta: PacketMeta, p: Buffer): MediaHit | null {
    const sessions: string[] = [];
    const takers: SessionState[] = [];
    for (const s of d.sessions) {
      if (!s.captureRtp) continue;
      sessions.push(s.id);
      takers.push(s);
    }
    if (sessions.length === 0) return null;
    const media = d.media!;
    const b0 = p[0];
    let hit: MediaHit;
    if (b0 <= 3 && p.length >= 20) {
      hit = { kind: 'webrtc', protocol: 'stun', callId: d.callId, sessions, sample: true };
    } else if (b0 >= 20 && b0 <= 63 && p.length >= 13) {
      hit = { kind: 'webrtc', protocol: 'dtls', callId: d.callId, sessions, sample: true };
    } else if (b0 >= 128 && b0 <= 191 && p.length >= 8) {
      const b1 = p[1];
      if (b1 >= 192 && b1 <= 223) {
        // RFC 5761 §4: RTCP packet types 192–223 occupy the second byte; RTP cannot use them there.
        hit = { kind: 'rtcp', protocol: 'rtcp', callId: d.callId, sessions, sample: true };
      } else if (p.length >= 12) {
        const pt = b1 & 0x7f;
        const seq = p.readUInt16BE(2);
        const ts = p.readUInt32BE(4);
        const ssrc = p.readUInt32BE(8);
        const stream = this.stream(d, media, ssrc, meta);
        let sample = true;
        let codec: string | undefined;
        if (stream !== null) {
          const map = media.payloads.get(pt);
          stream.update(seq, ts, pt, meta.tsUs, map, (b1 & 0x80) !== 0);
          if (stream.ptimeMs === undefined) stream.ptimeMs = media.ptimeMs;
          const n = stream.packets;
          const first = this.opts.rtpSampleFirst;
          sample = n <= first || (n - first) % this.opts.rtpSampleEvery === 0;
          codec = stream.codec;
        }
        hit = {
          kind: 'rtp',
          protocol: 'rtp',
          callId: d.callId,
          sessions,
          sample,
          rtp: { ssrc, pt, seq, ts, marker: (b1 & 0x80) !== 0, codec },
        };
      } else {
        return null;
      }
    } else {
      // Other media on a negotiated address (T.38 UDPTL, …): kept as media, sampled per dialog.
      media.other++;
      const n = media.other;
      const first = this.opts.rtpSampleFirst;
      hit = {
        kind: 'rtp',
        protocol: 'other',
        callId: d.callId,
        sessions,
        sample: n <= first || (n - first) % this.opts.rtpSampleEvery === 0,
      };
    }
    for (const s of takers) {
      if (hit.kind === 'rtp') s.counters.rtp++;
      else if (hit.kind === 'rtcp') s.counters.rtcp++;
      else s.counters.webrtc++;
      if (hit.sample) s.counters.samples++;
    }
    return hit;
  }

  private stream(d: Dialog, media: DialogMedia, ssrc: number, meta: PacketMeta): RtpStream | null {
    const list = media.streams;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.ssrc === ssrc && s.srcPort === meta.src.port && s.srcIp === meta.src.ip && s.dstPort === meta.dst.port) return s;
    }
    if (list.length >= this.opts.maxStreamsPerDialog) return null;
    const s = new RtpStream(ssrc, meta.src.ip, meta.src.port, meta.dst.ip, meta.dst.port);
    media.streams = list.length === 0 ? [s] : [...list, s];
    this.mediaDialogs.add(d); // the dialogs with streams: the ones stream summaries are made for
    return s;
  }

  emitStats(d: Dialog, final: boolean, only: string[] | undefined): void {
    const media = d.media;
    if (media === null || this.onStats === undefined) return;
    const ids = only ?? d.sessions.filter((s) => s.captureRtp).map((s) => s.id);
    if (ids.length === 0) return;
    for (const st of media.streams) {
      if (!final && st.packets === st.reportedPackets) continue;
      if (!final) st.reportedPackets = st.packets;
      this.onStats({ sessions: ids, callId: d.callId, stats: st.snapshot(), final });
    }
  }
}

const sidesWithMedia = (m: DialogMedia): number => {
  let n = 0;
  for (const side of m.sides) if (side.e0 !== undefined) n++;
  return n;
};

// Dissectors may print IPv4-mapped IPv6 for IPv4 peers, SDP never does; IPv6 has many text forms
// (`2001:db8::1` = `2001:DB8:0:0:0:0:0:1`): compare addresses, not text.
const normIp = (ip: string): string => canonicalIp(ip);

/** a side's i-th media address (undefined past the last) */
const keyOf = (side: Side, i: number): MediaKey | undefined =>
  i === 0 ? side.e0 : i === 1 ? side.e1 : side.more !== null && i - 2 < side.more.length ? side.more[i - 2] : undefined;

/** A dotted-quad IPv4 address read from `s` at `from` as a number, -1 when it is not one. */
function ipv4At(s: string, from: number): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 0x2e && digits > 0 && dots < 3) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

/** The table key of a media address (see MediaKey). */
function mediaKey(ip: string, port: number): MediaKey {
  const v4 = ipv4At(ip, ip.startsWith('::ffff:') ? 7 : 0);
  return v4 >= 0 ? v4 * 65536 + port : `${normIp(ip)}|${port}`;
}
