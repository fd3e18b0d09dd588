// The collector host: runs every collector of the agent (built-in or a user's module) behind one
// fence. It gives each its own context, checks and converts what it emits into the capture manager's
// input (the same matching, counters, upload and spool for all), bounds each collector's rate (a
// flood is dropped and counted, never queued), and contains failures: a start(), stop() or status()
// that throws or rejects marks that collector `failed` with the reason, and the agent goes on. It
// does not capture anything itself, and it does not match (capture-manager.ts).
import { TRANSPORTS } from '../../core/schema/event.js';
import type { CaptureManager, PacketInput } from '../capture-manager.js';
import type { SourceStatus } from '../sources/source.js';
import type { CallMetaValue, CallStateEmit, Collector, CollectorContext, CreateCollector, RouteEmit } from './collector.js';

/** Where emitted events go: the capture manager. None of these may throw. */
export interface CollectorSink {
  onPacket(p: PacketInput): void;
  onLogLine(line: string, tsUs: number, source: string, callId?: string): void;
  onCallState(e: CallStateEmit & { ts_us: number }, source: string): void;
  onRoute(e: RouteEmit & { ts_us: number }, source: string): void;
  onLinkCalls(a: string, b: string): void;
}

/** The capture manager as a sink: call metadata in the event schema's shape. */
export function managerSink(m: CaptureManager): CollectorSink {
  return {
    onPacket: (p) => m.onPacket(p),
    onLinkCalls: (a, b) => m.engine.linkCallIds(a, b),
    onLogLine: (line, tsUs, source, callId) => m.onLogLine(line, tsUs, source, callId),
    onCallState: (e, source) =>
      m.onCallMeta({
        kind: 'callstate',
        ts_us: e.ts_us,
        call_id: e.call_id,
        callstate: {
          platform: e.platform,
          state: e.state,
          ...(e.cause !== undefined ? { cause: e.cause } : {}),
          ...(e.q850 !== undefined ? { q850: e.q850 } : {}),
          source: source.slice(0, 512),
          ...(e.fields ? { fields: e.fields } : {}),
        },
      }),
    onRoute: (e, source) =>
      m.onCallMeta({
        kind: 'route',
        ts_us: e.ts_us,
        call_id: e.call_id,
        route: {
          ...(e.route !== undefined ? { route: e.route } : {}),
          ...(e.destination !== undefined ? { destination: e.destination } : {}),
          source: source.slice(0, 512),
          ...(e.fields ? { fields: e.fields } : {}),
        },
        ...(e.line !== undefined ? { line: e.line } : {}),
      }),
  };
}

export interface HostedOptions {
  /** events per second this collector may emit; beyond it they are dropped and counted (Infinity: no bound) */
  maxEventsPerSecond?: number;
  /** how long the agent's start waits for this collector's start() before going on without it */
  startTimeoutMs?: number;
  /** a name when the collector gives none */
  name?: string;
  /**
   * The collector checks, bounds and counts its emits behind a fence of its own (a user module in
   * its worker thread) and reports those counts in its status: this host adds none of its own.
   */
  fenced?: boolean;
}

const TRANSPORT_SET = new Set<string>(TRANSPORTS);
const LOG_LINES_PER_MINUTE = 30;
const MAX_FIELDS = 64;
/** what user collectors may emit per second by default: far above any platform's call-state rate */
export const DEFAULT_COLLECTOR_RATE = 20_000;

const isEndpoint = (v: unknown): v is { ip: string; port: number } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { ip?: unknown }).ip === 'string' &&
  Number.isInteger((v as { port?: unknown }).port) &&
  (v as { port: number }).port >= 0 &&
  (v as { port: number }).port <= 65535;

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v !== '' ? v.slice(0, max) : undefined);

/** Keeps at most 64 scalar fields, names ≤ 64 and strings ≤ 1024 characters (the event schema's bounds). */
export function cleanFields(v: unknown): Record<string, CallMetaValue> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, CallMetaValue> = {};
  let n = 0;
  for (const [k, x] of Object.entries(v)) {
    if (n >= MAX_FIELDS) break;
    if (k === '' || k === '__proto__') continue;
    const key = k.slice(0, 64);
    if (typeof x === 'string') out[key] = x.slice(0, 1024);
    else if ((typeof x === 'number' && Number.isFinite(x)) || typeof x === 'boolean' || x === null) out[key] = x;
    else continue;
    n++;
  }
  return n > 0 ? out : undefined;
}

class Hosted {
  readonly collector: Collector;
  readonly created: boolean;
  readonly name: string;
  readonly kind: string;
  private failure: string | undefined;
  private starting = false;
  private stopped = false;
  private windowStart = 0;
  private windowCount = 0;
  private logWindow = 0;
  private logCount = 0;
  readonly counters = { events: 0, dropped_rate_limited: 0, dropped_invalid: 0, failures: 0, log_suppressed: 0, links: 0 };

