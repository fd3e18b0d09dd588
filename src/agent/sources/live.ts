// Live capture source: one supervised tcpdump child per interface,
//   tcpdump -i IFACE --immediate-mode -U -n -s SNAPLEN -B BUFFER_KiB -Z root -w - [BPF]
// whose stdout (pcap) is parsed as a stream (pipeline.ts). Owns the child's life: waiting for
// "listening on" before saying `running`, restarting it with backoff when it exits, asking it for its
// counters with SIGUSR1 (Linux tcpdump prints "N packets captured, M packets received by filter,
// K packets dropped by kernel" on stderr and keeps capturing), summing kernel drops across restarts,
// and turning the usual failures into clear messages: tcpdump missing (ENOENT), capture not
// permitted, no such interface, bad filter.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { PacketInput } from '../capture-manager.js';
import { PacketPipeline } from './pipeline.js';
import type { Source, SourceStatus } from './source.js';

/** SIP on 5060-5061 (UDP, TCP, TLS), the RTP range on UDP, and IP fragments (later fragments have no ports). */
export function defaultBpf(sipPorts = '5060-5061', rtpPorts = '10000-60000'): string {
  return `portrange ${sipPorts} or udp portrange ${rtpPorts} or (ip and ip[6:2] & 0x1fff != 0) or (ip6 and ip6[6] == 44)`;
}

