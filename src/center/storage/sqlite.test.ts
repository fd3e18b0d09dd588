import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runStorageContract } from './storage.case.test.js';
import { SqliteStorage } from './sqlite.js';
import { MIGRATIONS } from './sqlite-migrations.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-sqlite-'));

runStorageContract('sqlite', async () => {
  const dir = tmp();
  const file = path.join(dir, 'tunaio.db');
  return {
    storage: new SqliteStorage(file),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
    another: async () => new SqliteStorage(file),
  };
});

describe('sqlite storage', () => {
  it('uses WAL and records each migration once across reopenings', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tunaio.db');
    await new SqliteStorage(file).close();
    const s = new SqliteStorage(file);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    await s.close();
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
    db.close();
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
