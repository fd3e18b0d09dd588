// HEP source: a HEP v1/v2/v3 listener on UDP or TCP (`udp:ADDR:PORT`, `tcp:ADDR:PORT`), what
// Kamailio siptrace, OpenSIPS, FreeSWITCH, Asterisk res_hep, rtpengine and heplify send. Owns the
// sockets, TCP stream framing per connection, the optional auth-key check, and counters of
// everything refused, by reason. Each packet keeps the original addresses, ports and timestamp from
// inside HEP (not the sender's), and its capture id is counted per id. SIP goes to the capture
// manager as a parsed message (with a rebuilt raw-IP frame for PCAP export, made only when a session
// wants it), raw RTP/RTCP as a datagram, HEP log packets (type 100) as log lines.
// Never crashes on hostile input: the decoders are pure and never throw, and every handler is guarded.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { decodeHep, HEP_PROTO_TYPE, HepStreamFramer, type HepPacket } from '../../protocol/hep.js';
import { looksLikeSip, parseSip } from '../../protocol/sip.js';
import type { FrameBytes, PacketInput } from '../capture-manager.js';
import { LINKTYPE_RAW, synthFrame } from '../synth-frame.js';
import type { Source, SourceStatus } from './source.js';
import { readUdpSocketStats, type UdpSocketStats } from './udp-socket-stats.js';

export interface HepListenSpec {
  proto: 'udp' | 'tcp';
  host: string;
  port: number;
}

