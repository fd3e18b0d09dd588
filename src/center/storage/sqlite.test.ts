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

describe('sqlite migrations 2 and 5 (call list)', () => {
  it('folds the call list of events stored before the dialogs table existed', async () => {
    const dir = tmp();
    const file = path.join(dir, 'tunaio.db');
    const s = new SqliteStorage(file);
    const { agent } = await s.upsertAgent({ org_id: 1, name: 'a', url: 'http://h', token_hash: 'h', enabled: true, tags: [] }, 1);
    const sid = '0123456789abcdef0123';
    await s.createSession({ id: sid, org_id: 1, label: '', criteria: { text: 'abc' }, capture_rtp: false, capture_pcap: false, duration_seconds: 60, created_at: 1, expires_at: 9e12, agent_ids: [agent.id] });
    const sip = { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: 'alice', to_user: 'bob', has_sdp: false };
    const base = { session_id: sid, kind: 'sip' as const, transport: 'udp' as const, src: null, dst: null, payload: 'INVITE sip:bob@h SIP/2.0\r\n\r\n', rtp: null, rtcp: null, stats: null, log: null, callstate: null, route: null, frame: null };
    const events = [1, 2, 3].map((seq) => ({ index: seq, bytes: 10, event: { ...base, seq, ts: seq, call_id: `call-${seq % 2}`, sip } }));
    await s.ingest(agent.id, events, { now: 2, grace_ms: 0, max_events_per_session: 100, max_bytes_per_session: 1e6 });
    // back to a database without a call list (migration 2 made it, migration 5 added its legs column)
    s.db.exec('DROP TABLE dialogs; DROP INDEX events_call; DELETE FROM schema_migrations WHERE version IN (2, 5)');
    await s.close();
    const again = new SqliteStorage(file);
    const page = await again.listDialogs(sid, { after: 0, limit: 10 });
    expect(page!.dialogs.map((r) => [r.dialog.call_id, r.dialog.messages, r.dialog.retransmissions])).toEqual([['call-1', 2, 1], ['call-0', 1, 0]]);
    await again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
