// The PostgreSQL connection pool of a center, with BIGINT columns read as numbers (ids, epoch ms and
// counters all stay far below 2^53) and a helper for transactions.
import pg from 'pg';

const INT8 = 20;
const NUMERIC = 1700;

/** type parsers of this pool only (pg.types is process-wide and shared with other code) */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pg.CustomTypesConfig;

export function openPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types, application_name: 'tunaio-center' });
  // a dropped idle connection (server restart) must not crash the process; the pool replaces it
  pool.on('error', () => undefined);
  return pool;
}

/** A dedicated client with the same type parsers (LISTEN, session-level advisory locks). */
export function openClient(url: string): pg.Client {
  // keepalives: a connection to a vanished host is noticed within seconds, not hours
  return new pg.Client({ connectionString: url, types, application_name: 'tunaio-center', keepAlive: true, keepAliveInitialDelayMillis: 5000 });
}

/** Runs fn in a transaction on one pooled connection; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/**
 * PostgreSQL text cannot hold NUL (U+0000); input may (a label, a hostile packet's Call-ID). Stored
 * with U+FFFD in its place rather than failing the request or, worse, an agent's batch forever.
 */
export const noNul = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '\uFFFD') : s);
export const noNulOrNull = (s: string | null | undefined): string | null => (s === null || s === undefined ? null : noNul(s));
