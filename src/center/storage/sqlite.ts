// SQLite implementation of the center's Storage (better-sqlite3 12, WAL). One file under the data
// folder; versioned migrations; each ingest batch is one transaction. The driver is synchronous, the
// interface is not: methods resolve at once, so a PostgreSQL store can drop in behind the same routes.
// Event ids come from AUTOINCREMENT and SQLite has one writer, so ids become visible in id order —
// the SSE hub's no-gap join relies on this (a PostgreSQL store must give the same guarantee).
// Ingest: statements prepared once; duplicates found by the insert itself when no cap can be reached
// in the batch; WAL checkpoints on a worker thread (sqlite-checkpointer.ts).
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { EVENT_KINDS } from '../../core/schema/index.js';
import type { AgentCounters, AgentSource, EventKind, SessionStatus, StoredEvent } from '../../core/schema/index.js';
import type { DialogAgg } from '../../core/dialogs/aggregate.js';
import { foldDialogs, likePattern } from './dialog-fold.js';
import type { DialogRow, DialogWrite } from './dialog-fold.js';
import { judgeFrames } from './frames-admission.js';
import type { FramesAdmission, FramesPolicy } from './frames-admission.js';
import { WalCheckpointer } from './sqlite-checkpointer.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import { SqliteAccounts, num, numOrNull } from './sqlite-accounts.js';
import type { Row } from './sqlite-accounts.js';
import type {
  AgentRecord,
  AgentUpsertRecord,
  DialogQuery,
  DialogRecord,
  EventQuery,
  IngestItem,
  IngestOutcome,
  IngestPolicy,
  NewSession,
  OrgScope,
  SessionFilter,
  SessionAgentRecord,
  SessionRecord,
  Storage,
} from './types.js';

function toAgent(r: Row): AgentRecord {
  return {
    id: num(r.id),
    org_id: num(r.org_id),
    name: String(r.name),
    url: String(r.url),
    token_hash: String(r.token_hash),
    enabled: r.enabled === 1,
    tags: JSON.parse(String(r.tags)) as string[],
    last_seen: numOrNull(r.last_seen),
    version: (r.version as string | null) ?? null,
    sources: JSON.parse(String(r.sources)) as AgentSource[],
    created_at: num(r.created_at),
    updated_at: num(r.updated_at),
  };
}

const SESSION_SELECT = `
SELECT s.*, (SELECT COUNT(*) FROM session_agents sa WHERE sa.session_id = s.id) AS agent_count,
       sh.created_at AS share_created_at
FROM sessions s LEFT JOIN shares sh ON sh.session_id = s.id`;

function toSession(r: Row): SessionRecord {
  return {
    id: String(r.id),
    org_id: num(r.org_id),
    label: String(r.label),
    status: r.status as SessionRecord['status'],
    criteria: JSON.parse(String(r.criteria)) as SessionRecord['criteria'],
    capture_rtp: r.capture_rtp === 1,
    capture_pcap: r.capture_pcap === 1,
    duration_seconds: num(r.duration_seconds),
    created_at: num(r.created_at),
    expires_at: num(r.expires_at),
    stopped_at: numOrNull(r.stopped_at),
    event_count: num(r.event_count),
    ingested_events: num(r.ingested_events),
    ingested_bytes: num(r.ingested_bytes),
    agent_count: num(r.agent_count),
    capped: r.capped === 1,
    capped_reason: (r.capped_reason as string | null) ?? null,
    history_deleted_at: numOrNull(r.history_deleted_at),
    pcap_deleted_at: numOrNull(r.pcap_deleted_at),
    shared: r.share_created_at !== null && r.share_created_at !== undefined,
    share_created_at: numOrNull(r.share_created_at),
  };
}

function toEvent(r: Row): StoredEvent {
  const body = JSON.parse(String(r.body)) as Omit<StoredEvent, 'id' | 'agent_id' | 'frame'>;
  const frame =
    r.frame === null || r.frame === undefined
      ? null
      : {
          link_type: num(r.frame_link_type),
          data: (r.frame as Buffer).toString('base64'),
          orig_len: num(r.frame_orig_len),
        };
  return { id: num(r.id), agent_id: num(r.agent_id), ...body, frame };
}

