// PostgreSQL implementation of the center's Storage (DESIGN §7, §9): every piece of state in the
// database, so any number of centers on one database behave as one. Migrations at open under an
// advisory lock (migrations.ts); ingest in ingest.ts; events partitioned by session (a session's
// partition is made with the session and dropped by purge and retention).
import type pg from 'pg';
import { EVENT_KINDS } from '../../../core/schema/index.js';
import type { AgentCounters, AgentSource, EventKind, Role, SessionStatus, StoredEvent } from '../../../core/schema/index.js';
import { DEFAULT_ORG_ID } from '../../../core/schema/index.js';
import type { DialogAgg } from '../../../core/dialogs/aggregate.js';
import { likePattern } from '../dialog-fold.js';
import type {
  AgentRecord,
  AgentUpsertRecord,
  ApiTokenRecord,
  AuditRecord,
  DialogQuery,
  DialogRecord,
  EventQuery,
  IngestItem,
  IngestOutcome,
  IngestPolicy,
  NewAuditEntry,
  NewSession,
  NewUser,
  OidcLoginRecord,
  OrgRecord,
  OrgScope,
  SessionFilter,
  SessionAgentRecord,
  SessionRecord,
  Storage,
  UserRecord,
} from '../types.js';
import type { FramesAdmission, FramesPolicy } from '../frames-admission.js';
import { admitFramesBatch } from './frames.js';
import { ingestBatch } from './ingest.js';
import { migrate } from './migrations.js';
import { inTransaction, noNul, noNulOrNull, openPool } from './pool.js';

type Row = Record<string, unknown>;

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** name of a session's events partition; session ids are 20 lowercase hex digits (checked) */
export function partitionOf(sessionId: string): string {
  if (!/^[0-9a-f]{20}$/.test(sessionId)) throw new Error(`not a session id: ${sessionId}`);
  return `events_${sessionId}`;
}

function toUser(r: Row): UserRecord {
  return {
    id: num(r.id),
    org_id: num(r.org_id),
    username: String(r.username),
    role: r.role as Role,
    password_hash: String(r.password_hash),
    token_hash: (r.token_hash as string | null) ?? null,
    oidc_subject: (r.oidc_subject as string | null) ?? null,
    created_at: num(r.created_at),
  };
}

const toOidcLogin = (r: Row): OidcLoginRecord => ({
  state_hash: String(r.state_hash),
  browser_hash: String(r.browser_hash),
  nonce: String(r.nonce),
  code_verifier: String(r.code_verifier),
  redirect_uri: String(r.redirect_uri),
  expires_at: num(r.expires_at),
});

const toOrg = (r: Row): OrgRecord => ({ id: num(r.id), name: String(r.name), created_at: num(r.created_at) });

const TOKEN_SELECT = 'SELECT t.*, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id';

function toToken(r: Row): ApiTokenRecord {
  return {
    id: num(r.id),
    org_id: num(r.org_id),
    user_id: num(r.user_id),
    username: String(r.username),
    name: String(r.name),
    role: r.role as Role,
    token_hash: String(r.token_hash),
    created_at: num(r.created_at),
  };
}

/** `WHERE`-less condition on an org column for a scope, with its parameter number */
const scoped = (column: string, scope: OrgScope, n: number): string => (scope === 'all' ? 'TRUE' : `${column} = $${n}`);
const scopeArgs = (scope: OrgScope): unknown[] => (scope === 'all' ? [] : [scope]);

