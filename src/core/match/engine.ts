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
import { looksLikeSip, parseSipDatagram } from '../../protocol/sip.js';
import type { SipMessage } from '../../protocol/sip.js';
import type { Criteria } from '../schema/criteria-rules.js';
import { compileCriteria, type CompiledCriteria } from './criteria.js';
import { MessageView } from './message-view.js';
import { RtpStream, type StreamStats } from './rtp-stats.js';
import { sdpMedia } from './sdp-media.js';
import { headerTag } from './uri-parts.js';
import { asciiHash, rawCallIdSpan, sipStartAt, type Span } from './raw-scan.js';

export interface Endpoint {
  ip: string;
  port: number;
}

/** What the engine needs to know about a packet besides its payload. */
export interface PacketMeta {
  /** capture time, µs since the epoch */
  tsUs: number;
  /** 'udp' | 'tcp' | 'sctp' | 'ws' | 'tls' | … — 'ws' SIP is also reported as webrtc */
  transport: string;
  src: Endpoint;
  dst: Endpoint;
}

export interface SessionSpec {
  id: string;
  criteria: Criteria;
  captureRtp?: boolean;
  /** µs since the epoch; enforced by expireSessions(nowUs) */
  expiresAtUs?: number;
}

export interface EngineOptions {
  /** tenant headers (default X-Tenant, X-Tenant-Id, X-Tenant-Code) */
  tenantHeaders?: readonly string[];
  /** capture time a dialog stays captured after it ended (default 5 s) */
  lingerUs?: number;
  /** how long a request without a final answer keeps its dialog (RFC 3261 Timer F/B: 32 s) */
  transactionTimeoutUs?: number;
  /** how long a ringing INVITE (provisional answer only) is kept (RFC 3261 Timer C: 180 s) */
  provisionalTimeoutUs?: number;
  /** dialogs tracked in total (default 100 000); the least recently active is evicted */
  maxDialogs?: number;
  /** dialogs tracked per session (default 10 000) */
  maxDialogsPerSession?: number;
  /** Call-IDs whose initial request (From-tag) is remembered to orient in-dialog messages (default 65 536) */
  orientationCacheSize?: number;
  /** RTP samples: the first N packets of each stream… (default 10) */
  rtpSampleFirst?: number;
  /** …then one in M (default 50) */
  rtpSampleEvery?: number;
  /** capture time between periodic stream summaries; 0 = final summaries only (default 5 s) */
  statsIntervalUs?: number;
  /** RTP streams tracked per dialog (default 64) */
  maxStreamsPerDialog?: number;
  /** stream summaries: periodic (final=false) and final (dialog ended, session stopped, flush) */
  onStats?: (ev: StatsEvent) => void;
}

export type TakeReason = 'criteria' | 'dialog';

export interface SessionTake {
  id: string;
  /** 'criteria': this message matched the session's criteria; 'dialog': its Call-ID was being captured */
  reason: TakeReason;
}

export interface SipHit {
  kind: 'sip';
  callId: string;
  sessions: SessionTake[];
  msg: SipMessage;
  /** SIP over WebSocket: also a `webrtc` event (DESIGN §5) */
  webrtc: boolean;
  /** state of the dialog after this message */
  dialog: 'active' | 'ending' | 'ended';
}

export type MediaProtocol = 'rtp' | 'rtcp' | 'stun' | 'dtls' | 'other';

export interface MediaHit {
  kind: 'rtp' | 'rtcp' | 'webrtc';
  protocol: MediaProtocol;
  callId: string;
  /** the dialog's sessions that capture RTP */
  sessions: string[];
  /** true when this packet is one of the samples (first N, then 1 in M per stream) */
  sample: boolean;
  rtp?: { ssrc: number; pt: number; seq: number; ts: number; marker: boolean; codec: string | undefined };
}

export interface LogHit {
  kind: 'log';
  line: string;
  source: string;
  tsUs: number;
  /** sessions taking the line; callId when it was correlated through a captured dialog */
  sessions: { id: string; callId: string | undefined }[];
}

export interface StatsEvent {
  sessions: string[];
  callId: string;
  stats: StreamStats;
  final: boolean;
}

export interface EngineCounters {
  /** SIP messages seen (datagrams that look like SIP, and messages given to onSip) */
  sipMessages: number;
  /** of those, dropped before parsing: no captured dialog, no session's raw condition */
  sipPrefiltered: number;
  sipMatched: number;
  sipMalformed: number;
  sipWithoutCallId: number;
  /** payloads given to onDatagram */
  datagrams: number;
  mediaMatched: number;
  dialogsOpened: number;
  dialogsEnded: number;
  dialogsEvicted: number;
  sessionsExpired: number;
  logLines: number;
  logMatched: number;
}

