// A hand-written fast path for `ingestEventSchema` (event.ts), the hot check of POST /api/ingest.
// zod stays the contract: `fastIngestEvent` returns the very value `ingestEventSchema.parse` would
// (same fields, same key order, defaults filled) for the event shapes agents send, and `undefined`
// for anything else — invalid input and whatever it is not sure about (IPv6 addresses, objects that
// are not plain, an `undefined` value, a `__proto__` key) — so the caller falls back to zod, which
// accepts or rejects and words the error. It never accepts what zod rejects: event-fast.case.test.ts
// runs both on valid and on many invalid events. Keep it in step with event.ts.
import { CALL_FIELDS_MAX, EVENT_KINDS, FRAME_MAX_BYTES, PAYLOAD_MAX_BYTES, TRANSPORTS } from './event.js';
import type { CallFields, CallState, Endpoint, Frame, IngestEvent, RouteInfo, Rtcp, RtpSample, SipSummary, StreamStats } from './event.js';

type Obj = Record<string, unknown>;

const KINDS: ReadonlySet<unknown> = new Set(EVENT_KINDS);
const TRANSPORT_SET: ReadonlySet<unknown> = new Set(TRANSPORTS);
const SESSION_ID = /^[0-9a-f]{20}$/;
// zod's own pattern (zod/v4/core regexes.ipv4); the base64 charset of $ZodBase64 is checked by decoding (frame())
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
const FRAME_DATA_MAX = Math.ceil(FRAME_MAX_BYTES / 3) * 4;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** a plain object (what JSON.parse makes) whose every key is in `allowed` and no value is undefined */
function plain(v: unknown, allowed: ReadonlySet<string>): v is Obj {
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) {
    if (!allowed.has(k) || (v as Obj)[k] === undefined) return false;
  }
  return true;
}

const int = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const num = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
/** absent (undefined) → null (the schema's `.nullable().default(null)`) */
const orNull = (v: unknown): unknown => (v === undefined ? null : v);

const keys = (...k: string[]): ReadonlySet<string> => new Set(k);
const EVENT_KEYS = keys('session_id', 'seq', 'ts', 'kind', 'transport', 'src', 'dst', 'call_id', 'sip', 'payload', 'rtp', 'rtcp', 'stats', 'log', 'callstate', 'route', 'frame');
const ENDPOINT_KEYS = keys('ip', 'port');
const SIP_KEYS = keys('method', 'status', 'reason', 'cseq_seq', 'cseq_method', 'from_user', 'to_user', 'has_sdp');
const RTP_KEYS = keys('ssrc', 'pt', 'seq', 'ts', 'marker', 'codec');
const RTCP_KEYS = keys('type', 'ssrc', 'fields');
const STATS_KEYS = keys('ssrc', 'packets', 'expected', 'lost', 'jitter_ms', 'max_delta_ms', 'duplicates', 'out_of_order', 'mean_jitter_ms', 'max_jitter_ms', 'duration_ms', 'mos', 'codec', 'final');
const LOG_KEYS = keys('source');
const FRAME_KEYS = keys('link_type', 'data', 'orig_len');
const CALLSTATE_KEYS = keys('platform', 'state', 'cause', 'q850', 'source', 'fields');
const ROUTE_KEYS = keys('route', 'destination', 'source', 'fields');

/** Marker for "not sure / invalid: ask zod". */
const NO = Symbol('no');
type Maybe<T> = T | typeof NO;

function endpoint(v: unknown): Maybe<Endpoint | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, ENDPOINT_KEYS) || typeof v.ip !== 'string' || !IPV4.test(v.ip) || !int(v.port, 0, 65_535)) return NO;
  return { ip: v.ip, port: v.port };
}

