// A user collector module (`--collector PATH`) in a worker thread of its own, seen by the agent as
// one more collector. Whatever the module does in its thread — throw from a timer, leave a promise
// rejected, loop forever, run out of memory, call process.exit — ends that thread, never the agent:
//   - an exception or rejection: the thread posts the reason and ends (`crashes`);
//   - a busy loop: the thread's heartbeat (a timestamp in shared memory, written by a timer on the
//     thread's own event loop) stops; after `stallMs` the agent terminates the thread (`stalls`);
//   - either way the module is restarted after a wait that doubles from 1 s up to 60 s
//     (`restarts`); after `maxCrashes` crashes in a row (a run of `stableMs` resets the count) it
//     stays `failed`. A module whose createCollector() or start() throws is `failed` at once: it
//     said it cannot run, and a restart would say the same.
// The module's emits are checked and rate-bounded in its thread (worker-entry.ts) and arrive here in
// batches, which are replayed through this collector's own context: the same matching, counters,
// upload and spool as every other collector. Counters add up across the module's threads.
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SourceState, SourceStatus } from '../sources/source.js';
import type { Collector, CollectorContext, CollectorStatusReport } from './collector.js';
import type { FromWorker, ModuleWorkerData, ToWorker } from './worker-protocol.js';

export interface ModuleWorkerOptions {
  path: string;
  /** --collector-rate */
  rate: number;
  log?: (m: string) => void;
  /** no heartbeat for this long: the thread is busy and is terminated */
  stallMs?: number;
  /** how long the thread may take to load the agent's side of it before its first heartbeat */
  bootMs?: number;
  heartbeatMs?: number;
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** crashes in a row before the module is left failed */
  maxCrashes?: number;
  /** a run this long resets the count of crashes in a row */
  stableMs?: number;
  /** old-generation heap of the thread, MB */
  heapMb?: number;
}

const DEFAULTS = {
  stallMs: 5000,
  bootMs: 30_000,
  heartbeatMs: 250,
  restartBaseMs: 1000,
  restartMaxMs: 60_000,
  maxCrashes: 8,
  stableMs: 60_000,
  heapMb: 256,
};

/** Counters the host sums over a module's threads (the rest are the module's own, summed too). */
const OWN = ['crashes', 'stalls', 'restarts', 'bad_messages'] as const;

// From dist/ the entry is JavaScript. From the sources (tsx, vitest) it is TypeScript: the thread
// registers tsx's loader first (`--import tsx` in a worker's execArgv is not honoured).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
function tsxApi(): string {
  // the ESM entry of tsx's API, found from this file (the thread's own resolution starts at its cwd)
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  return pathToFileURL(cjs.replace(/index\.cjs$/, 'index.mjs')).href;
}
const ENTRY: URL | string = FROM_SOURCE
  ? `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker-entry.ts', import.meta.url).href)}); })`
  : new URL('./worker-entry.js', import.meta.url);

export class ModuleWorker implements Collector {
  readonly kind = 'collector';
  name: string;
  private readonly o: ModuleWorkerOptions & typeof DEFAULTS;
  private ctx?: CollectorContext;
  private worker?: Worker;
  /** the thread's last heartbeat (ms since the epoch), written by the thread */
  private beat = new BigInt64Array(new SharedArrayBuffer(8));
  private spawnedAt = 0;
  private live?: SourceStatus;
  private readonly base: Record<string, number> = {};
  private readonly own = { crashes: 0, stalls: 0, restarts: 0, bad_messages: 0 };
  private state: SourceState = 'starting';
  private error?: string;
  /** set when the thread is ended on purpose, with the reason the thread's end is reported with */
  private ending?: { why: string; crash: boolean };
  private crashWhy?: string;
  private lastCrash?: string;
  private final = false;
  private inRow = 0;
  private runStart = 0;
  private restartTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private waiting: { t: FromWorker['t']; resolve: (m: FromWorker | undefined) => void }[] = [];

  private constructor(o: ModuleWorkerOptions) {
    this.o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as ModuleWorkerOptions & typeof DEFAULTS;
    this.name = `collector:${basename(o.path)}`;
  }

