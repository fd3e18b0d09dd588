// Public surface of the matching engine (DESIGN §5), shared by the agent and `tunaio filter`.
export { MatchEngine } from './engine.js';
export type {
  EngineCounters,
  EngineOptions,
  Endpoint,
  LogHit,
  MediaHit,
  MediaProtocol,
  PacketMeta,
  SessionCounters,
  SessionSpec,
  SessionTake,
  SipHit,
  StatsEvent,
  TakeReason,
} from './engine.js';
export { compileCriteria, DEFAULT_TENANT_HEADERS } from './criteria.js';
export type { CompileOptions, CompiledCriteria, Criteria } from './criteria.js';
export { MessageView } from './message-view.js';
export { RtpStream, STATIC_PAYLOAD_TYPES } from './rtp-stats.js';
export type { StreamStats } from './rtp-stats.js';
export { estimateMos, rFactor, mosFromR } from './mos.js';
export { compileUserMatcher, telephoneDigits, MIN_SUFFIX_DIGITS } from './numbers.js';
export { compileIpMatcher, parseIp } from './ip-match.js';
export { compileTextNeedle } from './text-search.js';
export { sdpMedia } from './sdp-media.js';
