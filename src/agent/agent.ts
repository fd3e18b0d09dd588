// One capture agent: wires the collectors (the built-in sources — live, HEP, log, replay — and user
// modules, all hosted by collectors/host.ts), the capture manager (matching and events), the uploader
// (with its spool) and the command API, and answers `GET /v1/status`. Takes a plain config object;
// reading flags and the environment is the CLI's job (src/cli/commands/agent.ts).
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { TunaError } from '../core/errors.js';
import type { CaptureCommand } from '../core/schema/command.js';
import { CaptureManager } from './capture-manager.js';
import { CommandApi } from './command-api.js';
import { HepSource, parseHepSpec } from './sources/hep.js';
import { LiveSource } from './sources/live.js';
import { AmiCollector } from './collectors/ami.js';
import { EslCollector } from './collectors/esl.js';
import { LogCollector } from './collectors/log.js';
import { DEFAULT_LINE_FORMAT, type LineFormat } from './collectors/log-lines.js';
import { parseEndpointSpec } from './collectors/spec.js';
import { SyslogCollector } from './collectors/syslog.js';
import { ReplaySource } from './sources/replay.js';
import type { Collector, CollectorContext, CreateCollector } from './collectors/collector.js';
import type { Source } from './sources/source.js';
import { CollectorHost, DEFAULT_COLLECTOR_RATE, managerSink, type HostedOptions } from './collectors/host.js';
import { ModuleWorker, type ModuleWorkerOptions } from './collectors/worker-host.js';
import { DIR_MODE, Spool } from './spool.js';
import { FrameUploader } from './frame-upload.js';
import { Uploader } from './upload.js';

export interface AgentConfig {
  name: string;
  token: string;
  version?: string;
  /** command API address; null = no API (filter-like embedded use) */
  listen?: { host: string; port: number } | null;
  interfaces?: string[];
  bpf?: string;
  snaplen?: number;
  /** `udp:ADDR:PORT` / `tcp:ADDR:PORT` */
  hep?: string[];
  hepAuthKey?: string;
  logs?: string[];
  /** how log and syslog lines are read: text, JSON lines, or either (default), and the JSON field names */
  logFormat?: Partial<LineFormat>;
  /** FreeSWITCH event sockets `tcp:HOST:PORT`, with the password (default ClueCon, FreeSWITCH's own) */
  esl?: string[];
  eslPassword?: string;
  /** Asterisk managers `tcp:HOST:PORT`, with the manager user and secret */
  ami?: string[];
  amiUser?: string;
  amiSecret?: string;
  /** syslog listeners `udp:ADDR:PORT` */
  syslog?: string[];
  /** connection timing of ESL/AMI (tests shorten it) */
  platformTiming?: { handshakeTimeoutMs?: number; idleTimeoutMs?: number; keepaliveMs?: number; backoffMinMs?: number; backoffMaxMs?: number };
  read?: string;
  replaySpeed?: number;
  /** user collector modules (`--collector PATH`), loaded at start */
  collectors?: string[];
  /** collectors given as functions (embedding, tests): the same hosting as a module's */
  collectorFactories?: { name?: string; create: CreateCollector }[];
  /** events per second one user collector may emit before its excess is dropped and counted */
  collectorRate?: number;
  /** the module threads' watchdog and restart timing (tests); defaults in collectors/worker-host.ts */
  moduleWorker?: Omit<ModuleWorkerOptions, 'path' | 'rate' | 'log'>;
  spoolDir?: string;
  spoolMaxMb?: number;
  tenantHeaders?: string[];
  /** headers naming a linked leg's Call-ID (default X-CID, X-Call-ID) */
  xcidHeaders?: string[];
  rtpSampleFirst?: number;
  rtpSampleEvery?: number;
  /** dialogs tracked at once, in all and per session (engine defaults: 100 000 and 10 000) */
  maxDialogs?: number;
  maxDialogsPerSession?: number;
  tcpdumpPath?: string;
  /** seconds between counter heartbeats of captures with nothing to upload (default 5) */
  heartbeatS?: number;
  /** log pacing for the live source's counters (tests shorten it) */
  liveStatsIntervalMs?: number;
  log?: (msg: string) => void;
}

