// One capture agent: wires the sources (live, HEP, log, replay), the capture manager (matching and
// events), the uploader (with its spool) and the command API, and answers `GET /v1/status`. Takes a
// plain config object; reading flags and the environment is the CLI's job (src/cli/commands/agent.ts).
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { TunaError } from '../core/errors.js';
import type { CaptureCommand } from '../core/schema/command.js';
import { CaptureManager } from './capture-manager.js';
import { CommandApi } from './command-api.js';
import { HepSource, parseHepSpec } from './sources/hep.js';
import { LiveSource } from './sources/live.js';
import { LogTailSource } from './sources/log-tail.js';
import { ReplaySource } from './sources/replay.js';
import type { Source } from './sources/source.js';
import { Spool } from './spool.js';
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
  read?: string;
  replaySpeed?: number;
  spoolDir?: string;
  spoolMaxMb?: number;
  tenantHeaders?: string[];
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
  readonly spool: Spool | undefined;
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
      mkdirSync(cfg.spoolDir, { recursive: true });
      this.spool = new Spool(cfg.spoolDir, Math.max(1, cfg.spoolMaxMb ?? 1024) * 1024 * 1024);
    }
    this.uploader = new Uploader({
      token: cfg.token,
      spool: this.spool,
      // The manager is created just below; the uploader only calls this once events flow.
      countersFor: (id) => manager.countersFor(id),
      log,
    });
    const manager = new CaptureManager({
      uploader: this.uploader,
      tenantHeaders: cfg.tenantHeaders,
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
    const onPacket = manager.onPacket.bind(manager);
    const onLogLine = manager.onLogLine.bind(manager);
    for (const iface of cfg.interfaces ?? []) {
      this.sources.push(
        new LiveSource({
          iface,
          bpf: cfg.bpf,
          snaplen: cfg.snaplen,
          onPacket,
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
      this.sources.push(new HepSource({ listen, authKey: cfg.hepAuthKey, onPacket, onLogLine }));
    }
    for (const path of cfg.logs ?? []) this.sources.push(new LogTailSource({ path, onLine: onLogLine }));
    if (cfg.read) {
      const speed = cfg.replaySpeed ?? 0;
      if (!(speed >= 0) || !Number.isFinite(speed)) throw new TunaError('bad_request', `--replay-speed must be 0 or more, got ${speed}`);
      this.sources.push(new ReplaySource({ path: cfg.read, speed, onPacket }));
      // A replay brings its own (old) timestamps: the engine clock must follow them, not the wall.
      manager.wallClockAdvance = false;
    }
    this.uploader.setAgentInfo({
      version: cfg.version ?? '0.0.0',
      sources: this.sources.map((s) => ({ type: s.kind, detail: s.name.slice(0, 512) })),
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
    await Promise.all(this.sources.map((s) => s.start()));
    return this.address;
  }

  /** Whether this agent can capture at all: what the center shows per agent on the session. */
  health(): { state: 'capturing' | 'failed'; reason?: string } {
    if (this.sources.length === 0) return { state: 'failed', reason: 'the agent has no capture source (--interface, --hep, --log, --read)' };
    const failed = this.sources.map((s) => s.status()).filter((st) => st.state === 'failed');
    if (failed.length === 0) return { state: 'capturing' };
    const reason = failed.map((st) => `${st.name}: ${st.error ?? 'failed'}`).join('; ');
    return { state: failed.length === this.sources.length ? 'failed' : 'capturing', reason };
  }

  /** Losses at the sources that no capture can see otherwise (summed over sources of a kind). */
  sourceDrops(): Record<string, number> {
    const out: Record<string, number> = {};
    const add = (k: string, v: number | undefined): void => {
      if (v) out[k] = (out[k] ?? 0) + v;
    };
    for (const s of this.sources) {
      const c = s.status().counters;
      if (s.kind === 'live') add('kernel_dropped', c.kernel_dropped);
      if (s.kind === 'hep') {
        add('hep_auth_failed', c.auth_failed);
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
    await Promise.all(this.sources.map((s) => s.stop().catch(() => undefined)));
    this.manager.stop();
    // Last events (final RTP stats) go out now when the center is there; otherwise to the spool.
    if (this.uploader.centerReachable) await this.uploader.flush(3).catch(() => undefined);
    await this.uploader.close();
  }

  status(): unknown {
    const e = this.manager.engine;
    return {
      name: this.cfg.name,
      version: this.cfg.version ?? '0.0.0',
      started_at: new Date(this.startedAt).toISOString(),
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      sources: this.sources.map((s) => s.status()),
      captures: this.manager.views(),
      recently_ended: this.manager.recentlyEnded(),
      upload: {
        center_reachable: this.uploader.centerReachable,
        spool: this.spool ? { dir: this.spool.dir, bytes: this.spool.size, max_bytes: this.spool.maxBytes, ...this.spool.counters } : null,
      },
      engine: { ...e.counters, dialogs: e.dialogCount },
      counters: this.manager.counters,
    };
  }
}
