// Upload: gets events to the center's POST /api/ingest reliably without ever blocking capture.
// Owns per-session `seq` assignment (strictly increasing, never reused across restarts when a spool
// is configured; see spool.ts), batching (Nagle-like, below), retry with bounded
// exponential backoff, spilling to the on-disk spool while the center is unreachable and flushing
// it in order when the center returns, and the per-session counters of all of that.
// It does not build events (capture-manager.ts does) and does not know what a session matches.
//
// Flow per session ("lane"): enqueue → memory queue (bounded; overflow dropped and counted) →
// batch POST. When a POST fails and a spool exists, the batch and everything behind it go to the
// spool, and from then on the lane reads from the spool until it is empty again, so the order of
// seqs on the wire is preserved. Without a spool the lane keeps retrying from memory.
//
// Batching is Nagle-like: when no request of the lane is in flight, what is queued goes at once
// (after `lingerMs`, 0 by default: the events of one read from tcpdump still travel together);
// while one is in flight, events pile up and leave as the next batch (≤ batchMax) the moment it is
// answered. So an idle agent adds no delay to an event, and a busy one sends big batches without a
// timer. Requests of a lane start at least `minIntervalMs` (20 ms) apart, so a steady trickle
// (hundreds of events/s, each alone) costs ≤ 50 requests/s instead of one per event, for ≤ 20 ms
// of delay. While spooling (center away), batches wait batchMs so the disk sees few writes.
import type { AgentCounters, IngestEvent, IngestResult } from '../core/schema/index.js';
import { INGEST_MAX_EVENTS } from '../core/schema/index.js';
import type { Spool, SpooledEvent } from './spool.js';

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
  /** approximate JSON bytes per batch (the center takes ≤ 8 MB) */
  batchMaxBytes?: number;
  /** events held in memory across all sessions before new ones are dropped */
  queueMax?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  /** per-session capture counters to send along with each batch (the session page shows them) */
  countersFor?: (sessionId: string) => Omit<AgentCounters, 'events_uploaded' | 'dropped'> & {
    dropped?: Record<string, number>;
  };
  /** agent identity sent with each batch */
  agentInfo?: { version?: string; sources?: { type: string; detail?: string }[] };
  fetchImpl?: typeof fetch;
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

interface Lane {
  sessionId: string;
  ingestUrl: string;
  nextSeq: number;
  /** hi-lo: seqs below this are reserved in the spool's seq.json */
  reservedTo: number;
  mem: SpooledEvent[];
  /** true while events for this lane are read from the spool */
  spooling: boolean;
  inflight: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  /** when the pending timer fires (ms since the epoch) */
  timerAt: number;
  /** when the lane's last request started (ms since the epoch) */
  lastSentAt: number;
  attempt: number;
  /** no new events will come (capture stopped); remove the lane once drained */
  closing: boolean;
  stats: LaneStats;
}

const SEQ_BLOCK = 10_000;

export class Uploader {
  private readonly o: Required<Omit<UploaderOptions, 'spool' | 'countersFor' | 'agentInfo' | 'log'>> &
    Pick<UploaderOptions, 'spool' | 'countersFor' | 'agentInfo' | 'log'>;
  private readonly lanes = new Map<string, Lane>();
  /** stats of lanes already removed, kept so status can still show final numbers */
  private readonly finished = new Map<string, LaneStats>();
  private memTotal = 0;
  private closed = false;
  private centerDown = false;

  constructor(opts: UploaderOptions) {
    this.o = {
      batchMax: INGEST_MAX_EVENTS, // the center's limit: fewer, bigger requests when busy
      batchMs: 100,
      lingerMs: 0,
      minIntervalMs: 20,
      batchMaxBytes: 4 * 1024 * 1024,
      queueMax: 50_000,
      retryBaseMs: 200,
      retryMaxMs: 5_000,
      requestTimeoutMs: 10_000,
      fetchImpl: globalThis.fetch,
      ...opts,
    };
    // Sessions spooled before a restart are flushed to where they were going.
    for (const p of this.o.spool?.pending() ?? []) {
      const lane = this.lane(p.sessionId, p.ingestUrl);
      lane.spooling = true;
      lane.closing = true; // reopened by enqueue if the capture is re-asserted
      this.schedule(lane, 0);
    }
  }