interface SessionTally {
  rec: { status: string; expires_at: number; stopped_at: number | null; capped: boolean };
  events: number;
  bytes: number;
  ingested_events: number;
  ingested_bytes: number;
  counts: Record<string, number>;
  capped_reason: string | null;
  newly_capped: boolean;
  agentEvents: number;
  /** this agent may send to the session */
  assigned: boolean;
  /** every event of the batch for this session fits under both caps (see ingest) */
  underCaps: boolean;
}

type IngestStatements = ReturnType<typeof prepareIngest>;

function prepareIngest(db: Db) {
  return {
    getSession: db.prepare(
      // a session of another organisation than the agent's does not exist for it
      `SELECT status, expires_at, stopped_at, capped, capped_reason, ingested_events, ingested_bytes, counts FROM sessions
       WHERE id = ? AND org_id = (SELECT org_id FROM agents WHERE id = ?)`,
    ),
    assigned: db.prepare('SELECT 1 FROM session_agents WHERE session_id = ? AND agent_id = ?'),
    exists: db.prepare('SELECT 1 FROM events WHERE session_id = ? AND agent_id = ? AND seq = ?'),
    insert: db.prepare(
      `INSERT OR IGNORE INTO events (session_id, agent_id, seq, ts, kind, call_id, body, frame, frame_link_type, frame_orig_len)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updSession: db.prepare(
      `UPDATE sessions SET event_count = event_count + ?, ingested_events = ?, ingested_bytes = ?, counts = ?,
         capped = ?, capped_reason = ? WHERE id = ?`,
    ),
    updAgent: db.prepare(
      `UPDATE session_agents SET events_stored = events_stored + ?, last_event_at = ?,
         state = CASE WHEN state = 'pending' THEN 'capturing' ELSE state END
       WHERE session_id = ? AND agent_id = ?`,
    ),
    ...prepareDialogs(db),
  };
}

function prepareDialogs(db: Db) {
  const get = db.prepare('SELECT id, version, data FROM dialogs WHERE session_id = ? AND call_id = ?');
  const ins = db.prepare(
    'INSERT INTO dialogs (session_id, call_id, started_at, state, version, search, data, leg_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const upd = db.prepare('UPDATE dialogs SET started_at = ?, state = ?, version = ?, search = ?, data = ?, leg_of = ? WHERE id = ?');
  return {
    loadDialog: (sessionId: string, callId: string): DialogRow | null => {
      const r = get.get(sessionId, callId) as Row | undefined;
      return r ? { id: num(r.id), version: num(r.version), dialog: JSON.parse(String(r.data)) as DialogAgg } : null;
    },
    saveDialog: (w: DialogWrite): void => {
      const data = JSON.stringify(w.dialog);
      if (w.id === null) ins.run(w.session_id, w.call_id, w.started_at, w.state, w.version, w.search, data, w.leg_of);
      else upd.run(w.started_at, w.state, w.version, w.search, data, w.leg_of, w.id);
    },
  };
}

export class SqliteStorage extends SqliteAccounts implements Storage {
  constructor(file: string) {
    super(new Database(file));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    // WAL checkpoints run on a worker thread (sqlite-checkpointer.ts), not inside ingest commits
    const wal = String(this.db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal';
    if (wal && file !== ':memory:' && file !== '') this.checkpointer = new WalCheckpointer(this.db, file);
  }

  private readonly checkpointer?: WalCheckpointer;

  private migrate(): void {
    // off while migrating: migration 3 rebuilds a referenced table (a no-op inside a transaction, so here)
    this.db.pragma('foreign_keys = OFF');
    try {
      this.applyMigrations();
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  private applyMigrations(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const done = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => num(r.version)),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        // the call list of events stored before it existed (migration 2) is folded once its last column
        // exists (migration 5); a database whose list is already there has rows, and is left as it is
        if (m.version === 5) this.backfillDialogs();
        const broken = this.db.pragma('foreign_key_check') as Row[];
        if (broken.length > 0) throw new Error(`migration ${m.version} broke ${broken.length} foreign keys: ${JSON.stringify(broken[0])}`);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
      })();
    }
  }

  /** folds the call list of events stored before the dialogs table existed (migration 2), in id order */
  private backfillDialogs(): void {
    if (this.db.prepare('SELECT 1 FROM dialogs LIMIT 1').get() !== undefined) return;
    const { loadDialog, saveDialog } = prepareDialogs(this.db);
    const page = this.db.prepare('SELECT * FROM events WHERE id > ? AND call_id IS NOT NULL ORDER BY id LIMIT 5000');
    for (let after = 0; ; ) {
      const rows = page.all(after) as Row[];
      if (rows.length === 0) break;
      foldDialogs(rows.map(toEvent), loadDialog, saveDialog);
      after = num(rows[rows.length - 1].id);
    }
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.open) this.db.close();
  }

  // ---- agents

  async listAgents(scope: OrgScope): Promise<AgentRecord[]> {
    const rows = scope === 'all' ? this.stmt('SELECT * FROM agents ORDER BY id').all() : this.stmt('SELECT * FROM agents WHERE org_id = ? ORDER BY id').all(scope);
    return (rows as Row[]).map(toAgent);
  }

  async getAgentByName(orgId: number, name: string): Promise<AgentRecord | null> {
    const r = this.db.prepare('SELECT * FROM agents WHERE org_id = ? AND name = ?').get(orgId, name) as Row | undefined;
    return r ? toAgent(r) : null;
  }

  async getAgentByTokenHash(tokenHash: string): Promise<AgentRecord | null> {
    const r = this.stmt('SELECT * FROM agents WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r ? toAgent(r) : null;
  }

  async upsertAgent(input: AgentUpsertRecord, now: number): Promise<{ agent: AgentRecord; created: boolean }> {
    const run = this.db.transaction((): boolean => {
      const existing = this.db.prepare('SELECT id FROM agents WHERE org_id = ? AND name = ?').get(input.org_id, input.name) as Row | undefined;
      if (existing) {
        this.db
          .prepare(
            'UPDATE agents SET url = ?, enabled = ?, tags = ?, token_hash = COALESCE(?, token_hash), updated_at = ? WHERE id = ?',
          )
          .run(input.url, input.enabled ? 1 : 0, JSON.stringify(input.tags), input.token_hash ?? null, now, existing.id);
        return false;
      }
      if (input.token_hash === undefined) throw new Error('a new agent needs a token');
      this.db
        .prepare(
          'INSERT INTO agents (org_id, name, url, token_hash, enabled, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(input.org_id, input.name, input.url, input.token_hash, input.enabled ? 1 : 0, JSON.stringify(input.tags), now, now);
      return true;
    });
    const created = run();
    return { agent: (await this.getAgentByName(input.org_id, input.name)) as AgentRecord, created };
  }

  async setAgentTags(id: number, tags: string[], now: number): Promise<AgentRecord | null> {
    this.db.prepare('UPDATE agents SET tags = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(tags), now, id);
    const r = this.db.prepare('SELECT * FROM agents WHERE id = ?').get(id) as Row | undefined;
    return r ? toAgent(r) : null;
  }

  async touchAgent(id: number, now: number, info?: { version?: string; sources?: AgentSource[] }): Promise<void> {
    this
      .stmt('UPDATE agents SET last_seen = ?, version = COALESCE(?, version), sources = COALESCE(?, sources) WHERE id = ?')
      .run(now, info?.version ?? null, info?.sources ? JSON.stringify(info.sources) : null, id);
  }

  // ---- sessions

  async createSession(s: NewSession): Promise<SessionRecord> {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO sessions (id, org_id, label, status, criteria, capture_rtp, capture_pcap, duration_seconds, created_at, expires_at)
           VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.id, s.org_id, s.label, JSON.stringify(s.criteria), s.capture_rtp ? 1 : 0, s.capture_pcap ? 1 : 0, s.duration_seconds, s.created_at, s.expires_at);
      const add = this.db.prepare('INSERT INTO session_agents (session_id, agent_id) VALUES (?, ?)');
      for (const a of s.agent_ids) add.run(s.id, a);
    })();
    return (await this.getSession(s.id)) as SessionRecord;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const r = this.stmt(`${SESSION_SELECT} WHERE s.id = ?`).get(id) as Row | undefined;
    return r ? toSession(r) : null;
  }

  async listSessions(opts: { scope: OrgScope; limit: number; before?: string } & SessionFilter): Promise<{ sessions: SessionRecord[]; more: boolean }> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.scope !== 'all') {
      where.push('s.org_id = ?');
      args.push(opts.scope);
    }
    if (opts.statuses !== undefined && opts.statuses.length > 0) {
      where.push(`s.status IN (${opts.statuses.map(() => '?').join(', ')})`);
      args.push(...opts.statuses);
    }
    if (opts.agent_id !== undefined) {
      where.push('EXISTS (SELECT 1 FROM session_agents sa WHERE sa.session_id = s.id AND sa.agent_id = ?)');
      args.push(opts.agent_id);
    }
    if (opts.shared !== undefined) where.push(opts.shared ? 'sh.session_id IS NOT NULL' : 'sh.session_id IS NULL');
    if (opts.q !== undefined && opts.q !== '') {
      // label and criteria: a scan of the organisation's sessions (bounded by retention); a Call-ID: the dialogs_call_id index
      where.push(`(lower(s.label) LIKE ? ESCAPE '\\' OR lower(s.criteria) LIKE ? ESCAPE '\\' OR s.id IN (SELECT d.session_id FROM dialogs d WHERE d.call_id = ?))`);
      args.push(likePattern(opts.q, false), likePattern(opts.q, false), opts.q);
    }
    if (opts.before !== undefined) {
      const c = this.db.prepare('SELECT created_at, rid FROM sessions WHERE id = ?').get(opts.before) as Row | undefined;
      if (!c) return { sessions: [], more: false };
      where.push('(s.created_at < ? OR (s.created_at = ? AND s.rid < ?))');
      args.push(c.created_at, c.created_at, c.rid);
    }
    const rows = this.db
      .prepare(`${SESSION_SELECT}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY s.created_at DESC, s.rid DESC LIMIT ?`)
      .all(...args, opts.limit + 1) as Row[];
    return { sessions: rows.slice(0, opts.limit).map(toSession), more: rows.length > opts.limit };
  }

  async listRunningSessions(): Promise<SessionRecord[]> {
    return (this.db.prepare(`${SESSION_SELECT} WHERE s.status = 'running'`).all() as Row[]).map(toSession);
  }

  async countSessionsByStatus(): Promise<Record<SessionStatus, number>> {
    const out: Record<SessionStatus, number> = { running: 0, stopped: 0, expired: 0 };
    for (const r of this.db.prepare('SELECT status, COUNT(*) AS n FROM sessions GROUP BY status').all() as Row[]) {
      out[r.status as SessionStatus] = num(r.n);
    }
    return out;
  }

  async listOverdueSessions(now: number): Promise<SessionRecord[]> {
    return (
      this.db.prepare(`${SESSION_SELECT} WHERE s.status = 'running' AND s.expires_at <= ?`).all(now) as Row[]
    ).map(toSession);
  }

  async endSession(id: string, status: 'stopped' | 'expired', at: number): Promise<boolean> {
    return (
      this.db.prepare("UPDATE sessions SET status = ?, stopped_at = ? WHERE id = ? AND status = 'running'").run(status, at, id)
        .changes === 1
    );
  }

  async getSessionAgents(id: string): Promise<SessionAgentRecord[]> {
    const rows = this.db
      .prepare(
        'SELECT sa.*, a.name FROM session_agents sa JOIN agents a ON a.id = sa.agent_id WHERE sa.session_id = ? ORDER BY a.id',
      )
      .all(id) as Row[];
    return rows.map((r) => ({
      agent_id: num(r.agent_id),
      name: String(r.name),
      state: r.state as SessionAgentRecord['state'],
      reason: (r.reason as string | null) ?? null,
      last_event_at: numOrNull(r.last_event_at),
      packets_seen: num(r.packets_seen),
      packets_matched: num(r.packets_matched),
      events_uploaded: num(r.events_uploaded),
      events_stored: num(r.events_stored),
      dropped: JSON.parse(String(r.dropped)) as Record<string, number>,
    }));
  }

  async countEventsByKind(id: string): Promise<Record<EventKind, number>> {
    const r = this.db.prepare('SELECT counts FROM sessions WHERE id = ?').get(id) as Row | undefined;
    const stored = r ? (JSON.parse(String(r.counts)) as Record<string, number>) : {};
    return Object.fromEntries(EVENT_KINDS.map((k) => [k, stored[k] ?? 0])) as Record<EventKind, number>;
  }

  async hasFrames(id: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM events WHERE session_id = ? AND frame IS NOT NULL LIMIT 1').get(id) !== undefined;
  }

  async purgeSession(id: string): Promise<boolean> {
    return this.db.transaction((): boolean => {
      this.db.prepare('DELETE FROM events WHERE session_id = ?').run(id);
      this.db.prepare('DELETE FROM dialogs WHERE session_id = ?').run(id);
      this.db.prepare('DELETE FROM shares WHERE session_id = ?').run(id);
      this.db.prepare('DELETE FROM session_agents WHERE session_id = ?').run(id);
      return this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id).changes === 1;
    })();
  }

  // ---- share links

  async putShare(sessionId: string, tokenHash: string, tokenSealed: string, now: number): Promise<boolean> {
    return this.db.transaction((): boolean => {
      if (this.db.prepare('SELECT 1 FROM sessions WHERE id = ?').get(sessionId) === undefined) return false;
      this.db
        .prepare(
          'INSERT INTO shares (session_id, token_hash, token_sealed, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET token_hash = excluded.token_hash, token_sealed = excluded.token_sealed, created_at = excluded.created_at',
        )
        .run(sessionId, tokenHash, tokenSealed, now);
      return true;
    })();
  }

  async getShare(sessionId: string): Promise<{ token_sealed: string | null; created_at: number } | null> {
    const r = this.db.prepare('SELECT token_sealed, created_at FROM shares WHERE session_id = ?').get(sessionId) as Row | undefined;
    return r ? { token_sealed: r.token_sealed === null ? null : String(r.token_sealed), created_at: num(r.created_at) } : null;
  }

  async getShareByTokenHash(tokenHash: string): Promise<{ session_id: string; token_hash: string; created_at: number } | null> {
    const r = this.db.prepare('SELECT session_id, token_hash, created_at FROM shares WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r ? { session_id: String(r.session_id), token_hash: String(r.token_hash), created_at: num(r.created_at) } : null;
  }

  async deleteShare(sessionId: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM shares WHERE session_id = ?').run(sessionId).changes === 1;
  }

  // ---- events

  /** the ingest statements, prepared once */
  private ingestStmts?: IngestStatements;

  async ingest(agentId: number, items: IngestItem[], policy: IngestPolicy): Promise<IngestOutcome> {
    const { getSession, assigned, exists, insert, updSession, updAgent, loadDialog, saveDialog } = (this.ingestStmts ??=
      prepareIngest(this.db));
    const run = this.db.transaction((): IngestOutcome => {
      const out: IngestOutcome = { inserted: [], duplicates: 0, rejected: [], newly_capped: [] };
      const tallies = new Map<string, SessionTally | null>();
      for (const { index, event, bytes, body } of items) {
        const sid = event.session_id;
        let t = tallies.get(sid);
        if (t === undefined) {
          const r = getSession.get(sid, agentId) as Row | undefined;
          t = r
            ? {
                rec: {
                  status: String(r.status),
                  expires_at: num(r.expires_at),
                  stopped_at: numOrNull(r.stopped_at),
                  capped: r.capped === 1,
                },
                events: 0,
                bytes: 0,
                ingested_events: num(r.ingested_events),
                ingested_bytes: num(r.ingested_bytes),
                counts: JSON.parse(String(r.counts)) as Record<string, number>,
                capped_reason: (r.capped_reason as string | null) ?? null,
                newly_capped: false,
                agentEvents: 0,
                assigned: assigned.get(sid, agentId) !== undefined,
                underCaps: false,
              }
            : null;
          if (t) {
            // When every event of this batch for the session fits under both caps, no cap can be
            // reached in it: duplicates are then found by the insert itself (INSERT OR IGNORE) rather
            // than by a lookup first. Otherwise each event is looked up before the cap is judged, as
            // a duplicate must count as a duplicate and not against the cap.
            let n = 0;
            let b = 0;
            for (const it of items) {
              if (it.event.session_id === sid) {
                n++;
                b += it.bytes;
              }
            }
            t.underCaps =
              !t.rec.capped && t.ingested_events + n <= policy.max_events_per_session && t.ingested_bytes + b <= policy.max_bytes_per_session;
          }
          tallies.set(sid, t);
        }
        if (t === null) {
          out.rejected.push({ index, reason: 'unknown_session' });
          continue;
        }
        if (!t.assigned) {
          out.rejected.push({ index, reason: 'not_assigned' });
          continue;
        }
        const endedAt = t.rec.status === 'running' ? t.rec.expires_at : (t.rec.stopped_at ?? t.rec.expires_at);
        if (policy.now > endedAt + policy.grace_ms) {
          out.rejected.push({ index, reason: 'session_closed' });
          continue;
        }
        if (!t.underCaps) {
          if (exists.get(sid, agentId, event.seq) !== undefined) {
            out.duplicates++;
            continue;
          }
          if (!t.rec.capped) {
            if (t.ingested_events + 1 > policy.max_events_per_session) {
              t.capped_reason = `max_events_per_session (${policy.max_events_per_session}) reached`;
            } else if (t.ingested_bytes + bytes > policy.max_bytes_per_session) {
              t.capped_reason = `max_bytes_per_session (${policy.max_bytes_per_session} bytes) reached`;
            }
            if (t.capped_reason !== null) {
              t.rec.capped = true;
              t.newly_capped = true;
            }
          }
          if (t.rec.capped) {
            out.rejected.push({ index, reason: 'session_capped' });
            continue;
          }
        }
        const frame = event.frame;
        let json = body;
        if (json === undefined) {
          const { frame: _frame, ...rest } = event;
          json = JSON.stringify(rest);
        }
        const info = insert.run(
          sid,
          agentId,
          event.seq,
          event.ts,
          event.kind,
          event.call_id,
          json,
          frame ? Buffer.from(frame.data, 'base64') : null,
          frame?.link_type ?? null,
          frame?.orig_len ?? null,
        );
        if (info.changes === 0) {
          // stored before, or the same (session, agent, seq) twice inside one batch
          out.duplicates++;
          continue;
        }
        out.inserted.push({ id: Number(info.lastInsertRowid), agent_id: agentId, ...event });
        t.events++;
        t.bytes += bytes;
        t.ingested_events++;
        t.ingested_bytes += bytes;
        t.counts[event.kind] = (t.counts[event.kind] ?? 0) + 1;
        t.agentEvents++;
      }
      foldDialogs(out.inserted, loadDialog, saveDialog);
      for (const [sid, t] of tallies) {
        if (!t || (t.events === 0 && !t.newly_capped)) continue;
        updSession.run(t.events, t.ingested_events, t.ingested_bytes, JSON.stringify(t.counts), t.rec.capped ? 1 : 0, t.capped_reason, sid);
        if (t.agentEvents > 0) updAgent.run(t.agentEvents, policy.now, sid, agentId);
        if (t.newly_capped) out.newly_capped.push(sid);
      }
      return out;
    });
    const out = run();
    this.checkpointer?.guard();
    return out;
  }

  async admitFrames(agentId: number, sessionId: string, firstSeq: number, sizes: readonly number[], policy: FramesPolicy): Promise<FramesAdmission> {
    return this.db.transaction((): FramesAdmission => {
      const r = this.stmt(
        `SELECT s.status, s.expires_at, s.stopped_at, s.capped, s.capped_reason, s.ingested_bytes, sa.frames_next_seq
         FROM sessions s LEFT JOIN session_agents sa ON sa.session_id = s.id AND sa.agent_id = ?
         WHERE s.id = ? AND s.org_id = (SELECT org_id FROM agents WHERE id = ?)`,
      ).get(agentId, sessionId, agentId) as Row | undefined;
      const a = judgeFrames(
        r
          ? {
              status: String(r.status),
              expires_at: num(r.expires_at),
              stopped_at: numOrNull(r.stopped_at),
              capped: r.capped === 1,
              capped_reason: (r.capped_reason as string | null) ?? null,
              ingested_bytes: num(r.ingested_bytes),
              assigned: r.frames_next_seq !== null,
              next_seq: num(r.frames_next_seq ?? 0),
            }
          : null,
        firstSeq,
        sizes,
        policy,
      );
      if (a.refused !== null) return a;
      this.stmt('UPDATE sessions SET ingested_bytes = ?, capped = ?, capped_reason = ? WHERE id = ?').run(
        a.next.ingested_bytes,
        a.next.capped ? 1 : 0,
        a.next.capped_reason,
        sessionId,
      );
      this.stmt('UPDATE session_agents SET frames_next_seq = ? WHERE session_id = ? AND agent_id = ?').run(a.next.next_seq, sessionId, agentId);
      return a;
    })();
  }

  async reportCounters(agentId: number, counters: AgentCounters[], _now: number): Promise<void> {
    const upd = this.stmt(
      `UPDATE session_agents SET packets_seen = ?, packets_matched = ?, events_uploaded = ?, dropped = ?,
         state = COALESCE(?, state), reason = CASE WHEN ? IS NULL THEN reason WHEN ? = 'failed' THEN ? ELSE NULL END
       WHERE session_id = ? AND agent_id = ?`,
    );
    this.db.transaction(() => {
      for (const c of counters) {
        const state = c.state ?? null;
        upd.run(
          c.packets_seen,
          c.packets_matched,
          c.events_uploaded,
          JSON.stringify(c.dropped),
          state,
          state,
          state,
          c.reason ?? null,
          c.session_id,
          agentId,
        );
      }
    })();
  }

  async listEvents(sessionId: string, after: number, limit: number, query: EventQuery = {}): Promise<{ events: StoredEvent[]; more: boolean }> {
    const ids = query.call_ids;
    let rows: Row[];
    if (ids === undefined) {
      rows = this.stmt('SELECT * FROM events WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?').all(sessionId, after, limit + 1) as Row[];
    } else if (ids.length === 0) {
      rows = [];
    } else {
      // index events_call: one range per Call-ID
      rows = this.stmt(
        `SELECT * FROM events WHERE session_id = ? AND call_id IN (${ids.map(() => '?').join(', ')}) AND id > ? ORDER BY id LIMIT ?`,
      ).all(sessionId, ...ids, after, limit + 1) as Row[];
    }
    return { events: rows.slice(0, limit).map(toEvent), more: rows.length > limit };
  }

  async lastEventId(sessionId: string): Promise<number> {
    const r = this.stmt('SELECT COALESCE(MAX(id), 0) AS id FROM events WHERE session_id = ?').get(sessionId) as Row;
    return num(r.id);
  }

  async listDialogs(sessionId: string, query: DialogQuery): Promise<{ dialogs: DialogRecord[]; more: boolean } | null> {
    // a leg listed under its call's first leg is no row of its own (dialog-fold.ts)
    const where = ['d.session_id = ?', 'd.leg_of IS NULL'];
    const args: unknown[] = [sessionId];
    if (query.after > 0) {
      const c = this.stmt('SELECT started_at FROM dialogs WHERE id = ? AND session_id = ?').get(query.after, sessionId) as Row | undefined;
      if (!c) return null;
      where.push('(d.started_at > ? OR (d.started_at = ? AND d.id > ?))');
      args.push(c.started_at, c.started_at, query.after);
    }
    if (query.states !== undefined && query.states.length > 0) {
      where.push(`d.state IN (${query.states.map(() => '?').join(', ')})`);
      args.push(...query.states);
    }
    if (query.changed_after !== undefined) {
      where.push('d.version > ?');
      args.push(query.changed_after);
    }
    if (query.q !== undefined && query.q !== '') {
      // the row's own text, or any SIP message / log line of the call (events keep their JSON text, so
      // the pattern is JSON-escaped); bounded by the session's event cap
      where.push(
        `(d.search LIKE ? ESCAPE '\\' OR d.call_id IN (SELECT COALESCE(m.leg_of, m.call_id) FROM dialogs m WHERE m.session_id = ? AND m.call_id IN (SELECT e.call_id FROM events e WHERE e.session_id = ? AND e.call_id IS NOT NULL AND e.kind IN ('sip', 'webrtc', 'log') AND e.body LIKE ? ESCAPE '\\')))`,
      );
      args.push(likePattern(query.q, false), sessionId, sessionId, likePattern(query.q, true));
    }
    const rows = this.db
      .prepare(`SELECT d.id, d.version, d.data FROM dialogs d WHERE ${where.join(' AND ')} ORDER BY d.started_at, d.id LIMIT ?`)
      .all(...args, query.limit + 1) as Row[];
    return {
      dialogs: rows.slice(0, query.limit).map((r) => ({ id: num(r.id), version: num(r.version), dialog: JSON.parse(String(r.data)) as DialogAgg })),
      more: rows.length > query.limit,
    };
  }

  // ---- retention

  async deleteHistoryEndedBefore(endedBefore: number, now: number): Promise<string[]> {
    return this.db.transaction((): string[] => {
      const ids = (
        this.db
          .prepare("SELECT id FROM sessions WHERE status != 'running' AND stopped_at < ? AND history_deleted_at IS NULL")
          .all(endedBefore) as Row[]
      ).map((r) => String(r.id));
      for (const id of ids) {
        this.db.prepare('DELETE FROM events WHERE session_id = ?').run(id);
        this.db.prepare('DELETE FROM dialogs WHERE session_id = ?').run(id);
        this.db
          .prepare("UPDATE sessions SET event_count = 0, counts = '{}', history_deleted_at = ?, pcap_deleted_at = COALESCE(pcap_deleted_at, ?) WHERE id = ?")
          .run(now, now, id);
      }
      return ids;
    })();
  }

  async deleteFramesEndedBefore(endedBefore: number, now: number): Promise<string[]> {
    return this.db.transaction((): string[] => {
      const ids = (
        this.db
          .prepare("SELECT id FROM sessions WHERE status != 'running' AND stopped_at < ? AND pcap_deleted_at IS NULL")
          .all(endedBefore) as Row[]
      ).map((r) => String(r.id));
      for (const id of ids) {
        this.db.prepare('UPDATE events SET frame = NULL, frame_link_type = NULL, frame_orig_len = NULL WHERE session_id = ? AND frame IS NOT NULL').run(id);
        this.db.prepare('UPDATE sessions SET pcap_deleted_at = ? WHERE id = ?').run(now, id);
      }
      return ids;
    })();
  }
}

export function openSqliteStorage(file: string): SqliteStorage {
  return new SqliteStorage(file);
}
