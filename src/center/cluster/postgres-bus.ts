// The centers' message bus in PostgreSQL mode: one LISTEN connection per center, NOTIFY through the
// pool. Carries only small signals (a session's watermark after each committed ingest batch, a
// session's end, a command for the reconciling center); the data itself is always read from the
// database. Notifications are delivered after their transaction commits, in commit order.
// When the LISTEN connection drops, it reconnects (backing off up to 5 s) and tells its users, who
// re-read what they follow (anything announced while it was down is in the database).
import type pg from 'pg';
import { openClient } from '../storage/postgres/pool.js';

export type BusHandler = (payload: string) => void;

export class PostgresBus {
  private client: pg.Client | null = null;
  private readonly handlers = new Map<string, BusHandler[]>();
  private readonly reconnectHandlers: (() => void)[] = [];
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private backoffMs = 100;

  private constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly channels: string[],
    private readonly onError: (err: unknown) => void,
  ) {}

  static async open(url: string, pool: pg.Pool, channels: string[], onError: (err: unknown) => void): Promise<PostgresBus> {
    const bus = new PostgresBus(url, pool, channels, onError);
    await bus.connect();
    return bus;
  }

  on(channel: string, fn: BusHandler): void {
    if (!this.channels.includes(channel)) throw new Error(`the bus does not listen on ${channel}`);
    const list = this.handlers.get(channel) ?? [];
    list.push(fn);
    this.handlers.set(channel, list);
  }

  /** called after the LISTEN connection came back (not at the first connect) */
  onReconnect(fn: () => void): void {
    this.reconnectHandlers.push(fn);
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  private async connect(): Promise<void> {
    const c = openClient(this.url);
    c.on('notification', (n) => {
      for (const fn of this.handlers.get(n.channel) ?? []) {
        try {
          fn(n.payload ?? '');
        } catch (e) {
          this.onError(e);
        }
      }
    });
    const lost = (): void => {
      if (this.client !== c) return;
      this.client = null;
      c.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    c.on('error', lost);
    c.on('end', lost);
    await c.connect();
    for (const ch of this.channels) await c.query(`LISTEN ${ch}`);
    if (this.closed) {
      await c.end();
      return;
    }
    this.client = c;
    this.backoffMs = 100;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().then(
        () => {
          for (const fn of this.reconnectHandlers) fn();
        },
        (e: unknown) => {
          this.onError(e);
          this.backoffMs = Math.min(5000, this.backoffMs * 2);
          this.scheduleReconnect();
        },
      );
    }, this.backoffMs);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
