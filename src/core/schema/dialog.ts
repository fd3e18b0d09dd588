// The call list (DESIGN §9, docs/api.md "Call list"): one row per call of a session, as
// `GET /api/sessions/{id}/dialogs` and `/api/share/{token}/dialogs` return it. Rows are kept up to date
// by the center at ingest (core/dialogs/aggregate.ts), never computed by reading a session's events.
import * as z from 'zod';
import { isoTimeSchema } from './common.js';

/**
 * What a call is doing now. INVITE dialogs: calling → ringing (1xx other than 100) → answered (2xx)
 * → completed (BYE); failed (final ≥ 300), cancelled (CANCEL / 487). REGISTER: calling → registered
 * (2xx) or failed. Other methods: calling → completed (2xx) or failed. `unknown`: no SIP seen yet
 * (media or log lines only).
 */
export const DIALOG_STATES = ['calling', 'ringing', 'answered', 'completed', 'failed', 'cancelled', 'registered', 'unknown'] as const;
export type DialogState = (typeof DIALOG_STATES)[number];

export const dialogSchema = z.object({
  /** opaque cursor of the row (for `after=`) */
  id: z.int(),
  /** the id of the last event folded into the row: `changed_after=<that>` returns what changed since */
  version: z.int(),
  /** the Call-ID of the call's first leg */
  call_id: z.string(),
  /** every Call-ID shown in this row: the call's legs when they are linked (B2BUA, issue 13), else just call_id */
  legs: z.array(z.string()),
  /**
   * true when a link between the legs was inferred by number and time (no X-CID, Session-ID, icid or
   * platform collector named it): show the grouping as a guess
   */
  legs_inferred: z.boolean(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  method: z.string().nullable(),
  state: z.enum(DIALOG_STATES),
  final_status: z.object({ code: z.int(), reason: z.string() }).nullable(),
  started_at: isoTimeSchema,
  answered_at: isoTimeSchema.nullable(),
  ended_at: isoTimeSchema.nullable(),
  /** started_at → ended_at, or → the last event while the call is still going */
  duration_ms: z.number(),
  /** SIP messages (every sighting, retransmissions and each agent's copy included) */
  messages: z.int(),
  /** agents that sent events of this call, ids ascending */
  agents: z.array(z.int()),
  has_rtp: z.boolean(),
  /** the worst MOS estimate of the call's RTP streams, or null */
  mos: z.number().nullable(),
  /** SIP messages an agent saw again (same sender, receiver, start line, CSeq, branch and To-tag) */
  retransmissions: z.int(),
  /** User-Agent / Server values seen in the call */
  user_agents: z.array(z.string()),
});
export type Dialog = z.infer<typeof dialogSchema>;

export const dialogPageSchema = z.object({
  dialogs: z.array(dialogSchema),
  /** the `after` of the next page (the last row's id, or the request's `after` when the page is empty) */
  next_after: z.int().min(0),
  more: z.boolean(),
  /** the session's highest event id when the page was read: a live view streams from there (`/stream?after=`) */
  last_event_id: z.int().min(0),
});
export type DialogPage = z.infer<typeof dialogPageSchema>;

export const DIALOGS_PAGE_MAX = 500;
export const DIALOG_QUERY_MAX = 200;

export const dialogsQuerySchema = z
  .object({
    q: z.string().trim().max(DIALOG_QUERY_MAX, `q is at most ${DIALOG_QUERY_MAX} characters`).optional(),
    /** one state or several, comma-separated */
    state: z
      .string()
      .optional()
      .transform((v, c) => {
        if (v === undefined || v.trim() === '') return undefined;
        const out: DialogState[] = [];
        for (const s of v.split(',')) {
          const t = s.trim();
          if (!(DIALOG_STATES as readonly string[]).includes(t)) {
            c.addIssue({ code: 'custom', message: `unknown state "${t.slice(0, 32)}"; one of ${DIALOG_STATES.join(', ')}` });
            return z.NEVER;
          }
          out.push(t as DialogState);
        }
        return out;
      }),
    after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    /** only rows that changed after this event id (a live list polls with its highest `version`) */
    changed_after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    limit: z.coerce.number().int().min(1).max(DIALOGS_PAGE_MAX, `limit is at most ${DIALOGS_PAGE_MAX}`).default(200),
  })
  .strict();
export type DialogsQuery = z.infer<typeof dialogsQuerySchema>;