function sip(v: unknown): Maybe<SipSummary | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, SIP_KEYS) || typeof v.has_sdp !== 'boolean') return NO;
  const out: Partial<SipSummary> = {};
  if (v.method !== undefined) {
    if (!str(v.method, 32)) return NO;
    out.method = v.method;
  }
  if (v.status !== undefined) {
    if (!int(v.status, 100, 699)) return NO;
    out.status = v.status;
  }
  if (v.reason !== undefined) {
    if (!str(v.reason, 256)) return NO;
    out.reason = v.reason;
  }
  if (v.cseq_seq !== undefined) {
    if (!int(v.cseq_seq, 0, 4_294_967_295)) return NO;
    out.cseq_seq = v.cseq_seq;
  }
  if (v.cseq_method !== undefined) {
    if (!str(v.cseq_method, 32)) return NO;
    out.cseq_method = v.cseq_method;
  }
  if (v.from_user !== undefined) {
    if (!str(v.from_user, 256)) return NO;
    out.from_user = v.from_user;
  }
  if (v.to_user !== undefined) {
    if (!str(v.to_user, 256)) return NO;
    out.to_user = v.to_user;
  }
  out.has_sdp = v.has_sdp;
  return out as SipSummary;
}

function rtp(v: unknown): Maybe<RtpSample | null> {
  if (v === null || v === undefined) return null;
  if (
    !plain(v, RTP_KEYS) ||
    !int(v.ssrc, 0, 4_294_967_295) ||
    !int(v.pt, 0, 127) ||
    !int(v.seq, 0, 65_535) ||
    !int(v.ts, 0, 4_294_967_295) ||
    typeof v.marker !== 'boolean'
  )
    return NO;
  const out: RtpSample = { ssrc: v.ssrc, pt: v.pt, seq: v.seq, ts: v.ts, marker: v.marker };
  if (v.codec !== undefined) {
    if (!str(v.codec, 32)) return NO;
    out.codec = v.codec;
  }
  return out;
}

function rtcp(v: unknown): Maybe<Rtcp | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, RTCP_KEYS) || !int(v.type, 0, 255)) return NO;
  const out: Partial<Rtcp> = { type: v.type };
  if (v.ssrc !== undefined) {
    if (!int(v.ssrc, 0, 4_294_967_295)) return NO;
    out.ssrc = v.ssrc;
  }
  const fields: Rtcp['fields'] = {};
  if (v.fields !== undefined) {
    const f = v.fields;
    if (typeof f !== 'object' || f === null || Object.getPrototypeOf(f) !== Object.prototype) return NO;
    for (const k of Object.keys(f)) {
      const x = (f as Obj)[k];
      if (k.length > 64 || k === '__proto__') return NO;
      if (x === null || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) || str(x, 256)) fields[k] = x;
      else return NO;
    }
  }
  out.fields = fields;
  return out as Rtcp;
}

function stats(v: unknown): Maybe<StreamStats | null> {
  if (v === null || v === undefined) return null;
  if (
    !plain(v, STATS_KEYS) ||
    !int(v.ssrc, 0, 4_294_967_295) ||
    !int(v.packets, 0, MAX_SAFE) ||
    !int(v.expected, 0, MAX_SAFE) ||
    !int(v.lost, -MAX_SAFE, MAX_SAFE) ||
    !num(v.jitter_ms, 0, 1e7) ||
    !num(v.max_delta_ms, 0, 1e9) ||
    !(v.duplicates === undefined || int(v.duplicates, 0, MAX_SAFE)) ||
    !(v.out_of_order === undefined || int(v.out_of_order, 0, MAX_SAFE)) ||
    !(v.mean_jitter_ms === undefined || num(v.mean_jitter_ms, 0, 1e7)) ||
    !(v.max_jitter_ms === undefined || num(v.max_jitter_ms, 0, 1e7)) ||
    !(v.duration_ms === undefined || num(v.duration_ms, 0, 1e12)) ||
    !(v.mos === null || num(v.mos, 1, 5)) ||
    !(v.codec === null || str(v.codec, 32)) ||
    typeof v.final !== 'boolean'
  )
    return NO;
  // in the schema's key order (zod's output order); optional ones only when present
  const out = { ssrc: v.ssrc, packets: v.packets, expected: v.expected, lost: v.lost, jitter_ms: v.jitter_ms, max_delta_ms: v.max_delta_ms } as StreamStats;
  if (v.duplicates !== undefined) out.duplicates = v.duplicates as number;
  if (v.out_of_order !== undefined) out.out_of_order = v.out_of_order as number;
  if (v.mean_jitter_ms !== undefined) out.mean_jitter_ms = v.mean_jitter_ms as number;
  if (v.max_jitter_ms !== undefined) out.max_jitter_ms = v.max_jitter_ms as number;
  if (v.duration_ms !== undefined) out.duration_ms = v.duration_ms as number;
  out.mos = v.mos;
  out.codec = v.codec;
  out.final = v.final;
  return out;
}

