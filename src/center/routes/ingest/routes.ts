// POST /api/ingest: agents post batches of events (DESIGN §3, §6). Policy, decided here:
// - the batch is the unit of size (≤1000 events, ≤8 MB → else 413) and of credentials (agent token);
// - every event is judged alone: invalid, unknown session, not assigned to this agent, session closed
//   (more than 30 s after it stopped or expired) or capped → listed in `rejected` with its index and
//   reason, while the valid events of the same batch are stored (one transaction per batch);
// - (session_id, agent, seq) is the idempotency key: a retried batch counts `duplicates` and stores nothing twice.
import type { FastifyInstance } from 'fastify';
import { TunaError } from '../../../core/errors.js';
import {
  INGEST_MAX_BYTES,
  INGEST_MAX_EVENTS,
  ingestBodySchema,
  ingestEventSchema,
} from '../../../core/schema/index.js';
import type { IngestResult } from '../../../core/schema/index.js';
import { fastEventJsonWithoutFrame, fastIngestEvent, frameBytes } from '../../../core/schema/event-fast.js';
import type { CenterContext } from '../../context.js';
import { agentOf } from '../../http/auth.js';
import { describeZodError } from '../../http/errors.js';
import type { IngestItem } from '../../storage/types.js';

/** bytes an event costs against its session's byte cap: its JSON without the frame, plus the frame's bytes */
export function eventBytes(e: IngestItem['event']): number {
  const { frame, ...rest } = e;
  return Buffer.byteLength(JSON.stringify(rest)) + (frame ? frameBytes(frame).length : 0);
}

const NO_FRAME_TAIL = ',"frame":null}';

/**
 * Takes the frame off the event (it goes to the PCAP store, not with the event) and makes the event's
 * JSON without it (what storage keeps) and its cost against the byte cap, once. An event of the fast
 * validator is serialized by its hand-written twin (same text); for one of zod, `frame` is the last
 * key, so the JSON with `"frame":null` minus that tail is the JSON without the key, with no copy of
 * the event; anything else is serialized without the key the long way.
 */
function takeAndMeasure(index: number, event: IngestItem['event'], fast: boolean): IngestItem {
  const frame = event.frame;
  event.frame = null;
  let body: string;
  if (fast) body = fastEventJsonWithoutFrame(event);
  else {
    body = JSON.stringify(event);
    if (body.endsWith(NO_FRAME_TAIL)) body = `${body.slice(0, -NO_FRAME_TAIL.length)}}`;
    else {
      const { frame: _f, ...rest } = event;
      body = JSON.stringify(rest);
    }
  }
  const bytes = Buffer.byteLength(body) + (frame ? frameBytes(frame).length : 0);
  return frame ? { index, event, bytes, body, frame } : { index, event, bytes, body };
}

export function ingestRoutes(app: FastifyInstance, ctx: CenterContext): void {
  app.post('/api/ingest', { bodyLimit: INGEST_MAX_BYTES, config: { auth: 'agent' } }, async (req): Promise<IngestResult> => {
    const agent = agentOf(req);
    const raw = req.body as { events?: unknown } | null;
    if (raw && Array.isArray(raw.events) && raw.events.length > INGEST_MAX_EVENTS) {
      throw new TunaError('payload_too_large', `a batch holds at most ${INGEST_MAX_EVENTS} events, got ${raw.events.length}`);
    }
    const body = ingestBodySchema.parse(raw ?? {});
    const now = ctx.config.now();
    const items: IngestItem[] = [];
    const rejected: IngestResult['rejected'] = [];
    for (let index = 0; index < body.events.length; index++) {
      const e = body.events[index];
      // the hand-written check of the usual shapes first; zod (the contract) for the rest and for the reason
      let event = fastIngestEvent(e);
      const fast = event !== undefined;
      if (event === undefined) {
        const r = ingestEventSchema.safeParse(e);
        if (!r.success) {
          rejected.push({ index, reason: `invalid: ${describeZodError(r.error, 2)}` });
          continue;
        }
        event = r.data;
      }
      items.push(takeAndMeasure(index, event, fast));
    }
    ctx.metrics.ingestBatches.inc();
    // frames go to the PCAP store (pcap/recorder.ts), not into the events table
    const frames = ctx.pcap.takeFrames(items);
    const outcome = await ctx.serial(async () => {
      const o = await ctx.storage.ingest(agent.id, items, {
        now,
        grace_ms: ctx.config.ingestGraceSeconds * 1000,
        max_events_per_session: ctx.config.maxSessionEvents,
        max_bytes_per_session: ctx.config.maxSessionBytes,
      });
      // inside the serial step: with one center, live events leave in commit (= id) order
      ctx.feed.committed(o.inserted);
      await ctx.pcap.record(o.inserted, frames);
      return o;
    });
    // one session, all its agents: the dialogs this agent captured are followed by the others
    ctx.follower.onStored(agent.id, outcome.inserted);
    if (body.counters && body.counters.length > 0) {
      await ctx.storage.reportCounters(agent.id, body.counters, now);
      ctx.metrics.reportAgentDrops(agent.name, body.counters);
    }
    await ctx.storage.touchAgent(agent.id, now, body.agent);
    for (const sid of outcome.newly_capped) req.log.warn({ session: sid }, 'session reached a cap; further events are rejected');
    const allRejected = [...rejected, ...outcome.rejected].sort((a, b) => a.index - b.index);
    ctx.metrics.ingestEvents.inc({ result: 'accepted' }, outcome.inserted.length);
    ctx.metrics.ingestEvents.inc({ result: 'duplicate' }, outcome.duplicates);
    ctx.metrics.ingestEvents.inc({ result: 'rejected' }, allRejected.length);
    return { accepted: outcome.inserted.length, duplicates: outcome.duplicates, rejected: allRejected };
  });
}
