// Versioned schema of the PostgreSQL store. Each migration runs once, in order, in its own
// transaction, and is recorded in `schema_migrations`; never edit a released migration, append a
// new one. Centers apply them at start-up under a PostgreSQL advisory lock, so two centers starting
// at once on an empty database make one schema (the second waits, then finds every version done).
//
// Layout choices (docs/scale-out.md):
// - `events` is LIST-partitioned by session: createSession adds the session's partition, purge and
//   retention DROP it — never a row-by-row delete of millions. Its primary key (session_id, id) is
//   also the order readers page in; (session_id, agent_id, seq) is the ingest idempotency key.
// - ids come from one sequence; ingest takes the session rows FOR UPDATE first, so the batches of one
//   session commit one at a time in id order (see ingest.ts: "gap-free ids").
// - times are epoch milliseconds in BIGINT, as in the SQLite store, so rows map the same way.
// - JSON values (criteria, tags, counters) are TEXT, not JSONB: JSONB refuses the escape \u0000, which
//   hostile input may carry, and nothing queries inside them.
import type pg from 'pg';

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
  id BIGSERIAL PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  token_hash TEXT UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE TABLE web_sessions (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
CREATE TABLE agents (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  enabled BOOLEAN NOT NULL,
  tags TEXT NOT NULL,
  last_seen BIGINT,
  version TEXT,
  sources TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  rid BIGSERIAL UNIQUE,
  id TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'expired')),
  criteria TEXT NOT NULL,
  capture_rtp BOOLEAN NOT NULL,
  capture_pcap BOOLEAN NOT NULL,
  duration_seconds INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  stopped_at BIGINT,
  event_count BIGINT NOT NULL DEFAULT 0,
  counts TEXT NOT NULL DEFAULT '{}',
  ingested_events BIGINT NOT NULL DEFAULT 0,
  ingested_bytes BIGINT NOT NULL DEFAULT 0,
  capped BOOLEAN NOT NULL DEFAULT false,
  capped_reason TEXT,
  history_deleted_at BIGINT,
  pcap_deleted_at BIGINT
);
CREATE INDEX sessions_recent ON sessions(created_at DESC, rid DESC);
CREATE INDEX sessions_status ON sessions(status, expires_at);
CREATE TABLE session_agents (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  agent_id BIGINT NOT NULL REFERENCES agents(id),
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'capturing', 'failed')),
  reason TEXT,
  last_event_at BIGINT,
  packets_seen BIGINT NOT NULL DEFAULT 0,
  packets_matched BIGINT NOT NULL DEFAULT 0,
  events_uploaded BIGINT NOT NULL DEFAULT 0,
  events_stored BIGINT NOT NULL DEFAULT 0,
  dropped TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (session_id, agent_id)
);
CREATE SEQUENCE events_id_seq AS BIGINT;
CREATE TABLE events (
  session_id TEXT NOT NULL,
  id BIGINT NOT NULL DEFAULT nextval('events_id_seq'),
  agent_id BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  kind TEXT NOT NULL,
  call_id TEXT,
  body TEXT NOT NULL,
  frame BYTEA,
  frame_link_type INTEGER,
  frame_orig_len INTEGER,
  PRIMARY KEY (session_id, id),
  -- the ingest idempotency key (DESIGN §3): a retried batch stores nothing twice
  UNIQUE (session_id, agent_id, seq)
) PARTITION BY LIST (session_id);
CREATE TABLE shares (
  session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
-- the PCAP store (pcap/postgres-store.ts): one row per file, its bytes in chunks appended per batch
CREATE TABLE pcap_files (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  agent_id BIGINT NOT NULL,
  link_type INTEGER NOT NULL,
  is_primary BOOLEAN NOT NULL,
  bytes BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (session_id, key)
);
CREATE TABLE pcap_chunks (
  session_id TEXT NOT NULL,
  key TEXT NOT NULL,
  "offset" BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (session_id, key, "offset"),
  FOREIGN KEY (session_id, key) REFERENCES pcap_files(session_id, key) ON DELETE CASCADE
);
-- center-wide secrets (the agent-token encryption key) and the sealed agent tokens (agents/token-vault.ts)
CREATE TABLE center_secrets (
  name TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE agent_tokens (
  name TEXT PRIMARY KEY,
  sealed TEXT NOT NULL
);
-- failed logins per key (IP + username), for the login rate limit shared by every center
CREATE TABLE login_failures (
  key TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
`,
  },
  {
    version: 2,
    name: 'call list',
    sql: `
-- one row per call of a session, folded at ingest (storage/dialog-fold.ts); data is the DialogAgg.
-- No backfill: this store and the call list ship in the same release, so no database holds events without it.
CREATE TABLE dialogs (
  id BIGSERIAL PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  call_id TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  state TEXT NOT NULL,
  version BIGINT NOT NULL,
  search TEXT NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (session_id, call_id)
);
CREATE INDEX dialogs_order ON dialogs(session_id, started_at, id);
CREATE INDEX dialogs_changed ON dialogs(session_id, version);
-- the events of one call, page by page (/events?call_id=); made on every partition
CREATE INDEX events_call ON events(session_id, call_id, id);
`,
  },
  {
    version: 3,
    name: 'organisations',
    // everything made before this migration belongs to the default organisation (id 1); the
    // bootstrap admin becomes platform_admin; agent names become unique per organisation
    sql: `
CREATE TABLE orgs (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
INSERT INTO orgs (id, name, created_at) VALUES (1, 'default', (extract(epoch FROM now()) * 1000)::bigint);
SELECT setval(pg_get_serial_sequence('orgs', 'id'), 1);
ALTER TABLE users ADD COLUMN org_id BIGINT NOT NULL DEFAULT 1 REFERENCES orgs(id);
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'operator', 'org_admin', 'platform_admin'));
UPDATE users SET role = 'platform_admin' WHERE username = 'admin';
CREATE INDEX users_org ON users(org_id, id);
ALTER TABLE agents ADD COLUMN org_id BIGINT NOT NULL DEFAULT 1 REFERENCES orgs(id);
ALTER TABLE agents DROP CONSTRAINT agents_name_key;
ALTER TABLE agents ADD CONSTRAINT agents_org_name_key UNIQUE (org_id, name);
ALTER TABLE sessions ADD COLUMN org_id BIGINT NOT NULL DEFAULT 1 REFERENCES orgs(id);
CREATE INDEX sessions_org_recent ON sessions(org_id, created_at DESC, rid DESC);
CREATE TABLE api_tokens (
  id BIGSERIAL PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES orgs(id),
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'org_admin', 'platform_admin')),
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE INDEX api_tokens_org ON api_tokens(org_id, id);
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  org_id BIGINT,
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
    // as SQLite's migration 4: users' OpenID Connect subject, logins in flight, audit by age
    sql: `
ALTER TABLE users ADD COLUMN oidc_subject TEXT UNIQUE;
CREATE TABLE oidc_logins (
  state_hash TEXT PRIMARY KEY,
  browser_hash TEXT NOT NULL,
  nonce TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  expires_at BIGINT NOT NULL
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
ALTER TABLE session_agents ADD COLUMN frames_next_seq BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    version: 7,
    name: 'share token sealed, call-id lookup',
    // as sqlite-migrations.ts version 7
    sql: `
ALTER TABLE shares ADD COLUMN token_sealed TEXT;
-- the sessions list's search by a Call-ID seen in a session (GET /api/sessions?q=)
CREATE INDEX dialogs_call_id ON dialogs(call_id);
`,
  },
];

export const MIGRATION_LOCK = 0x74756e61696f;

/** Applies the pending migrations, holding an advisory lock so concurrent centers apply each once. */
export async function migrate(client: pg.PoolClient | pg.Client): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)',
    );
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