function log(v: unknown): Maybe<{ source?: string } | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, LOG_KEYS)) return NO;
  if (v.source === undefined) return {};
  return str(v.source, 512) ? { source: v.source } : NO;
}

/** callFieldsSchema: ≤ 64 keys of 1-64 characters, values string ≤ 1024, finite number, boolean or null */
function callFields(f: unknown): Maybe<CallFields> {
  if (typeof f !== 'object' || f === null || Object.getPrototypeOf(f) !== Object.prototype) return NO;
  const out: CallFields = {};
  let n = 0;
  for (const k of Object.keys(f)) {
    const x = (f as Obj)[k];
    if (++n > CALL_FIELDS_MAX || k.length === 0 || k.length > 64 || k === '__proto__') return NO;
    if (x === null || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) || str(x, 1024)) out[k] = x;
    else return NO;
  }
  return out;
}

/** optional bounded strings of `v`, copied in `names` order; false when one is invalid */
function optionalStrings(v: Obj, out: Obj, names: [string, number][]): boolean {
  for (const [k, max] of names) {
    if (v[k] === undefined) continue;
    if (!str(v[k], max)) return false;
    out[k] = v[k];
  }
  return true;
}

function callstate(v: unknown): Maybe<CallState | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, CALLSTATE_KEYS) || !str(v.platform, 32) || v.platform === '' || !str(v.state, 64) || v.state === '') return NO;
  const out: Obj = { platform: v.platform, state: v.state };
  if (!optionalStrings(v, out, [['cause', 64]])) return NO;
  if (v.q850 !== undefined) {
    if (!int(v.q850, 0, 127)) return NO;
    out.q850 = v.q850;
  }
  if (!optionalStrings(v, out, [['source', 512]])) return NO;
  if (v.fields !== undefined) {
    const f = callFields(v.fields);
    if (f === NO) return NO;
    out.fields = f;
  }
  return out as CallState;
}

function route(v: unknown): Maybe<RouteInfo | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, ROUTE_KEYS)) return NO;
  const out: Obj = {};
  if (!optionalStrings(v, out, [['route', 128], ['destination', 512], ['source', 512]])) return NO;
  if (v.fields !== undefined) {
    const f = callFields(v.fields);
    if (f === NO) return NO;
    out.fields = f;
  }
  return out as RouteInfo;
}

