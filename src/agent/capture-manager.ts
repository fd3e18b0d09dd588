// The capture manager: the agent's running captures (one per session, from PUT /v1/captures/{id}),
// compiled into the shared MatchEngine. Every packet and log line from every source comes through
// here; hits become wire events (core IngestEvent shape) handed to the uploader. Owns per-session
// counters (packets seen, matched, uploaded, dropped by reason), local expiry at `expires_at` (even
// with the center gone), and, when a state file is given, remembering running captures across a
// restart. It does not capture (sources/*), parse frames (protocol) or send (upload.ts).
import { readFileSync } from 'node:fs';
import type { SipMessage } from '../protocol/sip.js';
import { parseRtcp } from '../protocol/rtcp.js';
import { sdpOfBody } from '../protocol/sip-body.js';
import { MatchEngine, type LogHit, type MediaHit, type SipHit, type StatsEvent } from '../core/match/engine.js';
import { parseUriParts, uriOfHeaderValue } from '../core/match/uri-parts.js';
import { captureCommandSchema, type CaptureCommand } from '../core/schema/command.js';
import type { AgentCounters, Rtcp, SipSummary } from '../core/schema/event.js';
import { LINKED_CALL_IDS_MAX, PAYLOAD_MAX_BYTES, TRANSPORTS } from '../core/schema/event.js';
import { writeStateFile } from './spool.js';
import type { FrameUploader } from './frame-upload.js';
import type { OutgoingEvent, Uploader } from './upload.js';
import { CallMetaBuffer, type CallMeta } from './collectors/call-meta.js';

export interface Endpoint {
  ip: string;
  port: number;
}

export interface FrameBytes {
  linkType: number;
  data: Buffer;
  origLen: number;
  /** the frame's own capture time when it is not the packet's (an earlier segment or fragment) */
  tsUs?: number;
  /** the frame's number in its source's stream, when it has one (tells a frame listed twice) */
  no?: number;
}

/** One transport payload from any source (a pcap unit, a HEP packet). */
export interface PacketInput {
  tsUs: number;
  /** udp | tcp | sctp | ws | tls | wss */
  transport: string;
  src: Endpoint;
  dst: Endpoint;
  payload: Buffer;
  /** the original frame (pcap sources) or a rebuilt one (HEP); only called for capture_pcap sessions */
  frame?: () => FrameBytes | null;
  /** already parsed SIP (HEP says the payload is SIP) */
  sip?: SipMessage;
  /** the other frames that carried the payload (earlier TCP segments, IP fragments), in capture order */
  earlierFrames?: () => FrameBytes[];
  /** the source that saw it (its name: `live:lo`, `hep:udp:…`), set by the collector host */
  source?: string;
}

/**
 * One message, one row: the same SIP message (same bytes) seen by a second packet source of the
 * agent (live capture on `lo` plus Kamailio's HEP copy, two interfaces) within this window of capture
 * time is one event listing both sources, not a second event. Why 50 ms: a mirror copy (HEP from the
 * proxy, a second tap) is sent as the proxy handles the message, within a few ms even under load,
 * while a real retransmission comes at the earliest after Timer A/E's T1 = 500 ms (RFC 3261
 * §17.1.1.2, §17.1.2.2), ten times the window, so it stays a second event (marked as a
 * retransmission). A message repeated by the *same* source is never merged.
 */
export const DUPLICATE_WINDOW_US = 50_000;
/** messages remembered for the window (the oldest go first when more arrive within it) */
const RECENT_SIP_MAX = 10_000;

interface RecentSip {
  tsUs: number;
  /** sources that saw it; the held events of the message list this very array */
  sources: string[];
  /** captures its events went to (their merged duplicates are counted) */
  captures: Capture[];
}

export interface CaptureManagerOptions {
  uploader: Pick<Uploader, 'enqueue' | 'closeSession' | 'stats' | 'heartbeat'>;
  /**
   * The frames-only path (frame-upload.ts) for capture_pcap sessions: every RTP/RTCP frame of the
   * matched dialogs (capture_rtp) and the earlier frames of split SIP messages. Without it, sampled
   * RTP/RTCP events carry their own frame (and only those reach the PCAP).
   */
  frames?: Pick<FrameUploader, 'enqueue' | 'closeSession'>;
  /** whether the agent can capture at all (sources failed, none configured), sent with the counters */
  health?: () => { state: 'capturing' | 'failed'; reason?: string };
  /**
   * Source-level losses that hit every capture (kernel drops of tcpdump, HEP packets refused for a
   * bad auth key, malformed HEP): reported per capture as the growth since it started.
   */
  sourceDrops?: () => Record<string, number>;
  /** seconds between counter heartbeats of a capture with nothing to upload (0 = never) */
  heartbeatS?: number;
  tenantHeaders?: string[];
  /** headers naming a linked leg's Call-ID (B2BUA/SBC; default X-CID, X-Call-ID) */
  xcidHeaders?: string[];
  /** RTP sampling: first N packets per stream, then 1 in M */
  rtpSampleFirst?: number;
  rtpSampleEvery?: number;
  /** dialogs tracked at once, in all and per session (the engine's defaults when absent) */
  maxDialogs?: number;
  maxDialogsPerSession?: number;
  /** file remembering running captures, so a restart resumes them before the center re-asserts */
  stateFile?: string;
  /** wall clock in ms (tests may move it) */
  now?: () => number;
  log?: (msg: string) => void;
}

