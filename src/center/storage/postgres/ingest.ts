// One ingest batch into PostgreSQL, in the caller's transaction (DESIGN §3 POST /api/ingest, §6).
//
// Gap-free ids for readers. Ids come from one sequence, and two transactions that took ids 10 and 11
// may commit in the other order: a reader paging `id > 9` between the two commits would see 11, move
// its cursor past 10 and never see it. So a batch first takes its sessions' rows FOR UPDATE (sorted
// by id, so two batches never deadlock) and only then draws ids: every batch of a session, from any
// center, draws its ids and commits while holding that row lock, so a session's events commit in id
// order and a reader following `next_after` never skips one. The lock is held for one statement's
// worth of inserts; batches of different sessions run in parallel. The same lock makes the cap
// checks exact across centers (the counters read are the committed ones and nobody else can move them).
//
// The write itself: every new event of the batch binary-COPYed into a staging table, then ONE
// INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING into `events`: a fixed number of round trips
// per batch, whatever its size; the unique key (session_id, agent_id, seq) finds re-sent events (the
// idempotency key). Then one UPDATE per session for its counters, and a NOTIFY per session carrying
// only the batch's highest id (a watermark), delivered at commit: other centers' live followers fetch
// after it (cluster/feed.ts).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DialogAgg } from '../../../core/dialogs/aggregate.js';
import { frameBytes } from '../../../core/schema/event-fast.js';
import type { StoredEvent } from '../../../core/schema/index.js';
import { batchCallIds, foldDialogs, legNeighbours } from '../dialog-fold.js';
import type { DialogRow, DialogWrite } from '../dialog-fold.js';
import type { IngestItem, IngestOutcome, IngestPolicy } from '../types.js';
import { copyBinary } from './copy-binary.js';
import type { CopyType, CopyValue } from './copy-binary.js';
import { noNul, noNulOrNull } from './pool.js';

/** channel of the per-batch watermarks */
export const EVENTS_CHANNEL = 'tunaio_events';

/**
 * A batch's new events before they go into `events`: a temporary table of the connection (made once
 * per connection; IF NOT EXISTS because a pooled connection outlives any one batch, and a rollback of
 * the batch that made it unmakes it), emptied at every commit or rollback.
 */
const STAGE_DDL = `CREATE TEMP TABLE IF NOT EXISTS ingest_stage (
  sid TEXT, seq BIGINT, ts BIGINT, kind TEXT, call_id TEXT, body TEXT, frame BYTEA, lt INTEGER, ol INTEGER, ord INTEGER
) ON COMMIT DELETE ROWS`;
const STAGE_TYPES: readonly CopyType[] = ['text', 'int8', 'int8', 'text', 'text', 'text', 'bytea', 'int4', 'int4', 'int4'];

interface Tally {
  status: string;
  expires_at: number;
  stopped_at: number | null;
  capped: boolean;
  capped_reason: string | null;
  ingested_events: number;
  ingested_bytes: number;
  counts: Record<string, number>;
  assigned: boolean;
  /** every event of the batch for this session fits under both caps: no lookup before the insert */
  underCaps: boolean;
  /** seqs already stored for this agent (looked up only when a cap may be reached) */
  stored?: Set<number>;
  newly_capped: boolean;
  events: number;
  maxId: number;
}