export interface SessionCounters {
  sip: number;
  rtp: number;
  rtcp: number;
  webrtc: number;
  log: number;
  samples: number;
  dialogs: number;
  /** dialogs dropped from this session's table because it was full (or the global table was) */
  evicted: number;
}

const enum St {
  Active = 0,
  Ending = 1,
  Ended = 2,
}

const enum Kind {
  Invite = 0,
  Subscribe = 1,
  Transaction = 2,
  Unknown = 3,
}

class SessionState {
  readonly id: string;
  readonly compiled: CompiledCriteria;
  readonly captureRtp: boolean;
  expiresAtUs: number | undefined;
  dialogs = 0;
  readonly counters: SessionCounters = { sip: 0, rtp: 0, rtcp: 0, webrtc: 0, log: 0, samples: 0, dialogs: 0, evicted: 0 };
  constructor(spec: SessionSpec, compiled: CompiledCriteria) {
    this.id = spec.id;
    this.compiled = compiled;
    this.captureRtp = spec.captureRtp ?? false;
    this.expiresAtUs = spec.expiresAtUs;
  }
}

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
}

type Codec = { codec: string; clockRate: number };
/** payload type → codec; shared by the dialogs that negotiated the same table, never mutated */
type PayloadTable = ReadonlyMap<number, Codec>;

const NO_PAYLOADS: PayloadTable = new Map();
const NO_STREAMS: RtpStream[] = [];
const NO_SIDES: Side[] = [];

// Per dialog only what differs between dialogs: sides in an exact-size array (1–2 usually), the
// payload table and codec entries shared through small intern tables, streams made on the first one.
class DialogMedia {
  sides: Side[] = NO_SIDES;
  payloads: PayloadTable = NO_PAYLOADS;
  ptimeMs: number | undefined;
  streams: RtpStream[] = NO_STREAMS;
  other = 0;
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

class Dialog {
  readonly callId: string;
  kind: Kind;
  createdBy: string | undefined;
  initiatorTag: string | undefined;
  sessions: SessionState[] = NO_SESSIONS;
  state: St = St.Active;
  confirmed = false;
  notifyTerminated = false;
  deadlineUs = 0;
  prev: Dialog | null = null;
  next: Dialog | null = null;
  media: DialogMedia | null = null;
  /** asciiHash of the Call-ID's bytes & HASH_MASK (-1 when not ASCII), and the next dialog with the same hash */
  readonly hash: number;
  sameHash: Dialog | null = null;
  constructor(callId: string, kind: Kind) {
    this.callId = own(callId);
    this.hash = asciiStringHash(this.callId);
    this.kind = kind;
  }
}

/** shared by every dialog without a session; never mutated (dialogs get fresh exact-size arrays) */
const NO_SESSIONS: SessionState[] = [];

const without = <T>(list: T[], i: number): T[] => {
  const out = new Array<T>(list.length - 1);
  for (let j = 0, k = 0; j < list.length; j++) if (j !== i) out[k++] = list[j];
  return out;
};

const DIALOG_METHODS_INVITE = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'PRACK', 'UPDATE', 'INFO']);
const DIALOG_METHODS_SUBSCRIBE = new Set(['SUBSCRIBE', 'NOTIFY', 'REFER']);

/**
 * A copy of `s` that does not keep alive the string it was cut from. Parsed header values are V8
 * slices of the whole message text: a Call-ID or tag kept in a table as is would hold its message's
 * header block (about 1 KB) for as long as the dialog lives (measured: 100 k 30-char slices of 2 KB
 * texts kept 219 MB; copies keep almost nothing). Strings under 13 chars are never slices.
 */
function own(s: string): string {
  if (s.length < 13) return s;
  // Re-made from bytes: a fresh sequential string. ('' + s, (' ' + s).slice(1) and the like give a
  // cons or sliced string that still points into the source.)
  let latin1 = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) {
      latin1 = false;
      break;
    }
  }
  if (!latin1) return Buffer.from(s, 'utf8').toString('utf8');
  if (scratch.length < s.length) scratch = Buffer.allocUnsafe(Math.max(s.length, 2 * scratch.length));
  const n = scratch.write(s, 0, 'latin1');
  return scratch.toString('latin1', 0, n);
}
let scratch = Buffer.allocUnsafe(256);

