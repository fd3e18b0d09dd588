// Syslog collector (`--syslog udp:ADDR:PORT`): receives RFC 5424 and RFC 3164 messages over UDP (what
// rsyslog/syslog-ng forwarding, `logger -n`, SBCs and Kamailio through the system logger send) and
// hands each message's text to the line interpreter (log-lines.ts), so lines are correlated by Call-ID
// like the log tail and `route=… callid=…` lines become route events. Owns the socket and its counters.
import { createSocket, type Socket } from 'node:dgram';
import { parseSyslog, severityName } from '../../protocol/syslog.js';
import type { Source, SourceStatus } from '../sources/source.js';
import type { Collector, CollectorContext } from './collector.js';
import { lineEmitter, type LineFormat } from './log-lines.js';
import type { EndpointSpec } from './spec.js';

export interface SyslogOptions {
  listen: EndpointSpec;
  format: LineFormat;
}

export class SyslogCollector implements Collector, Source {
  readonly kind = 'syslog' as const;
  readonly name: string;
  private sock: Socket | undefined;
  private state: SourceStatus['state'] = 'stopped';
  private error: string | undefined;
  private port = 0;
  readonly counters = { datagrams: 0, bytes: 0, rfc5424: 0, rfc3164: 0, unframed: 0, lines: 0, json_lines: 0, not_json: 0, routes: 0 };
  private readonly emitLine: (line: string, tsUs: number, source?: string) => void;

  constructor(
    private readonly ctx: CollectorContext,
    private readonly o: SyslogOptions,
  ) {
    this.name = `syslog:${o.listen.proto}:${o.listen.host}:${o.listen.port}`;
    this.emitLine = lineEmitter(ctx, o.format, this.counters);
  }

  /** the bound port (tests listen on port 0) */
  get boundPort(): number {
    return this.port;
  }

  async start(): Promise<void> {
    const family = this.o.listen.host.includes(':') ? 'udp6' : 'udp4';
    const sock = createSocket({ type: family, reuseAddr: false });
    this.sock = sock;
    sock.on('message', (buf) => this.onDatagram(buf));
    await new Promise<void>((resolve) => {
      sock.once('error', (e) => {
        this.state = 'failed';
        this.error = `cannot listen on udp ${this.o.listen.host}:${this.o.listen.port}: ${e.message}`;
        resolve();
      });
      sock.bind(this.o.listen.port, this.o.listen.host, () => {
        this.port = sock.address().port;
        this.state = 'running';
        sock.on('error', (e) => (this.error = e.message));
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    this.state = 'stopped';
    const s = this.sock;
    this.sock = undefined;
    return new Promise((r) => (s ? s.close(() => r()) : r()));
  }

  status(): SourceStatus {
    return { name: this.name, kind: this.kind, state: this.state, ...(this.error ? { error: this.error } : {}), counters: { ...this.counters } };
  }

  private onDatagram(buf: Buffer): void {
    this.counters.datagrams++;
    this.counters.bytes += buf.length;
    const m = parseSyslog(buf.toString('utf8'));
    if (m.format === '5424') this.counters.rfc5424++;
    else if (m.format === '3164') this.counters.rfc3164++;
    else this.counters.unframed++;
    const where = [m.host, m.app].filter(Boolean).join('/');
    const source = `${this.name}${where ? ` ${where}` : ''}${m.severity !== undefined ? ` ${severityName(m.severity)}` : ''}`;
    const tsUs = m.tsUs ?? Date.now() * 1000;
    // One datagram may carry several lines (a multi-line message): each is a line of its own.
    for (const line of m.msg.split(/\r?\n/)) {
      if (line === '') continue;
      this.counters.lines++;
      this.emitLine(line, tsUs, source);
    }
  }
}