export async function ingestBatch(c: pg.PoolClient, agentId: number, items: IngestItem[], policy: IngestPolicy): Promise<IngestOutcome> {
  const out: IngestOutcome = { inserted: [], duplicates: 0, rejected: [], newly_capped: [] };
  if (items.length === 0) return out;
  const perSession = new Map<string, { n: number; bytes: number }>();
  for (const it of items) {
    const p = perSession.get(it.event.session_id) ?? { n: 0, bytes: 0 };
    p.n++;
    p.bytes += it.bytes;
    perSession.set(it.event.session_id, p);
  }
  const sids = [...perSession.keys()].sort();
  const rows = (
    await c.query(
      `SELECT s.id, s.status, s.expires_at, s.stopped_at, s.capped, s.capped_reason, s.ingested_events, s.ingested_bytes, s.counts,
              EXISTS (SELECT 1 FROM session_agents sa WHERE sa.session_id = s.id AND sa.agent_id = $2) AS assigned
       FROM sessions s
       -- a session of another organisation than the agent's does not exist for it
       WHERE s.id = ANY($1::text[]) AND s.org_id = (SELECT org_id FROM agents WHERE id = $2)
       ORDER BY s.id FOR UPDATE OF s`,
      [sids, agentId],
    )
  ).rows as Record<string, unknown>[];
  const tallies = new Map<string, Tally>();
  for (const r of rows) {
    const sid = String(r.id);
    const p = perSession.get(sid) as { n: number; bytes: number };
    const t: Tally = {
      status: String(r.status),
      expires_at: Number(r.expires_at),
      stopped_at: r.stopped_at === null ? null : Number(r.stopped_at),
      capped: r.capped === true,
      capped_reason: (r.capped_reason as string | null) ?? null,
      ingested_events: Number(r.ingested_events),
      ingested_bytes: Number(r.ingested_bytes),
      counts: JSON.parse(String(r.counts)) as Record<string, number>,
      assigned: r.assigned === true,
      underCaps: false,
      newly_capped: false,
      events: 0,
      maxId: 0,
    };
    t.underCaps =
      !t.capped && t.ingested_events + p.n <= policy.max_events_per_session && t.ingested_bytes + p.bytes <= policy.max_bytes_per_session;
    tallies.set(sid, t);
  }
  // sessions where a cap may be reached: a duplicate must count as a duplicate and not against the
  // cap, so their stored seqs are looked up first (one query per such session)
  for (const [sid, t] of tallies) {
    if (t.underCaps || !t.assigned) continue;
    const seqs = items.filter((it) => it.event.session_id === sid).map((it) => it.event.seq);
    const found = await c.query('SELECT seq FROM events WHERE session_id = $1 AND agent_id = $2 AND seq = ANY($3::bigint[])', [sid, agentId, seqs]);
    t.stored = new Set(found.rows.map((r: Record<string, unknown>) => Number(r.seq)));
  }

  const toInsert: IngestItem[] = [];
  const bodies: string[] = [];
  const seenInBatch = new Set<string>();
  for (const it of items) {
    const { index, event, bytes } = it;
    const sid = event.session_id;
    const t = tallies.get(sid);
    if (t === undefined) {
      out.rejected.push({ index, reason: 'unknown_session' });
      continue;
    }
    if (!t.assigned) {
      out.rejected.push({ index, reason: 'not_assigned' });
      continue;
    }
    const endedAt = t.status === 'running' ? t.expires_at : (t.stopped_at ?? t.expires_at);
    if (policy.now > endedAt + policy.grace_ms) {
      out.rejected.push({ index, reason: 'session_closed' });
      continue;
    }
    if (!t.underCaps) {
      const key = `${sid}/${event.seq}`;
      if (t.stored?.has(event.seq) || seenInBatch.has(key)) {
        out.duplicates++;
        continue;
      }
      if (!t.capped) {
        if (t.ingested_events + 1 > policy.max_events_per_session) {
          t.capped_reason = `max_events_per_session (${policy.max_events_per_session}) reached`;
        } else if (t.ingested_bytes + bytes > policy.max_bytes_per_session) {
          t.capped_reason = `max_bytes_per_session (${policy.max_bytes_per_session} bytes) reached`;
        }
        if (t.capped_reason !== null) {
          t.capped = true;
          t.newly_capped = true;
        }
      }
      if (t.capped) {
        out.rejected.push({ index, reason: 'session_capped' });
        continue;
      }
      seenInBatch.add(key);
      // counted now: under a possible cap each event is judged against the ones before it
      t.ingested_events++;
      t.ingested_bytes += bytes;
    }
    let body = it.body;
    if (body === undefined) {
      const { frame: _frame, ...rest } = event;
      body = JSON.stringify(rest);
    }
    toInsert.push(it);
    bodies.push(body);
  }

  if (toInsert.length > 0) {
    // the new events go to a per-connection staging table by binary COPY (copy-binary.ts), then into
    // `events` by one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING, in batch order (ids follow it)
    await c.query(STAGE_DDL);
    const rows: CopyValue[][] = [];
    for (let k = 0; k < toInsert.length; k++) {
      const e = toInsert[k].event;
      const f = e.frame;
      rows.push([e.session_id, e.seq, e.ts, e.kind, noNulOrNull(e.call_id), bodies[k], f ? frameBytes(f) : null, f?.link_type ?? null, f?.orig_len ?? null, k]);
    }
    await pipeline(Readable.from([copyBinary(STAGE_TYPES, rows)]), c.query(copyFrom('COPY ingest_stage FROM STDIN (FORMAT binary)')));
    const res = await c.query(
      `INSERT INTO events (session_id, agent_id, seq, ts, kind, call_id, body, frame, frame_link_type, frame_orig_len)
       SELECT sid, $1, seq, ts, kind, call_id, body, frame, lt, ol FROM ingest_stage ORDER BY ord
       ON CONFLICT DO NOTHING
       RETURNING id, session_id, seq`,
      [agentId],
    );
    const ids = new Map<string, number>();
    for (const r of res.rows as { id: number; session_id: string; seq: number }[]) ids.set(`${r.session_id}/${Number(r.seq)}`, Number(r.id));
    for (const it of toInsert) {
      const key = `${it.event.session_id}/${it.event.seq}`;
      const id = ids.get(key);
      if (id === undefined) {
        // stored before, or the same (session, agent, seq) twice inside one batch (second one)
        out.duplicates++;
        continue;
      }
      ids.delete(key);
      const t = tallies.get(it.event.session_id) as Tally;
      const stored: StoredEvent = { id, agent_id: agentId, ...it.event };
      out.inserted.push(stored);
      t.events++;
      if (t.underCaps) {
        t.ingested_events++;
        t.ingested_bytes += it.bytes;
      }
      t.counts[it.event.kind] = (t.counts[it.event.kind] ?? 0) + 1;
      if (id > t.maxId) t.maxId = id;
    }
    out.inserted.sort((a, b) => a.id - b.id);
    await foldBatchDialogs(c, out.inserted);
  }

  for (const [sid, t] of tallies) {
    if (t.events === 0 && !t.newly_capped) continue;
    await c.query(
      `UPDATE sessions SET event_count = event_count + $2, ingested_events = $3, ingested_bytes = $4, counts = $5, capped = $6, capped_reason = $7
       WHERE id = $1`,
      [sid, t.events, t.ingested_events, t.ingested_bytes, JSON.stringify(t.counts), t.capped, t.capped_reason],
    );
    if (t.events > 0) {
      await c.query(
        `UPDATE session_agents SET events_stored = events_stored + $3, last_event_at = $4,
           state = CASE WHEN state = 'pending' THEN 'capturing' ELSE state END
         WHERE session_id = $1 AND agent_id = $2`,
        [sid, agentId, t.events, policy.now],
      );
      await c.query(`SELECT pg_notify('${EVENTS_CHANNEL}', $1)`, [`${sid}:${t.maxId}`]);
    }
    if (t.newly_capped) out.newly_capped.push(sid);
  }
  return out;
}

