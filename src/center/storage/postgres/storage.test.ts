// The storage contract on a real PostgreSQL 15 (a throwaway server per file, a fresh database per
// test), and what only PostgreSQL has: concurrent start-up, partitions dropped by retention.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../../../../test/support/postgres.js';
import type { TestPostgres } from '../../../../test/support/postgres.js';
import { runStorageContract, untestedMethods } from '../storage.case.test.js';
import { copyBinary } from './copy-binary.js';
import type { CopyValue } from './copy-binary.js';
import { MIGRATIONS } from './migrations.js';
import { PostgresStorage } from './storage.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => server?.stop());

runStorageContract('postgres', async () => {
  const url = await server.createDatabase();
  return { storage: await PostgresStorage.open(url), cleanup: async () => undefined, another: () => PostgresStorage.open(url) };
});

describe('postgres storage', () => {
  it('has no method the contract does not exercise', () => {
    expect(untestedMethods(PostgresStorage.prototype, ['q', 'run', 'dropEvents'])).toEqual([]);
  });

  it('several centers opening an empty database at once make one schema, each migration recorded once', async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStorage.open(url)));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const rows = (await c.query('SELECT version FROM schema_migrations ORDER BY version')).rows as { version: number }[];
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      // and they work: users made by two centers at once, one wins
      const made = await Promise.all(stores.map((s, i) => s.createUser('admin', { password_hash: `p${i}`, org_id: 1, role: 'platform_admin' })));
      expect(made.filter((u) => u !== null).length).toBe(1);
    } finally {
      await c.end();
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('retention and purge drop the session partition instead of deleting rows', async () => {
    const url = await server.createDatabase();
    const s = await PostgresStorage.open(url);
    const partitions = async () =>
      (await s.pool.query("SELECT relname FROM pg_class WHERE relname LIKE 'events\\_%' AND relkind = 'r' ORDER BY relname")).rows.map(
        (r: { relname: string }) => r.relname,
      );
    try {
      const { agent } = await s.upsertAgent({ org_id: 1, name: 'a', url: 'http://h', token_hash: 'h', enabled: true, tags: [] }, 1);
      const base = { org_id: 1, label: 'x', criteria: { from: '1' }, capture_rtp: false, capture_pcap: false, duration_seconds: 60, created_at: 1, expires_at: 60_001, agent_ids: [agent.id] };
      await s.createSession({ ...base, id: 'a0000000000000000001' });
      await s.createSession({ ...base, id: 'a0000000000000000002' });
      expect(await partitions()).toEqual(['events_a0000000000000000001', 'events_a0000000000000000002']);
      await s.endSession('a0000000000000000001', 'stopped', 10);
      await s.endSession('a0000000000000000002', 'stopped', 10);
      expect(await s.deleteHistoryEndedBefore(11, 20)).toEqual(['a0000000000000000001', 'a0000000000000000002']);
      expect(await partitions()).toEqual([]);
      expect((await s.listEvents('a0000000000000000001', 0, 10)).events).toEqual([]);
      expect(await s.purgeSession('a0000000000000000002')).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe('binary COPY rows (copy-binary.ts, the ingest write path)', () => {
  it('reads back exactly what was laid out: NULLs, the int8 range, multi-byte text, empty values', async () => {
    const url = await server.createDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('CREATE TABLE t (a TEXT, b BIGINT, c INTEGER, d BYTEA, k INTEGER)');
      const rows: CopyValue[][] = [
        ['plain', 0, 0, Buffer.from([0, 1, 255]), 0],
        ['é ☎ 𝄞 "quoted" \\ back\ttab\r\nline', Number.MAX_SAFE_INTEGER, 2147483647, Buffer.alloc(0), 1],
        ['', -Number.MAX_SAFE_INTEGER, -2147483648, null, 2],
        [null, 4294967296, -1, Buffer.from('frame'), 3],
        [null, null, null, null, 4],
        ['', 1764806400123456, 1, Buffer.alloc(70_000, 0xab), 5],
      ];
      await pipeline(Readable.from([copyBinary(['text', 'int8', 'int4', 'bytea', 'int4'], rows)]), c.query(copyFrom('COPY t FROM STDIN (FORMAT binary)')));
      const back = (await c.query({ text: 'SELECT a, b::text AS b, c, d, k FROM t ORDER BY k', rowMode: 'array' })).rows as unknown[][];
      expect(back).toEqual(rows.map(([a, b, cc, d, k]) => [a, b === null ? null : String(b), cc, d, k]));
    } finally {
      await c.end();
    }
  });
});