  /** Queues one event. Never blocks, never throws; returns false when the event was dropped. */
  enqueue(sessionId: string, ingestUrl: string, event: OutgoingEvent): boolean {
    if (this.closed) return false;
    const lane = this.lane(sessionId, ingestUrl);
    lane.closing = false;
    lane.ingestUrl = ingestUrl;
    const ev = { ...event, seq: this.takeSeq(lane) } as SpooledEvent;
    if (this.memTotal >= this.o.queueMax) {
      this.drop(lane, 'queue_full', 1);
      return false;
    }
    lane.mem.push(ev);
    lane.stats.queued++;
    this.memTotal++;
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
    for (const l of this.lanes.values()) if (l.timer) clearTimeout(l.timer);
    await Promise.all([...this.lanes.values()].map((l) => l.inflight));
    // What is still in memory goes to the spool so a restart sends it.
    for (const l of this.lanes.values()) {
      if (l.mem.length > 0 && this.o.spool) this.spill(l);
    }
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
        spooling: false,
        inflight: undefined,
        timer: undefined,
        timerAt: 0,
        lastSentAt: 0,
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

  /** ms until the lane may start its next request (minIntervalMs after the last one started) */
  private spacing(lane: Lane): number {
    return Math.max(0, lane.lastSentAt + this.o.minIntervalMs - Date.now());
  }

  private drop(lane: Lane, reason: string, n: number): void {
    lane.stats.dropped[reason] = (lane.stats.dropped[reason] ?? 0) + n;
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

  private spill(lane: Lane): void {
    const spool = this.o.spool;
    if (!spool || lane.mem.length === 0) return;
    const n = lane.mem.length;
    const written = spool.append(lane.sessionId, lane.ingestUrl, lane.mem);
    lane.stats.spooled += written;
    if (written < n) this.drop(lane, 'spool_full', n - written);
    this.memTotal -= n;
    lane.mem = [];
    lane.spooling = true;
  }

  private takeBatch(lane: Lane): { events: SpooledEvent[]; fromSpool: boolean } {
    const spool = this.o.spool;
    if (lane.spooling && spool) {
      this.spill(lane); // newer events go behind the spooled ones: seq order holds on the wire
      const events = spool.peek(lane.sessionId, this.o.batchMax);
      if (events.length > 0) return { events: this.capBytes(events), fromSpool: true };
      lane.spooling = false; // the spool is empty: back to memory
    }
    return { events: this.capBytes(lane.mem.slice(0, this.o.batchMax)), fromSpool: false };
  }

  private capBytes(events: SpooledEvent[]): SpooledEvent[] {
    let bytes = 0;
    for (let i = 0; i < events.length; i++) {
      bytes += 256 + (typeof events[i].payload === 'string' ? (events[i].payload as string).length * 2 : 0);
      const frame = events[i].frame as { data?: string } | null | undefined;
      bytes += frame?.data?.length ?? 0;
      if (bytes > this.o.batchMaxBytes && i > 0) return events.slice(0, i);
    }
    return events;
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
    const { events, fromSpool } = this.takeBatch(lane);
    if (events.length === 0) {
      if (lane.closing) this.retire(lane);
      return undefined;
    }
    const outcome = await this.post(lane, events);
    if (outcome.ok) {
      const r = outcome.result;
      lane.attempt = 0;
      lane.stats.batches++;
      lane.stats.uploaded += r.accepted;
      lane.stats.duplicates += r.duplicates;
      for (const rej of r.rejected) this.drop(lane, `rejected_${rej.reason}`, 1);
      this.ack(lane, events.length, fromSpool);
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
      this.drop(lane, outcome.reason, events.length);
      this.ack(lane, events.length, fromSpool);
      if (outcome.reason === 'http_404' || outcome.reason === 'http_403') {
        // The session is gone or not ours: everything else for it would fail the same way.
        const rest = lane.mem.length + (this.o.spool?.discard(lane.sessionId) ?? 0);
        this.memTotal -= lane.mem.length;
        lane.mem = [];
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
    if (!fromSpool && this.o.spool) this.spill(lane);
    const backoff = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(lane.attempt - 1, 20));
    return Math.round(backoff * (0.75 + Math.random() * 0.5));
  }

  private ack(lane: Lane, n: number, fromSpool: boolean): void {
    if (fromSpool) this.o.spool?.ack(lane.sessionId, n);
    else {
      lane.mem.splice(0, n);
      this.memTotal -= n;
    }
  }

  private retire(lane: Lane): void {
    if (lane.timer) clearTimeout(lane.timer);
    this.lanes.delete(lane.sessionId);
    this.finished.set(lane.sessionId, lane.stats);
    // Bounded memory for finished sessions' numbers.
    if (this.finished.size > 1000) this.finished.delete(this.finished.keys().next().value as string);
  }

  private async post(
    lane: Lane,
    events: SpooledEvent[],
  ): Promise<{ ok: true; result: IngestResult } | { ok: false; permanent: boolean; reason: string; error: string }> {
    const body: Record<string, unknown> = { events };
    const c = this.o.countersFor?.(lane.sessionId);
    if (c) {
      const dropped = { ...(c.dropped ?? {}) };
      for (const [k, v] of Object.entries(lane.stats.dropped)) dropped[k] = (dropped[k] ?? 0) + v;
      body.counters = [{ ...c, session_id: lane.sessionId, events_uploaded: lane.stats.uploaded + lane.stats.duplicates, dropped }];
    }
    if (this.o.agentInfo) body.agent = this.o.agentInfo;
    lane.lastSentAt = Date.now();
    let res: Response;
    try {
      res = await this.o.fetchImpl(lane.ingestUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.requestTimeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      return { ok: false, permanent: false, reason: 'network', error: `POST ${lane.ingestUrl}: ${cause ?? (e as Error).message}` };
    }
    let text = '';
    try {
      text = await res.text();
    } catch {
      // body lost: treated by status below
    }
    if (res.ok) {
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
}