/**
 * The call list (dialog-fold.ts): the rows of every call in the batch (and of the legs its events link
 * to) read in one query, folded in memory, written back in one multi-row upsert — two round trips per
 * batch, under the session locks taken above, so two centers never fold the same call at once. A batch
 * touching a call of several legs reads the rest of that call in one or two more (groups are stars:
 * one step from any leg reaches the head, and the head names every leg).
 */
async function foldBatchDialogs(c: pg.PoolClient, inserted: StoredEvent[]): Promise<void> {
  const rows = new Map<string, DialogRow | null>();
  let want = batchCallIds(inserted);
  for (let round = 0; round < 4 && want.size > 0; round++) {
    const sids: string[] = [];
    const cids: string[] = [];
    for (const [sid, ids] of want) {
      for (const cid of ids) {
        sids.push(sid);
        cids.push(cid);
        rows.set(`${sid}\n${cid}`, null);
      }
    }
    const found = await c.query(
      `SELECT d.id, d.version, d.session_id, d.call_id, d.data FROM dialogs d
       JOIN unnest($1::text[], $2::text[]) AS k(sid, cid) ON d.session_id = k.sid AND d.call_id = k.cid`,
      [sids, cids.map(noNul)],
    );
    want = new Map();
    for (const r of found.rows as { id: string; version: string; session_id: string; call_id: string; data: string }[]) {
      const dialog = JSON.parse(r.data) as DialogAgg;
      rows.set(`${r.session_id}\n${r.call_id}`, { id: Number(r.id), version: Number(r.version), dialog });
      for (const l of legNeighbours(dialog)) {
        if (rows.has(`${r.session_id}\n${l}`)) continue;
        let s = want.get(r.session_id);
        if (!s) want.set(r.session_id, (s = new Set()));
        s.add(l);
      }
    }
  }
  if (rows.size === 0) return;
  const writes: DialogWrite[] = [];
  foldDialogs(inserted, (sid, cid) => rows.get(`${sid}\n${cid}`), (w) => writes.push(w));
  await c.query(
    `INSERT INTO dialogs (session_id, call_id, started_at, state, version, search, data, leg_of)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT (session_id, call_id) DO UPDATE SET started_at = excluded.started_at, state = excluded.state,
       version = excluded.version, search = excluded.search, data = excluded.data, leg_of = excluded.leg_of`,
    [
      writes.map((w) => w.session_id),
      writes.map((w) => noNul(w.call_id)),
      writes.map((w) => w.started_at),
      writes.map((w) => w.state),
      writes.map((w) => w.version),
      writes.map((w) => noNul(w.search)),
      writes.map((w) => JSON.stringify(w.dialog)),
      writes.map((w) => (w.leg_of === null ? null : noNul(w.leg_of))),
    ],
  );
}
