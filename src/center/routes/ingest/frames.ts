// POST /api/ingest/frames: an agent's frames-only batches for the per-agent PCAP (core/schema/frames.ts
// has the body format and why it is not events). Policy, decided here:
// - one session per batch (query session_id), ≤ FRAMES_MAX_PER_BATCH frames and ≤ INGEST_MAX_BYTES
//   (else 413); a malformed body is refused whole (400), nothing of it written;
// - a batch for a session without capture_pcap is refused whole (`no_pcap`), as is one for an
//   unknown, unassigned or closed session (storage's admitFrames, the same rules as events);
// - every accepted frame costs its bytes against the session's byte cap; past it the session is
//   capped and the rest refused (`session_capped`); the agent counts refused frames as drops;
// - (session, agent, frame number) is the idempotency key: a re-sent batch's head counts as duplicates.
// Admission and the PCAP append run in the center's serial ingest step, like events, so a file's
// records follow the order in which their batches were admitted.
import type { FastifyInstance } from 'fastify';
import { TunaError } from '../../../core/errors.js';
import {
  decodeFrames,
  FRAMES_CONTENT_TYPE,
  FRAMES_MAX_PER_BATCH,
  framesQuerySchema,
  INGEST_MAX_BYTES,
} from '../../../core/schema/index.js';
import type { FramesResult } from '../../../core/schema/index.js';
import type { CenterContext } from '../../context.js';
import { agentOf } from '../../http/auth.js';
import type { PcapRecord } from '../../pcap/store.js';

export function ingestFramesRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.addContentTypeParser(FRAMES_CONTENT_TYPE, { parseAs: 'buffer', bodyLimit: INGEST_MAX_BYTES }, (_req, body, done) => done(null, body));
  app.post('/api/ingest/frames', { bodyLimit: INGEST_MAX_BYTES, config: { auth: 'agent' } }, async (req): Promise<FramesResult> => {
    const agent = agentOf(req);
    const q = framesQuerySchema.parse(req.query);
    // no body at all is an empty batch; a body of another type (JSON) is refused
    const body = req.body === undefined || req.body === null ? Buffer.alloc(0) : req.body;
    if (!Buffer.isBuffer(body)) throw new TunaError('bad_request', `the body must be ${FRAMES_CONTENT_TYPE}`);
    const frames = decodeFrames(body);
    if (typeof frames === 'string') throw new TunaError('bad_request', `malformed frames body: ${frames}`);
    if (frames.length > FRAMES_MAX_PER_BATCH) {
      throw new TunaError('payload_too_large', `a batch holds at most ${FRAMES_MAX_PER_BATCH} frames, got ${frames.length}`);
    }
    const n = frames.length;
    const result = await ctx.serial(async (): Promise<FramesResult> => {
      if (n === 0) return { accepted: 0, duplicates: 0, rejected: 0 };
      const policy = { now: ctx.config.now(), grace_ms: ctx.config.ingestGraceSeconds * 1000, max_bytes_per_session: ctx.config.maxSessionBytes };
      const pcap = await ctx.pcap.capturesPcap(q.session_id);
      // without capture_pcap, an empty batch still says whether the session is unknown, unassigned or closed
      const a = await ctx.storage.admitFrames(agent.id, q.session_id, q.first_seq, pcap ? frames.map((f) => f.data.length) : [], policy);
      if (a.refused !== null) return { accepted: 0, duplicates: 0, rejected: n, reason: a.refused };
      if (!pcap) return { accepted: 0, duplicates: 0, rejected: n, reason: 'no_pcap' };
      if (a.newly_capped) req.log.warn({ session: q.session_id }, 'session reached its byte cap with frames; further events and frames are rejected');
      const records: PcapRecord[] = frames
        .slice(a.duplicates, a.duplicates + a.accepted)
        .map((f) => ({ agentId: agent.id, tsUs: f.tsUs, linkType: f.linkType, data: f.data, origLen: f.origLen }));
      await ctx.pcap.store.append(q.session_id, records);
      return { accepted: a.accepted, duplicates: a.duplicates, rejected: a.capped, ...(a.capped > 0 ? { reason: 'session_capped' as const } : {}) };
    });
    const m = ctx.metrics.ingestFrames;
    m.inc({ result: 'accepted' }, result.accepted);
    m.inc({ result: 'duplicate' }, result.duplicates);
    m.inc({ result: result.reason ?? 'rejected' }, result.rejected);
    return result;
  });
}
