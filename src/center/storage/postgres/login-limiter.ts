// The login rate limit shared by every center on one database (auth/rate-limit.ts has the policy):
// one row per failed attempt, counted in the window; rows older than the window are deleted as new
// failures come, so the table holds at most the failures of one window.
import crypto from 'node:crypto';
import type pg from 'pg';
import type { LoginLimiter } from '../../auth/rate-limit.js';

/** keys hold the username as typed (any character, NUL too): stored as their sha256 */
const digest = (key: string): string => crypto.createHash('sha256').update(key).digest('hex');

export class PostgresLoginLimiter implements LoginLimiter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly maxFailures: number,
    private readonly windowMs: number,
    /** limits with different maxima (per address, per address + user) count apart */
    private readonly scope: string,
  ) {}

  private key(key: string): string {
    return digest(`${this.scope}\u0000${key}`);
  }

  async retryAfterMs(key: string, now: number): Promise<number> {
    const rows = (
      await this.pool.query('SELECT at FROM login_failures WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT $3', [
        this.key(key),
        now - this.windowMs,
        this.maxFailures,
      ])
    ).rows as { at: number }[];
    if (rows.length < this.maxFailures) return 0;
    return Math.max(1, Number(rows[rows.length - 1].at) + this.windowMs - now);
  }

  async fail(key: string, now: number): Promise<void> {
    await this.pool.query(
      'WITH old AS (DELETE FROM login_failures WHERE at <= $3) INSERT INTO login_failures (key, at) VALUES ($1, $2)',
      [this.key(key), now, now - this.windowMs],
    );
  }

  async succeed(key: string): Promise<void> {
    await this.pool.query('DELETE FROM login_failures WHERE key = $1', [this.key(key)]);
  }
}