export class Agent {
  readonly cfg: AgentConfig;
  readonly manager: CaptureManager;
  readonly uploader: Uploader;
  /** frames-only path for the PCAP (full RTP/RTCP, earlier frames of split SIP messages) */
  readonly frameUploader: FrameUploader;
  readonly spool: Spool | undefined;
  /** every collector, built-in or not; statuses come from the host, which contains their failures */
  readonly host: CollectorHost;
  /** the built-in sources' own objects, for embedding code and tests that drive them */
  readonly sources: Source[] = [];
  private api: CommandApi | undefined;
  private readonly startedAt = Date.now();
  private address: { host: string; port: number } | undefined;

  constructor(cfg: AgentConfig) {
    if (!cfg.name) throw new TunaError('bad_request', 'the agent needs a name (--name)');
    if (!cfg.token) throw new TunaError('bad_request', 'the agent needs a token (--token): the center uses it for commands and ingest');
    this.cfg = cfg;
    const log = cfg.log;
    if (cfg.spoolDir) {
      mkdirSync(cfg.spoolDir, { recursive: true, mode: DIR_MODE });
      this.spool = new Spool(cfg.spoolDir, Math.max(1, cfg.spoolMaxMb ?? 1024) * 1024 * 1024);
    }
    this.uploader = new Uploader({
      token: cfg.token,
      spool: this.spool,
      // The manager is created just below; the uploader only calls this once events flow.
      countersFor: (id) => manager.countersFor(id),
      log,
    });
    this.frameUploader = new FrameUploader({
      token: cfg.token,
      // frames lost (queue full, refused past the session's byte cap…) count as the session's drops
      onDrop: (id, reason, n) => manager.countDrop(id, reason, n),
    });
    const manager = new CaptureManager({
      uploader: this.uploader,
      frames: this.frameUploader,
      tenantHeaders: cfg.tenantHeaders,
      xcidHeaders: cfg.xcidHeaders,
      rtpSampleFirst: cfg.rtpSampleFirst,
      rtpSampleEvery: cfg.rtpSampleEvery,
      maxDialogs: cfg.maxDialogs,
      maxDialogsPerSession: cfg.maxDialogsPerSession,
      stateFile: cfg.spoolDir ? join(cfg.spoolDir, 'captures.json') : undefined,
      health: () => this.health(),
      sourceDrops: () => this.sourceDrops(),
      heartbeatS: cfg.heartbeatS,
      log,
    });
    this.manager = manager;
    // several packet sources may see one message (lo and Kamailio's HEP copy, two interfaces)
    manager.multiSource = (cfg.interfaces?.length ?? 0) + (cfg.hep?.length ?? 0) + (cfg.read ? 1 : 0) >= 2;
    const host = (this.host = new CollectorHost(managerSink(manager), log));
    for (const iface of cfg.interfaces ?? []) {
      this.builtin(
        (ctx) =>
          new LiveSource({
            iface,
            bpf: cfg.bpf,
            snaplen: cfg.snaplen,
            onPacket: ctx.emitPacket,
            tcpdumpPath: cfg.tcpdumpPath,
            statsIntervalMs: cfg.liveStatsIntervalMs,
            log,
          }),
      );
    }
    for (const spec of cfg.hep ?? []) {
      let listen;
      try {
        listen = parseHepSpec(spec);
      } catch (e) {
        throw new TunaError('bad_request', (e as Error).message);
      }
      this.builtin(
        (ctx) =>
          new HepSource({
            listen,
            authKey: cfg.hepAuthKey,
            onPacket: ctx.emitPacket,
            onLogLine: (line, ts, source) => ctx.emitLog({ ts_us: ts, line, source }),
          }),
      );
    }
    const format: LineFormat = { ...DEFAULT_LINE_FORMAT, ...cfg.logFormat };
    for (const path of cfg.logs ?? []) this.builtin((ctx) => new LogCollector(ctx, path, format));
    const spec = (option: string, s: string, protos: string[], host: string) => {
      try {
        return parseEndpointSpec(option, s, protos, host);
      } catch (e) {
        throw new TunaError('bad_request', (e as Error).message);
      }
    };
    // Platform collectors: a bounded rate like a user's module (a runaway platform cannot flood matching),
    // and the agent's start never waits for a connection (they reconnect on their own).
    const platform: HostedOptions = { maxEventsPerSecond: Math.max(cfg.collectorRate ?? 0, 20_000), startTimeoutMs: 0 };
    for (const s of cfg.syslog ?? []) {
      const listen = spec('syslog', s, ['udp'], '0.0.0.0');
      this.builtin((ctx) => new SyslogCollector(ctx, { listen, format }), { ...platform, startTimeoutMs: Infinity });
    }
    for (const s of cfg.esl ?? []) {
      const at = spec('esl', s, ['tcp'], '127.0.0.1');
      this.host.add((ctx) => new EslCollector(ctx, { host: at.host, port: at.port, password: cfg.eslPassword ?? 'ClueCon', ...cfg.platformTiming }), platform);
    }
    if ((cfg.ami ?? []).length > 0 && (!cfg.amiUser || cfg.amiSecret === undefined)) {
      throw new TunaError('bad_request', '--ami needs --ami-user and --ami-secret (a manager.conf user with read = call)');
    }
    for (const s of cfg.ami ?? []) {
      const at = spec('ami', s, ['tcp'], '127.0.0.1');
      this.host.add((ctx) => new AmiCollector(ctx, { host: at.host, port: at.port, user: cfg.amiUser!, secret: cfg.amiSecret!, ...cfg.platformTiming }), platform);
    }
    if (cfg.read) {
      const speed = cfg.replaySpeed ?? 0;
      if (!(speed >= 0) || !Number.isFinite(speed)) throw new TunaError('bad_request', `--replay-speed must be 0 or more, got ${speed}`);
      this.builtin((ctx) => new ReplaySource({ path: cfg.read!, speed, onPacket: ctx.emitPacket }));
      // A replay brings its own (old) timestamps: the engine clock must follow them, not the wall.
      manager.wallClockAdvance = false;
    }
    for (const f of cfg.collectorFactories ?? []) host.add(f.create, { name: f.name, maxEventsPerSecond: cfg.collectorRate });
    this.announceSources();
  }