interface Capture {
  cmd: CaptureCommand;
  expiresAtMs: number;
  startedAtMs: number;
  /** packets_seen = packetsSeen - seenBase (seenBase goes negative by what was seen before a restart) */
  seenBase: number;
  dropBase: Record<string, number>;
  matched: number;
  emitted: number;
  dropped: Record<string, number>;
  /** SIP messages a second source also saw (one event each, both sources listed) */
  merged: number;
  /** frames (number/time) sent lately: a frame that ends one message and starts the next, split, goes once */
  recentFrames: string[];
}

/** split-message frames remembered per capture to send each once */
const RECENT_FRAMES = 64;

export interface CaptureView {
  session_id: string;
  criteria: CaptureCommand['criteria'];
  capture_rtp: boolean;
  capture_pcap: boolean;
  expires_at: string;
  started_at: string;
  counters: {
    packets_seen: number;
    packets_matched: number;
    events: number;
    events_uploaded: number;
    events_queued: number;
    events_spooled: number;
    dialogs: number;
    /** SIP messages seen by two sources and kept as one event (`sources` lists both) */
    duplicates_merged: number;
    dropped: Record<string, number>;
  };
  upload_error?: string;
}

const TRANSPORT_SET = new Set<string>(TRANSPORTS);
const MAX_CAPTURES = 256;

/** Log lines that no session took, kept for a follow command arriving after them: how many, how long. */
const RECENT_LOG_LINES = 2000;
const RECENT_LOG_MS = 10_000;
interface RecentLog {
  line: string;
  tsUs: number;
  source: string;
  callId: string | undefined;
  atMs: number;
}

export class CaptureManager {
  readonly engine: MatchEngine;
  private readonly o: CaptureManagerOptions;
  private readonly captures = new Map<string, Capture>();
  /** finished captures' last view, for status (bounded) */
  private readonly ended = new Map<string, CaptureView & { ended: string }>();
  private packetsSeen = 0;
  private logLinesSeen = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  /** counters changed since the state file was written */
  private dirty = false;
  /** when false (a replay runs), the engine clock follows packet time only */
  wallClockAdvance = true;
  readonly counters = { packets: 0, sip_parse_errors: 0, log_lines: 0, call_meta: 0, events: 0, internal_errors: 0, sip_duplicates_merged: 0 };
  /**
   * More than one packet source (set by the agent): SIP messages are then deduplicated across
   * sources (DUPLICATE_WINDOW_US) and their events held for the window so they can list every source.
   */
  multiSource = false;
  private readonly recentSip = new Map<string, RecentSip>();
  /** the message being matched (multiSource): its events are held and list its sources */
  private current: RecentSip | null = null;
  private held: { at: number; c: Capture; ev: OutgoingEvent }[] = [];
  private heldTimer: NodeJS.Timeout | undefined;
  /** call state and route events that came before their dialog was known: retried for a few seconds */
  readonly pendingMeta = new CallMetaBuffer();
  /** log lines no session took, kept briefly for a follow command that comes just after them */
  private recentLogs: RecentLog[] = [];

  constructor(opts: CaptureManagerOptions) {
    this.o = opts;
    this.engine = new MatchEngine({
      tenantHeaders: opts.tenantHeaders && opts.tenantHeaders.length > 0 ? opts.tenantHeaders : undefined,
      linkHeaders: opts.xcidHeaders && opts.xcidHeaders.length > 0 ? opts.xcidHeaders : undefined,
      rtpSampleFirst: opts.rtpSampleFirst,
      rtpSampleEvery: opts.rtpSampleEvery,
      maxDialogs: opts.maxDialogs,
      maxDialogsPerSession: opts.maxDialogsPerSession,
      onStats: (ev) => this.onStats(ev),
    });
    if (opts.stateFile) this.loadState(opts.stateFile);
  }

