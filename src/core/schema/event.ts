// The event (DESIGN §6): one schema for the ingest wire, storage, the events API and the SSE stream.
// Agents send `IngestEvent` (no `id`, no `agent_id`: the center assigns the id and takes the agent
// from the token). Lists and SSE carry `Event`, which never includes the original frame bytes;
// `StoredEvent` (= Event + frame) is what storage keeps for the PCAP export.
import * as z from 'zod';
import { idSchema, sessionIdSchema } from './common.js';

export const EVENT_KINDS = ['sip', 'rtp', 'rtcp', 'webrtc', 'log', 'callstate', 'route'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Transports of the captured packet. Logs have none (null); HEP keeps the transport it carries. */
export const TRANSPORTS = ['udp', 'tcp', 'tls', 'sctp', 'ws', 'wss'] as const;

export const PAYLOAD_MAX_BYTES = 64 * 1024;
/** A frame is at most one 64 KB IP packet plus link header; base64 grows by 4/3. */
export const FRAME_MAX_BYTES = 65_535 + 64;

const u8 = z.int().min(0).max(255);
const u16 = z.int().min(0).max(65_535);
const u32 = z.int().min(0).max(4_294_967_295);
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const shortText = (max: number) => z.string().max(max);

export const endpointSchema = z
  .object({
    ip: z.union([z.ipv4(), z.ipv6()], { error: 'ip must be an IPv4 or IPv6 address' }),
    port: u16,
  })
  .strict();
export type Endpoint = z.infer<typeof endpointSchema>;

/** A SIP summary so lists and ladders need not re-parse the payload. */
export const sipSummarySchema = z
  .object({
    method: shortText(32).optional(),
    status: z.int().min(100).max(699).optional(),
    reason: shortText(256).optional(),
    cseq_seq: u32.optional(),
    cseq_method: shortText(32).optional(),
    from_user: shortText(256).optional(),
    to_user: shortText(256).optional(),
    has_sdp: z.boolean(),
  })
  .strict();
export type SipSummary = z.infer<typeof sipSummarySchema>;

/** One sampled RTP packet (RFC 3550 §5.1 header fields). */
export const rtpSampleSchema = z
  .object({
    ssrc: u32,
    pt: z.int().min(0).max(127),
    seq: u16,
    ts: u32,
    marker: z.boolean(),
    codec: shortText(32).optional(),
  })
  .strict();
export type RtpSample = z.infer<typeof rtpSampleSchema>;

/** One RTCP packet (RFC 3550 §6): its packet type and the decoded fields, kept as a small flat map. */
export const rtcpSchema = z
  .object({
    type: u8,
    ssrc: u32.optional(),
    fields: z.record(z.string().max(64), z.union([z.number(), z.string().max(256), z.boolean(), z.null()])).default({}),
  })
  .strict();
export type Rtcp = z.infer<typeof rtcpSchema>;

/** Per-stream quality, reported periodically and once more with `final: true` when the stream ends. */
export const streamStatsSchema = z
  .object({
    ssrc: u32,
    packets: count,
    expected: count,
    lost: z.int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER), // RFC 3550 A.3: may be negative with duplicates
    jitter_ms: z.number().min(0).max(1e7),
    max_delta_ms: z.number().min(0).max(1e9),
    // RFC 3550 A.1/A.8 detail, as tshark's rtp,streams shows it (optional: older agents omit them)
    duplicates: count.optional(),
    out_of_order: count.optional(),
    mean_jitter_ms: z.number().min(0).max(1e7).optional(),
    max_jitter_ms: z.number().min(0).max(1e7).optional(),
    duration_ms: z.number().min(0).max(1e12).optional(),
    mos: z.number().min(1).max(5).nullable(),
    codec: shortText(32).nullable(),
    final: z.boolean(),
  })
  .strict();
export type StreamStats = z.infer<typeof streamStatsSchema>;

export const logInfoSchema = z.object({ source: shortText(512).optional() }).strict();

export const CALL_FIELDS_MAX = 64;
/** legs listed on one event */
export const LINKED_CALL_IDS_MAX = 16;
/** A platform's own view of a call (ESL/AMI headers, log fields): a few flat name → value pairs. */
export const callFieldsSchema = z
  .record(z.string().min(1).max(64), z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]))
  .refine((o) => Object.keys(o).length <= CALL_FIELDS_MAX, `at most ${CALL_FIELDS_MAX} fields`);
export type CallFields = z.infer<typeof callFieldsSchema>;

/** kind `callstate`: what a platform (FreeSWITCH, Asterisk, …) thinks of the call, one state change. */
export const callStateSchema = z
  .object({
    platform: shortText(32).min(1),
    state: shortText(64).min(1),
    /** hangup cause as the platform words it (`NORMAL_CLEARING`, `16`) */
    cause: shortText(64).optional(),
    /** ITU-T Q.850 cause value */
    q850: z.int().min(0).max(127).optional(),
    /** the collector that reported it */
    source: shortText(512).optional(),
    fields: callFieldsSchema.optional(),
  })
  .strict();
export type CallState = z.infer<typeof callStateSchema>;

