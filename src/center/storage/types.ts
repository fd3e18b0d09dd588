// The storage interface of the command center: everything the routes, the SSE hub, expiry and
// retention need, and nothing about SQL. Asynchronous so a PostgreSQL implementation can follow
// without touching routes. Records here are internal rows (epoch milliseconds, hashes); the route
// folders' present.ts files turn them into wire views, so no raw row reaches a client.
import type { DialogAgg } from '../../core/dialogs/aggregate.js';
import type {
  AgentCounters,
  AgentSource,
  Criteria,
  DialogState,
  EventKind,
  Frame,
  IngestEvent,
  Role,
  SessionStatus,
  StoredEvent,
} from '../../core/schema/index.js';
import type { FramesAdmission, FramesPolicy } from './frames-admission.js';

export interface OrgRecord {
  id: number;
  name: string;
  created_at: number;
}

export interface UserRecord {
  id: number;
  org_id: number;
  username: string;
  role: Role;
  password_hash: string;
  /** the user's own API token (the bootstrap admin's TUNAIO_ADMIN_TOKEN); full role of the user */
  token_hash: string | null;
  /** `<issuer> <sub>` of a user made by single sign-on (its password hash is unusable), else null */
  oidc_subject: string | null;
  created_at: number;
}

export interface NewUser {
  org_id: number;
  role: Role;
  password_hash: string;
  token_hash?: string;
  oidc_subject?: string;
}

/** An OpenID Connect login in flight (routes/auth/sso.ts): what the callback needs, on whichever center it lands. */
export interface OidcLoginRecord {
  /** sha256 of the `state` sent to the provider */
  state_hash: string;
  /** sha256 of the browser-binding cookie set when the login started */
  browser_hash: string;
  nonce: string;
  /** the PKCE code verifier (RFC 7636) */
  code_verifier: string;
  redirect_uri: string;
  expires_at: number;
}

/** An API token (POST /api/tokens): belongs to a user and its organisation, at most the user's role. */
export interface ApiTokenRecord {
  id: number;
  org_id: number;
  user_id: number;
  username: string;
  name: string;
  role: Role;
  token_hash: string;
  created_at: number;
}

export interface NewAuditEntry {
  at: number;
  org_id: number | null;
  actor: string;
  ip: string;
  action: string;
  resource: string | null;
  detail: string | null;
}

export interface AuditRecord extends NewAuditEntry {
  id: number;
}

/** which organisation's rows a read may see: one, or every one (platform admins) */
export type OrgScope = number | 'all';

export interface AgentRecord {
  id: number;
  org_id: number;
  name: string;
  url: string;
  token_hash: string;
  enabled: boolean;
  tags: string[];
  last_seen: number | null;
  version: string | null;
  sources: AgentSource[];
  created_at: number;
  updated_at: number;
}

export interface AgentUpsertRecord {
  /** the agent's organisation; names are unique per organisation */
  org_id: number;
  name: string;
  url: string;
  /** sha256 of the token; undefined keeps the stored one (update only) */
  token_hash?: string;
  enabled: boolean;
  tags: string[];
}

export interface SessionRecord {
  id: string;
  org_id: number;
  label: string;
  status: SessionStatus;
  criteria: Criteria;
  capture_rtp: boolean;
  capture_pcap: boolean;
  duration_seconds: number;
  created_at: number;
  expires_at: number;
  stopped_at: number | null;
  /** events currently stored (retention lowers it) */
  event_count: number;
  /** totals ever accepted, what the caps apply to */
  ingested_events: number;
  ingested_bytes: number;
  agent_count: number;
  capped: boolean;
  capped_reason: string | null;
  history_deleted_at: number | null;
  pcap_deleted_at: number | null;
  shared: boolean;
  share_created_at: number | null;
}

export interface SessionAgentRecord {
  agent_id: number;
  name: string;
  state: 'pending' | 'capturing' | 'failed';
  reason: string | null;
  last_event_at: number | null;
  packets_seen: number;
  packets_matched: number;
  events_uploaded: number;
  events_stored: number;
  dropped: Record<string, number>;
}

export interface NewSession {
  id: string;
  org_id: number;
  label: string;
  criteria: Criteria;
  capture_rtp: boolean;
  capture_pcap: boolean;
  duration_seconds: number;
  created_at: number;
  expires_at: number;
  agent_ids: number[];
}

export interface IngestPolicy {
  now: number;
  /** an ended session still accepts batches that were in flight for this long */
  grace_ms: number;
  max_events_per_session: number;
  max_bytes_per_session: number;
}