  constructor(
    create: CreateCollector,
    private readonly sink: CollectorSink,
    private readonly o: HostedOptions,
    private readonly agentLog: ((m: string) => void) | undefined,
    fallbackName: string,
  ) {
    const ctx = this.context(fallbackName);
    let c: Collector;
    try {
      c = create(ctx);
      if (typeof c !== 'object' || c === null || typeof c.start !== 'function' || typeof c.status !== 'function') {
        throw new TypeError('createCollector(ctx) must return { name, start(), stop(), status() }');
      }
    } catch (e) {
      this.counters.failures++;
      this.failure = `createCollector failed: ${(e as Error)?.message ?? String(e)}`;
      c = { start: () => undefined, stop: () => undefined, status: () => ({}) };
    }
    this.collector = c;
    this.created = this.failure === undefined;
    this.kind = str(safeGet(() => c.kind), 32) ?? 'collector';
    this.name = str(safeGet(() => c.name), 512) ?? fallbackName;
    (ctx as { name: string }).name = this.name;
  }

  private context(name: string): CollectorContext {
    const rate = this.o.maxEventsPerSecond ?? DEFAULT_COLLECTOR_RATE;
    const bounded = Number.isFinite(rate);
    // One fixed one-second window: cheap enough to run on every packet of a live capture.
    const admit = (): boolean => {
      if (!bounded) {
        this.counters.events++;
        return true;
      }
      const now = Date.now();
      if (now - this.windowStart >= 1000) {
        this.windowStart = now;
        this.windowCount = 0;
      }
      if (this.windowCount >= rate) {
        this.counters.dropped_rate_limited++;
        return false;
      }
      this.windowCount++;
      this.counters.events++;
      return true;
    };
    const invalid = (): false => {
      this.counters.dropped_invalid++;
      return false;
    };
    const tsOf = (v: unknown): number | undefined => {
      if (v === undefined || v === null) return Date.now() * 1000;
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.trunc(v) : undefined;
    };
    const guard = (f: () => void): void => {
      try {
        f();
      } catch {
        // The sink never throws by contract; a bug there must still not reach the collector.
        this.counters.dropped_invalid++;
      }
    };
    const ctx: CollectorContext = {
      name,
      emitPacket: (p) => {
        if (this.stopped || !admit()) return false;
        // which source saw it: one message seen by two sources is one event (capture-manager.ts)
        p.source ??= ctx.name;
        guard(() => this.sink.onPacket(p));
        return true;
      },
      emitSip: (e) => {
        if (this.stopped) return false;
        const ts = tsOf(e?.ts_us);
        const transport = typeof e?.transport === 'string' ? e.transport.toLowerCase() : '';
        const payload = typeof e?.payload === 'string' ? Buffer.from(e.payload) : Buffer.isBuffer(e?.payload) ? e.payload : undefined;
        if (ts === undefined || !TRANSPORT_SET.has(transport) || !isEndpoint(e.src) || !isEndpoint(e.dst) || !payload || payload.length === 0) return invalid();
        if (!admit()) return false;
        guard(() => this.sink.onPacket({ tsUs: ts, transport, src: { ip: e.src.ip, port: e.src.port }, dst: { ip: e.dst.ip, port: e.dst.port }, payload }));
        return true;
      },
      emitLog: (e) => {
        if (this.stopped) return false;
        const ts = tsOf(e?.ts_us);
        const line = typeof e?.line === 'string' ? e.line : undefined;
        if (ts === undefined || line === undefined || line === '') return invalid();
        if (!admit()) return false;
        guard(() => this.sink.onLogLine(line, ts, str(e.source, 512) ?? this.name, str(e.call_id, 1024)));
        return true;
      },
      emitCallState: (e) => {
        if (this.stopped) return false;
        const ts = tsOf(e?.ts_us);
        const callId = str(e?.call_id, 1024);
        const platform = str(e?.platform, 32);
        const state = str(e?.state, 64);
        if (ts === undefined || !callId || !platform || !state) return invalid();
        if (!admit()) return false;
        const q850 = Number.isInteger(e.q850) && (e.q850 as number) >= 0 && (e.q850 as number) <= 127 ? e.q850 : undefined;
        const cause = str(e.cause, 64);
        const fields = cleanFields(e.fields);
        guard(() =>
          this.sink.onCallState(
            { ts_us: ts, call_id: callId, platform, state, ...(cause ? { cause } : {}), ...(q850 !== undefined ? { q850 } : {}), ...(fields ? { fields } : {}) },
            this.name,
          ),
        );
        return true;
      },
      emitRoute: (e) => {
        if (this.stopped) return false;
        const ts = tsOf(e?.ts_us);
        const callId = str(e?.call_id, 1024);
        const route = str(e?.route, 128);
        const destination = str(e?.destination, 512);
        if (ts === undefined || !callId || (!route && !destination)) return invalid();
        if (!admit()) return false;
        const fields = cleanFields(e.fields);
        const line = str(e.line, 64 * 1024);
        guard(() =>
          this.sink.onRoute(
            { ts_us: ts, call_id: callId, ...(route ? { route } : {}), ...(destination ? { destination } : {}), ...(fields ? { fields } : {}), ...(line ? { line } : {}) },
            str(e.source, 512) ?? this.name,
          ),
        );
        return true;
      },
      linkCallIds: (a, b) => {
        const x = str(a, 1024);
        const y = str(b, 1024);
        if (this.stopped || !x || !y || x === y) return;
        this.counters.links++;
        guard(() => this.sink.onLinkCalls(x, y));
      },
      log: (m) => {
        const now = Date.now();
        if (now - this.logWindow >= 60_000) {
          this.logWindow = now;
          this.logCount = 0;
        }
        if (++this.logCount > LOG_LINES_PER_MINUTE) {
          this.counters.log_suppressed++;
          return;
        }
        this.agentLog?.(`${this.name}: ${String(m).slice(0, 2000)}`);
      },
    };
    return ctx;
  }

