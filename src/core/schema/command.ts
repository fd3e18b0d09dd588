// The capture command the center PUTs to an agent (`PUT /v1/captures/{session_id}`, DESIGN §4):
// idempotent start of one session's capture on that agent.
import * as z from 'zod';
import { criteriaSchema } from './criteria.js';
import { sessionIdSchema } from './common.js';

export const captureCommandSchema = z
  .object({
    session_id: sessionIdSchema,
    criteria: criteriaSchema,
    capture_rtp: z.boolean(),
    capture_pcap: z.boolean(),
    /** ISO 8601 UTC; the agent stops by itself at this time even when the center is gone */
    expires_at: z.iso.datetime({ offset: true }),
    /** where to POST events, e.g. http://center:8080/api/ingest */
    ingest_url: z.url({ protocol: /^https?$/ }),
  })
  .strict();
export type CaptureCommand = z.infer<typeof captureCommandSchema>;

/** Call-IDs in one follow command (a call and its legs, or a batch of calls a session matched). */
export const FOLLOW_MAX_CALL_IDS = 256;

/**
 * The follow command (`POST /v1/captures/{session_id}/follow`): another agent of the session matched
 * these dialogs, so this agent captures them too — their messages, linked legs and log lines — as if
 * it had matched them itself (DESIGN §9 "one session, all its agents").
 */
export const followCommandSchema = z
  .object({
    call_ids: z.array(z.string().min(1).max(1024)).min(1).max(FOLLOW_MAX_CALL_IDS),
  })
  .strict();
export type FollowCommand = z.infer<typeof followCommandSchema>;
