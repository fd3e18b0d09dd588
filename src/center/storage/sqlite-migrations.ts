// Versioned schema of the SQLite store. Each migration runs once, in order, inside a transaction,
// and is recorded in `schema_migrations`; never edit a released migration, append a new one.
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  token_hash TEXT UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE web_sessions (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
CREATE TABLE agents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  enabled INTEGER NOT NULL,
  tags TEXT NOT NULL,
  last_seen INTEGER,
  version TEXT,
  sources TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  rid INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'expired')),
  criteria TEXT NOT NULL,
  capture_rtp INTEGER NOT NULL,
  capture_pcap INTEGER NOT NULL,
  duration_seconds INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  stopped_at INTEGER,
  event_count INTEGER NOT NULL DEFAULT 0,
  counts TEXT NOT NULL DEFAULT '{}',
  ingested_events INTEGER NOT NULL DEFAULT 0,
  ingested_bytes INTEGER NOT NULL DEFAULT 0,
  capped INTEGER NOT NULL DEFAULT 0,
  capped_reason TEXT,
  history_deleted_at INTEGER,
  pcap_deleted_at INTEGER
);
CREATE INDEX sessions_recent ON sessions(created_at DESC, rid DESC);
CREATE INDEX sessions_status ON sessions(status, expires_at);
CREATE TABLE session_agents (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  agent_id INTEGER NOT NULL REFERENCES agents(id),
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'capturing', 'failed')),
  reason TEXT,
  last_event_at INTEGER,
  packets_seen INTEGER NOT NULL DEFAULT 0,
  packets_matched INTEGER NOT NULL DEFAULT 0,
  events_uploaded INTEGER NOT NULL DEFAULT 0,
  events_stored INTEGER NOT NULL DEFAULT 0,
  dropped TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (session_id, agent_id)
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  agent_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  call_id TEXT,
  body TEXT NOT NULL,
  frame BLOB,
  frame_link_type INTEGER,
  frame_orig_len INTEGER
);
-- the ingest idempotency key (DESIGN §3): a retried batch stores nothing twice
CREATE UNIQUE INDEX events_idempotency ON events(session_id, agent_id, seq);
CREATE INDEX events_session ON events(session_id, id);
CREATE TABLE shares (
  session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'call list',
    sql: `
-- one row per call of a session, folded at ingest (dialog-fold.ts); data is the DialogAgg as JSON
CREATE TABLE dialogs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  call_id TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  version INTEGER NOT NULL,
  search TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE UNIQUE INDEX dialogs_call ON dialogs(session_id, call_id);
CREATE INDEX dialogs_order ON dialogs(session_id, started_at, id);
CREATE INDEX dialogs_changed ON dialogs(session_id, version);
-- the events of one call, page by page (/events?call_id=)
CREATE INDEX events_call ON events(session_id, call_id, id);
-- the call list of sessions ingested before this migration is folded on open (SqliteStorage.migrate)
`,
  },
  {
    version: 3,
    name: 'organisations',
    // Runs with foreign keys off (SqliteStorage.migrate): agents is rebuilt so its names are unique per
    // organisation, not globally (SQLite cannot drop an inline UNIQUE). Everything made before this
    // migration belongs to the default organisation (id 1); the bootstrap admin becomes platform_admin.
    sql: `
CREATE TABLE orgs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
INSERT INTO orgs (id, name, created_at) VALUES (1, 'default', CAST(unixepoch('subsec') * 1000 AS INTEGER));
ALTER TABLE users ADD COLUMN org_id INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'operator', 'org_admin', 'platform_admin'));
UPDATE users SET role = 'platform_admin' WHERE username = 'admin';
CREATE INDEX users_org ON users(org_id, id);
CREATE TABLE agents_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id INTEGER NOT NULL REFERENCES orgs(id),
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  enabled INTEGER NOT NULL,
  tags TEXT NOT NULL,
  last_seen INTEGER,
  version TEXT,
  sources TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (org_id, name)
);
INSERT INTO agents_new (id, org_id, name, url, token_hash, enabled, tags, last_seen, version, sources, created_at, updated_at)
  SELECT id, 1, name, url, token_hash, enabled, tags, last_seen, version, sources, created_at, updated_at FROM agents;
DROP TABLE agents;
ALTER TABLE agents_new RENAME TO agents;
ALTER TABLE sessions ADD COLUMN org_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX sessions_org_recent ON sessions(org_id, created_at DESC, rid DESC);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id INTEGER NOT NULL REFERENCES orgs(id),
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'org_admin', 'platform_admin')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_org ON api_tokens(org_id, id);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  org_id INTEGER,
  actor TEXT NOT NULL,
  ip TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT,
  detail TEXT
);
CREATE INDEX audit_org ON audit(org_id, id);
`,
  },
  {
    version: 4,
    name: 'single sign-on, audit retention',
    // Users signed in by OpenID Connect carry their issuer and subject (`<issuer> <sub>`); their password
    // hash is unusable. oidc_logins holds each login in flight (state, nonce, PKCE verifier) so the
    // provider's redirect may land on any center (docs/organisations.md "Single sign-on"). audit_at lets
    // retention delete by age without a scan.
    sql: `
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users(oidc_subject) WHERE oidc_subject IS NOT NULL;
CREATE TABLE oidc_logins (
  state_hash TEXT PRIMARY KEY,
  browser_hash TEXT NOT NULL,
  nonce TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins(expires_at);
CREATE INDEX audit_at ON audit(at);
`,
  },
  {
    version: 5,
    name: 'call legs',
    // B2BUA legs grouped in the call list (storage/dialog-fold.ts): a leg listed under another row
    // names it here. Rows folded before stay one per Call-ID.
    sql: `
ALTER TABLE dialogs ADD COLUMN leg_of TEXT;
CREATE INDEX dialogs_legs ON dialogs(session_id, leg_of) WHERE leg_of IS NOT NULL;
`,
  },
  {
    version: 6,
    name: 'frames_next_seq',
    // frames-only uploads (frames-admission.ts): the number after the last frame judged, per agent of a session
    sql: `
ALTER TABLE session_agents ADD COLUMN frames_next_seq INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 7,
    name: 'share token sealed, call-id lookup',
    // the share token sealed with the center's secret key (routes/share): "Show share link" shows the
    // link again instead of rotating it; links made before stay valid but cannot be shown (NULL)
    sql: `
ALTER TABLE shares ADD COLUMN token_sealed TEXT;
-- the sessions list's search by a Call-ID seen in a session (GET /api/sessions?q=)
CREATE INDEX dialogs_call_id ON dialogs(call_id);
`,
  },
];