/** kind `route`: a routing decision (a Kamailio route block, the gateway or carrier chosen). */
export const routeInfoSchema = z
  .object({
    route: shortText(128).optional(),
    destination: shortText(512).optional(),
    source: shortText(512).optional(),
    fields: callFieldsSchema.optional(),
  })
  .strict();
export type RouteInfo = z.infer<typeof routeInfoSchema>;

/** The original link-layer frame, for the PCAP export; only sent when the session has capture_pcap. */
export const frameSchema = z
  .object({
    link_type: u16,
    data: z
      .base64({ error: 'frame.data must be base64' })
      .max(Math.ceil(FRAME_MAX_BYTES / 3) * 4, 'frame.data is larger than one 64 KB packet'),
    orig_len: z.int().min(0).max(0x7fffffff),
  })
  .strict();
export type Frame = z.infer<typeof frameSchema>;

const eventFields = {
  session_id: sessionIdSchema,
  /** Per agent per session, strictly increasing on the agent side; the idempotency key with session and agent. */
  seq: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Capture time, microseconds since the Unix epoch. */
  ts: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  kind: z.enum(EVENT_KINDS),
  transport: z.enum(TRANSPORTS).nullable().default(null),
  src: endpointSchema.nullable().default(null),
  dst: endpointSchema.nullable().default(null),
  call_id: shortText(1024).nullable().default(null),
  sip: sipSummarySchema.nullable().default(null),
  /** SIP message text or log line. */
  payload: z
    .string()
    .max(PAYLOAD_MAX_BYTES, `payload is limited to ${PAYLOAD_MAX_BYTES} characters`)
    .nullable()
    .default(null),
  rtp: rtpSampleSchema.nullable().default(null),
  rtcp: rtcpSchema.nullable().default(null),
  stats: streamStatsSchema.nullable().default(null),
  log: logInfoSchema.nullable().default(null),
  callstate: callStateSchema.nullable().default(null),
  route: routeInfoSchema.nullable().default(null),
  /**
   * The other legs of the call this event's dialog is one leg of (B2BUA/SBC legs linked by X-CID,
   * Session-ID, icid or a platform collector; docs/sessions.md). Absent when the dialog has none.
   */
  linked_call_ids: z.array(shortText(1024)).max(LINKED_CALL_IDS_MAX).optional(),
  /** true when that link was inferred by number and time (no header or platform named it) */
  linked_inferred: z.boolean().optional(),
  /**
   * The agent's packet sources that saw this SIP message (`live:<interface>`, `hep:<proto>:<host>:<port>`):
   * sent by agents with more than one packet source. The same message (same bytes) seen by a second
   * source within 50 ms is this one event, not a second one (docs/sessions.md "One message, one row").
   */
  sources: z.array(shortText(128).min(1)).min(1).max(8).optional(),
};

/** What an agent posts in `POST /api/ingest` `events[]`. */
export const ingestEventSchema = z
  .object({ ...eventFields, frame: frameSchema.nullable().default(null) })
  .strict();
export type IngestEvent = z.infer<typeof ingestEventSchema>;

/** What the events API and the SSE stream return. */
export const eventSchema = z
  .object({ id: idSchema, agent_id: idSchema, ...eventFields })
  .strict();
export type Event = z.infer<typeof eventSchema>;

/** What storage keeps: the event plus the frame for the PCAP export. */
export type StoredEvent = Event & { frame: Frame | null };

export const INGEST_MAX_EVENTS = 1000;
export const INGEST_MAX_BYTES = 8 * 1024 * 1024;

/** Per-session capture counters an agent may report with any ingest batch. */
export const agentCountersSchema = z
  .object({
    session_id: sessionIdSchema,
    packets_seen: count.default(0),
    packets_matched: count.default(0),
    events_uploaded: count.default(0),
    /** dropped events by reason, e.g. {"spool_full": 3} */
    dropped: z.record(z.string().min(1).max(64), count).default({}),
    /** an agent that cannot capture for a session says so here */
    state: z.enum(['capturing', 'failed']).optional(),
    reason: z.string().max(512).optional(),
  })
  .strict();
export type AgentCounters = z.infer<typeof agentCountersSchema>;

/**
 * The ingest body. `events` is checked one by one (an invalid event is rejected with its index, the
 * valid ones are stored), so it is declared here as a bounded list of unknown items.
 */
export const ingestBodySchema = z
  .object({
    events: z.array(z.unknown()),
    counters: z.array(agentCountersSchema).max(1000).optional(),
    agent: z
      .object({
        version: z.string().max(64).optional(),
        sources: z.array(z.object({ type: z.string().max(32), detail: z.string().max(512).optional() }).strict()).max(64).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type IngestBody = z.infer<typeof ingestBodySchema>;

export const INGEST_REJECT_REASONS = [
  'invalid',
  'unknown_session',
  'not_assigned',
  'session_closed',
  'session_capped',
] as const;

export const ingestResultSchema = z.object({
  accepted: count,
  duplicates: count,
  rejected: z.array(z.object({ index: count, reason: z.string() })),
});
export type IngestResult = z.infer<typeof ingestResultSchema>;

export const eventPageSchema = z.object({
  events: z.array(eventSchema),
  next_after: z.int().min(0),
  more: z.boolean(),
});
export type EventPage = z.infer<typeof eventPageSchema>;
