// Session states: running → stopped (DELETE) or expired (at expires_at). Expiry is driven by one
// timer per running session plus a periodic sweep, and a sweep at start-up, so expiry survives
// restarts. Every transition ends the session's SSE subscribers with a final status.
import { isoTime } from '../../core/schema/index.js';
import type { Storage, SessionRecord } from '../storage/types.js';
import type { LiveFeed } from '../sse/feed.js';

// setTimeout's ceiling (2^31-1 ms ≈ 24.8 days); sessions last at most 24 h, the sweep covers the rest.
const MAX_TIMER_MS = 2_147_483_647;

export class SessionLifecycle {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly storage: Storage,
    private readonly feed: Pick<LiveFeed, 'end'>,
    private readonly now: () => number,
    private readonly sweepMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  async start(): Promise<void> {
    await this.sweep();
    for (const s of await this.storage.listRunningSessions()) this.schedule(s);
    this.sweeper = setInterval(() => void this.sweep().catch(this.onError), this.sweepMs);
    this.sweeper.unref();
  }

  schedule(s: Pick<SessionRecord, 'id' | 'expires_at'>): void {
    if (this.closed) return;
    this.clear(s.id);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, s.expires_at - this.now()));
    const t = setTimeout(() => {
      this.timers.delete(s.id);
      void this.expire(s.id, s.expires_at).catch(this.onError);
    }, delay);
    t.unref();
    this.timers.set(s.id, t);
  }

  /** Expires every running session whose time is up. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const s of await this.storage.listOverdueSessions(this.now())) {
      if (await this.expire(s.id, s.expires_at)) n++;
    }
    return n;
  }

  /** A session ends at its expires_at, even when the sweep notices later (e.g. after a restart). */
  async expire(id: string, expiresAt: number): Promise<boolean> {
    if (this.now() < expiresAt) {
      // the clock disagrees with the timer (tests move it): check again later
      this.schedule({ id, expires_at: expiresAt });
      return false;
    }
    const ok = await this.storage.endSession(id, 'expired', expiresAt);
    this.clear(id);
    if (ok) this.feed.end(id, { status: 'expired', stopped_at: isoTime(expiresAt) });
    return ok;
  }

  /** running → stopped; false when the session was not running. */
  async stop(id: string): Promise<boolean> {
    const at = this.now();
    const ok = await this.storage.endSession(id, 'stopped', at);
    this.clear(id);
    if (ok) this.feed.end(id, { status: 'stopped', stopped_at: isoTime(at) });
    return ok;
  }

  private clear(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
