// Who runs the reconciler (agents/commander.ts): exactly one center at a time (issue 11 item 4).
// SQLite mode has one center: it always leads. PostgreSQL mode: the center holding a session-level
// advisory lock on its own connection leads. The lock lives as long as that connection: when the
// leading center dies (kill -9, crash, power), the server sees the connection close and frees the
// lock, and the next center that asks takes it: at its reconcile tick (--reconcile-seconds), or at
// once a second at most while it takes uploads (see retryMs) — failover within one reconcile period
// plus the time the server needs to notice the dead connection (immediate when the process dies and
// its host closes the socket; TCP keepalive bounds it when the host vanishes).
import type pg from 'pg';
import { openClient } from '../storage/postgres/pool.js';

export interface Leadership {
  /** true when this center should run the reconciler now; tries to become the leader when it is not */
  isLeader(): Promise<boolean>;
  close(): Promise<void>;
}

export const alwaysLeader: Leadership = {
  isLeader: async () => true,
  close: async () => undefined,
};

/** "tunaio reconciler" lock key, distinct from the migration lock */
export const RECONCILER_LOCK = 0x7475_6e61_7263;

export class PostgresLeadership implements Leadership {
  private client: pg.Client | null = null;
  private leading = false;
  private closed = false;
  private trying: Promise<boolean> | null = null;
  private lastTry = 0;

  /**
   * `retryMs`: while another center leads, the lock is asked for at most this often. Besides the
   * reconcile tick, the ingest path asks (call-follow announcements, agents/commander.ts), so a
   * center taking uploads takes over within about this long after the leader dies.
   */
  constructor(
    private readonly url: string,
    private readonly retryMs = 1000,
  ) {}

  isLeader(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.leading && this.client) return Promise.resolve(true);
    if (this.trying === null && Date.now() - this.lastTry < this.retryMs) return Promise.resolve(false);
    this.trying ??= this.tryLock().finally(() => {
      this.lastTry = Date.now();
      this.trying = null;
    });
    return this.trying;
  }

  private async tryLock(): Promise<boolean> {
    try {
      if (!this.client) {
        const c = openClient(this.url);
        const lost = (): void => {
          if (this.client === c) {
            this.client = null;
            this.leading = false;
          }
          c.end().catch(() => undefined);
        };
        c.on('error', lost);
        c.on('end', lost);
        await c.connect();
        this.client = c;
      }
      const r = await this.client.query('SELECT pg_try_advisory_lock($1) AS ok', [RECONCILER_LOCK]);
      this.leading = (r.rows[0] as { ok: boolean }).ok === true;
      return this.leading;
    } catch {
      this.leading = false;
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.leading = false;
    await this.trying?.catch(() => false);
    const c = this.client;
    this.client = null;
    // closing the connection frees the lock at once: another center takes over at its next period
    await c?.end().catch(() => undefined);
  }
}
