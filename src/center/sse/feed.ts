// How committed events and session ends reach the hub's SSE subscribers (DESIGN §3 stream).
// - LocalFeed (one center, SQLite): ingest commits and publishes in one serial step, so the events
//   go to the hub straight from the batch, in id order.
// - PostgresFeed (sse/postgres-feed.ts, several centers on one database): every center follows the
//   database instead, so events uploaded to any center reach the SSE clients of all of them.
// stream.ts awaits ready() between subscribing and reading history: from then on the feed delivers
// every event the history read does not return.
import type { StoredEvent } from '../../core/schema/index.js';
import { presentEvent } from '../routes/sessions/present.js';
import type { Hub, SessionEnd } from './hub.js';

export interface LiveFeed {
  /** an ingest batch was committed here (called in commit order for LocalFeed) */
  committed(events: readonly StoredEvent[]): void;
  /** a session ended here (stop, expiry): its subscribers get the final status */
  end(sessionId: string, info: SessionEnd): void;
  /**
   * Drops, without a status, the session's subscribers opened with `tag` (a revoked or rotated share
   * link), on every center: with several, a client may hold its stream on any of them.
   */
  abortTagged(sessionId: string, tag: string): Promise<void>;
  /** resolves once every event committed from now on will be published (see stream.ts) */
  ready(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

/** Groups stored events by session, as the wire shows them. */
export function presentBySession(events: readonly StoredEvent[]): Map<string, ReturnType<typeof presentEvent>[]> {
  const bySession = new Map<string, ReturnType<typeof presentEvent>[]>();
  for (const e of events) {
    const list = bySession.get(e.session_id) ?? [];
    list.push(presentEvent(e));
    bySession.set(e.session_id, list);
  }
  return bySession;
}

export class LocalFeed implements LiveFeed {
  constructor(private readonly hub: Hub) {}

  committed(events: readonly StoredEvent[]): void {
    // nothing to do when no SSE client listens (a client joining later reads these from storage)
    if (this.hub.clients() === 0) return;
    for (const [sid, evs] of presentBySession(events)) this.hub.publish(sid, evs);
  }

  end(sessionId: string, info: SessionEnd): void {
    this.hub.end(sessionId, info);
  }

  async abortTagged(sessionId: string, tag: string): Promise<void> {
    this.hub.abortTagged(sessionId, tag);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}
