// Upload: gets events to the center's POST /api/ingest reliably without ever blocking capture.
// Owns per-session `seq` assignment (strictly increasing, never reused across restarts when a spool
// is configured; see spool.ts), batching (Nagle-like, below), retry with bounded exponential
// backoff, spilling to the on-disk spool whenever the center is not acknowledging and flushing it in
// order when the center answers again, and the per-session counters of all of that (persisted next
// to the spool, so they survive a restart). It does not build events (capture-manager.ts does) and
// does not know what a session matches.
//
// Flow per session ("lane"): enqueue → the event becomes its JSON text once (spool and POST body
// reuse it) → memory queue → batch POST. Durability: with a spool, once the center is not
// acknowledging (no answer for `spillAfterMs`, 100 ms: down, hung, unreachable), no event stays in
// memory longer than spillAfterMs: the lane's memory (including a batch still waiting for its
// answer) goes to the spool, and from then on the lane reads from the spool until it is empty again,
// so the order of seqs on the wire is preserved and a kill -9 loses at most the last 100 ms. While
// the center answers, events go from memory (no disk traffic). Without a spool the lane keeps
// retrying from memory.
//
// Memory is bounded in bytes (`queueMaxBytes`), with a fair share per session: a lane may hold at
// most queueMaxBytes / lanes. A lane over its share spills to the spool (nothing is dropped while the
// spool has room); without a spool only that lane's new events are dropped (`queue_full`), so a
// busy session never makes a quiet one lose events.
//
// Batching is Nagle-like: when no request of the lane is in flight, what is queued goes at once
// (after `lingerMs`, 0 by default: the events of one read from tcpdump still travel together);
// while one is in flight, events pile up and leave as the next batch (≤ batchMax) the moment it is
// answered. So an idle agent adds no delay to an event, and a busy one sends big batches without a
// timer. Requests of a lane start at least `minIntervalMs` (20 ms) apart, so a steady trickle
// (hundreds of events/s, each alone) costs ≤ 50 requests/s instead of one per event, for ≤ 20 ms
// of delay. While spooling (center away), batches wait batchMs so the disk sees few writes.
import http from 'node:http';
import https from 'node:https';
import type { AgentCounters, IngestEvent, IngestResult } from '../core/schema/index.js';
import { INGEST_MAX_EVENTS } from '../core/schema/index.js';
import type { Spool } from './spool.js';

export type OutgoingEvent = Omit<IngestEvent, 'seq'>;

export interface UploaderOptions {
  /** the agent token, sent as `Authorization: Bearer` */
  token: string;
  spool?: Spool;
  batchMax?: number;
  /** how long a batch waits for more events while spooling (center away) */
  batchMs?: number;
  /** how long a first event waits for company when no request is in flight (0: send at once) */
  lingerMs?: number;
  /** least time between the starts of two requests of a session (bounds requests/s under a trickle) */
  minIntervalMs?: number;
  /** JSON bytes per batch (the center takes ≤ 8 MB) */
  batchMaxBytes?: number;
  /** event bytes (JSON) held in memory across all sessions; each session gets an equal share */
  queueMaxBytes?: number;
  /** with a spool, events not acknowledged after this long are written to it (kill -9 safety) */
  spillAfterMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  /** per-session capture counters to send along with each batch (the session page shows them) */
  countersFor?: (sessionId: string) => Omit<AgentCounters, 'events_uploaded' | 'dropped'> & {
    dropped?: Record<string, number>;
  };
  /** agent identity sent with each batch */
  agentInfo?: { version?: string; sources?: { type: string; detail?: string }[] };
  /** one line per state change worth a human's attention (center down / back), rate limited by the caller */
  log?: (msg: string) => void;
}

export interface LaneStats {
  queued: number;
  spooled: number;
  uploaded: number;
  duplicates: number;
  batches: number;
  failures: number;
  /** events lost, by reason: queue_full, spool_full, rejected_<reason>, http_<status> */
  dropped: Record<string, number>;
  last_error?: string;
}

