// Session wire schemas (DESIGN §3): the body of POST /api/sessions, its 201 answer, the list and
// detail views. The seed's three request bodies are accepted exactly as written.
import * as z from 'zod';
import { criteriaSchema } from './criteria.js';
import { idSchema, isoTimeSchema, sessionIdSchema } from './common.js';
import { EVENT_KINDS } from './event.js';

export const DURATION_MIN_SECONDS = 10;
export const DURATION_MAX_SECONDS = 86_400;
export const DURATION_DEFAULT_SECONDS = 3600;
export const LABEL_MAX_LENGTH = 200;

export const SESSION_STATUSES = ['running', 'stopped', 'expired'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const sessionCreateSchema = z
  .object({
    label: z.string().trim().max(LABEL_MAX_LENGTH, `label is limited to ${LABEL_MAX_LENGTH} characters`).default(''),
    duration_seconds: z
      .int('duration_seconds must be a whole number of seconds')
      .min(DURATION_MIN_SECONDS, `duration_seconds must be at least ${DURATION_MIN_SECONDS}`)
      .max(DURATION_MAX_SECONDS, `duration_seconds must be at most ${DURATION_MAX_SECONDS} (24 h)`)
      .default(DURATION_DEFAULT_SECONDS),
    criteria: criteriaSchema.default({}),
    capture_rtp: z.boolean().default(false),
    capture_pcap: z.boolean().default(false),
    agent_ids: z.array(idSchema).max(1000).default([]),
    agent_tags: z.array(z.string().trim().min(1).max(64)).max(64).default([]),
  })
  .strict();
export type SessionCreate = z.infer<typeof sessionCreateSchema>;

/** The 201 answer, exactly the seed's fields. */
export const sessionCreatedSchema = z.object({
  id: sessionIdSchema,
  status: z.literal('running'),
  expires_at: isoTimeSchema,
  agents: z.int().min(1),
  stream: z.string(),
});
export type SessionCreated = z.infer<typeof sessionCreatedSchema>;

export const sessionSummarySchema = z.object({
  id: sessionIdSchema,
  /** the organisation the session belongs to (docs/organisations.md) */
  org_id: idSchema,
  label: z.string(),
  status: z.enum(SESSION_STATUSES),
  created_at: isoTimeSchema,
  expires_at: isoTimeSchema,
  stopped_at: isoTimeSchema.nullable(),
  event_count: z.int().min(0),
  agent_count: z.int().min(0),
  shared: z.boolean(),
  criteria: criteriaSchema,
});
export type SessionSummary = z.infer<typeof sessionSummarySchema>;

export const sessionListSchema = z.object({
  sessions: z.array(sessionSummarySchema),
  /** pass as `?before=` for the next (older) page; null on the last page */
  next_before: sessionIdSchema.nullable(),
  more: z.boolean(),
});
export type SessionList = z.infer<typeof sessionListSchema>;

/** `stopped`: the session has ended (stopped or expired), so none of its agents captures for it any more */
export const SESSION_AGENT_STATES = ['pending', 'capturing', 'failed', 'offline', 'stopped'] as const;

export const sessionAgentSchema = z.object({
  id: idSchema,
  name: z.string(),
  state: z.enum(SESSION_AGENT_STATES),
  reason: z.string().nullable(),
  last_event_at: isoTimeSchema.nullable(),
  counters: z.object({
    packets_seen: z.int().min(0),
    packets_matched: z.int().min(0),
    events_uploaded: z.int().min(0),
    events_stored: z.int().min(0),
    dropped: z.record(z.string(), z.int().min(0)),
  }),
});
export type SessionAgent = z.infer<typeof sessionAgentSchema>;

export const sessionDetailSchema = sessionSummarySchema.extend({
  duration_seconds: z.int(),
  capture_rtp: z.boolean(),
  capture_pcap: z.boolean(),
  stream: z.string(),
  agents: z.array(sessionAgentSchema),
  counts: z.object(Object.fromEntries(EVENT_KINDS.map((k) => [k, z.int().min(0)])) as Record<
    (typeof EVENT_KINDS)[number],
    z.ZodInt
  >),
  bytes: z.int().min(0),
  pcap_available: z.boolean(),
  share: z.object({ shared: z.boolean(), created_at: isoTimeSchema.nullable() }),
  capped: z.boolean(),
  capped_reason: z.string().nullable(),
  /** set once retention deleted the event history (the session's metadata is kept) */
  history_deleted_at: isoTimeSchema.nullable(),
});
export type SessionDetail = z.infer<typeof sessionDetailSchema>;

export const sessionIdParamsSchema = z.object({ id: sessionIdSchema }).strict();