  private now(): number {
    return this.o.now ? this.o.now() : Date.now();
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.engine.flush();
    this.releaseHeld(Infinity);
  }

  /** Local expiry and clock: called every second. */
  tick(): void {
    const now = this.now();
    for (const [id, c] of this.captures) if (c.expiresAtMs <= now) this.remove(id, 'expired');
    if (this.wallClockAdvance) this.engine.advance(now * 1000);
    this.pendingMeta.retry(now, (m) => this.takeCallMeta(m));
    // Counters survive a restart: written with the running captures, at most once a second.
    if (this.dirty) this.saveState();
    const every = this.o.heartbeatS ?? 5;
    if (every > 0 && ++this.ticks % every === 0) {
      for (const c of this.captures.values()) this.o.uploader.heartbeat(c.cmd.session_id, c.cmd.ingest_url);
    }
  }

  /**
   * Idempotent start/update of a capture. Throws the zod error on invalid input (the command API
   * turns it into a 400); returns whether it was new.
   */
  put(input: unknown): { created: boolean; capture: CaptureView } {
    const cmd = captureCommandSchema.parse(input);
    const expiresAtMs = Date.parse(cmd.expires_at);
    const old = this.captures.get(cmd.session_id);
    if (!old && this.captures.size >= MAX_CAPTURES) throw new RangeError(`this agent runs at most ${MAX_CAPTURES} captures at once`);
    this.engine.addSession({
      id: cmd.session_id,
      criteria: cmd.criteria,
      captureRtp: cmd.capture_rtp,
      expiresAtUs: expiresAtMs * 1000,
    });
    if (old) {
      old.cmd = cmd;
      old.expiresAtMs = expiresAtMs;
    } else {
      this.captures.set(cmd.session_id, {
        cmd,
        expiresAtMs,
        startedAtMs: this.now(),
        seenBase: this.packetsSeen,
        dropBase: this.o.sourceDrops?.() ?? {},
        matched: 0,
        emitted: 0,
        dropped: {},
        merged: 0,
        recentFrames: [],
      });
      this.ended.delete(cmd.session_id);
      this.o.log?.(`capture ${cmd.session_id} started (${describeCriteria(cmd)})`);
    }
    this.saveState();
    if (expiresAtMs <= this.now()) this.remove(cmd.session_id, 'expired');
    return { created: !old, capture: this.view(cmd.session_id)! };
  }

  /** Stops a capture; false when it is not running. */
  remove(id: string, why: 'deleted' | 'expired' = 'deleted'): boolean {
    const c = this.captures.get(id);
    if (!c) return false;
    // Final stream summaries are emitted by the engine while the capture is still known.
    this.engine.removeSession(id);
    this.releaseHeld(Infinity);
    const v = this.view(id)!;
    this.captures.delete(id);
    this.ended.set(id, { ...v, ended: why });
    if (this.ended.size > 100) this.ended.delete(this.ended.keys().next().value as string);
    this.o.uploader.closeSession(id);
    this.o.frames?.closeSession(id);
    this.saveState();
    this.o.log?.(`capture ${id} ${why === 'expired' ? 'expired' : 'stopped'}`);
    return true;
  }

  /** Drops of a capture: its own, plus source-level losses since it started. */
  private dropsOf(c: Capture): Record<string, number> {
    const out: Record<string, number> = { ...c.dropped };
    const now = this.o.sourceDrops?.() ?? {};
    for (const [k, v] of Object.entries(now)) {
      const d = v - (c.dropBase[k] ?? 0);
      if (d > 0) out[k] = (out[k] ?? 0) + d;
    }
    return out;
  }

  ids(): string[] {
    return [...this.captures.keys()];
  }

  has(id: string): boolean {
    return this.captures.has(id);
  }

  view(id: string): CaptureView | undefined {
    const c = this.captures.get(id);
    if (!c) return undefined;
    const up = this.o.uploader.stats(id);
    const ec = this.engine.sessionCounters(id);
    const dropped = this.dropsOf(c);
    for (const [k, v] of Object.entries(up?.dropped ?? {})) dropped[k] = (dropped[k] ?? 0) + v;
    if (ec && ec.evicted > 0) dropped.dialogs_evicted = ec.evicted;
    return {
      session_id: id,
      criteria: c.cmd.criteria,
      capture_rtp: c.cmd.capture_rtp,
      capture_pcap: c.cmd.capture_pcap,
      expires_at: c.cmd.expires_at,
      started_at: new Date(c.startedAtMs).toISOString(),
      counters: {
        packets_seen: this.packetsSeen - c.seenBase,
        packets_matched: c.matched,
        events: c.emitted,
        events_uploaded: (up?.uploaded ?? 0) + (up?.duplicates ?? 0),
        events_queued: up?.queued ?? 0,
        events_spooled: up?.spooled ?? 0,
        dialogs: ec?.dialogs ?? 0,
        duplicates_merged: c.merged,
        dropped,
      },
      ...(up?.last_error ? { upload_error: up.last_error } : {}),
    };
  }

