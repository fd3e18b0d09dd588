// Admission of a frames-only batch (POST /api/ingest/frames, DESIGN §3): the RTP/RTCP frames of a
// capture_pcap + capture_rtp session, and the earlier frames of a SIP message split over TCP
// segments or IP fragments, travel without events, in order, numbered per (session, agent) by the
// agent's frame uploader. Both stores judge a batch here, pure, on the session row they locked:
// - idempotency: the session_agents row keeps `frames_next_seq`, the number after the last frame
//   judged; the head of a re-sent batch below it counts as duplicates and is written nothing twice;
// - the session's byte cap is shared with events: a frame costs its bytes in `ingested_bytes`, and
//   the frame that would pass the cap caps the session (its reason, like an event's), so it and the
//   rest of the batch are refused (counted by the agent as `frames_session_capped`).
// Frames are not events: the event cap (max_events_per_session) does not apply to them.
import type { IngestPolicy } from './types.js';

export type FramesPolicy = Pick<IngestPolicy, 'now' | 'grace_ms' | 'max_bytes_per_session'>;

export interface FramesSessionState {
  status: string;
  expires_at: number;
  stopped_at: number | null;
  capped: boolean;
  capped_reason: string | null;
  ingested_bytes: number;
  /** the agent is one of the session's */
  assigned: boolean;
  /** the agent's frames_next_seq for this session */
  next_seq: number;
}

export type FramesRefusal = 'unknown_session' | 'not_assigned' | 'session_closed';

export interface FramesAdmission {
  /** null when the batch is judged frame by frame (then the counts below say how) */
  refused: FramesRefusal | null;
  /** frames of the batch's head already stored (a re-sent batch) */
  duplicates: number;
  /** frames to write: indexes [duplicates, duplicates + accepted) of the batch */
  accepted: number;
  /** frames refused because the session is capped */
  capped: number;
  /** the session reached its byte cap in this batch */
  newly_capped: boolean;
  /** what the store writes back when `refused` is null */
  next: { ingested_bytes: number; capped: boolean; capped_reason: string | null; next_seq: number };
}

/** Judges a batch of frames `firstSeq …` of these sizes against the session's state. */
export function judgeFrames(
  s: FramesSessionState | null,
  firstSeq: number,
  sizes: readonly number[],
  policy: FramesPolicy,
): FramesAdmission {
  const none = (refused: FramesRefusal): FramesAdmission => ({
    refused,
    duplicates: 0,
    accepted: 0,
    capped: 0,
    newly_capped: false,
    next: { ingested_bytes: 0, capped: false, capped_reason: null, next_seq: 0 },
  });
  if (!s) return none('unknown_session');
  if (!s.assigned) return none('not_assigned');
  const endedAt = s.status === 'running' ? s.expires_at : (s.stopped_at ?? s.expires_at);
  if (policy.now > endedAt + policy.grace_ms) return none('session_closed');
  const n = sizes.length;
  const duplicates = Math.min(n, Math.max(0, s.next_seq - firstSeq));
  let bytes = s.ingested_bytes;
  let capped = s.capped;
  let reason = s.capped_reason;
  let newlyCapped = false;
  let accepted = 0;
  for (let i = duplicates; i < n && !capped; i++) {
    if (bytes + sizes[i] > policy.max_bytes_per_session) {
      capped = true;
      newlyCapped = true;
      reason = `max_bytes_per_session (${policy.max_bytes_per_session} bytes) reached`;
      break;
    }
    bytes += sizes[i];
    accepted++;
  }
  return {
    refused: null,
    duplicates,
    accepted,
    capped: n - duplicates - accepted,
    newly_capped: newlyCapped,
    next: { ingested_bytes: bytes, capped, capped_reason: reason, next_seq: Math.max(s.next_seq, firstSeq + n) },
  };
}
