// The matching engine (DESIGN §5), shared by the agent and `tunaio filter`: many concurrent sessions,
// each with compiled criteria; a Call-ID table of the dialogs they captured (bounded, LRU-evicted,
// counted); the dialog life cycle that decides when a capture of a dialog ends; RTP/RTCP/STUN/DTLS
// attribution to dialogs through the SDP they negotiated; per-stream quality; log-line correlation.
//
// Time is the capture time of the packets (`tsUs`), never the clock, so a replay behaves like live.
// The engine clock only moves forward (the largest tsUs seen). Session expiry is the caller's
// business (`expireSessions(nowUs)` with the wall clock): old captures replayed into a live agent
// must not expire a session, and bogus future timestamps must not kill one.
//
// It owns no I/O: callers feed it datagrams (`onDatagram`), parsed SIP messages (`onSip`, e.g. from
// TCP framing or HEP) and log lines (`onLogLine`), and get hits back (null when nothing takes the
// input — the common, allocation-free path).
//
// Split by concern: engine-types.ts (public types), dialog.ts (the per-dialog and per-session
// records), dialog-table.ts (Call-ID table, LRU, deadlines, raw Call-ID lookup), dialog-life.ts
// (when a dialog ends), orientation.ts (caller side vs called side), media-tracker.ts (SDP
// endpoints, RTP/RTCP/STUN/DTLS attribution, stream stats).
import { looksLikeSip, parseSipDatagram } from '../../protocol/sip.js';
import type { SipMessage } from '../../protocol/sip.js';
import { compileCriteria } from './criteria.js';
import { MessageView } from './message-view.js';
import { rawHasHeader, sipStartAt } from './raw-scan.js';
import { creatorOf, Dialog, expired, Kind, kindOf, methodName, NO_SESSIONS, own, sameCriteria, SessionState, St, without } from './dialog.js';
import { DialogTable } from './dialog-table.js';
import { DialogLife } from './dialog-life.js';
import { Orientation } from './orientation.js';
import { DEFAULT_LINK_HEADERS, LegLinks, type LegGroup } from './leg-links.js';
import { MediaTracker } from './media-tracker.js';
import { headerTag } from './uri-parts.js';
import { canonicalIp } from './ip-match.js';
import type {
  EngineCounters,
  EngineOptions,
  LogHit,
  MediaHit,
  PacketMeta,
  SessionCounters,
  SessionSpec,
  SessionTake,
  SipHit,
} from './engine-types.js';

export type * from './engine-types.js';

