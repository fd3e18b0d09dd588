// One frames-only batch's admission in PostgreSQL (frames-admission.ts), in the caller's transaction.
// The session row is taken FOR UPDATE first, the lock order of ingest.ts (session rows, then the rest),
// so the byte cap stays exact across centers and a frame batch and an event batch of one session
// never deadlock.
import type pg from 'pg';
import { judgeFrames } from '../frames-admission.js';
import type { FramesAdmission, FramesPolicy } from '../frames-admission.js';

export async function admitFramesBatch(
  c: pg.PoolClient,
  agentId: number,
  sessionId: string,
  firstSeq: number,
  sizes: readonly number[],
  policy: FramesPolicy,
): Promise<FramesAdmission> {
  const [r] = (
    await c.query(
      `SELECT s.status, s.expires_at, s.stopped_at, s.capped, s.capped_reason, s.ingested_bytes,
              (SELECT sa.frames_next_seq FROM session_agents sa WHERE sa.session_id = s.id AND sa.agent_id = $2) AS frames_next_seq
       FROM sessions s
       -- a session of another organisation than the agent's does not exist for it
       WHERE s.id = $1 AND s.org_id = (SELECT org_id FROM agents WHERE id = $2)
       FOR UPDATE OF s`,
      [sessionId, agentId],
    )
  ).rows as Record<string, unknown>[];
  const a = judgeFrames(
    r
      ? {
          status: String(r.status),
          expires_at: Number(r.expires_at),
          stopped_at: r.stopped_at === null ? null : Number(r.stopped_at),
          capped: r.capped === true,
          capped_reason: (r.capped_reason as string | null) ?? null,
          ingested_bytes: Number(r.ingested_bytes),
          assigned: r.frames_next_seq !== null,
          next_seq: Number(r.frames_next_seq ?? 0),
        }
      : null,
    firstSeq,
    sizes,
    policy,
  );
  if (a.refused !== null) return a;
  await c.query('UPDATE sessions SET ingested_bytes = $2, capped = $3, capped_reason = $4 WHERE id = $1', [
    sessionId,
    a.next.ingested_bytes,
    a.next.capped,
    a.next.capped_reason,
  ]);
  await c.query('UPDATE session_agents SET frames_next_seq = $3 WHERE session_id = $1 AND agent_id = $2', [sessionId, agentId, a.next.next_seq]);
  return a;
}