  views(): CaptureView[] {
    return this.ids().map((id) => this.view(id)!);
  }

  recentlyEnded(): (CaptureView & { ended: string })[] {
    return [...this.ended.values()];
  }

  /** What the uploader sends with each batch (the center's session page shows it). */
  countersFor(id: string): Omit<AgentCounters, 'events_uploaded' | 'dropped'> & { dropped?: Record<string, number> } {
    const c = this.captures.get(id);
    if (!c) {
      const e = this.ended.get(id);
      return {
        session_id: id,
        packets_seen: e?.counters.packets_seen ?? 0,
        packets_matched: e?.counters.packets_matched ?? 0,
        dropped: {},
      };
    }
    const h = this.o.health?.();
    return {
      session_id: id,
      packets_seen: this.packetsSeen - c.seenBase,
      packets_matched: c.matched,
      dropped: this.dropsOf(c),
      ...(h ? { state: h.state, ...(h.reason ? { reason: h.reason.slice(0, 512) } : {}) } : {}),
    };
  }

  // ---- input --------------------------------------------------------------------------------

  /** One packet from any source. Never throws. */
  onPacket(p: PacketInput): void {
    this.packetsSeen++;
    this.counters.packets++;
    if (this.captures.size === 0) return;
    try {
      if (this.multiSource && p.source !== undefined && sipLike(p) && this.seenElsewhere(p)) return;
      const meta = { tsUs: p.tsUs, transport: p.transport, src: p.src, dst: p.dst };
      const hit = p.sip ? this.engine.onSip(meta, p.sip) : this.engine.onDatagram(meta, p.payload);
      if (hit === null) return;
      if (hit.kind === 'sip') this.onSipHit(hit, p);
      else this.onMediaHit(hit, p);
    } catch (e) {
      this.counters.internal_errors++;
      this.o.log?.(`internal error while matching a packet: ${(e as Error).message}`);
    } finally {
      this.current = null;
    }
  }

  /**
   * True when another source saw the same message within the window: it is then that message's
   * event (its sources grow), counted, and not matched again. Otherwise the message is remembered
   * and becomes `current`, so its events are held for the window and list its sources.
   */
  private seenElsewhere(p: PacketInput): boolean {
    const key = p.payload.toString('latin1');
    const r = this.recentSip.get(key);
    if (r !== undefined && Math.abs(p.tsUs - r.tsUs) <= DUPLICATE_WINDOW_US) {
      if (!r.sources.includes(p.source!)) {
        if (r.sources.length < 8) r.sources.push(p.source!);
        this.counters.sip_duplicates_merged++;
        for (const c of r.captures) c.merged++;
        return true;
      }
    }
    // a new message (or the same bytes from the same source: a retransmission, its own event)
    this.recentSip.delete(key);
    for (const [k, old] of this.recentSip) {
      if (this.recentSip.size < RECENT_SIP_MAX && p.tsUs - old.tsUs <= 4 * DUPLICATE_WINDOW_US) break;
      this.recentSip.delete(k);
    }
    this.current = { tsUs: p.tsUs, sources: [p.source!], captures: [] };
    this.recentSip.set(key, this.current);
    return false;
  }

  /** Sends the held events whose window ended by `nowMs` (all with Infinity), in order. */
  private releaseHeld(nowMs: number): void {
    let n = 0;
    while (n < this.held.length && this.held[n].at <= nowMs) n++;
    if (n === 0) return;
    const out = this.held.splice(0, n);
    for (const h of out) this.o.uploader.enqueue(h.c.cmd.session_id, h.c.cmd.ingest_url, h.ev);
    if (this.held.length === 0 && this.heldTimer) {
      clearTimeout(this.heldTimer);
      this.heldTimer = undefined;
    }
  }