const LOG_DELIMS = /[\s=,;"'[\]()<>]+/;

export class MatchEngine {
  readonly counters: EngineCounters = {
    sipMessages: 0,
    sipPrefiltered: 0,
    sipMatched: 0,
    sipMalformed: 0,
    sipWithoutCallId: 0,
    datagrams: 0,
    mediaMatched: 0,
    dialogsOpened: 0,
    dialogsEnded: 0,
    dialogsEvicted: 0,
    sessionsExpired: 0,
    logLines: 0,
    logMatched: 0,
    linksEvicted: 0,
  };
  private readonly opts: Required<Omit<EngineOptions, 'onStats' | 'tenantHeaders' | 'linkHeaders'>>;
  private readonly tenantHeaders: readonly string[] | undefined;
  private sessions: SessionState[] = [];
  private readonly byId = new Map<string, SessionState>();
  private readonly dialogs = new DialogTable();
  private readonly life: DialogLife;
  private readonly media: MediaTracker;
  private readonly orientation: Orientation;
  private readonly links: LegLinks;
  /** lowercase link header names + Session-ID + P-Charging-Vector: the raw check for an INVITE */
  private readonly linkNames: readonly string[];
  private identitySessions = 0;
  private rtpSessions = 0;
  private clock = 0;
  private nextSweepUs = 0;
  private readonly view = new MessageView();

  constructor(options: EngineOptions = {}) {
    this.opts = {
      lingerUs: options.lingerUs ?? 5_000_000,
      transactionTimeoutUs: options.transactionTimeoutUs ?? 32_000_000,
      provisionalTimeoutUs: options.provisionalTimeoutUs ?? 180_000_000,
      maxDialogs: options.maxDialogs ?? 100_000,
      maxDialogsPerSession: options.maxDialogsPerSession ?? 10_000,
      orientationCacheSize: options.orientationCacheSize ?? 65_536,
      rtpSampleFirst: options.rtpSampleFirst ?? 10,
      rtpSampleEvery: Math.max(1, options.rtpSampleEvery ?? 50),
      statsIntervalUs: options.statsIntervalUs ?? 5_000_000,
      maxStreamsPerDialog: options.maxStreamsPerDialog ?? 64,
      maxLinkKeys: options.maxLinkKeys ?? 200_000,
      inferLegs: options.inferLegs ?? true,
    };
    this.tenantHeaders = options.tenantHeaders;
    this.life = new DialogLife(this.dialogs, this.opts, this.counters);
    this.media = new MediaTracker(this.opts, options.onStats);
    this.orientation = new Orientation(this.opts.orientationCacheSize);
    const linkHeaders = (options.linkHeaders ?? DEFAULT_LINK_HEADERS).map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
    this.links = new LegLinks(linkHeaders, this.opts.maxLinkKeys);
    this.linkNames = [...linkHeaders, 'session-id', 'p-charging-vector'];
  }

  // ---- sessions -------------------------------------------------------------------------------

  /** Adds (or replaces the criteria of) a session. Throws TunaError on criteria the API would refuse. */
  addSession(spec: SessionSpec): void {
    const compiled = compileCriteria(spec.criteria, { tenantHeaders: this.tenantHeaders });
    const old = this.byId.get(spec.id);
    if (old !== undefined) {
      if (sameCriteria(old.compiled.criteria, spec.criteria) && old.captureRtp === (spec.captureRtp ?? false)) {
        old.expiresAtUs = spec.expiresAtUs; // idempotent re-assertion keeps the dialogs
        return;
      }
      this.removeSession(spec.id);
    }
    const s = new SessionState(spec, compiled);
    this.sessions = [...this.sessions, s];
    this.byId.set(s.id, s);
    if (compiled.usesIdentity) this.identitySessions++;
    if (s.captureRtp) this.rtpSessions++;
  }

  hasSession(id: string): boolean {
    return this.byId.has(id);
  }

  sessionIds(): string[] {
    return this.sessions.map((s) => s.id);
  }

  sessionCounters(id: string): SessionCounters | undefined {
    const s = this.byId.get(id);
    return s === undefined ? undefined : { ...s.counters, dialogs: s.dialogs };
  }

  /** Stops a session: final stream summaries for it, its dialogs released. False when unknown. */
  removeSession(id: string): boolean {
    const s = this.byId.get(id);
    if (s === undefined) return false;
    for (const d of [...this.dialogs.values()]) {
      const i = d.sessions.indexOf(s);
      if (i < 0) continue;
      if (s.captureRtp && d.media !== null) this.media.emitStats(d, true, [s.id]);
      d.sessions = without(d.sessions, i);
      if (d.sessions.length === 0) this.dropDialog(d, false);
    }
    this.sessions = this.sessions.filter((x) => x !== s);
    this.byId.delete(id);
    this.links.dropSession(s);
    if (s.compiled.usesIdentity) this.identitySessions--;
    if (s.captureRtp) this.rtpSessions--;
    return true;
  }

  /** Removes sessions whose expiresAtUs ≤ nowUs (the caller's clock); returns their ids. */
  expireSessions(nowUs: number): string[] {
    const out: string[] = [];
    for (const s of this.sessions) if (s.expiresAtUs !== undefined && s.expiresAtUs <= nowUs) out.push(s.id);
    for (const id of out) this.removeSession(id);
    this.counters.sessionsExpired += out.length;
    return out;
  }

  /** Number of dialogs currently tracked (all sessions). */
  get dialogCount(): number {
    return this.dialogs.size;
  }

  /** Call-IDs a session currently captures. */
  dialogsOf(id: string): string[] {
    const s = this.byId.get(id);
    if (s === undefined) return [];
    const out: string[] = [];
    for (const d of this.dialogs.values()) if (d.sessions.includes(s) && !this.expired(d)) out.push(d.callId);
    return out;
  }

  // ---- time -----------------------------------------------------------------------------------

  /** Moves the engine clock (capture time) forward: releases lingering dialogs, emits periodic stats. */
  advance(tsUs: number): void {
    if (!(tsUs > this.clock)) return;
    this.clock = tsUs;
    if (tsUs >= this.nextSweepUs) this.sweep();
  }

  private sweep(): void {
    const now = this.clock;
    this.nextSweepUs = now + 1_000_000;
    for (const d of this.dialogs.scheduled) if (d.deadlineUs !== 0 && d.deadlineUs <= now) this.dropDialog(d, true);
    this.media.periodic(now);
  }

  /** End of input (filter) or shutdown: final summaries of every stream still tracked. */
  flush(): void {
    this.media.flush();
  }

  // ---- input ----------------------------------------------------------------------------------

  /**
   * Whether onDatagram could take the payload buf[off, end): media while endpoints are tracked
   * (a first byte that is not a letter), or something that may be a SIP start line. A necessary
   * condition only, read in place: callers drop the rest (RTP of no captured dialog, DNS…) before
   * making a payload view.
   */
  mayTake(buf: Buffer, off: number, end: number): boolean {
    if (off >= end) return false;
    const b0 = buf[off];
    if (this.media.active && (b0 < 0x41 || b0 > 0x7a)) return true;
    return b0 > 0x20 && b0 < 0x7f && sipStartAt(buf, off, end);
  }

  /**
   * A UDP datagram, or one SIP message framed from TCP/WebSocket/SCTP: media of a captured dialog
   * when it comes from or goes to a learned endpoint; otherwise SIP when it looks like SIP (parsed
   * only when a captured dialog or a session's raw condition may want it). Null when no session
   * takes it.
   */
  onDatagram(meta: PacketMeta, payload: Buffer): SipHit | MediaHit | null {
    this.counters.datagrams++;
    const b0 = payload[0];
    if (b0 === undefined) return null;
    // SIP starts with a method token or "SIP/2.0" (a letter); RTP/RTCP (128–191), STUN (0–3) and
    // DTLS (20–63) never do (RFC 7983 §7).
    if (this.media.active && (b0 < 0x41 || b0 > 0x7a)) {
      const d = this.media.find(meta, this.clock);
      return d !== null ? this.onMedia(d, meta, payload) : null;
    }
    if (!looksLikeSip(payload)) return null;
    this.counters.sipMessages++;
    if (this.sessions.length === 0 && this.dialogs.size === 0) return null;
    // The no-match path without a parse: a message of no captured dialog that no session's raw
    // necessary condition admits is dropped here. Orientation (initiator From-tags) is learnt from
    // the initial requests that are parsed: an INVITE that fails every raw condition holds none of
    // the criteria, so later messages of its dialog (same parties, same hosts) rarely could.
    const tracked = this.dialogs.size > 0 && this.dialogs.hasRawCallId(payload);
    if (!tracked) {
      let maybe = false;
      const list = this.sessions;
      for (let i = 0; i < list.length; i++) {
        const c = list[i].compiled;
        // address text only for a session that looks at addresses (most packets never need it)
        if (c.usesAddresses ? c.prefilter(payload, meta.src.ip, meta.dst.ip) : c.prefilter(payload, '', '')) {
          maybe = true;
          break;
        }
      }
      // A message may be a leg linked to a captured one: an INVITE naming a captured Call-ID
      // (X-CID) or Session-ID/icid; any message once a captured leg has a Session-ID/icid (the other
      // leg's INVITE may have passed before). Parsed when it carries a link header.
      if (!maybe && this.dialogs.size > 0 && (b0 === 0x49 /* I */ || this.links.capturedKeys) && rawHasHeader(payload, this.linkNames)) maybe = true;
      // an INVITE from the host a captured INVITE just went to may be its B2BUA leg (inferred)
      if (!maybe && b0 === 0x49 && this.opts.inferLegs && this.links.hasRecent && this.links.hasRecentTo(canonicalIp(meta.src.ip))) maybe = true;
      if (!maybe) {
        this.advance(meta.tsUs);
        this.counters.sipPrefiltered++;
        if (this.rtpSessions > 0) this.noteForeignSdp(payload);
        return null;
      }
    }
    const msg = parseSipDatagram(payload);
    if (!msg.ok) {
      this.counters.sipMalformed++;
      return null;
    }
    return this.handleSip(meta, msg);
  }

  /**
   * The SDP addresses of a SIP message no session takes, read in place: another call's media, which
   * NAT latching must not hand to a captured dialog (media-tracker.ts). Only SDP-looking payloads
   * (an `m=` line) pay for it, and only while a session captures RTP.
   */
  private noteForeignSdp(payload: Buffer): void {
    const m = payload.indexOf('\nm=');
    if (m < 0) return;
    const body = payload.indexOf('\n\r\n');
    const start = body >= 0 && body < m ? body + 3 : payload.indexOf('\n\n') + 2;
    if (start >= 2 && start <= m + 1) this.media.noteForeignSdp(payload.subarray(start));
  }

  private onMedia(d: Dialog, meta: PacketMeta, payload: Buffer): MediaHit | null {
    this.advance(meta.tsUs);
    const hit = this.media.take(d, meta, payload);
    if (hit === null) return null;
    this.dialogs.touch(d);
    this.counters.mediaMatched++;
    return hit;
  }

  /** One parsed SIP message (from TCP/WebSocket framing, SCTP or HEP). */
  onSip(meta: PacketMeta, msg: SipMessage): SipHit | null {
    this.counters.sipMessages++;
    return this.handleSip(meta, msg);
  }

  private handleSip(meta: PacketMeta, msg: SipMessage): SipHit | null {
    this.advance(meta.tsUs);
    const callId = msg.callId;
    if (callId === undefined) {
      this.counters.sipWithoutCallId++;
      return null;
    }
    let d = this.dialogs.get(callId);
    if (d !== undefined && this.expired(d)) {
      this.dropDialog(d, true);
      d = undefined;
    }
    const list = this.sessions;
    if (d === undefined && list.length === 0) return null;
    const v = this.view.reset(msg, meta.src.ip, meta.dst.ip);
    if (d !== undefined && this.isNewCall(d, v)) {
      // A Call-ID reused by a new call (another initiator From-tag): a new dialog, matched afresh.
      this.dropDialog(d, true);
      d = undefined;
    }
    if (this.identitySessions > 0) this.orientation.orient(v, d, callId);
    let joined: SessionState[] | null = null;
    let creator: string | null | undefined = null;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (d !== undefined && d.sessions.includes(s)) continue;
      const m = s.compiled.method;
      // `method` narrows to dialogs created by that method: known from the dialog's initial
      // request, else told by the message itself (a BYE or a re-INVITE's 200 is an INVITE dialog's).
      if (m !== undefined) {
        if (creator === null) creator = d?.createdBy ?? creatorOf(msg, v.toTag);
        if (creator !== m) continue;
      }
      if (!s.compiled.test(v)) continue;
      (joined ??= []).push(s);
    }
    // Legs of one call (B2BUA/SBC): the sessions following this leg's group join it.
    const linkKeys = this.links.keysOf(msg);
    let group = linkKeys.length > 0 ? this.gather(this.links.link(callId, linkKeys)) : this.links.groupOf(callId);
    if (group === undefined && d === undefined && joined === null && this.opts.inferLegs && msg.method === 'INVITE' && v.isInitialRequest) {
      const a = this.links.inferFrom(canonicalIp(meta.src.ip), meta.tsUs, v.ruri?.user, callId, hopOf(meta));
      if (a !== undefined) {
        group = this.gather(this.links.link(callId, [a]));
        group.inferred = true;
      }
    }
    this.counters.linksEvicted = this.links.evicted;
    let linked: SessionState[] | null = null;
    if (group !== undefined) {
      for (const s of group.sessions) if (!(d?.sessions.includes(s) ?? false) && !(joined?.includes(s) ?? false)) (linked ??= []).push(s);
    }
    if (d === undefined) {
      if (joined === null && linked === null) {
        if (this.rtpSessions > 0 && msg.body.length > 0) this.media.noteForeignSdp(msg.body);
        return null;
      }
      d = this.openDialog(callId, msg, v);
    }
    if (joined !== null) for (const s of joined) this.join(d, s);
    if (linked !== null) for (const s of linked) this.join(d, s);
    if (d.sessions.length === 0) return null;
    if (group !== undefined) this.spread(group, d.sessions);
    if (this.opts.inferLegs && msg.method === 'INVITE' && v.isInitialRequest) this.links.noteInvite(canonicalIp(meta.dst.ip), meta.tsUs, v.ruri?.user, callId, hopOf(meta));
    this.life.track(d, msg, v, this.clock);
    this.dialogs.touch(d);
    if (d.media !== null || (this.rtpSessions > 0 && msg.body.length > 0)) this.media.learn(d, msg, v, meta);
    this.counters.sipMatched++;
    const webrtc = meta.transport === 'ws' || meta.transport === 'wss';
    const sessions: SessionTake[] = new Array(d.sessions.length);
    for (let i = 0; i < d.sessions.length; i++) {
      const s = d.sessions[i];
      s.counters.sip++;
      if (webrtc) s.counters.webrtc++;
      sessions[i] = { id: s.id, reason: joined !== null && joined.includes(s) ? 'criteria' : linked !== null && linked.includes(s) ? 'linked' : 'dialog' };
    }
    const hit: SipHit = {
      kind: 'sip',
      callId,
      sessions,
      msg,
      webrtc,
      dialog: d.state === St.Active ? 'active' : d.state === St.Ending ? 'ending' : 'ended',
    };
    if (group !== undefined && group.callIds.length > 1) {
      hit.legs = group.callIds.filter((c) => c !== callId);
      if (group.inferred) hit.legsInferred = true;
    }
    return hit;
  }

  /**
   * Sessions `sessions` follow every leg of `group`: recorded on the group (legs that link later)
   * and on the legs' dialogs, made for legs not yet in the table so their next message is taken.
   */
  private spread(group: LegGroup, sessions: readonly SessionState[]): void {
    for (const s of sessions) this.links.follow(group, s);
    for (const cid of group.callIds) this.follow1(cid, group.sessions);
  }

  private follow1(callId: string, sessions: readonly SessionState[]): void {
    let d = this.dialogs.get(callId);
    if (d !== undefined && this.expired(d)) {
      this.dropDialog(d, true);
      d = undefined;
    }
    for (const s of sessions) {
      if (d?.sessions.includes(s) ?? false) continue;
      d ??= this.openFollowed(callId);
      this.join(d, s);
    }
  }

  // ---- legs and followed calls ------------------------------------------------------------------

  /**
   * Platform collectors (FreeSWITCH, Asterisk…) report two Call-IDs as legs of one call: the
   * sessions capturing either leg capture both from now on (docs/sessions.md "B2BUA legs").
   */
  linkCallIds(a: string, b: string): void {
    if (a === '' || b === '' || a === b) return;
    const g = this.gather(this.links.link(a, [b]));
    this.counters.linksEvicted = this.links.evicted;
    if (g.sessions.length > 0) this.spread(g, g.sessions);
  }

  /** A group just (re)linked: the sessions capturing any of its legs follow it. */
  private gather(g: LegGroup): LegGroup {
    for (const cid of g.callIds) {
      const d = this.dialogs.get(cid);
      if (d !== undefined && !this.expired(d)) for (const s of d.sessions) this.links.follow(g, s);
    }
    return g;
  }

  /**
   * Session `id` follows these Call-IDs from now on (another agent of the session matched them: the
   * center says so, `POST /v1/captures/{id}/follow`): their messages, linked legs and log lines.
   * Unknown session: false.
   */
  follow(id: string, callIds: readonly string[]): boolean {
    const s = this.byId.get(id);
    if (s === undefined) return false;
    for (const cid of callIds) {
      if (cid === '') continue;
      const g = this.links.groupOf(cid);
      if (g !== undefined) this.spread(g, [s]);
      else this.follow1(cid, [s]);
    }
    return true;
  }

  /** The Call-IDs linked with `callId` as legs of one call (itself excluded). */
  legsOf(callId: string): string[] {
    const g = this.links.groupOf(callId);
    return g === undefined ? [] : g.callIds.filter((c) => c !== callId);
  }

  /**
   * A log line (DESIGN §4/§5): taken by the sessions whose captured dialogs' Call-IDs it carries,
   * and by sessions whose only criterion is `text` when the line contains it. The engine clock is
   * not moved (log time and capture time need not agree).
   */
  onLogLine(line: string, tsUs: number, source: string): LogHit | null {
    this.counters.logLines++;
    let out: { id: string; callId: string | undefined }[] | null = null;
    const seen = new Set<SessionState>();
    const take = (d: Dialog): void => {
      for (const s of d.sessions) {
        if (seen.has(s)) continue;
        seen.add(s);
        (out ??= []).push({ id: s.id, callId: d.callId });
      }
    };
    if (this.dialogs.size > 0) {
      let found = false;
      for (const tok of line.split(LOG_DELIMS)) {
        if (tok.length < 3) continue;
        const d = this.dialogs.get(tok) ?? this.dialogs.get(tok.replace(/[.:]+$/, ''));
        if (d !== undefined && !this.expired(d)) {
          take(d);
          found = true;
        }
      }
      // Call-IDs may hold delimiter characters; with few dialogs a substring scan is affordable.
      if (!found && this.dialogs.size <= 512) {
        for (const d of this.dialogs.values()) if (!this.expired(d) && line.includes(d.callId)) take(d);
      }
    }
    for (const s of this.sessions) {
      if (!seen.has(s) && s.compiled.testLogLine(line)) {
        seen.add(s);
        (out ??= []).push({ id: s.id, callId: undefined });
      }
    }
    if (out === null) return null;
    for (const t of out as { id: string }[]) {
      const s = this.byId.get(t.id);
      if (s !== undefined) s.counters.log++;
    }
    this.counters.logMatched++;
    return { kind: 'log', line, source, tsUs, sessions: out };
  }

  /**
   * Call metadata keyed by a Call-ID (platform call state, route decisions, a log line whose Call-ID
   * its collector knows: DESIGN §9): the sessions capturing that dialog, or null. Like a log line it
   * neither opens a dialog nor moves the clock.
   */
  sessionsOfCall(callId: string): string[] | null {
    const d = this.dialogs.get(callId);
    if (d === undefined || d.sessions.length === 0 || this.expired(d)) return null;
    return d.sessions.map((s) => s.id);
  }

  // ---- dialogs --------------------------------------------------------------------------------

  private expired(d: Dialog): boolean {
    return expired(d, this.clock);
  }

  private isNewCall(d: Dialog, v: MessageView): boolean {
    if (!v.isInitialRequest || d.initiatorTag === undefined) return false;
    const m = v.msg.method;
    if (m !== 'INVITE' && m !== 'SUBSCRIBE' && m !== 'REFER') return false;
    const tag = headerTag(v.msg.header('from'));
    return tag !== undefined && tag !== d.initiatorTag;
  }

  /** A dialog known only by its Call-ID (a followed call, a linked leg): its first message tells the rest. */
  private openFollowed(callId: string): Dialog {
    const d = new Dialog(callId, Kind.Unknown);
    d.initiatorTag = this.orientation.take(callId);
    this.insert(d);
    return d;
  }

  private openDialog(callId: string, msg: SipMessage, v: MessageView): Dialog {
    const method = msg.isRequest ? msg.method : msg.cseq?.method;
    const d = new Dialog(callId, kindOf(method));
    if (v.isInitialRequest && msg.method !== 'CANCEL' && msg.method !== 'ACK') {
      d.createdBy = methodName(msg.method);
      const tag = headerTag(msg.header('from'));
      d.initiatorTag = tag === undefined ? undefined : own(tag);
      // the dialog holds the initiator now; the cache gets it back when the dialog is dropped
      this.orientation.forget(callId);
    } else {
      d.createdBy = creatorOf(msg, v.toTag);
      d.initiatorTag = this.orientation.take(callId);
      // Joined at an in-dialog request: the dialog is established, so a failed re-INVITE must not
      // end it. Joined at a response, it is unknown (it may answer the initial INVITE).
      if (msg.isRequest && v.toTag !== null) d.confirmed = true;
    }
    this.insert(d);
    return d;
  }

  private insert(d: Dialog): void {
    this.dialogs.insert(d);
    this.counters.dialogsOpened++;
    while (this.dialogs.size > this.opts.maxDialogs && this.dialogs.tail !== null && this.dialogs.tail !== d) {
      const victim = this.dialogs.tail;
      for (const s of victim.sessions) s.counters.evicted++;
      this.counters.dialogsEvicted++;
      this.dropDialog(victim, false);
    }
  }

  private join(d: Dialog, s: SessionState): void {
    if (s.dialogs >= this.opts.maxDialogsPerSession) {
      // The session's table is full: release its least recently active dialog.
      for (let x = this.dialogs.tail; x !== null; x = x.prev) {
        if (x === d) continue;
        const i = x.sessions.indexOf(s);
        if (i < 0) continue;
        x.sessions = without(x.sessions, i);
        s.dialogs--;
        s.counters.evicted++;
        this.counters.dialogsEvicted++;
        if (x.sessions.length === 0) this.dropDialog(x, false);
        break;
      }
    }
    // exact-size arrays: a pushed-to empty array reserves 17 slots (≈ 90 B per dialog)
    d.sessions = d.sessions.length === 0 ? [s] : [...d.sessions, s];
    s.dialogs++;
    s.counters.dialogs++;
  }

  private dropDialog(d: Dialog, final: boolean): void {
    if (!this.dialogs.holds(d)) return;
    this.media.release(d, final);
    this.dialogs.remove(d);
    // Its later messages (after an eviction, a late BYE) are still oriented by the initiator's tag.
    if (this.identitySessions > 0 && d.initiatorTag !== undefined && !this.orientation.has(d.callId)) this.orientation.remember(d.callId, d.initiatorTag);
    for (const s of d.sessions) s.dialogs--;
    d.sessions = NO_SESSIONS;
  }
}

/** A packet's hop, both ends with ports, for telling a B2BUA's next leg from a UA's next call. */
function hopOf(meta: PacketMeta): string {
  return `${canonicalIp(meta.src.ip)} ${meta.src.port} ${canonicalIp(meta.dst.ip)} ${meta.dst.port}`;
}