  /** Loads the module in its thread (never throws: a module that cannot load is a failed collector). */
  static async open(o: ModuleWorkerOptions): Promise<ModuleWorker> {
    const w = new ModuleWorker(o);
    await w.spawn();
    if (w.live?.name) w.name = w.live.name;
    return w;
  }

  /** The collector the host adds: replays the thread's batches through `ctx`. */
  attach(ctx: CollectorContext): this {
    this.ctx = ctx;
    return this;
  }

  /** Starts a thread and waits for the module to be loaded and created; true when it was. */
  private async spawn(): Promise<boolean> {
    this.ending = undefined;
    this.crashWhy = undefined;
    this.live = undefined;
    const data: ModuleWorkerData = { path: this.o.path, rate: this.o.rate, heartbeatMs: this.o.heartbeatMs, batchMax: 512, batchBytes: 256 * 1024, maxInflight: 64, beat: this.beat };
    let w: Worker;
    try {
      w = new Worker(ENTRY, { eval: FROM_SOURCE, workerData: data, resourceLimits: { maxOldGenerationSizeMb: this.o.heapMb }, stdout: false, stderr: false });
    } catch (e) {
      this.fail(`cannot start a worker thread: ${(e as Error).message}`);
      return false;
    }
    this.worker = w;
    this.spawnedAt = Date.now();
    Atomics.store(this.beat, 0, 0n);
    w.on('message', (m: FromWorker) => this.onMessage(m));
    w.on('error', (e: Error) => (this.crashWhy ??= `${e.name}: ${e.message}`));
    w.on('exit', (code) => this.onExit(w, code));
    this.watchdog ??= setInterval(() => this.watch(), Math.min(1000, this.o.stallMs / 4));
    this.watchdog.unref();
    const ready = await this.next('ready');
    if (!ready) return false;
    const live = this.live as SourceStatus | undefined; // set by the messages awaited above
    if (live?.state === 'failed') {
      // createCollector threw, or the module could not be loaded: it says it cannot run
      this.fail(live.error ?? 'failed');
      return false;
    }
    return true;
  }