/** Parses `udp:ADDR:PORT` / `tcp:ADDR:PORT` (IPv6 as `[::1]`); throws RangeError with a precise message. */
export function parseHepSpec(spec: string): HepListenSpec {
  const m = /^(udp|tcp):(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/i.exec(spec.trim());
  if (!m) throw new RangeError(`--hep expects udp:ADDR:PORT or tcp:ADDR:PORT (e.g. udp:0.0.0.0:9060), got "${spec}"`);
  const port = Number(m[4]);
  if (port > 65535) throw new RangeError(`--hep port must be 0-65535, got ${port}`);
  return { proto: m[1].toLowerCase() as 'udp' | 'tcp', host: m[2] ?? (m[3] || '0.0.0.0'), port };
}

export interface HepSourceOptions {
  listen: HepListenSpec;
  /** when set, packets whose auth key (HEP3 chunk 0x000e) differs are dropped and counted */
  authKey?: string;
  onPacket: (p: PacketInput) => void;
  onLogLine: (line: string, tsUs: number, source: string) => void;
  /** TCP connections accepted at once (default 64); when full, the connection idle longest is closed for a new one */
  maxConnections?: number;
  /** TCP connections at once from one address (default 16) */
  maxConnectionsPerIp?: number;
  /** a TCP connection that sends nothing this long is closed (default 60 000 ms) */
  idleTimeoutMs?: number;
  now?: () => number;
}

/** HEP proto type 4: a raw RTP packet (captagent-style); types 5/32/34/35 carry JSON reports we do not use. */
const HEP_RAW_RTP = 4;
const IPPROTO_TRANSPORT: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const MAX_CAPTURE_IDS = 64;
const MAX_TCP_FLOWS = 4096;
/** a full listener closes the connection idle longest, if it has been quiet at least this long */
const EVICT_IDLE_MS = 5_000;
/** /proc/net/udp is read at most this often (status and every upload batch ask) */
const SOCKET_STATS_EVERY_MS = 1_000;

export class HepSource implements Source {
  readonly kind = 'hep' as const;
  readonly name: string;
  private readonly o: HepSourceOptions;
  private state: SourceStatus['state'] = 'stopped';
  private error: string | undefined;
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  /** open TCP connections, and when each last sent something (ms) */
  private readonly conns = new Map<Socket, number>();
  private readonly connsPerIp = new Map<string, number>();
  private socketStats: { at: number; v: UdpSocketStats | undefined } = { at: 0, v: undefined };
  private readonly authKey: Buffer | undefined;
  /** TCP sequence numbers per flow, for rebuilt frames of TCP-borne SIP (bounded) */
  private readonly tcpSeq = new Map<string, number>();
  private boundPort = 0;
  readonly counters = {
    packets: 0,
    bytes: 0,
    sip: 0,
    logs: 0,
    media: 0,
    connections: 0,
    auth_failed: 0,
    sip_malformed: 0,
    no_addresses: 0,
    tcp_resyncs: 0,
    tcp_skipped_bytes: 0,
    connections_refused: 0,
    connections_refused_per_ip: 0,
    connections_evicted: 0,
    connections_idle_closed: 0,
  };
  /** refused packets by decoder reason (`truncated`, `not_hep`, …) */
  private readonly bad: Record<string, number> = {};
  /** packets by HEP proto type we do not use (`proto_5` RTCP JSON, …) */
  private readonly ignored: Record<string, number> = {};
  private readonly captureIds = new Map<number, number>();

  constructor(opts: HepSourceOptions) {
    this.o = opts;
    const l = opts.listen;
    this.name = `hep:${l.proto}:${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
    this.authKey = opts.authKey ? Buffer.from(opts.authKey) : undefined;
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.state === 'running') return;
    this.state = 'starting';
    const { proto, host, port } = this.o.listen;
    try {
      if (proto === 'udp') {
        const sock = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
        this.udp = sock;
        sock.on('message', (msg) => this.onDatagram(msg));
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(port, host, () => {
            sock.off('error', reject);
            resolve();
          });
        });
        sock.on('error', (e) => {
          this.error = `HEP UDP socket: ${e.message}`;
        });
        try {
          sock.setRecvBufferSize(8 * 1024 * 1024);
        } catch {
          // the kernel caps it (net.core.rmem_max); the default still works
        }
        this.boundPort = sock.address().port;
      } else {
        const srv = createServer((s) => this.onConnection(s));
        this.tcp = srv;
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, host, () => {
            srv.off('error', reject);
            resolve();
          });
        });
        srv.on('error', (e) => {
          this.error = `HEP TCP listener: ${e.message}`;
        });
        const a = srv.address();
        this.boundPort = typeof a === 'object' && a ? a.port : port;
      }
      this.state = 'running';
      this.error = undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      this.state = 'failed';
      this.error =
        code === 'EADDRINUSE'
          ? `cannot listen for HEP on ${proto} ${host}:${port}: the port is in use by another process`
          : code === 'EACCES'
            ? `cannot listen for HEP on ${proto} ${host}:${port}: permission denied`
            : code === 'EADDRNOTAVAIL'
              ? `cannot listen for HEP on ${proto} ${host}:${port}: no such local address`
              : `cannot listen for HEP on ${proto} ${host}:${port}: ${(e as Error).message}`;
      this.udp?.close();
      this.udp = undefined;
      this.tcp?.close();
      this.tcp = undefined;
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
    for (const c of this.conns.keys()) c.destroy();
    this.conns.clear();
    this.connsPerIp.clear();
    const t = this.tcp;
    this.tcp = undefined;
    if (t) await new Promise<void>((r) => t.close(() => r()));
  }

  status(): SourceStatus {
    const counters: Record<string, number> = { ...this.counters };
    const ss = this.udpSocketStats();
    if (ss) {
      // Datagrams the kernel dropped on our socket (receive buffer full): lost before we could count them.
      counters.socket_dropped = ss.drops;
      counters.socket_queue_bytes = ss.rxQueueBytes;
    }
    if (this.o.listen.proto === 'tcp') counters.connections_open = this.conns.size;
    for (const [k, v] of Object.entries(this.bad)) counters[`bad_${k}`] = v;
    for (const [k, v] of Object.entries(this.ignored)) counters[`ignored_${k}`] = v;
    for (const [id, n] of this.captureIds) counters[`capture_id_${id}`] = n;
    return { name: this.name, kind: this.kind, state: this.state, ...(this.error ? { error: this.error } : {}), counters };
  }

  private udpSocketStats(): UdpSocketStats | undefined {
    if (!this.udp || this.state !== 'running') return this.socketStats.v;
    const now = Date.now();
    if (now - this.socketStats.at >= SOCKET_STATS_EVERY_MS) {
      const { host } = this.o.listen;
      this.socketStats = { at: now, v: readUdpSocketStats(this.boundPort, host, host.includes(':')) ?? this.socketStats.v };
    }
    return this.socketStats.v;
  }

  /**
   * Admission of a TCP sender: at most maxConnectionsPerIp from one address; when the listener is
   * full, the connection quiet the longest (≥ EVICT_IDLE_MS) makes room, so idle or abandoned
   * connections never lock real senders out. Every refusal and eviction is counted.
   */
  private admit(s: Socket): boolean {
    const ip = s.remoteAddress ?? '';
    if ((this.connsPerIp.get(ip) ?? 0) >= (this.o.maxConnectionsPerIp ?? 16)) {
      this.counters.connections_refused_per_ip++;
      return false;
    }
    if (this.conns.size < (this.o.maxConnections ?? 64)) return true;
    let idlest: Socket | undefined;
    let since = Infinity;
    for (const [c, at] of this.conns) {
      if (at < since) {
        since = at;
        idlest = c;
      }
    }
    if (!idlest || Date.now() - since < EVICT_IDLE_MS) {
      this.counters.connections_refused++;
      return false;
    }
    this.counters.connections_evicted++;
    this.forget(idlest);
    idlest.destroy();
    return true;
  }

  private forget(s: Socket): void {
    if (!this.conns.delete(s)) return;
    const ip = s.remoteAddress ?? '';
    const n = (this.connsPerIp.get(ip) ?? 1) - 1;
    if (n > 0) this.connsPerIp.set(ip, n);
    else this.connsPerIp.delete(ip);
  }

  private onConnection(s: Socket): void {
    if (!this.admit(s)) {
      s.destroy();
      return;
    }
    this.conns.set(s, Date.now());
    const ip = s.remoteAddress ?? '';
    this.connsPerIp.set(ip, (this.connsPerIp.get(ip) ?? 0) + 1);
    this.counters.connections++;
    const framer = new HepStreamFramer();
    let resyncs = 0;
    let skipped = 0;
    s.on('data', (chunk: Buffer) => {
      if (this.conns.has(s)) this.conns.set(s, Date.now());
      try {
        for (const p of framer.push(chunk)) this.onDatagram(p);
      } catch {
        this.bad.internal = (this.bad.internal ?? 0) + 1;
      }
      this.counters.tcp_resyncs += framer.stats.resyncs - resyncs;
      this.counters.tcp_skipped_bytes += framer.stats.skippedBytes - skipped;
      resyncs = framer.stats.resyncs;
      skipped = framer.stats.skippedBytes;
    });
    s.on('error', () => undefined);
    s.on('close', () => this.forget(s));
    // A sender that goes quiet holds a slot for nothing (it reconnects when it has something to send).
    s.setTimeout(this.o.idleTimeoutMs ?? 60_000, () => {
      this.counters.connections_idle_closed++;
      s.destroy();
    });
  }

  /** One HEP packet (a UDP datagram or a framed TCP packet). Never throws. */
  private onDatagram(buf: Buffer): void {
    this.counters.packets++;
    this.counters.bytes += buf.length;
    try {
      const p = decodeHep(buf);
      if (!p.ok) {
        this.bad[p.code] = (this.bad[p.code] ?? 0) + 1;
        return;
      }
      if (this.authKey && !this.authOk(p.authKey)) {
        this.counters.auth_failed++;
        return;
      }
      this.route(p);
    } catch {
      this.bad.internal = (this.bad.internal ?? 0) + 1;
    }
  }

  private authOk(key: string | undefined): boolean {
    if (key === undefined || !this.authKey) return false;
    const got = Buffer.from(key);
    // Constant time: compare equal-length buffers; a length mismatch still costs one comparison.
    if (got.length !== this.authKey.length) {
      timingSafeEqual(this.authKey, this.authKey);
      return false;
    }
    return timingSafeEqual(got, this.authKey);
  }

  private route(p: HepPacket): void {
    if (p.captureId !== undefined) {
      const n = this.captureIds.get(p.captureId);
      if (n !== undefined) this.captureIds.set(p.captureId, n + 1);
      else if (this.captureIds.size < MAX_CAPTURE_IDS) this.captureIds.set(p.captureId, 1);
    }
    const tsUs =
      p.tsSec !== undefined && p.tsSec > 0
        ? p.tsSec * 1_000_000 + Math.min(999_999, p.tsUsec ?? 0)
        : (this.o.now?.() ?? Date.now()) * 1000;
    const type = p.protoType ?? (p.version < 3 || looksLikeSip(p.payload) ? HEP_PROTO_TYPE.SIP : undefined);
    if (p.payloadError !== undefined) {
      this.bad.payload = (this.bad.payload ?? 0) + 1;
      return;
    }
    if (type === HEP_PROTO_TYPE.LOG) {
      this.counters.logs++;
      let line = p.payload.toString('utf8').replace(/[\r\n]+$/, '');
      // HEP log packets name their call in the correlation id: keep it findable in the line.
      if (p.correlationId && !line.includes(p.correlationId)) line = `${line} [correlation_id=${p.correlationId}]`;
      const source = `${this.name}${p.captureId !== undefined ? ` capture_id=${p.captureId}` : ''}`;
      for (const l of line.split(/\r?\n/)) if (l !== '') this.o.onLogLine(l, tsUs, source);
      return;
    }
    if (type !== HEP_PROTO_TYPE.SIP && type !== HEP_RAW_RTP) {
      const k = `proto_${type ?? 'none'}`;
      this.ignored[k] = (this.ignored[k] ?? 0) + 1;
      return;
    }
    if (p.srcIp === undefined || p.dstIp === undefined || p.srcPort === undefined || p.dstPort === undefined) {
      this.counters.no_addresses++;
      return;
    }
    const transport = IPPROTO_TRANSPORT[p.ipProto ?? 17] ?? 'udp';
    const src = { ip: p.srcIp, port: p.srcPort };
    const dst = { ip: p.dstIp, port: p.dstPort };
    const payload = p.payload;
    const frame = (): FrameBytes | null => {
      let tcpSeq: number | undefined;
      if (transport === 'tcp') {
        const key = `${src.ip}|${src.port}|${dst.ip}|${dst.port}`;
        tcpSeq = this.tcpSeq.get(key) ?? 1;
        if (!this.tcpSeq.has(key) && this.tcpSeq.size >= MAX_TCP_FLOWS) this.tcpSeq.delete(this.tcpSeq.keys().next().value as string);
        this.tcpSeq.set(key, (tcpSeq + payload.length) >>> 0);
      }
      const data = synthFrame({ src, dst, transport, payload, tcpSeq });
      return data ? { linkType: LINKTYPE_RAW, data, origLen: data.length } : null;
    };
    if (type === HEP_RAW_RTP) {
      this.counters.media++;
      this.o.onPacket({ tsUs, transport, src, dst, payload, frame });
      return;
    }
    const msg = parseSip(payload);
    if (!msg.ok) {
      this.counters.sip_malformed++;
      return;
    }
    this.counters.sip++;
    this.o.onPacket({ tsUs, transport, src, dst, payload, frame, sip: msg });
  }
}
