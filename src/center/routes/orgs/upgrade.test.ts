// Upgrade: a database made by the release before organisations (schema migrations 1 and 2, built here
// with exactly those migrations) opens, and everything in it belongs to the default organisation: the
// admin is platform_admin, the agent, session, events and share are the default organisation's, and a
// new organisation's users see none of it. On SQLite and on PostgreSQL.
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, hashToken } from '../../auth/secrets.js';
import { dbFile } from '../../context.js';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../storage/sqlite-migrations.js';
import { MIGRATIONS as PG_MIGRATIONS } from '../../storage/postgres/migrations.js';
import { PostgresStorage } from '../../storage/postgres/storage.js';
import { ADMIN_PASSWORD, OPERATOR_TOKEN, bearer, op, sipEvent, tempDataDir, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';
import { startPostgres } from '../../../../test/support/postgres.js';
import type { TestPostgres } from '../../../../test/support/postgres.js';

const SID = '00112233445566778899';
const AGENT_TOKEN = 'old-agent-token-0123456789abcdefghijkl';
const T = Date.now();

/** the rows an older center left: admin, one agent, one running session with an event and a share */
async function oldRows(run: (sql: string, args: unknown[]) => Promise<void>, bool: (b: boolean) => unknown, json: (v: unknown) => unknown): Promise<void> {
  await run('INSERT INTO users (username, password_hash, token_hash, created_at) VALUES ($1, $2, $3, $4)', [
    'admin',
    await hashPassword(ADMIN_PASSWORD, 10),
    hashToken(OPERATOR_TOKEN),
    T,
  ]);
  await run('INSERT INTO agents (name, url, token_hash, enabled, tags, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    'old-edge',
    'http://127.0.0.1:9',
    hashToken(AGENT_TOKEN),
    bool(true),
    json(['edge']),
    T,
    T,
  ]);
  await run(
    `INSERT INTO sessions (id, label, status, criteria, capture_rtp, capture_pcap, duration_seconds, created_at, expires_at)
     VALUES ($1, $2, 'running', $3, $4, $5, 3600, $6, $7)`,
    [SID, 'before-orgs', json({ from: '4930999' }), bool(false), bool(false), T, T + 3_600_000],
  );
  await run('INSERT INTO session_agents (session_id, agent_id) VALUES ($1, 1)', [SID]);
  await run('INSERT INTO shares (session_id, token_hash, created_at) VALUES ($1, $2, $3)', [SID, hashToken('old-share-token-0123456789abcdef'), T]);
}

async function checkUpgraded(c: TestCenter): Promise<void> {
  expect((await c.app.inject({ url: '/api/me', headers: op })).json()).toMatchObject({ username: 'admin', role: 'platform_admin', org: { id: 1, name: 'default' } });
  const sessions = (await c.app.inject({ url: '/api/sessions', headers: op })).json().sessions;
  expect(sessions.map((s: { id: string; org_id: number }) => [s.id, s.org_id])).toEqual([[SID, 1]]);
  expect((await c.app.inject({ url: '/api/agents', headers: op })).json().agents).toMatchObject([{ name: 'old-edge', org_id: 1, tags: ['edge'] }]);
  // the old agent keeps ingesting into the old session; the old share link still opens it
  const r = await c.ingest(AGENT_TOKEN, [sipEvent(SID, 1)]);
  expect(r.body).toMatchObject({ accepted: 1, rejected: [] });
  expect((await c.app.inject({ url: '/api/share/old-share-token-0123456789abcdef' })).statusCode).toBe(200);
  // a new organisation sees none of it
  const org = (await c.app.inject({ method: 'POST', url: '/api/orgs', headers: op, payload: { name: 'newcomer' } })).json().id as number;
  await c.app.inject({ method: 'POST', url: '/api/users', headers: op, payload: { username: 'new-op', password: 'a long enough password', role: 'operator', org_id: org } });
  const login = await c.app.inject({ method: 'POST', url: '/api/login', payload: { username: 'new-op', password: 'a long enough password' } });
  const cookie = { cookie: String(login.headers['set-cookie']).split(';')[0] };
  expect((await c.app.inject({ url: '/api/sessions', headers: cookie })).json().sessions).toEqual([]);
  expect((await c.app.inject({ url: `/api/sessions/${SID}`, headers: cookie })).statusCode).toBe(404);
  expect((await c.app.inject({ url: '/api/agents', headers: cookie })).json().agents).toEqual([]);
  // the same agent name is free in the new organisation
  const made = await c.app.inject({
    method: 'POST',
    url: '/api/agents',
    headers: op,
    payload: { name: 'old-edge', url: 'http://127.0.0.1:9', token: 'new-agent-token-0123456789abcdefghij', org_id: org },
  });
  expect(made.statusCode).toBe(201);
  expect(made.json().org_id).toBe(org);
  expect((await c.app.inject({ url: '/api/sessions', headers: bearer(OPERATOR_TOKEN) })).json().sessions).toHaveLength(1);
}

describe('upgrade from the release before organisations', () => {
  it('SQLite: a data folder of schema version 2 starts; its data belongs to the default organisation', async () => {
    const dir = tempDataDir();
    const db = new Database(dbFile(dir));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 2)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, T);
    }
    await oldRows(
      async (sql, args) => void db.prepare(sql.replace(/\$\d+/g, '?')).run(...(args as never[])),
      (b) => (b ? 1 : 0),
      (v) => JSON.stringify(v),
    );
    db.close();
    const c = await testCenter({ dataDir: dir });
    try {
      await checkUpgraded(c);
    } finally {
      await c.close();
    }
  });

  describe('PostgreSQL', () => {
    let server: TestPostgres;
    beforeAll(async () => {
      server = await startPostgres();
    }, 60_000);
    afterAll(async () => server?.stop());

    it('a database of schema version 2 opens; its data belongs to the default organisation', async () => {
      const url = await server.createDatabase();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
        for (const m of PG_MIGRATIONS.filter((x) => x.version <= 2)) {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [m.version, m.name, T]);
        }
        await client.query(`CREATE TABLE events_${SID} PARTITION OF events FOR VALUES IN ('${SID}')`);
        await oldRows(
          async (sql, args) => void (await client.query(sql, args)),
          (b) => b,
          (v) => JSON.stringify(v),
        );
      } finally {
        await client.end();
      }
      const c = await testCenter({ storage: await PostgresStorage.open(url) });
      try {
        await checkUpgraded(c);
      } finally {
        await c.close();
      }
    });
  });
});