/** One event as it waits: its JSON text (with seq), UTF-8 size, and when it was queued (ms). */
interface Queued {
  json: string;
  bytes: number;
  at: number;
}

/** The request of a lane on its way: how many events, from where, and whether they were spilled meanwhile. */
interface Flight {
  n: number;
  fromSpool: boolean;
  /** a memory batch spilled while in flight: how many of its events reached the spool (its head) */
  spilled: number | undefined;
}

interface Lane {
  sessionId: string;
  ingestUrl: string;
  nextSeq: number;
  /** hi-lo: seqs below this are reserved in the spool's seq.json */
  reservedTo: number;
  mem: Queued[];
  memBytes: number;
  /** true while events for this lane are read from the spool */
  spooling: boolean;
  inflight: Promise<void> | undefined;
  flight: Flight | undefined;
  timer: NodeJS.Timeout | undefined;
  /** when the pending timer fires (ms since the epoch) */
  timerAt: number;
  /** fires when the oldest event in memory turns spillAfterMs old */
  durabilityTimer: NodeJS.Timeout | undefined;
  /** when the lane's last request started (ms since the epoch) */
  lastSentAt: number;
  /** when the center last acknowledged a batch of the lane (ms since the epoch) */
  lastAckAt: number;
  attempt: number;
  /** no new events will come (capture stopped); remove the lane once drained */
  closing: boolean;
  stats: LaneStats;
}

const SEQ_BLOCK = 10_000;
const COUNTERS_FILE = 'upload-counters.json';
const MAX_FINISHED = 1000;
/** bytes of an ingest answer read (it is a small JSON object; anything longer is cut) */
const MAX_ANSWER = 1024 * 1024;

export class Uploader {
  private readonly o: Required<Omit<UploaderOptions, 'spool' | 'countersFor' | 'agentInfo' | 'log'>> &
    Pick<UploaderOptions, 'spool' | 'countersFor' | 'agentInfo' | 'log'>;
  private readonly lanes = new Map<string, Lane>();
  /** stats of lanes already removed (or from before a restart), kept so status can still show them */
  private readonly finished = new Map<string, LaneStats>();
  private memBytes = 0;
  private closed = false;
  private centerDown = false;
  private countersDirty = false;
  private readonly countersTimer: NodeJS.Timeout | undefined;
  // node:http with keep-alive rather than fetch: a 1 MB body costs no stream or TextEncoder copies.
  private readonly http = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly https = new https.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(opts: UploaderOptions) {
    this.o = {
      batchMax: INGEST_MAX_EVENTS, // the center's limit: fewer, bigger requests when busy
      batchMs: 100,
      lingerMs: 0,
      minIntervalMs: 20,
      batchMaxBytes: 4 * 1024 * 1024,
      queueMaxBytes: 64 * 1024 * 1024,
      spillAfterMs: 100,
      retryBaseMs: 200,
      retryMaxMs: 5_000,
      requestTimeoutMs: 10_000,
      ...opts,
    };
    const spool = this.o.spool;
    if (spool) {
      this.loadCounters(spool);
      this.countersTimer = setInterval(() => this.saveCounters(), 1000);
      this.countersTimer.unref();
    }
    // Sessions spooled before a restart are flushed to where they were going.
    for (const p of spool?.pending() ?? []) {
      const lane = this.lane(p.sessionId, p.ingestUrl);
      lane.spooling = true;
      lane.closing = true; // reopened by enqueue if the capture is re-asserted
      this.schedule(lane, 0);
    }
  }

