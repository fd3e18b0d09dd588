// Call metadata on the ladder: `callstate` events (what FreeSWITCH, Asterisk, … thought of the call)
// become markers on the platform's lane, `route` events (why a proxy sent it where it did) notes.
// A platform's lane is the one whose SIP messages name it (User-Agent/Server, e.g. "FreeSWITCH-
// mod_sofia/1.10"); when no lane does, the platform gets a lane of its own at the right, so a state
// change is never drawn on a lane it does not belong to. Pure; build.ts calls it after lane choice.
import type { CallMark, LadderEvent, Lane } from './types.js';

const routeLane = /kamailio|opensips|openser|sbc|proxy/i;

export function stateLabel(e: NonNullable<LadderEvent['callstate']>): string {
  const parts = [e.state];
  if (e.cause) parts.push(e.cause);
  if (e.q850 !== undefined && e.cause !== String(e.q850)) parts.push(`Q.850 ${e.q850}`);
  return parts.join(' · ');
}

export function routeLabel(r: NonNullable<LadderEvent['route']>): string {
  return `route ${r.route ?? ''}${r.destination ? ` → ${r.destination}` : ''}`.replace('route  →', 'route →');
}

/** Builds the marks of `events` (callstate/route, sorted by time), adding a lane per platform no lane names. */
export function buildMarks(events: readonly LadderEvent[], lanes: Lane[], sourceOf: (e: LadderEvent, s: string | undefined) => string): CallMark[] {
  const laneOf = new Map<string, number>();
  const find = (platform: string): number => {
    const known = laneOf.get(platform);
    if (known !== undefined) return known;
    const needle = platform.toLowerCase();
    let i = lanes.findIndex((l) => l.name !== null && l.name.toLowerCase().includes(needle));
    if (i < 0) {
      i = lanes.length;
      lanes.push({ index: i, key: `(${platform})`, ip: '', port: null, name: platform });
    }
    laneOf.set(platform, i);
    return i;
  };
  const marks: CallMark[] = [];
  for (const e of events) {
    if (e.kind === 'callstate' && e.callstate) {
      const c = e.callstate;
      marks.push({
        eventId: e.id,
        ts: e.ts,
        kind: 'callstate',
        lane: find(c.platform),
        label: `${c.platform}: ${stateLabel(c)}`,
        platform: c.platform,
        state: c.state,
        callId: e.call_id,
        source: sourceOf(e, c.source),
        fields: { ...(c.fields ?? {}) },
        text: null,
      });
    } else if (e.kind === 'route' && e.route) {
      const r = e.route;
      // a route note sits on the proxy's lane when one is named like a proxy, else on the first lane
      let lane = lanes.findIndex((l) => l.name !== null && routeLane.test(l.name));
      if (lane < 0) lane = 0;
      if (lanes.length === 0) lane = find('router');
      marks.push({
        eventId: e.id,
        ts: e.ts,
        kind: 'route',
        lane,
        label: routeLabel(r),
        platform: null,
        state: r.route ?? null,
        callId: e.call_id,
        source: sourceOf(e, r.source),
        fields: { ...(r.fields ?? {}), ...(r.destination ? { destination: r.destination } : {}) },
        text: e.payload,
      });
    }
  }
  return marks;
}
