// One session, all its agents (DESIGN §9, issue 13): when an agent of a session captures a dialog
// (its SIP events reach ingest), the session's other agents are told to follow that Call-ID and
// its linked legs (`AgentCommander.pushFollow` → `POST /v1/captures/{id}/follow`), so an agent
// that only tails Kamailio's or FreeSWITCH's log delivers the lines of a call matched on the SBC's.
//
// Per session, each Call-ID is announced once (a bounded table, oldest first out): the followers'
// own events for it come back through ingest and find it announced, so nothing loops. Announcements
// of one ingest batch go out together, after the batch is stored (never on the ingest path itself).
// Several centers: any center may store a session's batches, but only the reconciling center sends
// commands to agents (agents/commander.ts). Another center forwards what its own table finds new;
// the leader passes it through its table too (fresh()), so a Call-ID stored through two centers is
// still announced once. After a change of leader the new leader's table starts empty: a Call-ID may
// then be announced again, which the agent takes as the no-op it is (it already follows it).
import type { Event } from '../../core/schema/index.js';

export interface FollowSink {
  pushFollow(sessionId: string, fromAgentId: number, callIds: string[]): Promise<void>;
}

/** Call-IDs remembered as announced, per session (a session rarely follows more dialogs than this at once). */
export const FOLLOW_REMEMBERED_PER_SESSION = 20_000;
/** sessions with announcements remembered */
const MAX_SESSIONS = 1024;

export class CallFollower {
  private readonly announced = new Map<string, Set<string>>();
  /** Call-IDs announced to other agents (metrics) */
  announcedTotal = 0;

  constructor(private readonly sink: FollowSink) {}

  /** Events an agent's batch stored: the new Call-IDs of its SIP events go to the session's other agents. */
  onStored(agentId: number, events: readonly Pick<Event, 'session_id' | 'kind' | 'call_id' | 'linked_call_ids'>[]): void {
    let fresh: Map<string, string[]> | undefined;
    for (const e of events) {
      if ((e.kind !== 'sip' && e.kind !== 'webrtc') || e.call_id === null) continue;
      const ids = e.linked_call_ids === undefined ? [e.call_id] : [e.call_id, ...e.linked_call_ids];
      for (const cid of ids) {
        if (!this.mark(e.session_id, cid)) continue;
        fresh ??= new Map();
        const list = fresh.get(e.session_id) ?? [];
        list.push(cid);
        fresh.set(e.session_id, list);
      }
    }
    if (fresh === undefined) return;
    for (const [sid, callIds] of fresh) {
      this.announcedTotal += callIds.length;
      void this.sink.pushFollow(sid, agentId, callIds);
    }
  }

  /** Of Call-IDs another center announces (received by the leader), those not announced yet, now marked. */
  fresh(sessionId: string, callIds: readonly string[]): string[] {
    return callIds.filter((cid) => this.mark(sessionId, cid));
  }

  /** A session ended: its announcements are forgotten. */
  forget(sessionId: string): void {
    this.announced.delete(sessionId);
  }

  /** true when `callId` was not announced for the session yet (and is now) */
  private mark(sessionId: string, callId: string): boolean {
    let set = this.announced.get(sessionId);
    if (set === undefined) {
      if (this.announced.size >= MAX_SESSIONS) this.announced.delete(this.announced.keys().next().value as string);
      set = new Set();
      this.announced.set(sessionId, set);
    }
    if (set.has(callId)) return false;
    if (set.size >= FOLLOW_REMEMBERED_PER_SESSION) set.delete(set.values().next().value as string);
    set.add(callId);
    return true;
  }
}