  /** A packet or log source: no rate bound (they run at line rate), and the agent's start waits for it (tcpdump listening). */
  private builtin(create: (ctx: CollectorContext) => Source & Collector, opts: HostedOptions = { maxEventsPerSecond: Infinity, startTimeoutMs: Infinity }): void {
    const s = this.host.add(create, opts);
    if (s) this.sources.push(s);
  }

  private announceSources(): void {
    this.uploader.setAgentInfo({
      version: this.cfg.version ?? '0.0.0',
      sources: this.host.statuses().map((s) => ({ type: s.kind.slice(0, 32), detail: s.name.slice(0, 512) })),
    });
  }

  /** Starts the command API first (the center can reach us at once), then every source. */
  async start(): Promise<{ host: string; port: number } | undefined> {
    if (this.cfg.listen) {
      this.api = new CommandApi({
        token: this.cfg.token,
        backend: {
          status: () => this.status(),
          putCapture: (cmd: CaptureCommand) => {
            if (Date.parse(cmd.expires_at) <= Date.now()) {
              throw new TunaError('bad_request', `expires_at ${cmd.expires_at} is in the past`);
            }
            try {
              return this.manager.put(cmd);
            } catch (e) {
              if (e instanceof RangeError) throw new TunaError('conflict', e.message);
              throw e;
            }
          },
          followCalls: (id: string, callIds: string[]) => {
            if (!this.manager.follow(id, callIds)) return undefined;
            return { session_id: id, following: callIds.length };
          },
          deleteCapture: (id: string) => {
            const v = this.manager.view(id);
            if (!this.manager.remove(id)) return undefined;
            return { ...v, stopped: true };
          },
        },
      });
      this.address = await this.api.listen(this.cfg.listen.host, this.cfg.listen.port);
    }
    this.manager.start();
    // User modules load now (import is asynchronous); one that cannot load is a failed collector.
    const from = this.host.size;
    // Each in a worker thread of its own (collectors/worker-host.ts): bounded and checked there, so the
    // host here does not bound them again.
    const modules = await Promise.all(
      (this.cfg.collectors ?? []).map((path) => ModuleWorker.open({ path, rate: this.cfg.collectorRate ?? DEFAULT_COLLECTOR_RATE, log: this.cfg.log, ...this.cfg.moduleWorker })),
    );
    for (const w of modules) this.host.add((ctx) => w.attach(ctx), { name: w.name, maxEventsPerSecond: Infinity, fenced: true });
    if (this.host.size > from) this.announceSources();
    await this.host.start();
    return this.address;
  }

