// The accounts half of the SQLite store: organisations, users, API tokens, the audit log, login
// sessions and single sign-on logins in flight (docs/organisations.md). SqliteStorage (sqlite.ts)
// extends it with agents, sessions, events and retention; both share one connection and one cache of
// prepared statements.
import type { Database as Db, Statement } from 'better-sqlite3';
import { DEFAULT_ORG_ID } from '../../core/schema/index.js';
import type { Role } from '../../core/schema/index.js';
import type { ApiTokenRecord, AuditRecord, NewAuditEntry, NewUser, OidcLoginRecord, OrgRecord, OrgScope, UserRecord } from './types.js';

export type Row = Record<string, unknown>;

export const num = (v: unknown): number => Number(v);
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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

export abstract class SqliteAccounts {
  protected constructor(readonly db: Db) {}

  /** statements of the per-request paths (auth, ingest, agent liveness), prepared once */
  private readonly prepared = new Map<string, Statement>();

  protected readonly stmt = (sql: string): Statement => {
    let st = this.prepared.get(sql);
    if (st === undefined) this.prepared.set(sql, (st = this.db.prepare(sql)));
    return st;
  };

  // ---- organisations

  async createOrg(name: string, now: number): Promise<OrgRecord | null> {
    const r = this.db.prepare('INSERT OR IGNORE INTO orgs (name, created_at) VALUES (?, ?)').run(name, now);
    return r.changes === 1 ? this.getOrg(Number(r.lastInsertRowid)) : null;
  }

  async getOrg(id: number): Promise<OrgRecord | null> {
    const r = this.stmt('SELECT * FROM orgs WHERE id = ?').get(id) as Row | undefined;
    return r ? toOrg(r) : null;
  }

  async listOrgs(): Promise<OrgRecord[]> {
    return (this.db.prepare('SELECT * FROM orgs ORDER BY id').all() as Row[]).map(toOrg);
  }

  // ---- users