export interface IngestItem {
  /** index in the posted batch, for `rejected[].index` */
  index: number;
  event: IngestEvent;
  /** bytes counted against the session's byte cap */
  bytes: number;
  /**
   * the event without its frame as JSON, when the caller already made it (the ingest route does, to
   * count `bytes`); a store that keeps the event as JSON may use it instead of serializing again
   */
  body?: string;
  /** the event's frame when the caller already took it off the event (then `event.frame` is null) */
  frame?: Frame;
}

export interface IngestOutcome {
  inserted: StoredEvent[];
  duplicates: number;
  rejected: { index: number; reason: string }[];
  /** sessions that reached a cap during this batch */
  newly_capped: string[];
}

/** One row of a session's call list: the store's cursor, the last event folded in, the folded call. */
export interface DialogRecord {
  id: number;
  /** id of the last event folded into the row */
  version: number;
  dialog: DialogAgg;
}

/** The sessions list's search and filters (GET /api/sessions), all optional, combined with AND. */
export interface SessionFilter {
  /** any case, a part of the label or of the criteria, or exactly a Call-ID seen in the session */
  q?: string;
  statuses?: SessionStatus[];
  /** sessions this agent was asked to capture on */
  agent_id?: number;
  shared?: boolean;
}

export interface DialogQuery {
  /**
   * case-insensitive substring of a Call-ID, number, user agent or final reason of the row
   * (dialogSearchText), or of the text of any SIP message or log line of the call
   */
  q?: string;
  /** any of these states */
  states?: DialogState[];
  /** rows changed by events with an id above this */
  changed_after?: number;
  /** exclusive cursor: a row id (0 = from the start); rows come in (started_at, id) order */
  after: number;
  limit: number;
}

export interface EventQuery {
  /** only events of these Call-IDs (a call list row's legs) */
  call_ids?: string[];
}

export interface Storage {
  close(): Promise<void>;

  // organisations (docs/organisations.md)
  /** null when the name is taken */
  createOrg(name: string, now: number): Promise<OrgRecord | null>;
  getOrg(id: number): Promise<OrgRecord | null>;
  listOrgs(): Promise<OrgRecord[]>;

  // users (user names are unique across organisations: the login form asks for no organisation)
  getUserByName(username: string): Promise<UserRecord | null>;
  getUser(id: number): Promise<UserRecord | null>;
  getUserByTokenHash(tokenHash: string): Promise<UserRecord | null>;
  /** the bootstrap admin: updates password/token, or creates the user as platform_admin of the default organisation */
  upsertUser(username: string, fields: { password_hash?: string; token_hash?: string }): Promise<UserRecord>;
  /** creates the user unless one of that name exists (then null): race-free first start of several centers */
  createUser(username: string, fields: NewUser): Promise<UserRecord | null>;
  listUsers(scope: OrgScope): Promise<UserRecord[]>;
  /** deletes the user, its login sessions and API tokens; true when it existed */
  deleteUser(id: number): Promise<boolean>;
  countUsersWithRole(role: Role): Promise<number>;
  /**
   * changes a user's role and/or organisation; moving a user to another organisation deletes its API
   * tokens (they belong to the old one). null when there is no such user.
   */
  updateUser(id: number, fields: { role?: Role; org_id?: number }): Promise<UserRecord | null>;
  getUserByOidcSubject(subject: string): Promise<UserRecord | null>;

  // single sign-on logins in flight
  putOidcLogin(login: OidcLoginRecord): Promise<void>;
  /** removes and returns the unexpired login of this state (each state is used once) */
  takeOidcLogin(stateHash: string, now: number): Promise<OidcLoginRecord | null>;
  deleteExpiredOidcLogins(now: number): Promise<number>;

  // API tokens
  createApiToken(t: Omit<ApiTokenRecord, 'id' | 'username'>): Promise<ApiTokenRecord>;
  getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
  /** the organisation's tokens (or every one), optionally of one user only */
  listApiTokens(scope: OrgScope, userId?: number): Promise<ApiTokenRecord[]>;
  getApiToken(id: number): Promise<ApiTokenRecord | null>;
  deleteApiToken(id: number): Promise<boolean>;

  // audit log
  appendAudit(e: NewAuditEntry): Promise<void>;
  /** ascending by id, id > after */
  listAudit(scope: OrgScope, after: number, limit: number): Promise<{ entries: AuditRecord[]; more: boolean }>;
  /** retention: deletes entries older than `before` and all but the newest `keep`; returns how many went */
  pruneAudit(before: number, keep: number): Promise<number>;