function frame(v: unknown): Maybe<Frame | null> {
  if (v === null || v === undefined) return null;
  if (!plain(v, FRAME_KEYS) || !int(v.link_type, 0, 65_535) || !int(v.orig_len, 0, 0x7fffffff)) return NO;
  const d = v.data;
  // $ZodBase64: charset, then (no whitespace, length % 4 = 0, atob) — the charset excludes whitespace and
  // at most two trailing "=" with a length multiple of 4 is exactly what atob accepts.
  if (typeof d !== 'string' || d.length > FRAME_DATA_MAX || d.length % 4 !== 0) return NO;
  // The charset is checked by decoding (the bytes are needed anyway, by the PCAP store): Node's decoder
  // skips every character outside A–Z a–z 0–9 + / - _ and stops or skips at a "=", so with L = 4n
  // characters ending in p "=" (p ≤ 2) it yields exactly 3n − p bytes only when the other L − p are
  // all in that set; "-" and "_" (base64url, which zod refuses) are looked for apart.
  const n = d.length;
  const pad = n > 0 && d.charCodeAt(n - 1) === 61 ? (d.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  const bytes = Buffer.from(d, 'base64');
  if (bytes.length !== (n >> 2) * 3 - pad || d.includes('-') || d.includes('_')) return NO;
  const f = { link_type: v.link_type, data: d, orig_len: v.orig_len };
  decoded.set(f, bytes);
  return f;
}

/** the bytes of frames checked by the fast path, so they are decoded once */
const decoded = new WeakMap<Frame, Buffer>();

/** A frame's bytes: those decoded when the fast path checked it, else decoded now. */
export function frameBytes(f: Frame): Buffer {
  return decoded.get(f) ?? Buffer.from(f.data, 'base64');
}

/** The parsed event when it is certainly valid, else undefined (ask `ingestEventSchema`). */
export function fastIngestEvent(e: unknown): IngestEvent | undefined {
  if (!plain(e, EVENT_KEYS)) return undefined;
  if (typeof e.session_id !== 'string' || !SESSION_ID.test(e.session_id)) return undefined;
  if (!int(e.seq, 0, MAX_SAFE) || !int(e.ts, 0, MAX_SAFE) || !KINDS.has(e.kind)) return undefined;
  const transport = orNull(e.transport);
  if (transport !== null && !TRANSPORT_SET.has(transport)) return undefined;
  const callId = orNull(e.call_id);
  if (callId !== null && !str(callId, 1024)) return undefined;
  const payload = orNull(e.payload);
  if (payload !== null && !str(payload, PAYLOAD_MAX_BYTES)) return undefined;
  const src = endpoint(e.src);
  if (src === NO) return undefined;
  const dst = endpoint(e.dst);
  if (dst === NO) return undefined;
  const s = sip(e.sip);
  if (s === NO) return undefined;
  const r = rtp(e.rtp);
  if (r === NO) return undefined;
  const c = rtcp(e.rtcp);
  if (c === NO) return undefined;
  const st = stats(e.stats);
  if (st === NO) return undefined;
  const l = log(e.log);
  if (l === NO) return undefined;
  const cs = callstate(e.callstate);
  if (cs === NO) return undefined;
  const ro = route(e.route);
  if (ro === NO) return undefined;
  const f = frame(e.frame);
  if (f === NO) return undefined;
  return {
    session_id: e.session_id,
    seq: e.seq,
    ts: e.ts,
    kind: e.kind as IngestEvent['kind'],
    transport: transport as IngestEvent['transport'],
    src,
    dst,
    call_id: callId,
    sip: s,
    payload,
    rtp: r,
    rtcp: c,
    stats: st,
    log: l,
    callstate: cs,
    route: ro,
    frame: f,
  };
}

const q = JSON.stringify;
const qn = (v: string | null): string => (v === null ? 'null' : q(v));
const endpointJson = (v: Endpoint | null): string => (v === null ? 'null' : `{"ip":${q(v.ip)},"port":${v.port}}`);

function sipJson(v: SipSummary | null): string {
  if (v === null) return 'null';
  let o = '{';
  if (v.method !== undefined) o += `"method":${q(v.method)},`;
  if (v.status !== undefined) o += `"status":${v.status},`;
  if (v.reason !== undefined) o += `"reason":${q(v.reason)},`;
  if (v.cseq_seq !== undefined) o += `"cseq_seq":${v.cseq_seq},`;
  if (v.cseq_method !== undefined) o += `"cseq_method":${q(v.cseq_method)},`;
  if (v.from_user !== undefined) o += `"from_user":${q(v.from_user)},`;
  if (v.to_user !== undefined) o += `"to_user":${q(v.to_user)},`;
  return `${o}"has_sdp":${v.has_sdp}}`;
}

/**
 * `JSON.stringify` of an event made by `fastIngestEvent` without its `frame` key, character for
 * character (event-fast.case.test.ts checks it), made by hand for the hot keys: about 3× faster than
 * the generic serializer on the usual events. Only for events fastIngestEvent returned (their key
 * order is the one written here); others go through JSON.stringify.
 */
export function fastEventJsonWithoutFrame(e: IngestEvent): string {
  return (
    `{"session_id":${q(e.session_id)},"seq":${e.seq},"ts":${e.ts},"kind":${q(e.kind)},"transport":${qn(e.transport)},` +
    `"src":${endpointJson(e.src)},"dst":${endpointJson(e.dst)},"call_id":${qn(e.call_id)},"sip":${sipJson(e.sip)},` +
    `"payload":${qn(e.payload)},"rtp":${q(e.rtp)},"rtcp":${q(e.rtcp)},"stats":${q(e.stats)},"log":${q(e.log)},"callstate":${q(e.callstate)},"route":${q(e.route)}}`
  );
}