  /** Whether this agent can capture at all: what the center shows per agent on the session. */
  health(): { state: 'capturing' | 'failed'; reason?: string } {
    const all = this.host.statuses();
    if (all.length === 0) return { state: 'failed', reason: 'the agent has no capture source (--interface, --hep, --log, --read, --collector, …)' };
    const failed = all.filter((st) => st.state === 'failed');
    if (failed.length === 0) return { state: 'capturing' };
    const reason = failed.map((st) => `${st.name}: ${st.error ?? 'failed'}`).join('; ');
    return { state: failed.length === all.length ? 'failed' : 'capturing', reason };
  }

  /** Losses at the sources that no capture can see otherwise (summed over sources of a kind). */
  sourceDrops(): Record<string, number> {
    const out: Record<string, number> = {};
    const add = (k: string, v: number | undefined): void => {
      if (v) out[k] = (out[k] ?? 0) + v;
    };
    // `host` is unset while the manager's constructor resumes saved captures: no source has dropped anything yet.
    for (const s of (this.host as CollectorHost | undefined)?.statuses() ?? []) {
      const c = s.counters;
      add('collector_rate_limited', c.dropped_rate_limited);
      add('collector_invalid', c.dropped_invalid);
      add('collector_backlog', c.dropped_backlog);
      if (s.kind === 'live') add('kernel_dropped', c.kernel_dropped);
      if (s.kind === 'hep') {
        add('hep_auth_failed', c.auth_failed);
        add('hep_socket_dropped', c.socket_dropped);
        add('hep_connections_refused', (c.connections_refused ?? 0) + (c.connections_refused_per_ip ?? 0));
        for (const [k, v] of Object.entries(c)) if (k.startsWith('bad_')) add('hep_malformed', v);
        add('hep_malformed', c.sip_malformed);
      }
      if (s.kind === 'log') add('log_overlong_lines', c.overlong);
    }
    return out;
  }

  get port(): number | undefined {
    return this.address?.port;
  }

  async stop(): Promise<void> {
    await this.api?.close();
    await this.host.stop();
    this.manager.stop();
    // Last events (final RTP stats) go out now when the center is there; otherwise to the spool.
    if (this.uploader.centerReachable) await this.uploader.flush(3).catch(() => undefined);
    await this.frameUploader.close();
    await this.uploader.close();
  }

  status(): unknown {
    const e = this.manager.engine;
    return {
      name: this.cfg.name,
      version: this.cfg.version ?? '0.0.0',
      started_at: new Date(this.startedAt).toISOString(),
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      sources: this.host.statuses(),
      captures: this.manager.views(),
      recently_ended: this.manager.recentlyEnded(),
      upload: {
        center_reachable: this.uploader.centerReachable,
        memory: this.uploader.memory,
        spool: this.spool ? { dir: this.spool.dir, bytes: this.spool.size, max_bytes: this.spool.maxBytes, ...this.spool.counters } : null,
      },
      engine: { ...e.counters, dialogs: e.dialogCount },
      counters: this.manager.counters,
      // call states / route decisions that came before their dialog: taken late, let go, or not held (full)
      call_meta_waiting: this.manager.pendingMeta.counters,
    };
  }
}