  createWebSession(tokenHash: string, userId: number, expiresAt: number): Promise<void>;
  getWebSessionUser(tokenHash: string, now: number): Promise<UserRecord | null>;
  deleteWebSession(tokenHash: string): Promise<void>;
  deleteExpiredWebSessions(now: number): Promise<number>;

  // agents
  listAgents(scope: OrgScope): Promise<AgentRecord[]>;
  getAgentByName(orgId: number, name: string): Promise<AgentRecord | null>;
  getAgentByTokenHash(tokenHash: string): Promise<AgentRecord | null>;
  upsertAgent(input: AgentUpsertRecord, now: number): Promise<{ agent: AgentRecord; created: boolean }>;
  setAgentTags(id: number, tags: string[], now: number): Promise<AgentRecord | null>;
  touchAgent(id: number, now: number, info?: { version?: string; sources?: AgentSource[] }): Promise<void>;

  // sessions
  createSession(s: NewSession): Promise<SessionRecord>;
  getSession(id: string): Promise<SessionRecord | null>;
  /** recent first; `before` is a session id (exclusive cursor) */
  listSessions(opts: { scope: OrgScope; limit: number; before?: string } & SessionFilter): Promise<{ sessions: SessionRecord[]; more: boolean }>;
  listRunningSessions(): Promise<SessionRecord[]>;
  countSessionsByStatus(): Promise<Record<SessionStatus, number>>;
  /** running sessions whose expires_at ≤ now */
  listOverdueSessions(now: number): Promise<SessionRecord[]>;
  /** running → stopped/expired; false when it was not running */
  endSession(id: string, status: 'stopped' | 'expired', at: number): Promise<boolean>;
  getSessionAgents(id: string): Promise<SessionAgentRecord[]>;
  countEventsByKind(id: string): Promise<Record<EventKind, number>>;
  hasFrames(id: string): Promise<boolean>;
  /** deletes the session, its events, call list, agent states and share; true when it existed */
  purgeSession(id: string): Promise<boolean>;

  // share links (routes/share): one per session; the token's sha256 (to open the link) and the token
  // sealed with the center's secret key (to show the link again to an operator, routes/share)
  /** sets the session's share token, replacing any previous one (rotation); false when no such session */
  putShare(sessionId: string, tokenHash: string, tokenSealed: string, now: number): Promise<boolean>;
  /** the session's share: its sealed token (null for a link made before tokens were sealed) and when it was made */
  getShare(sessionId: string): Promise<{ token_sealed: string | null; created_at: number } | null>;
  /** the session a share token hash opens, or null */
  getShareByTokenHash(tokenHash: string): Promise<{ session_id: string; token_hash: string; created_at: number } | null>;
  /** revokes the session's share; true when there was one */
  deleteShare(sessionId: string): Promise<boolean>;

  // events
  /**
   * Stores a batch; a session of another organisation than the agent's is rejected as unknown_session.
   * In the same transaction folds the inserted events into the sessions' call list
   * (dialog-fold.ts: one read and one write per call touched by the batch).
   */
  ingest(agentId: number, items: IngestItem[], policy: IngestPolicy): Promise<IngestOutcome>;
  /**
   * Judges a frames-only batch (frames `firstSeq …` of these sizes, frames-admission.ts) and, in one
   * transaction holding the session's row, adds its accepted bytes to the session's byte cap and
   * moves the agent's frame high-water mark. The caller writes the accepted frames to the PCAP store.
   */
  admitFrames(agentId: number, sessionId: string, firstSeq: number, sizes: readonly number[], policy: FramesPolicy): Promise<FramesAdmission>;
  reportCounters(agentId: number, counters: AgentCounters[], now: number): Promise<void>;
  /** ascending by id, id > after; `more` tells whether another page exists */
  listEvents(sessionId: string, after: number, limit: number, query?: EventQuery): Promise<{ events: StoredEvent[]; more: boolean }>;
  /** the call list in (started_at, id) order; null when `after` names no row of the session */
  listDialogs(sessionId: string, query: DialogQuery): Promise<{ dialogs: DialogRecord[]; more: boolean } | null>;
  /** the session's highest event id now, 0 when it has none (where a live follower starts) */
  lastEventId(sessionId: string): Promise<number>;

  // retention
  /** deletes the events (and call list) of sessions that ended before `endedBefore`; returns the sessions touched */
  deleteHistoryEndedBefore(endedBefore: number, now: number): Promise<string[]>;
  /** drops stored frames of sessions that ended before `endedBefore`; returns the sessions touched */
  deleteFramesEndedBefore(endedBefore: number, now: number): Promise<string[]>;
}