  async getUserByName(username: string): Promise<UserRecord | null> {
    const r = this.stmt('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
    return r ? toUser(r) : null;
  }

  async getUser(id: number): Promise<UserRecord | null> {
    const r = this.stmt('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return r ? toUser(r) : null;
  }

  async getUserByTokenHash(tokenHash: string): Promise<UserRecord | null> {
    const r = this.stmt('SELECT * FROM users WHERE token_hash = ?').get(tokenHash) as Row | undefined;
    return r ? toUser(r) : null;
  }

  async listUsers(scope: OrgScope): Promise<UserRecord[]> {
    const rows = scope === 'all' ? this.db.prepare('SELECT * FROM users ORDER BY id').all() : this.db.prepare('SELECT * FROM users WHERE org_id = ? ORDER BY id').all(scope);
    return (rows as Row[]).map(toUser);
  }

  async deleteUser(id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM users WHERE id = ?').run(id).changes === 1;
  }

  async countUsersWithRole(role: Role): Promise<number> {
    return num((this.db.prepare('SELECT COUNT(*) AS n FROM users WHERE role = ?').get(role) as Row).n);
  }

  async updateUser(id: number, fields: { role?: Role; org_id?: number }): Promise<UserRecord | null> {
    this.db.transaction(() => {
      const before = this.db.prepare('SELECT org_id FROM users WHERE id = ?').get(id) as Row | undefined;
      if (!before) return;
      if (fields.org_id !== undefined && fields.org_id !== num(before.org_id)) this.db.prepare('DELETE FROM api_tokens WHERE user_id = ?').run(id);
      this.db
        .prepare('UPDATE users SET role = COALESCE(?, role), org_id = COALESCE(?, org_id) WHERE id = ?')
        .run(fields.role ?? null, fields.org_id ?? null, id);
    })();
    return this.getUser(id);
  }

  async getUserByOidcSubject(subject: string): Promise<UserRecord | null> {
    const r = this.db.prepare('SELECT * FROM users WHERE oidc_subject = ?').get(subject) as Row | undefined;
    return r ? toUser(r) : null;
  }

  // ---- single sign-on logins in flight

  async putOidcLogin(l: OidcLoginRecord): Promise<void> {
    this.db
      .prepare('INSERT INTO oidc_logins (state_hash, browser_hash, nonce, code_verifier, redirect_uri, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(l.state_hash, l.browser_hash, l.nonce, l.code_verifier, l.redirect_uri, l.expires_at);
  }

  async takeOidcLogin(stateHash: string, now: number): Promise<OidcLoginRecord | null> {
    const r = this.db.prepare('DELETE FROM oidc_logins WHERE state_hash = ? RETURNING *').get(stateHash) as Row | undefined;
    return r && num(r.expires_at) > now ? toOidcLogin(r) : null;
  }

  async deleteExpiredOidcLogins(now: number): Promise<number> {
    return this.db.prepare('DELETE FROM oidc_logins WHERE expires_at <= ?').run(now).changes;
  }

  // ---- API tokens

  async createApiToken(t: Omit<ApiTokenRecord, 'id' | 'username'>): Promise<ApiTokenRecord> {
    const r = this.db
      .prepare('INSERT INTO api_tokens (org_id, user_id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(t.org_id, t.user_id, t.name, t.role, t.token_hash, t.created_at);
    return (await this.getApiToken(Number(r.lastInsertRowid))) as ApiTokenRecord;
  }

  async getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null> {
    const r = this.stmt(`${TOKEN_SELECT} WHERE t.token_hash = ?`).get(tokenHash) as Row | undefined;
    return r ? toToken(r) : null;
  }

  async getApiToken(id: number): Promise<ApiTokenRecord | null> {
    const r = this.stmt(`${TOKEN_SELECT} WHERE t.id = ?`).get(id) as Row | undefined;
    return r ? toToken(r) : null;
  }

  async listApiTokens(scope: OrgScope, userId?: number): Promise<ApiTokenRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (scope !== 'all') {
      where.push('t.org_id = ?');
      args.push(scope);
    }
    if (userId !== undefined) {
      where.push('t.user_id = ?');
      args.push(userId);
    }
    const sql = `${TOKEN_SELECT}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY t.id`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(toToken);
  }

  async deleteApiToken(id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes === 1;
  }

  // ---- audit log

  async appendAudit(e: NewAuditEntry): Promise<void> {
    this
      .stmt('INSERT INTO audit (at, org_id, actor, ip, action, resource, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(e.at, e.org_id, e.actor, e.ip, e.action, e.resource, e.detail);
  }

  async listAudit(scope: OrgScope, after: number, limit: number): Promise<{ entries: AuditRecord[]; more: boolean }> {
    const rows = (
      scope === 'all'
        ? this.db.prepare('SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?').all(after, limit + 1)
        : this.db.prepare('SELECT * FROM audit WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?').all(scope, after, limit + 1)
    ) as Row[];
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
    return this.db.prepare('DELETE FROM audit WHERE at < ? OR id <= (SELECT MAX(id) FROM audit) - ?').run(before, keep).changes;
  }

  async upsertUser(username: string, fields: { password_hash?: string; token_hash?: string }): Promise<UserRecord> {
    const existing = await this.getUserByName(username);
    if (!existing) {
      if (fields.password_hash === undefined) throw new Error(`user ${username} needs a password`);
      this.db
        .prepare('INSERT INTO users (username, password_hash, token_hash, created_at, org_id, role) VALUES (?, ?, ?, ?, ?, ?)')
        .run(username, fields.password_hash, fields.token_hash ?? null, Date.now(), DEFAULT_ORG_ID, 'platform_admin');
    } else {
      this.db
        .prepare('UPDATE users SET password_hash = ?, token_hash = ? WHERE id = ?')
        .run(fields.password_hash ?? existing.password_hash, fields.token_hash ?? existing.token_hash, existing.id);
    }
    return (await this.getUserByName(username)) as UserRecord;
  }

  async createUser(username: string, fields: NewUser): Promise<UserRecord | null> {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO users (username, password_hash, token_hash, created_at, org_id, role, oidc_subject) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(username, fields.password_hash, fields.token_hash ?? null, Date.now(), fields.org_id, fields.role, fields.oidc_subject ?? null);
    return r.changes === 1 ? this.getUserByName(username) : null;
  }

  async createWebSession(tokenHash: string, userId: number, expiresAt: number): Promise<void> {
    this.db.prepare('INSERT INTO web_sessions (token_hash, user_id, expires_at) VALUES (?, ?, ?)').run(tokenHash, userId, expiresAt);
  }

  async getWebSessionUser(tokenHash: string, now: number): Promise<UserRecord | null> {
    const r = this.stmt('SELECT u.* FROM web_sessions w JOIN users u ON u.id = w.user_id WHERE w.token_hash = ? AND w.expires_at > ?')
      .get(tokenHash, now) as Row | undefined;
    return r ? toUser(r) : null;
  }

  async deleteWebSession(tokenHash: string): Promise<void> {
    this.db.prepare('DELETE FROM web_sessions WHERE token_hash = ?').run(tokenHash);
  }

  async deleteExpiredWebSessions(now: number): Promise<number> {
    return this.db.prepare('DELETE FROM web_sessions WHERE expires_at <= ?').run(now).changes;
  }
}