  private next(t: FromWorker['t']): Promise<FromWorker | undefined> {
    if (!this.worker) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiting.push({ t, resolve }));
  }

  private settle(m: FromWorker | undefined): void {
    const done = m ? this.waiting.filter((x) => x.t === m.t) : this.waiting;
    this.waiting = m ? this.waiting.filter((x) => x.t !== m.t) : [];
    for (const x of done) x.resolve(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'batch':
        this.replay(m);
        this.worker?.postMessage({ t: 'ack', n: 1 } satisfies ToWorker);
        return;
      case 'log':
        this.o.log?.(String(m.message).slice(0, 2000));
        return;
      case 'crash':
        this.crashWhy = String(m.error);
        break;
    }
    if (m.status) this.live = m.status;
    this.settle(m);
  }

  private replay(m: Extract<FromWorker, { t: 'batch' }>): void {
    const ctx = this.ctx;
    if (!ctx || !Array.isArray(m.records)) return;
    const payloads = m.payloads instanceof ArrayBuffer ? Buffer.from(m.payloads) : Buffer.alloc(0);
    let at = 0;
    for (const r of m.records) {
      try {
        switch (r[0]) {
          case 'p': {
            // a copy: a slice would keep the whole batch's buffer alive as long as the event is queued
            const payload = Buffer.from(payloads.subarray(at, at + r[7]));
            at += r[7];
            ctx.emitSip({ ts_us: r[1], transport: r[2], src: { ip: r[3], port: r[4] }, dst: { ip: r[5], port: r[6] }, payload });
            break;
          }
          case 'l':
            ctx.emitLog({ line: r[1], ts_us: r[2], source: r[3], call_id: r[4] });
            break;
          case 'c':
            ctx.emitCallState(r[1]);
            break;
          case 'r':
            ctx.emitRoute({ ...r[1], source: r[2] });
            break;
          case 'k':
            ctx.linkCallIds(r[1], r[2]);
            break;
          default:
            this.own.bad_messages++;
        }
      } catch {
        // a record not in the shape the thread's fence writes (the module posted it itself)
        this.own.bad_messages++;
      }
    }
  }

  private watch(): void {
    const w = this.worker;
    if (!w || this.ending) return;
    const last = Number(Atomics.load(this.beat, 0));
    const silent = last === 0 ? Date.now() - this.spawnedAt > this.o.bootMs : Date.now() - last > this.o.stallMs;
    if (!silent) return;
    this.own.stalls++;
    const s = last === 0 ? this.o.bootMs / 1000 : this.o.stallMs / 1000;
    this.ending = { why: `stalled: no heartbeat for ${s} s (a busy loop or a blocking call); its thread was terminated`, crash: true };
    void w.terminate();
  }

  private onExit(w: Worker, code: number): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    // the ended thread's counts stay in the totals
    for (const [k, v] of Object.entries(this.live?.counters ?? {})) this.base[k] = (this.base[k] ?? 0) + v;
    this.live = this.live ? { ...this.live, counters: {} } : undefined;
    const ending = this.ending;
    this.settle(undefined);
    if (this.final || (ending && !ending.crash)) return;
    let why = ending?.why;
    if (!why) {
      this.own.crashes++;
      why = `crashed: ${this.crashWhy ?? `its thread exited with code ${code}`}`;
    }
    if (this.runStart > 0 && Date.now() - this.runStart >= this.o.stableMs) this.inRow = 0;
    this.runStart = 0;
    this.inRow++;
    if (this.inRow >= this.o.maxCrashes) {
      this.fail(`${why} (${this.inRow} times in a row: not restarted)`);
      return;
    }
    this.lastCrash = why;
    const wait = Math.min(this.o.restartMaxMs, this.o.restartBaseMs * 2 ** (this.inRow - 1));
    this.state = 'restarting';
    this.error = `${why}; restarting in ${wait / 1000} s`;
    this.o.log?.(`${this.name}: ${this.error}`);
    this.restartTimer = setTimeout(() => void this.restart(), wait);
    this.restartTimer.unref();
  }

  private async restart(): Promise<void> {
    if (this.final) return;
    this.own.restarts++;
    if (await this.spawn()) await this.run();
  }

  private fail(why: string): void {
    this.final = true;
    this.state = 'failed';
    this.error = why;
    this.o.log?.(`${this.name}: ${why}`);
    if (this.worker) {
      this.ending = { why, crash: false };
      void this.worker.terminate();
    }
  }

  /** Calls the module's start() in its thread; a start() that throws leaves it failed. */
  private async run(): Promise<void> {
    const w = this.worker;
    if (!w || this.final) return;
    w.postMessage({ t: 'start' } satisfies ToWorker);
    const started = await this.next('started');
    if (!started || this.final) return;
    if (this.live?.state === 'failed') {
      this.fail(this.live.error ?? 'start() failed');
      return;
    }
    this.runStart = Date.now();
    this.state = 'running';
    // what happened stays visible after the restart
    if (this.lastCrash) this.error = `restarted after: ${this.lastCrash}`;
  }

  async start(): Promise<void> {
    await this.run();
  }

  async stop(): Promise<void> {
    this.final = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    const w = this.worker;
    if (w) {
      this.ending = { why: 'stopped', crash: false };
      w.postMessage({ t: 'stop' } satisfies ToWorker);
      // the module's stop() has 5 s in its thread (its last batch comes before `stopped`); then the thread goes
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.next('stopped'), new Promise((r) => (timer = setTimeout(r, 6000)))]);
      clearTimeout(timer);
      await w.terminate();
    }
    if (this.state !== 'failed') this.state = 'stopped';
  }

  status(): CollectorStatusReport {
    const counters: Record<string, number> = { ...this.base };
    for (const [k, v] of Object.entries(this.live?.counters ?? {})) counters[k] = (counters[k] ?? 0) + v;
    for (const k of OWN) if (this.own[k] > 0) counters[k] = this.own[k];
    const state = this.final || this.state === 'restarting' ? this.state : (this.live?.state ?? this.state);
    const error = this.error ?? this.live?.error;
    return { state, ...(error ? { error } : {}), counters };
  }
}