export interface LiveSourceOptions {
  iface: string;
  bpf?: string;
  snaplen?: number;
  /**
   * kernel capture buffer in KiB (-B), default 64 MB. In immediate mode libpcap uses fixed slots of
   * about the snaplen each (8 KB here), so 8 MB held only ~1 000 packets — about 80 ms of a 12 k
   * packets/s stream while the process is not scheduled — and the live benchmark saw kernel drops.
   */
  bufferKiB?: number;
  onPacket: (p: PacketInput) => void;
  tcpdumpPath?: string;
  /** how often to ask tcpdump for its drop counters */
  statsIntervalMs?: number;
  restartMinMs?: number;
  restartMaxMs?: number;
  /** how long start() waits for "listening on" */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

/**
 * The socket tcpdump writes its pcap stream into (Node gives a child's stdout as a Unix socket pair)
 * holds only ≈ 200 KB by default, and with `-U` every packet is its own write, so about 150 packets:
 * whenever the agent's event loop is busy for a few milliseconds (an upload, a GC), tcpdump blocks,
 * stops draining the kernel ring and the kernel drops. The live benchmark measured it: 25 k SIP
 * packets/s dropped a quarter of them with the agent at 26 % CPU. So tcpdump is started through
 * perl (in every Debian, package perl-base), which raises the socket's send buffer (SO_SNDBUFFORCE,
 * root; else SO_SNDBUF up to the system maximum) and then execs tcpdump in the same process. Without
 * perl, tcpdump is started directly with the default buffer.
 */
export const OUTPUT_BUFFER_BYTES = 128 * 1024 * 1024;
const RAISE_SNDBUF_AND_EXEC =
  'my $n = shift @ARGV; setsockopt(STDOUT, 1, 32, pack("i", $n)) or setsockopt(STDOUT, 1, 7, pack("i", $n)); ' +
  'exec { $ARGV[0] } @ARGV or do { print STDERR "cannot run $ARGV[0]: $!\\n"; exit 127 }';

/** The executable `name` resolves to on PATH (or itself when it is a path), or null. */
export function findExecutable(name: string): string | null {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter((d) => isAbsolute(d)).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

const STATS_LINE = /(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel/;
const DROPPED_LINE = /^(\d+) packets? dropped by kernel/;
const RECEIVED_LINE = /^(\d+) packets? received by filter/;

export class LiveSource implements Source {
  readonly kind = 'live' as const;
  readonly name: string;
  private readonly o: LiveSourceOptions;
  private state: SourceStatus['state'] = 'stopped';
  private error: string | undefined;
  private child: ChildProcess | undefined;
  private readonly pipeline: PacketPipeline;
  private restartTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopping = false;
  private readyWaiters: (() => void)[] = [];
  /** kernel drops of completed runs, plus the latest report of the current run */
  private dropsDone = 0;
  private dropsNow = 0;
  private receivedDone = 0;
  private receivedNow = 0;
  private stderrTail = '';
  readonly counters = { restarts: 0, bytes: 0, stream_errors: 0 };

  constructor(opts: LiveSourceOptions) {
    this.o = opts;
    this.name = `live:${opts.iface}`;
    this.pipeline = new PacketPipeline(opts.onPacket);
  }

  get bpf(): string {
    return this.o.bpf ?? defaultBpf();
  }

  /** Starts tcpdump; resolves once it listens, or when it failed (see status()). */
  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.stopping = false;
    const ready = this.waitReady();
    this.spawn();
    await ready;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.restartTimer = this.statsTimer = undefined;
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((r) => c.once('close', () => r()));
      c.kill('SIGINT');
      const t = setTimeout(() => c.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(t);
    }
    this.child = undefined;
    this.wakeReady();
  }

  status(): SourceStatus {
    const p = this.pipeline.counters;
    const counters: Record<string, number> = {
      frames: p.frames,
      units: p.units,
      bytes: this.counters.bytes,
      kernel_dropped: this.dropsDone + this.dropsNow,
      received_by_filter: this.receivedDone + this.receivedNow,
      restarts: this.counters.restarts,
      stream_errors: this.counters.stream_errors,
    };
    this.pipeline.frameCounters(counters);
    return { name: this.name, kind: this.kind, state: this.state, ...(this.error ? { error: this.error } : {}), counters };
  }

  /** Asks tcpdump for fresh counters now (they arrive on stderr shortly after). */
  requestStats(): void {
    const c = this.child;
    if (c && this.state === 'running' && c.exitCode === null) c.kill('SIGUSR1');
  }

  private waitReady(): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.o.readyTimeoutMs ?? 10_000);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wakeReady(): void {
    const w = this.readyWaiters;
    this.readyWaiters = [];
    for (const f of w) f();
  }

  private args(): string[] {
    const a = ['-i', this.o.iface, '--immediate-mode', '-U', '-n', '-s', String(this.o.snaplen ?? 8192), '-B', String(this.o.bufferKiB ?? 65536), '-Z', 'root', '-w', '-'];
    const bpf = this.bpf.trim();
    if (bpf !== '') a.push(bpf);
    return a;
  }

  private spawn(): void {
    this.state = this.counters.restarts > 0 || this.attempt > 0 ? 'restarting' : 'starting';
    this.pipeline.reset();
    this.dropsNow = 0;
    this.receivedNow = 0;
    this.stderrTail = '';
    let child: ChildProcess;
    try {
      const tcpdump = this.o.tcpdumpPath ?? 'tcpdump';
      const resolved = findExecutable(tcpdump);
      const perl = resolved === null ? null : findExecutable('perl');
      // a tcpdump that cannot be found is spawned directly, so the failure reads as before (ENOENT)
      child =
        perl !== null && resolved !== null
          ? spawn(perl, ['-e', RAISE_SNDBUF_AND_EXEC, String(OUTPUT_BUFFER_BYTES), resolved, ...this.args()], { stdio: ['ignore', 'pipe', 'pipe'] })
          : spawn(tcpdump, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
      if (perl === null && resolved !== null && this.attempt === 0 && this.counters.restarts === 0) {
        this.o.log?.(`perl not found: tcpdump's output buffer stays at the system default (≈ 200 KB); bursts while the agent is busy may be dropped by the kernel`);
      }
    } catch (e) {
      this.onFailure(this.describeSpawnError(e as NodeJS.ErrnoException));
      return;
    }
    this.child = child;
    let broken = false;
    child.on('error', (e: NodeJS.ErrnoException) => {
      // ENOENT/EACCES arrive here, before any 'close'.
      this.error = this.describeSpawnError(e);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (broken) return;
      this.counters.bytes += chunk.length;
      const err = this.pipeline.push(chunk);
      if (err !== null) {
        // Unreadable stream: restart from a fresh child rather than guess where records resume.
        broken = true;
        this.counters.stream_errors++;
        this.error = `tcpdump output unreadable: ${err}`;
        child.kill('SIGKILL');
      }
    });
    let buf = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      // Bounded: each pass removes one line.
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.stderrLine(buf.slice(0, nl).trim());
        buf = buf.slice(nl + 1);
      }
      if (buf.length > 8192) buf = buf.slice(-8192);
    });
    child.on('close', (code, signal) => {
      if (buf.trim() !== '') this.stderrLine(buf.trim());
      this.dropsDone += this.dropsNow;
      this.receivedDone += this.receivedNow;
      this.dropsNow = this.receivedNow = 0;
      if (this.child === child) this.child = undefined;
      if (this.statsTimer) clearInterval(this.statsTimer);
      this.statsTimer = undefined;
      if (this.stopping) return;
      const why = this.error ?? this.describeExit(code, signal);
      this.onFailure(why);
    });
  }

  private stderrLine(line: string): void {
    if (line === '') return;
    this.stderrTail = `${this.stderrTail}\n${line}`.slice(-2048);
    if (/listening on/i.test(line)) {
      this.state = 'running';
      this.error = undefined;
      this.attempt = 0;
      this.o.log?.(`live capture on ${this.o.iface} running (filter: ${this.bpf || 'none'})`);
      const every = this.o.statsIntervalMs ?? 5000;
      if (every > 0 && !this.statsTimer) {
        this.statsTimer = setInterval(() => this.requestStats(), every);
        this.statsTimer.unref();
      }
      this.wakeReady();
      return;
    }
    let m = STATS_LINE.exec(line);
    if (m) {
      this.receivedNow = Number(m[2]);
      this.dropsNow = Number(m[3]);
      return;
    }
    if ((m = DROPPED_LINE.exec(line))) {
      this.dropsNow = Number(m[1]);
      return;
    }
    if ((m = RECEIVED_LINE.exec(line))) {
      this.receivedNow = Number(m[1]);
      return;
    }
    if (/permission denied|operation not permitted|don't have permission/i.test(line)) {
      this.error = `capture not permitted on ${this.o.iface}: run the agent as root or give tcpdump CAP_NET_RAW and CAP_NET_ADMIN (tcpdump: ${line})`;
    } else if (/no such device|doesn't exist|not found|no such interface/i.test(line)) {
      this.error = `no interface named "${this.o.iface}" (tcpdump: ${line}); list them with tcpdump -D`;
    } else if (/syntax error|can't parse filter|expression rejects|illegal|unknown (host|port|network)/i.test(line)) {
      this.error = `the capture filter was refused: ${line} (filter: ${this.bpf})`;
    }
  }

  private describeSpawnError(e: NodeJS.ErrnoException): string {
    const path = this.o.tcpdumpPath ?? 'tcpdump';
    if (e.code === 'ENOENT') return `tcpdump is not installed (${path} not found): install the tcpdump package to capture live`;
    if (e.code === 'EACCES') return `cannot run ${path}: permission denied`;
    return `cannot start ${path}: ${e.message}`;
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    const last = this.stderrTail.trim().split('\n').filter((l) => !STATS_LINE.test(l) && !/packets? (captured|received|dropped)/.test(l)).pop();
    return `tcpdump on ${this.o.iface} exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}`;
  }

  private onFailure(why: string): void {
    if (this.stopping) return;
    this.error = why;
    this.attempt++;
    // Backoff: 1 s, 2 s, 4 s … capped; a child that ran fine resets attempt to 0 when it listened.
    const min = this.o.restartMinMs ?? 1000;
    const max = this.o.restartMaxMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** Math.min(this.attempt - 1, 16));
    // Missing tcpdump or missing privileges will not fix themselves in a second: say `failed` at once.
    const hopeless = /not installed|not permitted|no interface named|filter was refused|cannot run/.test(why);
    this.state = hopeless || this.attempt > 2 ? 'failed' : 'restarting';
    this.o.log?.(`live capture on ${this.o.iface}: ${why}; retrying in ${Math.round(delay / 1000)} s`);
    this.wakeReady();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.counters.restarts++;
      this.spawn();
    }, delay);
    this.restartTimer.unref();
  }
}
