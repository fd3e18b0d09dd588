// The engine's public types: what callers feed it (packets, sessions, options) and what it gives back
// (hits, counters). Kept apart from the engine so the dialog and media modules can share them.
import type { SipMessage } from '../../protocol/sip.js';
import type { Criteria } from '../schema/criteria-rules.js';
import type { StreamStats } from './rtp-stats.js';

export interface Endpoint {
  ip: string;
  port: number;
}

/** What the engine needs to know about a packet besides its payload. */
export interface PacketMeta {
  /** capture time, µs since the epoch */
  tsUs: number;
  /** 'udp' | 'tcp' | 'sctp' | 'ws' | 'tls' | … — 'ws' SIP is also reported as webrtc */
  transport: string;
  src: Endpoint;
  dst: Endpoint;
}

export interface SessionSpec {
  id: string;
  criteria: Criteria;
  captureRtp?: boolean;
  /** µs since the epoch; enforced by expireSessions(nowUs) */
  expiresAtUs?: number;
}

export interface EngineOptions {
  /** tenant headers (default X-Tenant, X-Tenant-Id, X-Tenant-Code) */
  tenantHeaders?: readonly string[];
  /**
   * headers naming another leg's Call-ID (default X-CID, X-Call-ID, as sngrep's sip.xcid); [] turns
   * header linking off. Session-ID (RFC 7989) and P-Charging-Vector icid-value always link.
   */
  linkHeaders?: readonly string[];
  /** link keys (Call-IDs, Session-IDs, icids) remembered for leg linking (default 200 000) */
  maxLinkKeys?: number;
  /**
   * infer B2BUA legs without a linking header: a new INVITE from the host a captured INVITE went to,
   * within 5 s, to the same called number (default true; such links are marked inferred)
   */
  inferLegs?: boolean;
  /** capture time a dialog stays captured after it ended (default 5 s) */
  lingerUs?: number;
  /** how long a request without a final answer keeps its dialog (RFC 3261 Timer F/B: 32 s) */
  transactionTimeoutUs?: number;
  /** how long a ringing INVITE (provisional answer only) is kept (RFC 3261 Timer C: 180 s) */
  provisionalTimeoutUs?: number;
  /** dialogs tracked in total (default 100 000); the least recently active is evicted */
  maxDialogs?: number;
  /** dialogs tracked per session (default 10 000) */
  maxDialogsPerSession?: number;
  /** Call-IDs whose initial request (From-tag) is remembered to orient in-dialog messages (default 65 536) */
  orientationCacheSize?: number;
  /** RTP samples: the first N packets of each stream… (default 10) */
  rtpSampleFirst?: number;
  /** …then one in M (default 50) */
  rtpSampleEvery?: number;
  /** capture time between periodic stream summaries; 0 = final summaries only (default 5 s) */
  statsIntervalUs?: number;
  /** RTP streams tracked per dialog (default 64) */
  maxStreamsPerDialog?: number;
  /** stream summaries: periodic (final=false) and final (dialog ended, session stopped, flush) */
  onStats?: (ev: StatsEvent) => void;
}

export type TakeReason = 'criteria' | 'dialog' | 'linked';

export interface SessionTake {
  id: string;
  /**
   * 'criteria': this message matched the session's criteria; 'dialog': its Call-ID was being
   * captured (matched earlier, or followed: `follow`); 'linked': it is a leg linked to a captured leg
   * (B2BUA/SBC)
   */
  reason: TakeReason;
}

export interface SipHit {
  kind: 'sip';
  callId: string;
  sessions: SessionTake[];
  msg: SipMessage;
  /** SIP over WebSocket: also a `webrtc` event (DESIGN §5) */
  webrtc: boolean;
  /** state of the dialog after this message */
  dialog: 'active' | 'ending' | 'ended';
  /** the other legs' Call-IDs when this dialog is one leg of a linked call (B2BUA/SBC) */
  legs?: string[];
  /** the link was inferred by number and time (no header or platform said so) */
  legsInferred?: boolean;
}

export type MediaProtocol = 'rtp' | 'rtcp' | 'stun' | 'dtls' | 'other';

export interface MediaHit {
  kind: 'rtp' | 'rtcp' | 'webrtc';
  protocol: MediaProtocol;
  callId: string;
  /** the dialog's sessions that capture RTP */
  sessions: string[];
  /** true when this packet is one of the samples (first N, then 1 in M per stream) */
  sample: boolean;
  rtp?: { ssrc: number; pt: number; seq: number; ts: number; marker: boolean; codec: string | undefined };
}

export interface LogHit {
  kind: 'log';
  line: string;
  source: string;
  tsUs: number;
  /** sessions taking the line; callId when it was correlated through a captured dialog */
  sessions: { id: string; callId: string | undefined }[];
}

export interface StatsEvent {
  sessions: string[];
  callId: string;
  stats: StreamStats;
  final: boolean;
}

export interface EngineCounters {
  /** SIP messages seen (datagrams that look like SIP, and messages given to onSip) */
  sipMessages: number;
  /** of those, dropped before parsing: no captured dialog, no session's raw condition */
  sipPrefiltered: number;
  sipMatched: number;
  sipMalformed: number;
  sipWithoutCallId: number;
  /** payloads given to onDatagram */
  datagrams: number;
  mediaMatched: number;
  dialogsOpened: number;
  dialogsEnded: number;
  dialogsEvicted: number;
  sessionsExpired: number;
  logLines: number;
  logMatched: number;
  /** link groups dropped because the link table was full */
  linksEvicted: number;
}

export interface SessionCounters {
  sip: number;
  rtp: number;
  rtcp: number;
  webrtc: number;
  log: number;
  samples: number;
  dialogs: number;
  /** dialogs dropped from this session's table because it was full (or the global table was) */
  evicted: number;
}