  async start(): Promise<void> {
    if (this.failure) return;
    this.starting = true;
    let p: Promise<void>;
    try {
      p = Promise.resolve(this.collector.start()).then(
        () => undefined,
        (e: unknown) => this.fail('start()', e),
      );
    } catch (e) {
      this.fail('start()', e);
      this.starting = false;
      return;
    }
    const limit = this.o.startTimeoutMs ?? 10_000;
    if (!Number.isFinite(limit)) {
      await p;
      this.starting = false;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, limit)))]);
    clearTimeout(timer);
    this.starting = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await Promise.race([Promise.resolve(this.collector.stop?.()), new Promise((r) => setTimeout(r, 5000).unref())]);
    } catch (e) {
      this.counters.failures++;
      this.agentLog?.(`${this.name}: stop() failed: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  private fail(what: string, e: unknown): void {
    const why = `${what} failed: ${(e as Error)?.message ?? String(e)}`;
    if (why === this.failure) return; // status() polled again: said once
    this.counters.failures++;
    this.failure = why;
    this.agentLog?.(`${this.name}: ${why}`);
  }

  status(): SourceStatus {
    let rep: ReturnType<Collector['status']> = {};
    try {
      rep = this.collector.status() ?? {};
    } catch (e) {
      this.fail('status()', e);
    }
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(rep.counters ?? {})) if (typeof v === 'number' && Number.isFinite(v)) counters[k.slice(0, 64)] = v;
    // The host's own counts, under names no built-in uses.
    if (Number.isFinite(this.o.maxEventsPerSecond ?? DEFAULT_COLLECTOR_RATE)) counters.events = this.counters.events;
    // A fenced collector (a module's thread) reports these itself, counted by the fence in its thread.
    if (!this.o.fenced) {
      for (const k of ['dropped_rate_limited', 'dropped_invalid', 'failures', 'log_suppressed', 'links'] as const) if (this.counters[k] > 0) counters[k] = this.counters[k];
    }
    const state: SourceStatus['state'] = this.failure ? 'failed' : (rep.state ?? (this.stopped ? 'stopped' : this.starting ? 'starting' : 'running'));
    const error = this.failure ?? (typeof rep.error === 'string' ? rep.error.slice(0, 1000) : undefined);
    return { name: this.name, kind: this.kind, state, ...(error ? { error } : {}), counters };
  }
}

function safeGet<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

export class CollectorHost {
  private readonly hosted: Hosted[] = [];

  constructor(
    private readonly sink: CollectorSink,
    private readonly log?: (m: string) => void,
  ) {}

  /** Creates a collector with its own context; returns it, or undefined when its creation failed (then it shows as failed). */
  add<T extends Collector>(create: (ctx: CollectorContext) => T, opts: HostedOptions = {}): T | undefined {
    const h = new Hosted(create, this.sink, opts, this.log, opts.name ?? `collector-${this.hosted.length + 1}`);
    this.hosted.push(h);
    return h.created ? (h.collector as T) : undefined;
  }

  get size(): number {
    return this.hosted.length;
  }

  /** Starts every collector not started yet; none can make this throw. */
  async start(from = 0): Promise<void> {
    await Promise.all(this.hosted.slice(from).map((h) => h.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.hosted.map((h) => h.stop()));
  }

  statuses(): SourceStatus[] {
    return this.hosted.map((h) => h.status());
  }
}
