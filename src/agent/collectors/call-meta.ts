// Call metadata on its way to the capture manager: a platform's call state or a routing decision,
// already in the event schema's shape, and the short wait for its dialog. A platform reports a call
// (FreeSWITCH's CHANNEL_CREATE, Kamailio's xlog line) at about the moment its INVITE crosses the wire,
// so the event may reach the agent before the capture source has delivered the INVITE that opens the
// dialog. Such an event waits here a few seconds and is tried again; one whose Call-ID no session
// captures by then belongs to a call nobody asked for, and is let go (counted, not a loss).
import type { CallState, RouteInfo } from '../../core/schema/event.js';

export type CallMeta =
  | { kind: 'callstate'; ts_us: number; call_id: string; callstate: CallState; line?: string }
  | { kind: 'route'; ts_us: number; call_id: string; route: RouteInfo; line?: string };

const HOLD_MS = 5_000;
const MAX_HELD = 4_096;

export class CallMetaBuffer {
  private held: { m: CallMeta; since: number }[] = [];
  readonly counters = { held: 0, taken_late: 0, unmatched: 0, overflow: 0 };

  add(m: CallMeta, nowMs: number): void {
    if (this.held.length >= MAX_HELD) {
      this.counters.overflow++;
      return;
    }
    this.counters.held++;
    this.held.push({ m, since: nowMs });
  }

  /** Tries every held event again; `take` returns whether a session took it. */
  retry(nowMs: number, take: (m: CallMeta) => boolean): void {
    if (this.held.length === 0) return;
    const keep: { m: CallMeta; since: number }[] = [];
    for (const h of this.held) {
      if (take(h.m)) this.counters.taken_late++;
      else if (nowMs - h.since < HOLD_MS) keep.push(h);
      else this.counters.unmatched++;
    }
    this.held = keep;
  }
}