  private armHeld(): void {
    if (this.heldTimer || this.held.length === 0) return;
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined;
      this.releaseHeld(Date.now());
      this.armHeld();
    }, Math.max(0, this.held[0].at - Date.now()));
    this.heldTimer.unref();
  }

  /** One log line from any log source; `callId` when the source knows it (structured logs). Never throws. */
  onLogLine(line: string, tsUs: number, source: string, callId?: string): void {
    this.logLinesSeen++;
    this.counters.log_lines++;
    if (this.captures.size === 0) return;
    try {
      const ids = callId === undefined ? null : this.engine.sessionsOfCall(callId);
      const hit: LogHit | null = ids ? { kind: 'log', line, source, tsUs, sessions: ids.map((id) => ({ id, callId })) } : this.engine.onLogLine(line, tsUs, source);
      if (hit !== null) this.onLogHit(hit);
      else this.keepRecentLog(line, tsUs, source, callId);
    } catch (e) {
      this.counters.internal_errors++;
      this.o.log?.(`internal error while matching a log line: ${(e as Error).message}`);
    }
  }

  /** A platform's call state or a routing decision (collectors/collector.ts). Never throws. */
  onCallMeta(m: CallMeta): void {
    this.counters.call_meta++;
    if (this.captures.size === 0) return;
    try {
      if (!this.takeCallMeta(m)) this.pendingMeta.add(m, this.now());
    } catch (e) {
      this.counters.internal_errors++;
      this.o.log?.(`internal error while matching call metadata: ${(e as Error).message}`);
    }
  }

  /** Sends `m` to the sessions capturing its dialog; false when none does (yet). */
  private takeCallMeta(m: CallMeta): boolean {
    const ids = this.engine.sessionsOfCall(m.call_id);
    if (ids === null) return false;
    for (const id of ids) {
      const c = this.captures.get(id);
      if (!c) continue;
      c.matched++;
      const ev = this.base(id, { tsUs: m.ts_us, transport: null, src: null, dst: null });
      ev.kind = m.kind;
      ev.call_id = m.call_id.slice(0, 1024);
      ev.payload = m.line?.slice(0, PAYLOAD_MAX_BYTES) ?? null;
      if (m.kind === 'callstate') ev.callstate = m.callstate;
      else ev.route = m.route;
      this.send(c, ev);
    }
    return true;
  }

  /**
   * Session `id` captures these Call-IDs from now on, as if it had matched them (another agent of the
   * session did: the center's follow command): their packets, linked legs and log lines. False when
   * no capture of that session runs here.
   */
  follow(id: string, callIds: readonly string[]): boolean {
    if (!this.captures.has(id) || !this.engine.follow(id, callIds)) return false;
    // Lines of these calls logged in the moments before the follow command arrived (the other
    // agent matched first, then ingest and the center took their time): delivered now.
    const now = this.now();
    const wanted = new Set(this.engine.dialogsOf(id));
    const keep: RecentLog[] = [];
    for (const r of this.recentLogs) {
      if (now - r.atMs > RECENT_LOG_MS) continue;
      const cid = r.callId !== undefined ? (wanted.has(r.callId) ? r.callId : undefined) : callIds.find((c) => r.line.includes(c));
      if (cid === undefined) keep.push(r);
      else this.onLogHit({ kind: 'log', line: r.line, source: r.source, tsUs: r.tsUs, sessions: [{ id, callId: cid }] });
    }
    this.recentLogs = keep;
    return true;
  }

  private keepRecentLog(line: string, tsUs: number, source: string, callId: string | undefined): void {
    // trimmed in steps (amortised): the oldest RECENT_LOG_LINES go when twice as many are kept
    if (this.recentLogs.length >= 2 * RECENT_LOG_LINES) this.recentLogs = this.recentLogs.slice(RECENT_LOG_LINES);
    this.recentLogs.push({ line, tsUs, source, callId, atMs: this.now() });
  }

  /**
   * Two Call-IDs are legs of one call (a platform collector knows it: FreeSWITCH's
   * Other-Leg-Unique-ID, Asterisk's Linkedid): a session capturing either captures both.
   */
  linkCallIds(a: string, b: string): void {
    try {
      this.engine.linkCallIds(a, b);
    } catch (e) {
      this.counters.internal_errors++;
      this.o.log?.(`internal error while linking calls: ${(e as Error).message}`);
    }
  }

  /** A packet a source could not use for a session reason (e.g. HEP auth failure is not per session). */
  countDrop(id: string, reason: string, n = 1): void {
    const c = this.captures.get(id);
    if (c) c.dropped[reason] = (c.dropped[reason] ?? 0) + n;
  }

  // ---- events ---------------------------------------------------------------------------------

  private base(id: string, p: { tsUs: number; transport: string | null; src: Endpoint | null; dst: Endpoint | null }): OutgoingEvent {
    return {
      session_id: id,
      ts: Math.max(0, Math.trunc(p.tsUs)),
      kind: 'sip',
      transport: p.transport !== null && TRANSPORT_SET.has(p.transport) ? (p.transport as OutgoingEvent['transport']) : null,
      src: p.src ? { ip: p.src.ip, port: p.src.port } : null,
      dst: p.dst ? { ip: p.dst.ip, port: p.dst.port } : null,
      call_id: null,
      sip: null,
      payload: null,
      rtp: null,
      rtcp: null,
      stats: null,
      log: null,
      callstate: null,
      route: null,
      frame: null,
    };
  }

  private frameFor(c: Capture, p: PacketInput, cache: { v?: OutgoingEvent['frame'] }): OutgoingEvent['frame'] {
    if (!c.cmd.capture_pcap || !p.frame) return null;
    if (cache.v !== undefined) return cache.v;
    const f = p.frame();
    cache.v = f ? { link_type: f.linkType, data: f.data.toString('base64'), orig_len: f.origLen } : null;
    return cache.v;
  }

  /** The packet's frame on the frames path (capture_pcap sessions); a packet without one sends nothing. */
  private sendFrame(c: Capture, p: PacketInput, cache: { raw?: FrameBytes | null }): void {
    if (!p.frame) return;
    if (cache.raw === undefined) cache.raw = p.frame();
    const f = cache.raw;
    if (f && f.data.length > 0) this.o.frames!.enqueue(c.cmd.session_id, c.cmd.ingest_url, { linkType: f.linkType, tsUs: Math.max(0, Math.trunc(p.tsUs)), origLen: f.origLen, data: f.data });
  }

  /** false when the frame (its number in its source and its time) went to this capture's PCAP lately */
  private rememberFrame(c: Capture, key: string): boolean {
    if (c.recentFrames.includes(key)) return false;
    c.recentFrames.push(key);
    if (c.recentFrames.length > RECENT_FRAMES) c.recentFrames.shift();
    return true;
  }

  private sendSplitFrames(c: Capture, p: PacketInput): void {
    const last = p.frame?.();
    const all = [...p.earlierFrames!(), ...(last ? [last] : [])];
    for (const f of all) {
      if (f.no !== undefined && !this.rememberFrame(c, `${f.no}/${f.tsUs}`)) continue;
      this.o.frames!.enqueue(c.cmd.session_id, c.cmd.ingest_url, { linkType: f.linkType, tsUs: Math.max(0, Math.trunc(f.tsUs ?? p.tsUs)), origLen: f.origLen, data: f.data });
    }
  }

  private send(c: Capture, ev: OutgoingEvent): void {
    c.emitted++;
    this.dirty = true;
    this.counters.events++;
    const cur = this.current;
    if (cur !== null && (ev.kind === 'sip' || ev.kind === 'webrtc')) {
      // held for the window: a second source's copy may still come and be listed (same array)
      ev.sources = cur.sources;
      if (!cur.captures.includes(c)) cur.captures.push(c);
      this.held.push({ at: Date.now() + DUPLICATE_WINDOW_US / 1000, c, ev });
      this.armHeld();
      return;
    }
    this.o.uploader.enqueue(c.cmd.session_id, c.cmd.ingest_url, ev);
  }

  private onSipHit(hit: SipHit, p: PacketInput): void {
    const msg = hit.msg;
    const summary = sipSummary(msg);
    const payload = textPayload(msg.raw);
    const frameCache: { v?: OutgoingEvent['frame'] } = {};
    for (const take of hit.sessions) {
      const c = this.captures.get(take.id);
      if (!c) continue;
      c.matched++;
      const ev = this.base(take.id, p);
      ev.kind = 'sip';
      ev.call_id = hit.callId.slice(0, 1024);
      ev.sip = summary;
      ev.payload = payload;
      if (hit.legs !== undefined) ev.linked_call_ids = hit.legs.slice(0, LINKED_CALL_IDS_MAX).map((l) => l.slice(0, 1024));
      if (hit.legsInferred === true) ev.linked_inferred = true;
      // A message split over several frames (TCP segments, IP fragments) travels as all of them, in
      // capture order, on the frames path (Wireshark reassembles them from the export); one frame
      // stays with its event.
      if (p.earlierFrames && c.cmd.capture_pcap && this.o.frames) this.sendSplitFrames(c, p);
      else {
        ev.frame = this.frameFor(c, p, frameCache);
        // this frame may also start the next message, split: it is then not sent again
        const f = ev.frame && this.o.frames ? p.frame?.() : undefined;
        if (f?.no !== undefined) this.rememberFrame(c, `${f.no}/${f.tsUs}`);
      }
      this.send(c, ev);
      // SIP over WebSocket is also a webrtc event (DESIGN §5); the frame travels once, with the sip event.
      if (hit.webrtc) this.send(c, { ...ev, kind: 'webrtc', payload: null, frame: null });
    }
  }

  private onMediaHit(hit: MediaHit, p: PacketInput): void {
    const frameCache: { v?: OutgoingEvent['frame']; raw?: FrameBytes | null } = {};
    let rtcp: Rtcp | null | undefined;
    for (const id of hit.sessions) {
      const c = this.captures.get(id);
      if (!c) continue;
      c.matched++;
      // Full media in the PCAP: every matched packet's frame goes on the frames path, in capture order.
      const full = this.o.frames !== undefined && c.cmd.capture_pcap;
      if (full) this.sendFrame(c, p, frameCache);
      // Samples only: every matched packet counts in the stream statistics, a few travel as events.
      if (!hit.sample) continue;
      const ev = this.base(id, p);
      ev.kind = hit.kind;
      ev.call_id = hit.callId.slice(0, 1024);
      if (hit.rtp) {
        ev.rtp = {
          ssrc: hit.rtp.ssrc >>> 0,
          pt: hit.rtp.pt,
          seq: hit.rtp.seq,
          ts: hit.rtp.ts >>> 0,
          marker: hit.rtp.marker,
          ...(hit.rtp.codec ? { codec: hit.rtp.codec.slice(0, 32) } : {}),
        };
      }
      if (hit.kind === 'rtcp') ev.rtcp = rtcp === undefined ? (rtcp = rtcpSummary(p.payload)) : rtcp;
      // with the frames path the sample's frame is already on its way there (not twice in the PCAP)
      ev.frame = full ? null : this.frameFor(c, p, frameCache);
      this.send(c, ev);
    }
  }

  private onLogHit(hit: LogHit): void {
    for (const t of hit.sessions) {
      const c = this.captures.get(t.id);
      if (!c) continue;
      c.matched++;
      const ev = this.base(t.id, { tsUs: hit.tsUs, transport: null, src: null, dst: null });
      ev.kind = 'log';
      ev.call_id = t.callId?.slice(0, 1024) ?? null;
      ev.payload = hit.line.slice(0, PAYLOAD_MAX_BYTES);
      ev.log = { source: hit.source.slice(0, 512) };
      this.send(c, ev);
    }
  }

  private onStats(st: StatsEvent): void {
    const s = st.stats;
    for (const id of st.sessions) {
      const c = this.captures.get(id);
      if (!c) continue;
      const ev = this.base(id, { tsUs: s.lastTsUs || this.now() * 1000, transport: 'udp', src: s.src, dst: s.dst });
      ev.kind = 'rtp';
      ev.call_id = st.callId.slice(0, 1024);
      ev.stats = {
        ssrc: s.ssrc >>> 0,
        packets: s.packets,
        expected: s.expected,
        lost: s.lost,
        jitter_ms: round3(Math.max(0, s.jitterMs)),
        max_delta_ms: round3(Math.max(0, s.maxDeltaMs)),
        duplicates: s.duplicates,
        out_of_order: s.reordered,
        mean_jitter_ms: round3(Math.max(0, s.meanJitterMs)),
        max_jitter_ms: round3(Math.max(0, s.maxJitterMs)),
        duration_ms: round3(Math.max(0, s.durationMs)),
        mos: s.mos === undefined ? null : Math.min(5, Math.max(1, round3(s.mos))),
        codec: s.codec?.slice(0, 32) ?? null,
        final: st.final,
      };
      this.send(c, ev);
    }
  }

  // ---- state across restarts ------------------------------------------------------------------

  private saveState(): void {
    const f = this.o.stateFile;
    if (!f) return;
    this.dirty = false;
    try {
      writeStateFile(
        f,
        [...this.captures.values()].map((c) => ({
          ...c.cmd,
          // not part of the command: what this capture counted so far, so a restart carries on from there
          counters: { packets_seen: this.packetsSeen - c.seenBase, packets_matched: c.matched, events: c.emitted, dropped: this.dropsOf(c) },
        })),
      );
    } catch (e) {
      this.o.log?.(`cannot save running captures to ${f}: ${(e as Error).message}`);
    }
  }

  private loadState(f: string): void {
    let list: unknown;
    try {
      list = JSON.parse(readFileSync(f, 'utf8'));
    } catch {
      return;
    }
    if (!Array.isArray(list)) return;
    for (const item of list) {
      try {
        const { counters: saved, ...command } = item as { counters?: unknown };
        const cmd = captureCommandSchema.parse(command);
        if (Date.parse(cmd.expires_at) <= this.now()) continue;
        this.put(cmd);
        const c = this.captures.get(cmd.session_id);
        if (c && saved && typeof saved === 'object') restoreCounters(c, saved as Record<string, unknown>, this.packetsSeen);
      } catch {
        // a capture the current schema refuses: the center re-asserts what is still running
      }
    }
  }
}