  /** Queues one event. Never blocks on the network, never throws; returns false when the event was dropped. */
  enqueue(sessionId: string, ingestUrl: string, event: OutgoingEvent): boolean {
    if (this.closed) return false;
    const lane = this.lane(sessionId, ingestUrl);
    lane.closing = false;
    lane.ingestUrl = ingestUrl;
    this.countersDirty = true;
    const seq = this.takeSeq(lane);
    const text = JSON.stringify(event);
    // The event object is never empty, so its text ends with "}": seq goes last, as {...event, seq} would.
    const json = `${text.slice(0, -1)},"seq":${seq}}`;
    const q: Queued = { json, bytes: Buffer.byteLength(json), at: Date.now() };
    if (!this.makeRoom(lane, q.bytes)) {
      this.drop(lane, 'queue_full', 1);
      return false;
    }
    lane.mem.push(q);
    lane.memBytes += q.bytes;
    this.memBytes += q.bytes;
    lane.stats.queued++;
    this.armDurability(lane);
    if (lane.spooling && this.o.spool) {
      // The center is away: behind what is already spooled, in batches, so the disk sees few writes.
      if (lane.mem.length >= this.o.batchMax) this.spill(lane);
      this.schedule(lane, this.o.batchMs);
      return true;
    }
    this.schedule(lane, lane.mem.length >= this.o.batchMax ? 0 : Math.max(this.o.lingerMs, this.spacing(lane)));
    return true;
  }

  /** What the agent says about itself with each batch (version, sources). */
  setAgentInfo(info: NonNullable<UploaderOptions['agentInfo']>): void {
    this.o.agentInfo = info;
  }