function toAgent(r: Row): AgentRecord {
  return {
    id: num(r.id),
    org_id: num(r.org_id),
    name: String(r.name),
    url: String(r.url),
    token_hash: String(r.token_hash),
    enabled: r.enabled === true,
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
    capture_rtp: r.capture_rtp === true,
    capture_pcap: r.capture_pcap === true,
    duration_seconds: num(r.duration_seconds),
    created_at: num(r.created_at),
    expires_at: num(r.expires_at),
    stopped_at: numOrNull(r.stopped_at),
    event_count: num(r.event_count),
    ingested_events: num(r.ingested_events),
    ingested_bytes: num(r.ingested_bytes),
    agent_count: num(r.agent_count),
    capped: r.capped === true,
    capped_reason: (r.capped_reason as string | null) ?? null,
    history_deleted_at: numOrNull(r.history_deleted_at),
    pcap_deleted_at: numOrNull(r.pcap_deleted_at),
    shared: r.share_created_at !== null && r.share_created_at !== undefined,
    share_created_at: numOrNull(r.share_created_at),
  };
}

export function toEvent(r: Row): StoredEvent {
  const body = JSON.parse(String(r.body)) as Omit<StoredEvent, 'id' | 'agent_id' | 'frame'>;
  const frame =
    r.frame === null || r.frame === undefined
      ? null
      : { link_type: num(r.frame_link_type), data: (r.frame as Buffer).toString('base64'), orig_len: num(r.frame_orig_len) };
  return { id: num(r.id), agent_id: num(r.agent_id), ...body, frame };
}

/** channel of the session-end announcements (status events fan out to every center, cluster/feed.ts) */
export const STATUS_CHANNEL = 'tunaio_status';

export class PostgresStorage implements Storage {
  private closed = false;

  private constructor(readonly pool: pg.Pool, readonly url: string) {}

  /** Connects and applies the pending migrations (safe when several centers start at once). */
  static async open(url: string, opts: { poolSize?: number } = {}): Promise<PostgresStorage> {
    const pool = openPool(url, opts.poolSize ?? 10);
    try {
      const c = await pool.connect();
      try {
        await migrate(c);
      } finally {
        c.release();
      }
    } catch (e) {
      await pool.end();
      throw e;
    }
    return new PostgresStorage(pool, url);
  }

  /** every string parameter without NUL (see noNul): names, labels and the like come from input */
  private run(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    return this.pool.query(sql, params.map((p) => (typeof p === 'string' ? noNul(p) : p)));
  }

  private async q(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.run(sql, params)).rows as Row[];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // ---- organisations

  async createOrg(name: string, now: number): Promise<OrgRecord | null> {
    const [r] = await this.q('INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING *', [name, now]);
    return r ? toOrg(r) : null;
  }

  async getOrg(id: number): Promise<OrgRecord | null> {
    const [r] = await this.q('SELECT * FROM orgs WHERE id = $1', [id]);
    return r ? toOrg(r) : null;
  }

  async listOrgs(): Promise<OrgRecord[]> {
    return (await this.q('SELECT * FROM orgs ORDER BY id')).map(toOrg);
  }

  // ---- users

  async getUser(id: number): Promise<UserRecord | null> {
    const [r] = await this.q('SELECT * FROM users WHERE id = $1', [id]);
    return r ? toUser(r) : null;
  }

  async listUsers(scope: OrgScope): Promise<UserRecord[]> {
    return (await this.q(`SELECT * FROM users WHERE ${scoped('org_id', scope, 1)} ORDER BY id`, scopeArgs(scope))).map(toUser);
  }

  async deleteUser(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM users WHERE id = $1', [id])).rowCount ?? 0) === 1;
  }

  async countUsersWithRole(role: Role): Promise<number> {
    const [r] = await this.q('SELECT COUNT(*) AS n FROM users WHERE role = $1', [role]);
    return num(r.n);
  }

  async updateUser(id: number, fields: { role?: Role; org_id?: number }): Promise<UserRecord | null> {
    return inTransaction(this.pool, async (c) => {
      const before = (await c.query('SELECT org_id FROM users WHERE id = $1 FOR UPDATE', [id])).rows[0] as Row | undefined;
      if (!before) return null;
      if (fields.org_id !== undefined && fields.org_id !== num(before.org_id)) await c.query('DELETE FROM api_tokens WHERE user_id = $1', [id]);
      const r = await c.query('UPDATE users SET role = COALESCE($2, role), org_id = COALESCE($3, org_id) WHERE id = $1 RETURNING *', [
        id,
        fields.role ?? null,
        fields.org_id ?? null,
      ]);
      return toUser(r.rows[0] as Row);
    });
  }

