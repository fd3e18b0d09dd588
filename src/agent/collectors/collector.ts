// The collector contract (docs/collectors.md): what every agent source is — the built-ins (live, HEP,
// log tail, replay, ESL, AMI, syslog) and a user's own module loaded with `--collector PATH`. A
// collector is made by `createCollector(ctx)` and hands what it captures to `ctx`; the host
// (host.ts) turns each emit into the capture manager's input, bounds it and counts it. This module
// owns only the shapes; it does nothing.
import type { PacketInput } from '../capture-manager.js';
import type { SourceStatus } from '../sources/source.js';

export interface CollectorEndpoint {
  ip: string;
  port: number;
}

/** A SIP message (or any transport payload: RTP, RTCP, STUN) as seen on the wire. */
export interface SipEmit {
  /** capture time, microseconds since the Unix epoch (now when absent) */
  ts_us?: number;
  /** udp | tcp | tls | sctp | ws | wss */
  transport: string;
  src: CollectorEndpoint;
  dst: CollectorEndpoint;
  payload: Buffer | string;
}

/** A log line, correlated to dialogs by the Call-ID it carries (or `call_id` when the collector knows it). */
export interface LogEmit {
  ts_us?: number;
  line: string;
  call_id?: string;
  /** where the line came from (a file, a host); the collector's name when absent */
  source?: string;
}

export type CallMetaValue = string | number | boolean | null;

/** What a platform (FreeSWITCH, Asterisk, an SBC) thinks of a call: a channel state change. */
export interface CallStateEmit {
  ts_us?: number;
  /** the SIP Call-ID of the leg, as on the wire */
  call_id: string;
  /** `freeswitch`, `asterisk`, `kamailio`, … (the lane's name on the ladder) */
  platform: string;
  /** `created`, `answered`, `bridged`, `hangup`, … or the platform's own word */
  state: string;
  /** hangup cause (`NORMAL_CLEARING`, `USER_BUSY`, `16`) */
  cause?: string;
  /** ITU-T Q.850 cause value (1-127) */
  q850?: number;
  /** the platform's own view: a few name → value pairs, shown in the message detail */
  fields?: Record<string, CallMetaValue>;
}

/** A routing decision (a Kamailio route block, the gateway or carrier chosen). */
export interface RouteEmit {
  ts_us?: number;
  call_id: string;
  /** route block or rule name */
  route?: string;
  /** where the call goes (URI, gateway, carrier) */
  destination?: string;
  fields?: Record<string, CallMetaValue>;
  /** the original log line, when the decision came from one */
  line?: string;
  /** where it came from (a file, a host); the collector's name when absent */
  source?: string;
}

export interface CollectorContext {
  /** the collector's instance name (`esl:10.0.0.5:8021`, the module's file name, …) */
  readonly name: string;
  /** each returns false when the event was refused (rate bound, invalid) — counted, never thrown */
  emitSip(e: SipEmit): boolean;
  emitLog(e: LogEmit): boolean;
  emitCallState(e: CallStateEmit): boolean;
  emitRoute(e: RouteEmit): boolean;
  /**
   * Two Call-IDs are legs of one call (a B2BUA's inbound and outbound dialogs, ESL's other leg,
   * AMI's dialled channel): a session capturing either captures both from now on.
   */
  linkCallIds(a: string, b: string): void;
  /** a line in the agent's log, prefixed with the collector's name (rate limited) */
  log(message: string): void;
  /**
   * The packet sources' path (live capture, HEP, replay): a payload with its original frame for the
   * PCAP export. Same accounting as `emitSip`; no copies.
   */
  emitPacket(p: PacketInput): boolean;
}

/** What `status()` may return; the host fills in what is missing. */
export interface CollectorStatusReport {
  state?: SourceStatus['state'];
  error?: string;
  counters?: Record<string, number>;
}

export interface Collector {
  readonly name?: string;
  /** `live`, `hep`, … for the built-ins; user modules are `collector` */
  readonly kind?: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  status(): CollectorStatusReport;
}

export type CreateCollector = (ctx: CollectorContext) => Collector;
