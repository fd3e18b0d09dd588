// Live fan-out between centers on one PostgreSQL (issue 11 item 3; docs/scale-out.md "fan-out").
//
// Every committed ingest batch sends NOTIFY tunaio_events '<session>:<highest id>' inside its
// transaction (storage/postgres/ingest.ts), so it is delivered at commit, to every center, in commit
// order; a session's end sends NOTIFY tunaio_status the same way. The notification carries only the
// watermark: each center keeps one follower per session that has SSE subscribers here, with a cursor,
// and on a watermark above its cursor (or a local commit) pages `listEvents(session, cursor)` and
// publishes to the hub. A session's batches commit in id order (the ingest's row lock), so a
// follower that reads after its cursor never skips an event; the cursor makes it publish each once.
// Joining clients: ready() sets the follower's cursor to the session's last committed id before the
// client reads its history (stream.ts), so history plus live is gap-free and the id filter in
// stream.ts removes the overlap. A session end drains the follower before the final status.
// Lost notifications (the LISTEN connection dropped): on reconnect every follower re-reads after its
// cursor and re-checks its session's status.
// Revoked share links: NOTIFY tunaio_tags '{session, tag}' makes every center drop the streams that
// link opened (a client may hold its stream on any center).
import { isoTime } from '../../core/schema/index.js';
import type { SessionStatus, StoredEvent } from '../../core/schema/index.js';
import type { PostgresBus } from '../cluster/postgres-bus.js';
import { EVENTS_CHANNEL } from '../storage/postgres/ingest.js';
import { STATUS_CHANNEL } from '../storage/postgres/storage.js';
import type { Storage } from '../storage/types.js';
import type { LiveFeed } from './feed.js';
import { presentBySession } from './feed.js';
import type { Hub, SessionEnd } from './hub.js';

const PAGE = 1000;

/** "drop the subscribers of a session opened with a tag" (a revoked share link), for every center */
export const TAGS_CHANNEL = 'tunaio_tags';

interface Follower {
  cursor: number;
  init: Promise<void>;
  running: Promise<void> | null;
  dirty: boolean;
  end: SessionEnd | null;
}

export class PostgresFeed implements LiveFeed {
  private readonly followers = new Map<string, Follower>();

  constructor(
    private readonly hub: Hub,
    private readonly storage: Storage,
    private readonly bus: PostgresBus,
    private readonly onError: (err: unknown) => void,
  ) {
    bus.on(EVENTS_CHANNEL, (payload) => {
      const at = payload.lastIndexOf(':');
      const sid = payload.slice(0, at);
      const f = this.followers.get(sid);
      if (f && Number(payload.slice(at + 1)) > f.cursor) this.pump(sid);
    });
    bus.on(STATUS_CHANNEL, (payload) => {
      const m = JSON.parse(payload) as { session_id: string; status: SessionStatus; stopped_at: number | null };
      this.end(m.session_id, { status: m.status, stopped_at: m.stopped_at === null ? null : isoTime(m.stopped_at) });
    });
    bus.on(TAGS_CHANNEL, (payload) => {
      const m = JSON.parse(payload) as { session_id?: unknown; tag?: unknown };
      if (typeof m.session_id === 'string' && typeof m.tag === 'string') this.hub.abortTagged(m.session_id, m.tag);
    });
    bus.onReconnect(() => void this.resync().catch(this.onError));
  }

  committed(events: readonly StoredEvent[]): void {
    for (const sid of new Set(events.map((e) => e.session_id))) this.pump(sid);
  }

  end(sessionId: string, info: SessionEnd): void {
    const f = this.followers.get(sessionId);
    if (!f) {
      this.hub.end(sessionId, info);
      return;
    }
    f.end ??= info;
    this.pump(sessionId);
  }

  async abortTagged(sessionId: string, tag: string): Promise<void> {
    // here at once; on the others when the notification arrives (this center gets it too: no-op by then)
    this.hub.abortTagged(sessionId, tag);
    await this.bus.notify(TAGS_CHANNEL, JSON.stringify({ session_id: sessionId, tag }));
  }

  ready(sessionId: string): Promise<void> {
    let f = this.followers.get(sessionId);
    if (!f) {
      const nf: Follower = { cursor: 0, init: Promise.resolve(), running: null, dirty: false, end: null };
      nf.init = this.storage.lastEventId(sessionId).then((id) => {
        nf.cursor = Math.max(nf.cursor, id);
      });
      this.followers.set(sessionId, (f = nf));
    }
    return f.init;
  }

  private pump(sessionId: string): void {
    const f = this.followers.get(sessionId);
    if (!f) return;
    if (f.running) {
      f.dirty = true;
      return;
    }
    f.running = this.drain(sessionId, f)
      .catch((e: unknown) => {
        this.onError(e);
        // the subscribers would miss events: drop them without a status, they reconnect with Last-Event-ID
        if (this.followers.get(sessionId) === f) this.followers.delete(sessionId);
        this.hub.abortSession(sessionId);
      })
      .finally(() => {
        f.running = null;
      });
  }

  private async drain(sessionId: string, f: Follower): Promise<void> {
    await f.init;
    do {
      f.dirty = false;
      while (true) {
        const { events, more } = await this.storage.listEvents(sessionId, f.cursor, PAGE);
        if (events.length > 0) {
          f.cursor = events[events.length - 1].id;
          const evs = presentBySession(events).get(sessionId);
          if (evs) this.hub.publish(sessionId, evs);
        }
        if (!more) break;
      }
    } while (f.dirty);
    // synchronous from here: a client subscribing now either finds this follower or makes a new one
    if (f.end) {
      this.followers.delete(sessionId);
      this.hub.end(sessionId, f.end);
    } else if (!this.hub.hasSubscribers(sessionId)) {
      this.followers.delete(sessionId);
    }
  }

  /** after a lost LISTEN connection: read what was announced meanwhile, end what ended meanwhile */
  private async resync(): Promise<void> {
    for (const sid of [...this.followers.keys()]) {
      const s = await this.storage.getSession(sid);
      if (!s) this.end(sid, { status: 'stopped', stopped_at: null });
      else if (s.status !== 'running') this.end(sid, { status: s.status, stopped_at: s.stopped_at === null ? null : isoTime(s.stopped_at) });
      else this.pump(sid);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.followers.values()].map((f) => f.running));
    this.followers.clear();
  }
}