  async getUserByOidcSubject(subject: string): Promise<UserRecord | null> {
    const [r] = await this.q('SELECT * FROM users WHERE oidc_subject = $1', [subject]);
    return r ? toUser(r) : null;
  }

  // ---- single sign-on logins in flight

  async putOidcLogin(l: OidcLoginRecord): Promise<void> {
    await this.q(
      'INSERT INTO oidc_logins (state_hash, browser_hash, nonce, code_verifier, redirect_uri, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
      [l.state_hash, l.browser_hash, l.nonce, l.code_verifier, l.redirect_uri, l.expires_at],
    );
  }

  async takeOidcLogin(stateHash: string, now: number): Promise<OidcLoginRecord | null> {
    const [r] = await this.q('DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING *', [stateHash]);
    return r && num(r.expires_at) > now ? toOidcLogin(r) : null;
  }

  async deleteExpiredOidcLogins(now: number): Promise<number> {
    return (await this.run('DELETE FROM oidc_logins WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  // ---- API tokens

  async createApiToken(t: Omit<ApiTokenRecord, 'id' | 'username'>): Promise<ApiTokenRecord> {
    const [r] = await this.q(
      'INSERT INTO api_tokens (org_id, user_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
      [t.org_id, t.user_id, t.name, t.role, t.token_hash, t.created_at],
    );
    return (await this.getApiToken(num(r.id))) as ApiTokenRecord;
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null> {
    const [r] = await this.q(`${TOKEN_SELECT} WHERE t.token_hash = $1`, [tokenHash]);
    return r ? toToken(r) : null;
  }

  async getApiToken(id: number): Promise<ApiTokenRecord | null> {
    const [r] = await this.q(`${TOKEN_SELECT} WHERE t.id = $1`, [id]);
    return r ? toToken(r) : null;
  }

  async listApiTokens(scope: OrgScope, userId?: number): Promise<ApiTokenRecord[]> {
    const args = scopeArgs(scope);
    let where = scoped('t.org_id', scope, 1);
    if (userId !== undefined) {
      args.push(userId);
      where += ` AND t.user_id = $${args.length}`;
    }
    return (await this.q(`${TOKEN_SELECT} WHERE ${where} ORDER BY t.id`, args)).map(toToken);
  }

  async deleteApiToken(id: number): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM api_tokens WHERE id = $1', [id])).rowCount ?? 0) === 1;
  }

  // ---- audit log

  async appendAudit(e: NewAuditEntry): Promise<void> {
    await this.q('INSERT INTO audit (at, org_id, actor, ip, action, resource, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      e.at,
      e.org_id,
      e.actor,
      e.ip,
      e.action,
      e.resource,
      e.detail,
    ]);
  }

  async listAudit(scope: OrgScope, after: number, limit: number): Promise<{ entries: AuditRecord[]; more: boolean }> {
    const args = [...scopeArgs(scope), after, limit + 1];
    const n = args.length;
    const rows = await this.q(`SELECT * FROM audit WHERE ${scoped('org_id', scope, 1)} AND id > $${n - 1} ORDER BY id LIMIT $${n}`, args);
    return {
      entries: rows.slice(0, limit).map((r) => ({
        id: num(r.id),
        at: num(r.at),
        org_id: numOrNull(r.org_id),
        actor: String(r.actor),
        ip: String(r.ip),
        action: String(r.action),
        resource: (r.resource as string | null) ?? null,
        detail: (r.detail as string | null) ?? null,
      })),
      more: rows.length > limit,
    };
  }

  async pruneAudit(before: number, keep: number): Promise<number> {
    return (await this.run('DELETE FROM audit WHERE at < $1 OR id <= (SELECT MAX(id) FROM audit) - $2', [before, keep])).rowCount ?? 0;
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    const [r] = await this.q('SELECT * FROM users WHERE username = $1', [username]);
    return r ? toUser(r) : null;
  }

  async getUserByTokenHash(tokenHash: string): Promise<UserRecord | null> {
    const [r] = await this.q('SELECT * FROM users WHERE token_hash = $1', [tokenHash]);
    return r ? toUser(r) : null;
  }

  async createUser(username: string, fields: NewUser): Promise<UserRecord | null> {
    const [r] = await this.q(
      `INSERT INTO users (username, password_hash, token_hash, created_at, org_id, role, oidc_subject) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT DO NOTHING RETURNING *`,
      [username, fields.password_hash, fields.token_hash ?? null, Date.now(), fields.org_id, fields.role, fields.oidc_subject ?? null],
    );
    return r ? toUser(r) : null;
  }

  async upsertUser(username: string, fields: { password_hash?: string; token_hash?: string }): Promise<UserRecord> {
    const [u] = await this.q(
      'UPDATE users SET password_hash = COALESCE($2, password_hash), token_hash = COALESCE($3, token_hash) WHERE username = $1 RETURNING *',
      [username, fields.password_hash ?? null, fields.token_hash ?? null],
    );
    if (u) return toUser(u);
    if (fields.password_hash === undefined) throw new Error(`user ${username} needs a password`);
    const created = await this.createUser(username, {
      password_hash: fields.password_hash,
      token_hash: fields.token_hash,
      org_id: DEFAULT_ORG_ID,
      role: 'platform_admin',
    });
    // made by another center between the two statements: update that one
    return created ?? this.upsertUser(username, fields);
  }

  async createWebSession(tokenHash: string, userId: number, expiresAt: number): Promise<void> {
    await this.q('INSERT INTO web_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)', [tokenHash, userId, expiresAt]);
  }

  async getWebSessionUser(tokenHash: string, now: number): Promise<UserRecord | null> {
    const [r] = await this.q(
      'SELECT u.* FROM web_sessions w JOIN users u ON u.id = w.user_id WHERE w.token_hash = $1 AND w.expires_at > $2',
      [tokenHash, now],
    );
    return r ? toUser(r) : null;
  }

  async deleteWebSession(tokenHash: string): Promise<void> {
    await this.q('DELETE FROM web_sessions WHERE token_hash = $1', [tokenHash]);
  }

  async deleteExpiredWebSessions(now: number): Promise<number> {
    return (await this.run('DELETE FROM web_sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  // ---- agents

  async listAgents(scope: OrgScope): Promise<AgentRecord[]> {
    return (await this.q(`SELECT * FROM agents WHERE ${scoped('org_id', scope, 1)} ORDER BY id`, scopeArgs(scope))).map(toAgent);
  }

  async getAgentByName(orgId: number, name: string): Promise<AgentRecord | null> {
    const [r] = await this.q('SELECT * FROM agents WHERE org_id = $1 AND name = $2', [orgId, name]);
    return r ? toAgent(r) : null;
  }

  async setAgentTags(id: number, tags: string[], now: number): Promise<AgentRecord | null> {
    const [r] = await this.q('UPDATE agents SET tags = $2, updated_at = $3 WHERE id = $1 RETURNING *', [id, JSON.stringify(tags), now]);
    return r ? toAgent(r) : null;
  }

  async getAgentByTokenHash(tokenHash: string): Promise<AgentRecord | null> {
    const [r] = await this.q('SELECT * FROM agents WHERE token_hash = $1', [tokenHash]);
    return r ? toAgent(r) : null;
  }

  async upsertAgent(input: AgentUpsertRecord, now: number): Promise<{ agent: AgentRecord; created: boolean }> {
    const [u] = await this.q(
      'UPDATE agents SET url = $2, enabled = $3, tags = $4, token_hash = COALESCE($5, token_hash), updated_at = $6 WHERE name = $1 AND org_id = $7 RETURNING *',
      [input.name, input.url, input.enabled, JSON.stringify(input.tags), input.token_hash ?? null, now, input.org_id],
    );
    if (u) return { agent: toAgent(u), created: false };
    if (input.token_hash === undefined) throw new Error('a new agent needs a token');
    const [r] = await this.q(
      `INSERT INTO agents (name, url, token_hash, enabled, tags, created_at, updated_at, org_id) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
       ON CONFLICT (org_id, name) DO NOTHING RETURNING *`,
      [input.name, input.url, input.token_hash, input.enabled, JSON.stringify(input.tags), now, input.org_id],
    );
    // another center added it between the two statements: this is an update of that one
    return r ? { agent: toAgent(r), created: true } : this.upsertAgent(input, now);
  }

  async touchAgent(id: number, now: number, info?: { version?: string; sources?: AgentSource[] }): Promise<void> {
    await this.q(
      'UPDATE agents SET last_seen = GREATEST(COALESCE(last_seen, 0), $1), version = COALESCE($2, version), sources = COALESCE($3, sources) WHERE id = $4',
      [now, info?.version ?? null, info?.sources ? JSON.stringify(info.sources) : null, id],
    );
  }

  // ---- sessions

  async createSession(s: NewSession): Promise<SessionRecord> {
    const part = partitionOf(s.id);
    await inTransaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO sessions (id, label, status, criteria, capture_rtp, capture_pcap, duration_seconds, created_at, expires_at, org_id)
         VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9)`,
        [s.id, noNul(s.label), JSON.stringify(s.criteria), s.capture_rtp, s.capture_pcap, s.duration_seconds, s.created_at, s.expires_at, s.org_id],
      );
      await c.query('INSERT INTO session_agents (session_id, agent_id) SELECT $1, unnest($2::bigint[])', [s.id, s.agent_ids]);
      await c.query(`CREATE TABLE ${part} PARTITION OF events FOR VALUES IN ('${s.id}')`);
    });
    return (await this.getSession(s.id)) as SessionRecord;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const [r] = await this.q(`${SESSION_SELECT} WHERE s.id = $1`, [id]);
    return r ? toSession(r) : null;
  }

  async listSessions(opts: { scope: OrgScope; limit: number; before?: string } & SessionFilter): Promise<{ sessions: SessionRecord[]; more: boolean }> {
    const args = scopeArgs(opts.scope);
    let where = scoped('s.org_id', opts.scope, 1);
    if (opts.statuses !== undefined && opts.statuses.length > 0) {
      args.push(opts.statuses);
      where += ` AND s.status = ANY($${args.length}::text[])`;
    }
    if (opts.agent_id !== undefined) {
      args.push(opts.agent_id);
      where += ` AND EXISTS (SELECT 1 FROM session_agents sa WHERE sa.session_id = s.id AND sa.agent_id = $${args.length})`;
    }
    if (opts.shared !== undefined) where += opts.shared ? ' AND sh.session_id IS NOT NULL' : ' AND sh.session_id IS NULL';
    if (opts.q !== undefined && opts.q !== '') {
      // as SqliteStorage.listSessions
      args.push(likePattern(opts.q, false), opts.q);
      const p = args.length - 1;
      where += ` AND (lower(s.label) LIKE $${p} OR lower(s.criteria) LIKE $${p} OR s.id IN (SELECT d.session_id FROM dialogs d WHERE d.call_id = $${p + 1}))`;
    }
    if (opts.before !== undefined) {
      const [c] = await this.q('SELECT created_at, rid FROM sessions WHERE id = $1', [opts.before]);
      if (!c) return { sessions: [], more: false };
      args.push(c.created_at, c.rid);
      where += ` AND (s.created_at, s.rid) < ($${args.length - 1}, $${args.length})`;
    }
    args.push(opts.limit + 1);
    const rows = await this.q(`${SESSION_SELECT} WHERE ${where} ORDER BY s.created_at DESC, s.rid DESC LIMIT $${args.length}`, args);
    return { sessions: rows.slice(0, opts.limit).map(toSession), more: rows.length > opts.limit };
  }

  async listRunningSessions(): Promise<SessionRecord[]> {
    return (await this.q(`${SESSION_SELECT} WHERE s.status = 'running'`)).map(toSession);
  }

  async countSessionsByStatus(): Promise<Record<SessionStatus, number>> {
    const out: Record<SessionStatus, number> = { running: 0, stopped: 0, expired: 0 };
    for (const r of await this.q('SELECT status, COUNT(*) AS n FROM sessions GROUP BY status')) out[r.status as SessionStatus] = num(r.n);
    return out;
  }

  async listOverdueSessions(now: number): Promise<SessionRecord[]> {
    return (await this.q(`${SESSION_SELECT} WHERE s.status = 'running' AND s.expires_at <= $1`, [now])).map(toSession);
  }

  async endSession(id: string, status: 'stopped' | 'expired', at: number): Promise<boolean> {
    // the announcement is sent at commit, only when this center made the change (one center wins)
    const r = await this.run(
      `WITH ended AS (UPDATE sessions SET status = $2, stopped_at = $3 WHERE id = $1 AND status = 'running' RETURNING id)
       SELECT pg_notify('${STATUS_CHANNEL}', json_build_object('session_id', $1::text, 'status', $2::text, 'stopped_at', $3::bigint)::text) FROM ended`,
      [id, status, at],
    );
    return r.rowCount === 1;
  }

  async getSessionAgents(id: string): Promise<SessionAgentRecord[]> {
    const rows = await this.q(
      'SELECT sa.*, a.name FROM session_agents sa JOIN agents a ON a.id = sa.agent_id WHERE sa.session_id = $1 ORDER BY a.id',
      [id],
    );
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
    const [r] = await this.q('SELECT counts FROM sessions WHERE id = $1', [id]);
    const stored = r ? (JSON.parse(String(r.counts)) as Record<string, number>) : {};
    return Object.fromEntries(EVENT_KINDS.map((k) => [k, stored[k] ?? 0])) as Record<EventKind, number>;
  }

  async hasFrames(id: string): Promise<boolean> {
    return (await this.q('SELECT 1 FROM events WHERE session_id = $1 AND frame IS NOT NULL LIMIT 1', [id])).length > 0;
  }

  /**
   * Drops a session's events partition. The session row is locked first (FOR UPDATE), the order
   * ingest takes its locks in (session rows, then events), so the two never deadlock.
   */
  private async dropEvents(c: pg.PoolClient, id: string): Promise<void> {
    await c.query(`DROP TABLE IF EXISTS ${partitionOf(id)}`);
  }

  async purgeSession(id: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const locked = await c.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [id]);
      if (locked.rowCount === 0) return false;
      await this.dropEvents(c, id);
      await c.query('DELETE FROM sessions WHERE id = $1', [id]);
      return true;
    });
  }

  // ---- share links

  async putShare(sessionId: string, tokenHash: string, tokenSealed: string, now: number): Promise<boolean> {
    const r = await this.run(
      `INSERT INTO shares (session_id, token_hash, token_sealed, created_at) SELECT id, $2, $3, $4 FROM sessions WHERE id = $1
       ON CONFLICT (session_id) DO UPDATE SET token_hash = excluded.token_hash, token_sealed = excluded.token_sealed, created_at = excluded.created_at`,
      [sessionId, tokenHash, tokenSealed, now],
    );
    return r.rowCount === 1;
  }

  async getShare(sessionId: string): Promise<{ token_sealed: string | null; created_at: number } | null> {
    const [r] = await this.q('SELECT token_sealed, created_at FROM shares WHERE session_id = $1', [sessionId]);
    return r ? { token_sealed: r.token_sealed === null ? null : String(r.token_sealed), created_at: num(r.created_at) } : null;
  }

  async getShareByTokenHash(tokenHash: string): Promise<{ session_id: string; token_hash: string; created_at: number } | null> {
    const [r] = await this.q('SELECT session_id, token_hash, created_at FROM shares WHERE token_hash = $1', [tokenHash]);
    return r ? { session_id: String(r.session_id), token_hash: String(r.token_hash), created_at: num(r.created_at) } : null;
  }

  async deleteShare(sessionId: string): Promise<boolean> {
    return ((await this.run('DELETE FROM shares WHERE session_id = $1', [sessionId])).rowCount ?? 0) === 1;
  }

  // ---- events

  async ingest(agentId: number, items: IngestItem[], policy: IngestPolicy): Promise<IngestOutcome> {
    return inTransaction(this.pool, (c) => ingestBatch(c, agentId, items, policy));
  }

  async admitFrames(agentId: number, sessionId: string, firstSeq: number, sizes: readonly number[], policy: FramesPolicy): Promise<FramesAdmission> {
    return inTransaction(this.pool, (c) => admitFramesBatch(c, agentId, sessionId, firstSeq, sizes, policy));
  }

  async reportCounters(agentId: number, counters: AgentCounters[], _now: number): Promise<void> {
    if (counters.length === 0) return;
    await this.run(
      `UPDATE session_agents sa SET packets_seen = c.packets_seen, packets_matched = c.packets_matched,
         events_uploaded = c.events_uploaded, dropped = c.dropped,
         state = COALESCE(c.state, sa.state),
         reason = CASE WHEN c.state IS NULL THEN sa.reason WHEN c.state = 'failed' THEN c.reason ELSE NULL END
       FROM (SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[])
             AS t(session_id, packets_seen, packets_matched, events_uploaded, dropped, state, reason)) c
       WHERE sa.session_id = c.session_id AND sa.agent_id = $1`,
      [
        agentId,
        counters.map((c) => c.session_id),
        counters.map((c) => c.packets_seen),
        counters.map((c) => c.packets_matched),
        counters.map((c) => c.events_uploaded),
        counters.map((c) => JSON.stringify(c.dropped)),
        counters.map((c) => c.state ?? null),
        counters.map((c) => noNulOrNull(c.reason)),
      ],
    );
  }

  async listEvents(sessionId: string, after: number, limit: number, query: EventQuery = {}): Promise<{ events: StoredEvent[]; more: boolean }> {
    const rows =
      query.call_ids === undefined
        ? await this.q('SELECT * FROM events WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT $3', [sessionId, after, limit + 1])
        : await this.q('SELECT * FROM events WHERE session_id = $1 AND call_id = ANY($4::text[]) AND id > $2 ORDER BY id LIMIT $3', [
            sessionId,
            after,
            limit + 1,
            query.call_ids.map(noNul),
          ]);
    return { events: rows.slice(0, limit).map(toEvent), more: rows.length > limit };
  }

  async listDialogs(sessionId: string, query: DialogQuery): Promise<{ dialogs: DialogRecord[]; more: boolean } | null> {
    const args: unknown[] = [sessionId];
    const arg = (v: unknown): string => `$${args.push(v)}`;
    // a leg listed under its call's first leg is no row of its own (dialog-fold.ts)
    const where = ['d.session_id = $1', 'd.leg_of IS NULL'];
    if (query.after > 0) {
      const [c] = await this.q('SELECT started_at FROM dialogs WHERE id = $1 AND session_id = $2', [query.after, sessionId]);
      if (!c) return null;
      where.push(`(d.started_at, d.id) > (${arg(num(c.started_at))}, ${arg(query.after)})`);
    }
    if (query.states !== undefined && query.states.length > 0) where.push(`d.state = ANY(${arg(query.states)}::text[])`);
    if (query.changed_after !== undefined) where.push(`d.version > ${arg(query.changed_after)}`);
    if (query.q !== undefined && query.q !== '') {
      // as in SQLite: the row's own text, or any SIP message / log line of the call (JSON text of the event)
      where.push(
        `(d.search ILIKE ${arg(likePattern(query.q, false))} ESCAPE '\\' OR d.call_id IN (SELECT COALESCE(m.leg_of, m.call_id) FROM dialogs m WHERE m.session_id = $1 AND m.call_id IN (SELECT e.call_id FROM events e WHERE e.session_id = $1 AND e.call_id IS NOT NULL AND e.kind IN ('sip', 'webrtc', 'log') AND e.body ILIKE ${arg(likePattern(query.q, true))} ESCAPE '\\')))`,
      );
    }
    const rows = await this.q(
      `SELECT d.id, d.version, d.data FROM dialogs d WHERE ${where.join(' AND ')} ORDER BY d.started_at, d.id LIMIT ${arg(query.limit + 1)}`,
      args,
    );
    return {
      dialogs: rows.slice(0, query.limit).map((r) => ({ id: num(r.id), version: num(r.version), dialog: JSON.parse(String(r.data)) as DialogAgg })),
      more: rows.length > query.limit,
    };
  }

  /** the highest event id of a session now (0 when none): where a live follower starts (cluster/feed.ts) */
  async lastEventId(sessionId: string): Promise<number> {
    const [r] = await this.q('SELECT COALESCE(MAX(id), 0) AS id FROM events WHERE session_id = $1', [sessionId]);
    return num(r.id);
  }

  // ---- retention: whole partitions dropped, never rows deleted one by one

  async deleteHistoryEndedBefore(endedBefore: number, now: number): Promise<string[]> {
    const ids = (
      await this.q("SELECT id FROM sessions WHERE status != 'running' AND stopped_at < $1 AND history_deleted_at IS NULL", [endedBefore])
    ).map((r) => String(r.id));
    const done: string[] = [];
    for (const id of ids) {
      // one transaction per session: a long retention run never holds many locks at once
      const ok = await inTransaction(this.pool, async (c) => {
        const locked = await c.query('SELECT 1 FROM sessions WHERE id = $1 AND history_deleted_at IS NULL FOR UPDATE', [id]);
        if (locked.rowCount === 0) return false;
        await this.dropEvents(c, id);
        await c.query('DELETE FROM dialogs WHERE session_id = $1', [id]);
        await c.query(
          "UPDATE sessions SET event_count = 0, counts = '{}', history_deleted_at = $2, pcap_deleted_at = COALESCE(pcap_deleted_at, $2) WHERE id = $1",
          [id, now],
        );
        return true;
      });
      if (ok) done.push(id);
    }
    return done;
  }

  async deleteFramesEndedBefore(endedBefore: number, now: number): Promise<string[]> {
    const ids = (
      await this.q("SELECT id FROM sessions WHERE status != 'running' AND stopped_at < $1 AND pcap_deleted_at IS NULL", [endedBefore])
    ).map((r) => String(r.id));
    for (const id of ids) {
      await inTransaction(this.pool, async (c) => {
        await c.query('SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE', [id]);
        // frames normally live in the PCAP store (pcap_files, deleted by its remove()); this clears any kept with events
        await c.query(
          'UPDATE events SET frame = NULL, frame_link_type = NULL, frame_orig_len = NULL WHERE session_id = $1 AND frame IS NOT NULL',
          [id],
        );
        await c.query('UPDATE sessions SET pcap_deleted_at = $2 WHERE id = $1', [id, now]);
      });
    }
    return ids;
  }
}
