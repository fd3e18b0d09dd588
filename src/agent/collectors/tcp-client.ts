// The connection life of a collector that logs in to a platform over TCP (FreeSWITCH ESL, Asterisk
// AMI): connect, a handshake that must finish in time, a session that must not go silent, and
// reconnection with back-off (0.5 s doubling to 30 s) whatever went wrong. The state and the reason
// of the last failure are what the collector's status reports: "connection refused", "no banner
// within 10 s", "authentication failed: …" (then retried at the slowest pace, since a password is
// not fixed by retrying fast). Subclasses own the protocol; this module owns sockets and timers.
import { connect, type Socket } from 'node:net';
import type { SourceStatus } from '../sources/source.js';
import type { Collector, CollectorContext } from './collector.js';

export interface TcpClientOptions {
  host: string;
  port: number;
  /** the handshake (banner/auth request, login, subscription) must complete within this */
  handshakeTimeoutMs?: number;
  /** with no byte from the server for this long, the session is stalled: reconnect */
  idleTimeoutMs?: number;
  /** how often the subclass is asked to poke the server (so a healthy idle server answers) */
  keepaliveMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

export abstract class TcpClientCollector implements Collector {
  abstract readonly kind: string;
  abstract readonly name: string;
  protected sock: Socket | undefined;
  private state: SourceStatus['state'] = 'stopped';
  private error: string | undefined;
  private authFailed = false;
  private stopped = true;
  private attempt = 0;
  private lastByte = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private established = false;
  protected readonly o: Required<TcpClientOptions>;
  readonly tcp = { connects: 0, sessions: 0, disconnects: 0, auth_failures: 0, stalls: 0, protocol_errors: 0, bytes: 0 };

  constructor(
    protected readonly ctx: CollectorContext,
    opts: TcpClientOptions,
  ) {
    this.o = { handshakeTimeoutMs: 10_000, idleTimeoutMs: 90_000, keepaliveMs: 20_000, backoffMinMs: 500, backoffMaxMs: 30_000, ...opts };
  }

  /** Called on each new connection (reset framers); the server speaks first in both protocols. */
  protected abstract onConnected(): void;
  protected abstract onData(chunk: Buffer): void;
  /** A request that makes a healthy server answer (AMI Ping); may do nothing. */
  protected abstract keepalive(): void;
  /** Protocol counters for status. */
  protected abstract protocolCounters(): Record<string, number>;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    this.clearTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const s = this.sock;
    this.sock = undefined;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((r) => {
      s.once('close', () => r());
      s.destroy();
    });
  }

  status() {
    return {
      state: this.state,
      ...(this.error ? { error: this.error } : {}),
      counters: { ...this.tcp, ...this.protocolCounters() },
    };
  }

  protected send(text: string): void {
    if (this.sock && !this.sock.destroyed) this.sock.write(text);
  }

  /** The handshake is done: events flow now. */
  protected sessionEstablished(): void {
    this.established = true;
    this.attempt = 0;
    this.authFailed = false;
    this.tcp.sessions++;
    this.state = 'running';
    this.error = undefined;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.ctx.log(`connected to ${this.o.host}:${this.o.port}`);
  }

  /** The server refused our credentials: said plainly, retried slowly. */
  protected authenticationFailed(why: string): void {
    this.tcp.auth_failures++;
    this.authFailed = true;
    this.drop(`authentication failed: ${why}`);
  }

  protected protocolError(why: string): void {
    this.tcp.protocol_errors++;
    this.drop(why);
  }

  private connect(): void {
    if (this.stopped) return;
    this.established = false;
    this.state = this.tcp.connects === 0 ? 'starting' : this.authFailed ? 'failed' : 'restarting';
    this.tcp.connects++;
    const sock = connect({ host: this.o.host, port: this.o.port });
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      this.lastByte = Date.now();
      this.onConnected();
      this.handshakeTimer = setTimeout(() => {
        this.tcp.stalls++;
        this.drop(`the server accepted the connection but did not complete the handshake within ${this.o.handshakeTimeoutMs / 1000} s`);
      }, this.o.handshakeTimeoutMs);
      this.watchTimer = setInterval(() => this.watch(), Math.min(this.o.keepaliveMs, this.o.idleTimeoutMs / 2));
    });
    sock.on('data', (chunk: Buffer) => {
      this.lastByte = Date.now();
      this.tcp.bytes += chunk.length;
      try {
        this.onData(chunk);
      } catch (e) {
        this.protocolError(`cannot read the server's data: ${(e as Error).message}`);
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (sock !== this.sock) return;
      const why = e.code === 'ECONNREFUSED' ? `connection refused by ${this.o.host}:${this.o.port}` : `${this.o.host}:${this.o.port}: ${e.message}`;
      this.drop(why);
    });
    sock.on('close', () => {
      if (sock !== this.sock) return;
      this.drop(this.established ? `the server closed the connection` : `the server closed the connection during the handshake`);
    });
  }

  private watch(): void {
    if (!this.established) return;
    if (Date.now() - this.lastByte > this.o.idleTimeoutMs) {
      this.tcp.stalls++;
      this.drop(`nothing from the server for ${Math.round(this.o.idleTimeoutMs / 1000)} s (stalled)`);
      return;
    }
    this.keepalive();
  }

  private clearTimers(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.handshakeTimer = undefined;
    this.watchTimer = undefined;
  }

  /** Ends this connection and schedules the next attempt. */
  private drop(why: string): void {
    const s = this.sock;
    if (!s) return;
    this.sock = undefined;
    this.clearTimers();
    s.destroy();
    if (this.established) this.tcp.disconnects++;
    this.established = false;
    if (this.stopped) return;
    this.error = why;
    this.state = this.authFailed ? 'failed' : 'restarting';
    const delay = this.authFailed ? this.o.backoffMaxMs : Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** this.attempt++);
    this.ctx.log(`${why}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }
}