/** Puts a capture's counters from the state file back (source drops folded into its own: their bases restart). */
function restoreCounters(c: Capture, saved: Record<string, unknown>, packetsSeen: number): void {
  const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
  c.seenBase = packetsSeen - num(saved.packets_seen);
  c.matched = num(saved.packets_matched);
  c.emitted = num(saved.events);
  if (saved.dropped && typeof saved.dropped === 'object') {
    for (const [k, v] of Object.entries(saved.dropped as Record<string, unknown>)) if (num(v) > 0) c.dropped[k.slice(0, 64)] = num(v);
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function describeCriteria(cmd: CaptureCommand): string {
  const parts = Object.entries(cmd.criteria)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`);
  if (cmd.capture_rtp) parts.push('rtp');
  if (cmd.capture_pcap) parts.push('pcap');
  return parts.join(' ');
}

/** SIP from HEP, or a datagram/message whose first byte is an upper-case letter (RTP, RTCP, STUN, DTLS never are). */
function sipLike(p: PacketInput): boolean {
  if (p.sip !== undefined) return true;
  const b = p.payload.length > 8 ? p.payload[0] : 0;
  return b >= 0x41 && b <= 0x5a;
}

function textPayload(raw: Buffer): string {
  const s = raw.toString('utf8');
  return s.length > PAYLOAD_MAX_BYTES ? s.slice(0, PAYLOAD_MAX_BYTES) : s;
}

const userOf = (v: string | undefined): string | undefined => {
  if (v === undefined) return undefined;
  const u = parseUriParts(uriOfHeaderValue(v))?.user;
  return u === undefined ? undefined : u.slice(0, 256);
};

/** The SIP summary of DESIGN §6 (method or status and reason, CSeq, from/to users, has SDP). */
export function sipSummary(msg: SipMessage): SipSummary {
  const out: SipSummary = { has_sdp: false };
  if (msg.isRequest && msg.method) out.method = msg.method.slice(0, 32);
  if (!msg.isRequest && msg.statusCode !== undefined && msg.statusCode >= 100 && msg.statusCode <= 699) {
    out.status = msg.statusCode;
    if (msg.reason) out.reason = msg.reason.slice(0, 256);
  }
  if (msg.cseq) {
    if (msg.cseq.seq >= 0 && msg.cseq.seq <= 4_294_967_295) out.cseq_seq = msg.cseq.seq;
    out.cseq_method = msg.cseq.method.slice(0, 32);
  }
  const from = userOf(msg.header('from'));
  const to = userOf(msg.header('to'));
  if (from !== undefined) out.from_user = from;
  if (to !== undefined) out.to_user = to;
  out.has_sdp = sdpOfBody(msg.header('content-type'), msg.body) !== undefined; // multipart (SIP-I/SIP-T) too
  return out;
}

/** First RTCP packet of a compound: its type, sender SSRC and a few flat fields. */
export function rtcpSummary(payload: Buffer): Rtcp | null {
  const r = parseRtcp(payload);
  if (!r.ok || r.packets.length === 0) {
    if (payload.length < 8) return null;
    return { type: payload[1], ssrc: payload.readUInt32BE(4), fields: {} };
  }
  const first = r.packets[0] as unknown as Record<string, unknown>;
  const fields: Rtcp['fields'] = { packets: r.packets.length };
  for (const [k, v] of Object.entries(first)) {
    if (k === 'type' || k === 'ssrc') continue;
    if (typeof v === 'number' || typeof v === 'boolean') fields[k.slice(0, 64)] = v;
    else if (typeof v === 'string') fields[k.slice(0, 64)] = v.slice(0, 256);
  }
  const rb = Array.isArray(first.reports) ? (first.reports[0] as Record<string, unknown> | undefined) : undefined;
  if (rb) {
    // RFC 3550 §6.4.1: the first report block is what a support engineer reads first.
    for (const k of ['fractionLost', 'cumulativeLost', 'highestSeq', 'jitter']) {
      if (typeof rb[k] === 'number') fields[`report_${k}`] = rb[k] as number;
    }
  }
  const type = typeof first.type === 'number' ? first.type : payload[1];
  const ssrc = typeof first.ssrc === 'number' ? first.ssrc >>> 0 : payload.length >= 8 ? payload.readUInt32BE(4) : undefined;
  return { type: type & 0xff, ...(ssrc !== undefined ? { ssrc } : {}), fields };
}