/** asciiHash of a string's UTF-8 bytes & HASH_MASK, without encoding it (-1 when not ASCII). */
function asciiStringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return (h >>> 0) & HASH_MASK;
}

/** hashes kept as small integers (V8 Smis): a 32-bit value would be a heap number per dialog and key */
const HASH_MASK = 0x3fffffff;

/** a hash of any string as a small integer */
function textHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0) & HASH_MASK;
}

/** one string per method name (a dialog keeps the name of the request that created it) */
const METHOD_NAMES = new Map(
  ['INVITE', 'SUBSCRIBE', 'REFER', 'REGISTER', 'OPTIONS', 'MESSAGE', 'NOTIFY', 'PUBLISH', 'INFO', 'UPDATE', 'PRACK', 'BYE', 'ACK', 'CANCEL'].map((m) => [m, m]),
);
const methodName = (m: string | undefined): string | undefined => (m === undefined ? undefined : (METHOD_NAMES.get(m) ?? own(m)));

const kindOf = (method: string | undefined): Kind => {
  if (method === undefined) return Kind.Unknown;
  if (DIALOG_METHODS_INVITE.has(method)) return Kind.Invite;
  if (DIALOG_METHODS_SUBSCRIBE.has(method)) return Kind.Subscribe;
  return Kind.Transaction;
};


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
  };
  private readonly opts: Required<Omit<EngineOptions, 'onStats' | 'tenantHeaders'>>;
  private readonly tenantHeaders: readonly string[] | undefined;
  private readonly onStats: ((ev: StatsEvent) => void) | undefined;
  private sessions: SessionState[] = [];
  private readonly byId = new Map<string, SessionState>();
  private readonly dialogs = new Map<string, Dialog>();
  /** the dialogs with an ASCII Call-ID by asciiHash: the no-match path looks them up without a string */
  private readonly byHash = new Map<number, Dialog>();
  private readonly span: Span = { start: 0, end: 0 };
  private head: Dialog | null = null; // most recently active
  private tail: Dialog | null = null;
  private readonly scheduled = new Set<Dialog>();
  /** dialogs with RTP streams (stream summaries) */
  private readonly mediaDialogs = new Set<Dialog>();
  /**
   * media address (mediaKey) → the side claiming it, or the sides when several do: media endpoints
   * learned from SDP. Several dialogs may claim one address (a UAS answering every call from one
   * port, a port handed out again while the previous call lingers); one claim is the common case.
   */
  private readonly mediaAt = new Map<MediaKey, Side | Side[]>();
  private sdpSeq = 0;
  private readonly orientation = new Map<string, string>();
  private identitySessions = 0;
  private rtpSessions = 0;
  private clock = 0;
  private nextSweepUs = 0;
  private nextStatsUs = 0;
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
    };
    this.tenantHeaders = options.tenantHeaders;
    this.onStats = options.onStats;
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
      if (s.captureRtp && d.media !== null) this.emitStats(d, true, [s.id]);
      d.sessions = without(d.sessions, i);
      if (d.sessions.length === 0) this.dropDialog(d, false);
    }
    this.sessions = this.sessions.filter((x) => x !== s);
    this.byId.delete(id);
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
    for (const d of this.scheduled) if (d.deadlineUs !== 0 && d.deadlineUs <= now) this.dropDialog(d, true);
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
    if (this.mediaAt.size > 0 && (b0 < 0x41 || b0 > 0x7a)) return true;
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
    if (this.mediaAt.size > 0 && (b0 < 0x41 || b0 > 0x7a)) {
      const d = this.mediaDialog(meta);
      if (d !== null) return this.onMedia(d, meta, payload);
      return null;
    }
    if (!looksLikeSip(payload)) return null;
    this.counters.sipMessages++;
    if (this.sessions.length === 0 && this.dialogs.size === 0) return null;
    // The no-match path without a parse: a message of no captured dialog that no session's raw
    // necessary condition admits is dropped here. Orientation (initiator From-tags) is learnt from
    // the initial requests that are parsed: an INVITE that fails every raw condition holds none of
    // the criteria, so later messages of its dialog (same parties, same hosts) rarely could.
    const tracked = this.dialogs.size > 0 && this.trackedCallId(payload);
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
      if (!maybe) {
        this.advance(meta.tsUs);
        this.counters.sipPrefiltered++;
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

  // Whether the Call-ID of the raw message is in the dialog table: hashed in place and compared
  // byte for byte, so the no-match path makes no string (non-ASCII Call-IDs go the string way).
  private trackedCallId(payload: Buffer): boolean {
    const sp = this.span;
    if (!rawCallIdSpan(payload, sp)) return false;
    const raw = asciiHash(payload, sp.start, sp.end);
    if (raw < 0) return this.dialogs.has(payload.toString('utf8', sp.start, sp.end));
    const h = raw & HASH_MASK;
    const len = sp.end - sp.start;
    for (let d: Dialog | null = this.byHash.get(h) ?? null; d !== null; d = d.sameHash) {
      // an ASCII Call-ID (hash >= 0): one char per byte, compared without a Buffer per dialog
      const b = d.callId;
      if (b.length !== len) continue;
      let i = 0;
      while (i < len && b.charCodeAt(i) === payload[sp.start + i]) i++;
      if (i === len) return true;
    }
    return false;
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
    if (this.identitySessions > 0) this.orient(v, d, callId);
    let joined: SessionState[] | null = null;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (d !== undefined && d.sessions.includes(s)) continue;
      const m = s.compiled.method;
      // `method` narrows: only a dialog created by that method (its initial request, or a dialog
      // already known to have been created by it).
      if (m !== undefined && !((msg.method === m && v.isInitialRequest) || (d !== undefined && d.createdBy === m))) continue;
      if (!s.compiled.test(v)) continue;
      (joined ??= []).push(s);
    }
    if (d === undefined) {
      if (joined === null) return null;
      d = this.openDialog(callId, msg, v);
    }
    if (joined !== null) for (const s of joined) this.join(d, s);
    if (d.sessions.length === 0) return null;
    this.track(d, msg, v);
    this.touch(d);
    if (d.media !== null || (this.rtpSessions > 0 && msg.body.length > 0)) this.learnMedia(d, msg, v, meta);
    this.counters.sipMatched++;
    const webrtc = meta.transport === 'ws' || meta.transport === 'wss';
    const sessions: SessionTake[] = new Array(d.sessions.length);
    for (let i = 0; i < d.sessions.length; i++) {
      const s = d.sessions[i];
      s.counters.sip++;
      if (webrtc) s.counters.webrtc++;
      sessions[i] = { id: s.id, reason: joined !== null && joined.includes(s) ? 'criteria' : 'dialog' };
    }
    return {
      kind: 'sip',
      callId,
      sessions,
      msg,
      webrtc,
      dialog: d.state === St.Active ? 'active' : d.state === St.Ending ? 'ending' : 'ended',
    };
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

  // ---- dialogs --------------------------------------------------------------------------------

  private expired(d: Dialog): boolean {
    return d.deadlineUs !== 0 && d.deadlineUs <= this.clock;
  }

  // In-dialog messages sent by the called side carry the callee in From: knowing the From-tag of
  // the initial request tells them apart, so "a call to N never matches from=N" holds in-dialog too.
  private orient(v: MessageView, d: Dialog | undefined, callId: string): void {
    const msg = v.msg;
    if (v.toTag === null) {
      if (msg.isRequest && d === undefined && (msg.method === 'INVITE' || msg.method === 'SUBSCRIBE' || msg.method === 'REFER')) {
        const cache = this.orientation;
        if (!cache.has(callId)) {
          const tag = headerTag(msg.header('from'));
          if (tag !== undefined) this.remember(own(callId), own(tag));
        }
      }
      return;
    }
    const initiator = d?.initiatorTag ?? this.orientation.get(callId);
    if (initiator === undefined) return;
    const tag = headerTag(msg.header('from'));
    v.reversed = tag !== undefined && tag !== initiator;
  }

  private remember(callId: string, tag: string): void {
    const cache = this.orientation;
    if (cache.size >= this.opts.orientationCacheSize) cache.delete(cache.keys().next().value as string);
    cache.set(callId, tag);
  }

  private openDialog(callId: string, msg: SipMessage, v: MessageView): Dialog {
    const method = msg.isRequest ? msg.method : msg.cseq?.method;
    const d = new Dialog(callId, kindOf(method));
    if (v.isInitialRequest && msg.method !== 'CANCEL' && msg.method !== 'ACK') {
      d.createdBy = methodName(msg.method);
      const tag = headerTag(msg.header('from'));
      d.initiatorTag = tag === undefined ? undefined : own(tag);
      // the dialog holds the initiator now; the cache gets it back when the dialog is dropped
      this.orientation.delete(callId);
    } else {
      d.initiatorTag = this.orientation.get(callId);
      if (d.initiatorTag !== undefined) this.orientation.delete(callId);
      // Joined at an in-dialog request: the dialog is established, so a failed re-INVITE must not
      // end it. Joined at a response, it is unknown (it may answer the initial INVITE).
      if (msg.isRequest && v.toTag !== null) d.confirmed = true;
    }
    this.dialogs.set(d.callId, d); // the detached copy: the key lives as long as the dialog
    if (d.hash >= 0) {
      d.sameHash = this.byHash.get(d.hash) ?? null;
      this.byHash.set(d.hash, d);
    }
    this.linkHead(d);
    this.counters.dialogsOpened++;
    while (this.dialogs.size > this.opts.maxDialogs && this.tail !== null && this.tail !== d) {
      const victim = this.tail;
      for (const s of victim.sessions) s.counters.evicted++;
      this.counters.dialogsEvicted++;
      this.dropDialog(victim, false);
    }
    return d;
  }

  private join(d: Dialog, s: SessionState): void {
    if (s.dialogs >= this.opts.maxDialogsPerSession) {
      // The session's table is full: release its least recently active dialog.
      for (let x = this.tail; x !== null; x = x.prev) {
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

  private schedule(d: Dialog, deadlineUs: number): void {
    d.deadlineUs = deadlineUs;
    if (deadlineUs === 0) this.scheduled.delete(d);
    else this.scheduled.add(d);
  }

  private end(d: Dialog): void {
    if (d.state !== St.Ended) this.counters.dialogsEnded++;
    d.state = St.Ended;
    this.schedule(d, this.clock + this.opts.lingerUs);
  }

  // The dialog life cycle (DESIGN §5 "until the dialog ends plus a short linger"): final non-2xx to
  // the initial INVITE (+ACK within the linger), BYE answered, CANCEL/487, a non-INVITE transaction
  // (REGISTER, OPTIONS, MESSAGE…) answered, a subscription terminated. A new initial request on the
  // same Call-ID (an INVITE or REGISTER re-sent with credentials after 401/407) revives it.
  private track(d: Dialog, msg: SipMessage, v: MessageView): void {
    const now = this.clock;
    const o = this.opts;
    if (msg.isRequest) {
      const m = msg.method;
      if (v.isInitialRequest && m !== 'ACK' && m !== 'CANCEL') {
        if (d.state !== St.Active || d.createdBy === undefined) {
          d.state = St.Active;
          d.confirmed = false;
        }
        d.kind = kindOf(m);
        if (d.createdBy === undefined) d.createdBy = methodName(m);
        // An unanswered request goes away after the transaction timeout; an established dialog stays.
        if (!d.confirmed) this.schedule(d, now + o.transactionTimeoutUs);
      } else if (m === 'BYE') {
        // A BYE retransmitted after the 200 must not extend an ended dialog.
        if (d.state === St.Active) {
          d.state = St.Ending;
          this.schedule(d, now + o.transactionTimeoutUs);
        }
      } else if (m === 'NOTIFY') {
        const ss = msg.header('subscription-state');
        if (ss !== undefined && /^\s*terminated/i.test(ss)) d.notifyTerminated = true;
      }
      return;
    }
    const code = msg.statusCode ?? 0;
    const cm = msg.cseq?.method;
    if (code < 200) {
      if (cm === 'INVITE' && d.state === St.Active && !d.confirmed) this.schedule(d, now + o.provisionalTimeoutUs);
      return;
    }
    if (cm === 'BYE') {
      this.end(d);
      return;
    }
    if (cm === 'INVITE' || cm === 'SUBSCRIBE' || cm === 'REFER') {
      if (code < 300) {
        d.confirmed = true;
        if (d.state === St.Ended) d.state = St.Active; // a forked 2xx after another branch's failure
        if (d.state === St.Active) this.schedule(d, 0);
      } else if (!d.confirmed) {
        this.end(d);
      }
      return;
    }
    if (cm === 'NOTIFY' && d.notifyTerminated) {
      this.end(d);
      return;
    }
    if (d.kind === Kind.Transaction && cm !== 'CANCEL') this.end(d);
  }

  private linkHead(d: Dialog): void {
    d.prev = null;
    d.next = this.head;
    if (this.head !== null) this.head.prev = d;
    this.head = d;
    if (this.tail === null) this.tail = d;
  }

  private unlink(d: Dialog): void {
    if (d.prev !== null) d.prev.next = d.next;
    else this.head = d.next;
    if (d.next !== null) d.next.prev = d.prev;
    else this.tail = d.prev;
    d.prev = d.next = null;
  }

  private touch(d: Dialog): void {
    if (this.head === d) return;
    this.unlink(d);
    this.linkHead(d);
  }

  private dropDialog(d: Dialog, final: boolean): void {
    if (this.dialogs.get(d.callId) !== d) return;
    if (d.media !== null) {
      if (final || d.sessions.length > 0) this.emitStats(d, true, undefined);
      for (const side of d.media.sides) this.unbind(side);
      this.mediaDialogs.delete(d);
    }
    this.dialogs.delete(d.callId);
    if (d.hash >= 0) {
      const first = this.byHash.get(d.hash);
      if (first === d) {
        if (d.sameHash === null) this.byHash.delete(d.hash);
        else this.byHash.set(d.hash, d.sameHash);
      } else {
        for (let x: Dialog | null = first ?? null; x !== null; x = x.sameHash) {
          if (x.sameHash === d) {
            x.sameHash = d.sameHash;
            break;
          }
        }
      }
      d.sameHash = null;
    }
    this.scheduled.delete(d);
    this.unlink(d);
    // Its later messages (after an eviction, a late BYE) are still oriented by the initiator's tag.
    if (this.identitySessions > 0 && d.initiatorTag !== undefined && !this.orientation.has(d.callId)) this.remember(d.callId, d.initiatorTag);
    for (const s of d.sessions) s.dialogs--;
    d.sessions = NO_SESSIONS;
  }

  // ---- media ----------------------------------------------------------------------------------

  private learnMedia(d: Dialog, msg: SipMessage, v: MessageView, meta: PacketMeta): void {
    if (msg.body.length === 0) return;
    let rtp = false;
    for (const s of d.sessions) if (s.captureRtp) rtp = true;
    if (!rtp) return;
    const ct = msg.header('content-type');
    if (ct === undefined || !/application\/sdp/i.test(ct)) return;
    const sdp = sdpMedia(msg.body);
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
    const side: Side = { d, key, seq: ++this.sdpSeq, e0: eps[0], e1: eps[1], more: eps.length > 2 ? eps.slice(2) : null };
    if (at >= 0) {
      const next = sides.slice();
      next[at] = side;
      media.sides = next;
    } else {
      media.sides = sides.length === 0 ? [side] : [...sides, side];
    }
    for (let i = 0, k = side.e0; k !== undefined; k = keyOf(side, ++i)) {
      const cur = this.mediaAt.get(k);
      if (cur === undefined) this.mediaAt.set(k, side);
      else if (Array.isArray(cur)) cur.push(side);
      else this.mediaAt.set(k, [cur, side]);
    }
  }

  private unbind(side: Side): void {
    for (let i = 0, k = side.e0; k !== undefined; k = keyOf(side, ++i)) {
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

  private claimsAt(ep: Endpoint): Side | Side[] | undefined {
    return this.mediaAt.get(mediaKey(ep.ip, ep.port));
  }

  // The dialog a media packet belongs to. A dialog whose SDP names both the source and the
  // destination (the 5-tuple) beats one that names only one of them; a live dialog beats one that
  // ended and lingers; then the most recent SDP wins. A dialog that knows the media addresses of
  // more than one side (offer and answer) takes a packet only on its 5-tuple: a shared address
  // (sipp's echo UAS, a media server's single port) otherwise pulls in the RTP of calls the engine
  // does not capture. With only one side known (offer without answer) one address is enough.
  private mediaDialog(meta: PacketMeta): Dialog | null {
    const atDst = this.claimsAt(meta.dst);
    const atSrc = this.claimsAt(meta.src);
    if (atDst === undefined && atSrc === undefined) return null;
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
        if (this.expired(d)) continue;
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
          bestRank = rank;
          bestSeq = seq;
        }
      }
    }
    return best;
  }

  private onMedia(d: Dialog, meta: PacketMeta, p: Buffer): MediaHit | null {
    this.advance(meta.tsUs);
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
    this.touch(d);
    this.counters.mediaMatched++;
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

  private emitStats(d: Dialog, final: boolean, only: string[] | undefined): void {
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

// Dissectors may print IPv4-mapped IPv6 for IPv4 peers, SDP never does: compare in one form.
const normIp = (ip: string): string => (ip.startsWith('::ffff:') && ip.indexOf('.') > 0 ? ip.slice(7) : ip.toLowerCase());

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

function sameCriteria(a: Readonly<Criteria>, b: Criteria): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Criteria>;
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}
