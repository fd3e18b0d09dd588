// The PCAP store of the PostgreSQL mode (DESIGN §7: nothing on local disk): the same files as
// FilePcapStore (store.ts: names, link-type rules, byte layout), kept in the database so any center
// exports what any other center stored. A file is a `pcap_files` row (link type, size) and its bytes
// are `pcap_chunks`, one chunk per file per ingest batch, keyed by the offset it starts at.
//
// Consistency: an append locks its files' rows (FOR UPDATE) for its transaction, so appends to one
// file from several centers go one after another and every chunk starts where the previous ended.
// A snapshot's sizes are committed chunk boundaries, so reading the chunks below a snapshot's size
// gives whole records. A batch for a session that no longer exists (purged) writes nothing.
import { Readable } from 'node:stream';
import type pg from 'pg';
import { inTransaction } from '../storage/postgres/pool.js';
import { fileLinkTypeFor } from './frames.js';
import { globalHeader, planAppend } from './store.js';
import type { PcapFile, PcapRecord, PcapStore } from './store.js';

const CHUNKS_PER_QUERY = 64;

export class PostgresPcapStore implements PcapStore {
  constructor(private readonly pool: pg.Pool) {}

  /** nothing to make: a session's files hang off its row in `sessions` */
  async create(_sessionId: string): Promise<void> {}

  async append(sessionId: string, records: readonly PcapRecord[]): Promise<void> {
    if (records.length === 0) return;
    await inTransaction(this.pool, async (c) => {
      // each agent's main file exists (link type from its first record ever) before planning
      const firstLt = new Map<number, number>();
      for (const r of records) if (!firstLt.has(r.agentId)) firstLt.set(r.agentId, fileLinkTypeFor(r.linkType));
      const agents = [...firstLt.keys()].sort((a, b) => a - b);
      await c.query(
        `INSERT INTO pcap_files (session_id, key, agent_id, link_type, is_primary)
         SELECT $1, 'agent-' || a || '.pcap', a, lt, true FROM unnest($2::bigint[], $3::int[]) AS t(a, lt)
         WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1)
         ORDER BY a
         ON CONFLICT DO NOTHING`,
        [sessionId, agents, agents.map((a) => firstLt.get(a))],
      );
      const main = new Map<number, number>();
      const rows = await c.query(
        'SELECT agent_id, link_type FROM pcap_files WHERE session_id = $1 AND agent_id = ANY($2::bigint[]) AND is_primary ORDER BY key FOR UPDATE',
        [sessionId, agents],
      );
      for (const r of rows.rows as { agent_id: number; link_type: number }[]) main.set(Number(r.agent_id), r.link_type);
      if (main.size === 0) return; // the session is gone
      const { files } = planAppend(
        records.filter((r) => main.has(r.agentId)),
        (agentId) => main.get(agentId) ?? null,
      );
      for (const [key, f] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (!f.primary) {
          await c.query(
            `INSERT INTO pcap_files (session_id, key, agent_id, link_type, is_primary) VALUES ($1, $2, $3, $4, false) ON CONFLICT DO NOTHING`,
            [sessionId, key, f.agentId, f.linkType],
          );
        }
        const [cur] = (await c.query('SELECT bytes FROM pcap_files WHERE session_id = $1 AND key = $2 FOR UPDATE', [sessionId, key])).rows as {
          bytes: number;
        }[];
        const at = Number(cur.bytes);
        const data = at === 0 ? Buffer.concat([globalHeader(f.linkType), f.records]) : f.records;
        await c.query('INSERT INTO pcap_chunks (session_id, key, "offset", data) VALUES ($1, $2, $3, $4)', [sessionId, key, at, data]);
        await c.query('UPDATE pcap_files SET bytes = $3 WHERE session_id = $1 AND key = $2', [sessionId, key, at + data.length]);
      }
    });
  }

  async snapshot(sessionId: string): Promise<PcapFile[]> {
    const rows = (
      await this.pool.query(
        'SELECT key, agent_id, link_type, is_primary, bytes FROM pcap_files WHERE session_id = $1 AND bytes > 0',
        [sessionId],
      )
    ).rows as { key: string; agent_id: number; link_type: number; is_primary: boolean; bytes: number }[];
    return rows
      .map((r) => ({ agentId: Number(r.agent_id), linkType: r.link_type, primary: r.is_primary, bytes: Number(r.bytes), key: r.key }))
      .sort((a, b) => a.agentId - b.agentId || Number(b.primary) - Number(a.primary) || a.linkType - b.linkType);
  }

  open(sessionId: string, file: PcapFile): Readable {
    const pool = this.pool;
    async function* chunks(): AsyncGenerator<Buffer> {
      let next = 0;
      while (next < file.bytes) {
        const rows = (
          await pool.query(
            'SELECT "offset", data FROM pcap_chunks WHERE session_id = $1 AND key = $2 AND "offset" >= $3 AND "offset" < $4 ORDER BY "offset" LIMIT $5',
            [sessionId, file.key, next, file.bytes, CHUNKS_PER_QUERY],
          )
        ).rows as { offset: number; data: Buffer }[];
        if (rows.length === 0) return; // removed meanwhile (purge, retention)
        for (const r of rows) {
          const end = Math.min(r.data.length, file.bytes - Number(r.offset));
          yield end === r.data.length ? r.data : r.data.subarray(0, end);
          next = Number(r.offset) + r.data.length;
        }
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async remove(sessionId: string): Promise<void> {
    await this.pool.query('DELETE FROM pcap_files WHERE session_id = $1', [sessionId]);
  }
}
