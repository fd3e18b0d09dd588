// The live fan-out of a session's events to its SSE clients. Ingest publishes stored events (in id
// order, see ingest/service.ts); stop and expiry end a session's subscribers with a status. The hub
// keeps no history: a joining client reads history from storage (see sse/stream.ts).
import type { Event, SessionStatus } from '../../core/schema/index.js';

export interface SessionEnd {
  status: SessionStatus;
  stopped_at: string | null;
}

export interface Subscriber {
  events(evs: Event[]): void;
  end(info: SessionEnd): void;
  /** the server is shutting down: drop the connection without a status */
  abort(): void;
}

export class Hub {
  private readonly subs = new Map<string, Set<Subscriber>>();
  /** subscribers opened through a capability (e.g. 'share': a share link), closed when it is revoked */
  private readonly tags = new WeakMap<Subscriber, string>();

  subscribe(sessionId: string, s: Subscriber, tag?: string): () => void {
    let set = this.subs.get(sessionId);
    if (!set) this.subs.set(sessionId, (set = new Set()));
    set.add(s);
    if (tag !== undefined) this.tags.set(s, tag);
    return () => {
      const cur = this.subs.get(sessionId);
      if (!cur) return;
      cur.delete(s);
      if (cur.size === 0) this.subs.delete(sessionId);
    };
  }

  /** drops, without a status, the session's subscribers opened with `tag` (a revoked share link); returns how many */
  abortTagged(sessionId: string, tag: string): number {
    const set = this.subs.get(sessionId);
    if (!set) return 0;
    const hit = [...set].filter((s) => this.tags.get(s) === tag);
    for (const s of hit) set.delete(s);
    if (set.size === 0) this.subs.delete(sessionId);
    for (const s of hit) s.abort();
    return hit.length;
  }

  publish(sessionId: string, evs: Event[]): void {
    if (evs.length === 0) return;
    for (const s of [...(this.subs.get(sessionId) ?? [])]) s.events(evs);
  }

  end(sessionId: string, info: SessionEnd): void {
    const set = this.subs.get(sessionId);
    if (!set) return;
    this.subs.delete(sessionId);
    for (const s of set) s.end(info);
  }

  hasSubscribers(sessionId: string): boolean {
    return this.subs.has(sessionId);
  }

  /** drops the session's subscribers without a status (they reconnect with Last-Event-ID) */
  abortSession(sessionId: string): void {
    const set = this.subs.get(sessionId);
    if (!set) return;
    this.subs.delete(sessionId);
    for (const s of set) s.abort();
  }

  clients(): number {
    let n = 0;
    for (const s of this.subs.values()) n += s.size;
    return n;
  }

  /** drops every subscriber without a status (server shutdown) */
  abortAll(): void {
    const all = [...this.subs.values()].flatMap((set) => [...set]);
    this.subs.clear();
    for (const s of all) s.abort();
  }
}