  /**
   * Sends a session's counters alone (an empty batch) when nothing else is on its way, so the center
   * can show why nothing arrives (no packets seen, nothing matched, drops). Fire and forget.
   */
  heartbeat(sessionId: string, ingestUrl: string): void {
    if (this.closed) return;
    const lane = this.lane(sessionId, ingestUrl);
    if (lane.inflight || lane.timer || lane.mem.length > 0 || lane.spooling) return;
    lane.inflight = this.post(lane, [])
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => {
        lane.inflight = undefined;
        // Events that came while the heartbeat was on its way were not scheduled (inflight): do it now.
        if (lane.mem.length > 0 || lane.spooling) this.schedule(lane, 0);
        else if (lane.closing && this.lanes.get(lane.sessionId) === lane) this.schedule(lane, 0);
      });
  }

  /** The capture for this session ended: send what is left, then forget the lane. */
  closeSession(sessionId: string): void {
    const lane = this.lanes.get(sessionId);
    if (!lane) return;
    lane.closing = true;
    this.schedule(lane, 0);
  }

  stats(sessionId: string): LaneStats | undefined {
    const l = this.lanes.get(sessionId);
    if (l) return { ...l.stats, queued: l.mem.length, dropped: { ...l.stats.dropped } };
    return this.finished.get(sessionId);
  }

  /** event bytes held in memory, all sessions together, and the limit */
  get memory(): { bytes: number; max_bytes: number } {
    return { bytes: this.memBytes, max_bytes: this.o.queueMaxBytes };
  }

  get centerReachable(): boolean {
    return !this.centerDown;
  }

  /** Sends everything now (tests, shutdown). Bounded: gives up after `maxRounds` attempts. */
  async flush(maxRounds = 50): Promise<void> {
    for (let i = 0; i < maxRounds; i++) {
      const busy = [...this.lanes.values()].filter((l) => l.mem.length > 0 || (l.spooling && this.o.spool?.has(l.sessionId)));
      if (busy.length === 0) return;
      await Promise.all(busy.map((l) => this.pump(l)));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.countersTimer) clearInterval(this.countersTimer);
    for (const l of this.lanes.values()) {
      if (l.timer) clearTimeout(l.timer);
      if (l.durabilityTimer) clearTimeout(l.durabilityTimer);
    }
    await Promise.all([...this.lanes.values()].map((l) => l.inflight));
    // What is still in memory goes to the spool so a restart sends it.
    for (const l of this.lanes.values()) this.spill(l);
    this.saveCounters();
    this.http.destroy();
    this.https.destroy();
  }

  private lane(sessionId: string, ingestUrl: string): Lane {
    let lane = this.lanes.get(sessionId);
    if (!lane) {
      const spool = this.o.spool;
      // Start above anything handed out before: the persisted reservation, and a clock floor for
      // agents without a spool (µs since the epoch grows faster than any real event rate).
      const floor = Math.max(spool?.reservedSeq(sessionId) ?? 0, Date.now() * 1000);
      lane = {
        sessionId,
        ingestUrl,
        nextSeq: floor,
        reservedTo: floor,
        mem: [],
        memBytes: 0,
        spooling: false,
        inflight: undefined,
        flight: undefined,
        timer: undefined,
        timerAt: 0,
        durabilityTimer: undefined,
        lastSentAt: 0,
        lastAckAt: 0,
        attempt: 0,
        closing: false,
        stats: this.finished.get(sessionId) ?? { queued: 0, spooled: 0, uploaded: 0, duplicates: 0, batches: 0, failures: 0, dropped: {} },
      };
      this.finished.delete(sessionId);
      this.lanes.set(sessionId, lane);
    }
    return lane;
  }

  private takeSeq(lane: Lane): number {
    if (lane.nextSeq >= lane.reservedTo) {
      lane.reservedTo = lane.nextSeq + SEQ_BLOCK;
      try {
        this.o.spool?.reserveSeq(lane.sessionId, lane.reservedTo);
      } catch {
        // disk trouble: the clock floor still protects a restart
      }
    }
    return lane.nextSeq++;
  }

  /**
   * Whether `bytes` more fit in memory for this lane: within its fair share of the queue (one event
   * always fits an empty lane) and within the total. When they do not, the lane's backlog spills to
   * the spool first (then lanes holding the most, if the total is still over); without a spool the
   * event is refused.
   */
  private makeRoom(lane: Lane, bytes: number): boolean {
    const max = this.o.queueMaxBytes;
    const share = max / Math.max(1, this.lanes.size);
    const fits = (): boolean => (lane.mem.length === 0 || lane.memBytes + bytes <= share) && this.memBytes + bytes <= max;
    if (fits()) return true;
    if (!this.o.spool) return false;
    this.spill(lane);
    // Bounded: each turn empties one lane's memory.
    for (let i = 0; i < this.lanes.size && !fits(); i++) {
      let big: Lane | undefined;
      for (const l of this.lanes.values()) if (l.memBytes > (big?.memBytes ?? 0)) big = l;
      if (!big) break;
      this.spill(big);
    }
    return fits();
  }

  /** ms until the lane may start its next request (minIntervalMs after the last one started) */
  private spacing(lane: Lane): number {
    return Math.max(0, lane.lastSentAt + this.o.minIntervalMs - Date.now());
  }

  private drop(lane: Lane, reason: string, n: number): void {
    lane.stats.dropped[reason] = (lane.stats.dropped[reason] ?? 0) + n;
    this.countersDirty = true;
  }

  private schedule(lane: Lane, ms: number): void {
    if (this.closed || lane.inflight) return;
    const at = Date.now() + ms;
    if (lane.timer) {
      // Already due (within batchMs, or sooner), or a retry backoff runs: new events do not cut it short.
      if (ms > 0 || lane.timerAt <= at || lane.attempt > 0) return;
      clearTimeout(lane.timer);
    }
    lane.timerAt = at;
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      void this.pump(lane);
    }, ms);
    lane.timer.unref?.();
  }

  /**
   * With a spool: makes sure the lane's memory is on disk once the center is not acknowledging, that
   * is when its oldest event is spillAfterMs old and no answer came for spillAfterMs either. A center
   * that keeps answering (batches acknowledged every few tens of ms under load) costs no disk traffic.
   */
  private armDurability(lane: Lane): void {
    if (!this.o.spool || lane.durabilityTimer || lane.mem.length === 0 || this.closed) return;
    const due = Math.max(lane.mem[0].at, lane.lastAckAt) + this.o.spillAfterMs - Date.now();
    lane.durabilityTimer = setTimeout(() => {
      lane.durabilityTimer = undefined;
      if (this.closed || lane.mem.length === 0) return;
      if (Math.max(lane.mem[0].at, lane.lastAckAt) + this.o.spillAfterMs <= Date.now()) this.spill(lane);
      else this.armDurability(lane);
    }, Math.max(0, due));
    lane.durabilityTimer.unref?.();
  }

  /**
   * Moves the lane's memory to the spool, in order (a batch on its way included: it is the head), and
   * switches the lane to reading from the spool. What does not fit the spool is dropped and counted
   * (`spool_full`), except the part of a batch on its way, which the center may still take.
   */
  private spill(lane: Lane): void {
    const spool = this.o.spool;
    if (!spool || lane.mem.length === 0) return;
    const n = lane.mem.length;
    const f = lane.flight;
    const flying = f && !f.fromSpool && f.spilled === undefined ? f.n : 0;
    const written = spool.append(lane.sessionId, lane.ingestUrl, lane.mem);
    lane.stats.spooled += written;
    if (f && flying > 0) f.spilled = Math.min(written, flying);
    const lost = n - written - Math.max(0, flying - written);
    if (lost > 0) this.drop(lane, 'spool_full', lost);
    this.memBytes -= lane.memBytes;
    lane.mem = [];
    lane.memBytes = 0;
    lane.spooling = true;
    if (lane.durabilityTimer) clearTimeout(lane.durabilityTimer);
    lane.durabilityTimer = undefined;
  }

  private takeBatch(lane: Lane): { lines: string[]; fromSpool: boolean } {
    const spool = this.o.spool;
    if (lane.spooling && spool) {
      // What is spooled is older than anything in memory (a spill moves all of memory), so it goes
      // first; memory waits behind it (spilled too if it waits spillAfterMs), and once the spool is
      // empty the lane sends from memory again: a short stall costs no disk traffic afterwards.
      const lines = spool.peek(lane.sessionId, this.o.batchMax);
      if (lines.length > 0) {
        let bytes = 0;
        let i = 0;
        for (; i < lines.length; i++) {
          bytes += Buffer.byteLength(lines[i]) + 1;
          if (bytes > this.o.batchMaxBytes && i > 0) break;
        }
        return { lines: i < lines.length ? lines.slice(0, i) : lines, fromSpool: true };
      }
      lane.spooling = false; // the spool is empty: back to memory
    }
    const lines: string[] = [];
    let bytes = 0;
    for (const q of lane.mem) {
      if (lines.length >= this.o.batchMax || (bytes + q.bytes + 1 > this.o.batchMaxBytes && lines.length > 0)) break;
      lines.push(q.json);
      bytes += q.bytes + 1;
    }
    return { lines, fromSpool: false };
  }

  private pump(lane: Lane): Promise<void> {
    if (lane.inflight) return lane.inflight;
    if (lane.timer) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    lane.inflight = this.sendOnce(lane)
      .catch(() => undefined as number | undefined)
      .then((next) => {
        lane.inflight = undefined;
        if (next !== undefined && this.lanes.get(lane.sessionId) === lane) this.schedule(lane, next);
      });
    return lane.inflight;
  }

  /** One batch; resolves to the delay before the next attempt, or undefined when idle. */
  private async sendOnce(lane: Lane): Promise<number | undefined> {
    const { lines, fromSpool } = this.takeBatch(lane);
    if (lines.length === 0) {
      if (lane.closing) this.retire(lane);
      return undefined;
    }
    const f: Flight = { n: lines.length, fromSpool, spilled: undefined };
    lane.flight = f;
    const outcome = await this.post(lane, lines);
    lane.flight = undefined; // answered: from here on a spill treats these events as plain memory
    this.countersDirty = true;
    if (outcome.ok) {
      const r = outcome.result;
      lane.attempt = 0;
      lane.lastAckAt = Date.now();
      lane.stats.batches++;
      lane.stats.uploaded += r.accepted;
      lane.stats.duplicates += r.duplicates;
      for (const rej of r.rejected) this.drop(lane, `rejected_${rej.reason}`, 1);
      this.settle(lane, f);
      if (this.centerDown) {
        this.centerDown = false;
        this.o.log?.(`center reachable again at ${lane.ingestUrl}; flushing`);
      }
      if (lane.mem.length > 0 || lane.spooling) return lane.mem.length >= this.o.batchMax ? 0 : this.spacing(lane);
      if (lane.closing) this.retire(lane);
      return undefined;
    }
    lane.stats.last_error = outcome.error;
    if (outcome.permanent) {
      // The center refuses this batch for good (unknown session, bad token, …): retrying cannot help.
      this.drop(lane, outcome.reason, f.n);
      this.settle(lane, f);
      if (outcome.reason === 'http_404' || outcome.reason === 'http_403') {
        // The session is gone or not ours: everything else for it would fail the same way.
        const rest = lane.mem.length + (this.o.spool?.discard(lane.sessionId) ?? 0);
        this.memBytes -= lane.memBytes;
        lane.mem = [];
        lane.memBytes = 0;
        lane.spooling = false;
        if (rest > 0) this.drop(lane, outcome.reason, rest);
      }
      if (lane.mem.length > 0 || lane.spooling) return 0;
      if (lane.closing) this.retire(lane);
      return undefined;
    }
    lane.stats.failures++;
    lane.attempt++;
    if (!this.centerDown) {
      this.centerDown = true;
      this.o.log?.(`center unreachable (${outcome.error}); ${this.o.spool ? 'spooling to disk' : 'holding in memory'}`);
    }
    if (!fromSpool && f.spilled === undefined) this.spill(lane);
    // A batch spilled while on its way, in part only (the spool was full): the rest is lost now.
    else if (!fromSpool && f.spilled !== undefined && f.spilled < f.n) this.drop(lane, 'spool_full', f.n - f.spilled);
    const backoff = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(lane.attempt - 1, 20));
    return Math.round(backoff * (0.75 + Math.random() * 0.5));
  }

  /** A batch is done with (delivered or refused for good): removes it from where it waited. */
  private settle(lane: Lane, f: Flight): void {
    const spool = this.o.spool;
    if (f.fromSpool) spool?.ack(lane.sessionId, f.n);
    else if (f.spilled === undefined) {
      let bytes = 0;
      for (let i = 0; i < f.n; i++) bytes += lane.mem[i].bytes;
      lane.mem.splice(0, f.n);
      lane.memBytes -= bytes;
      this.memBytes -= bytes;
      this.armDurability(lane);
    } else if (f.spilled > 0 && spool) {
      // It went to the spool while on its way, as the spool's head for this session.
      spool.peek(lane.sessionId, f.spilled);
      spool.ack(lane.sessionId, f.spilled);
    }
  }

  private retire(lane: Lane): void {
    if (lane.timer) clearTimeout(lane.timer);
    if (lane.durabilityTimer) clearTimeout(lane.durabilityTimer);
    this.lanes.delete(lane.sessionId);
    this.finished.set(lane.sessionId, lane.stats);
    // Bounded memory for finished sessions' numbers.
    if (this.finished.size > MAX_FINISHED) this.finished.delete(this.finished.keys().next().value as string);
  }

  // ---- counters across restarts: a small state file next to the spool, written at most once a second

  private loadCounters(spool: Spool): void {
    const raw = spool.readState(COUNTERS_FILE);
    if (!raw || typeof raw !== 'object') return;
    for (const [id, v] of Object.entries(raw as Record<string, unknown>).slice(-MAX_FINISHED)) {
      const s = v as Partial<LaneStats> | null;
      if (!s || typeof s !== 'object') continue;
      const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
      const dropped: Record<string, number> = {};
      if (s.dropped && typeof s.dropped === 'object') for (const [k, n] of Object.entries(s.dropped)) if (num(n) > 0) dropped[k.slice(0, 64)] = num(n);
      this.finished.set(id, {
        queued: 0,
        spooled: num(s.spooled),
        uploaded: num(s.uploaded),
        duplicates: num(s.duplicates),
        batches: num(s.batches),
        failures: num(s.failures),
        dropped,
      });
    }
  }

  private saveCounters(): void {
    const spool = this.o.spool;
    if (!spool || !this.countersDirty) return;
    this.countersDirty = false;
    const out: Record<string, Omit<LaneStats, 'queued' | 'last_error'>> = {};
    for (const [id, s] of [...this.finished, ...[...this.lanes].map(([k, l]) => [k, l.stats] as const)]) {
      out[id] = { spooled: s.spooled, uploaded: s.uploaded, duplicates: s.duplicates, batches: s.batches, failures: s.failures, dropped: s.dropped };
    }
    try {
      spool.writeState(COUNTERS_FILE, out);
    } catch (e) {
      this.o.log?.(`cannot save upload counters in ${spool.dir}: ${(e as Error).message}`);
    }
  }

  private async post(
    lane: Lane,
    lines: string[],
  ): Promise<{ ok: true; result: IngestResult } | { ok: false; permanent: boolean; reason: string; error: string }> {
    // The body is put together from the events' JSON text: nothing is serialised twice.
    let body = `{"events":[${lines.join(',')}]`;
    const c = this.o.countersFor?.(lane.sessionId);
    if (c) {
      const dropped = { ...(c.dropped ?? {}) };
      for (const [k, v] of Object.entries(lane.stats.dropped)) dropped[k] = (dropped[k] ?? 0) + v;
      body += `,"counters":${JSON.stringify([{ ...c, session_id: lane.sessionId, events_uploaded: lane.stats.uploaded + lane.stats.duplicates, dropped }])}`;
    }
    if (this.o.agentInfo) body += `,"agent":${JSON.stringify(this.o.agentInfo)}`;
    body += '}';
    lane.lastSentAt = Date.now();
    let res: { status: number; text: string };
    try {
      res = await this.send(lane.ingestUrl, body);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { ok: false, permanent: false, reason: 'network', error: `POST ${lane.ingestUrl}: ${err.code ?? err.message}` };
    }
    const text = res.text;
    if (res.status >= 200 && res.status < 300) {
      try {
        const r = JSON.parse(text) as IngestResult;
        if (typeof r.accepted === 'number' && Array.isArray(r.rejected)) return { ok: true, result: r };
      } catch {
        // fall through
      }
      return { ok: false, permanent: false, reason: 'bad_response', error: `POST ${lane.ingestUrl}: unreadable answer (${res.status})` };
    }
    const msg = `POST ${lane.ingestUrl}: ${res.status} ${text.slice(0, 200)}`;
    // 401: our token is not (yet) known to the center, an operator fixes that; keep the events.
    const transient = res.status >= 500 || res.status === 401 || res.status === 408 || res.status === 429;
    return { ok: false, permanent: !transient, reason: `http_${res.status}`, error: msg };
  }

  /** One POST of a JSON body; the answer is read up to MAX_ANSWER bytes (a peer's answer is bounded). */
  private send(url: string, text: string): Promise<{ status: number; text: string }> {
    // Encoded once: Buffer.byteLength(text) for content-length and req.end(text) would each walk the
    // whole (up to batchMaxBytes) string.
    const body = Buffer.from(text, 'utf8');
    return new Promise((resolve, reject) => {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        reject(new Error(`bad ingest URL ${url}`));
        return;
      }
      const tls = u.protocol === 'https:';
      const req = (tls ? https : http).request(u, {
        method: 'POST',
        agent: tls ? this.https : this.http,
        headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${this.o.token}` },
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer in ${this.o.requestTimeoutMs} ms`), { code: 'ETIMEDOUT' })), this.o.requestTimeoutMs);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        reject(e);
      };
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let len = 0;
        res.on('data', (c: Buffer) => {
          if (len < MAX_ANSWER) chunks.push(c);
          len += c.length;
        });
        res.on('error', fail);
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).subarray(0, MAX_ANSWER).toString('utf8') });
        });
      });
      req.end(body);
    });
  }
}
