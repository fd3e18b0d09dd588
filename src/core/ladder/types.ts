// The ladder model (DESIGN §2 core): what a SIP ladder shows, independent of how it is drawn. The web
// UI (SVG in the browser) and the center's ladder.svg/ladder.png both draw this, so both show the same
// lanes, arrows, order, dedupe and dialog grouping. Plain data: JSON-serialisable, no classes.
import type { Event } from '../schema/index.js';

/** The event fields the ladder reads; the API's `Event` fits, and tests can build these by hand. */
export type LadderEvent = Pick<Event, 'id' | 'agent_id' | 'ts' | 'kind' | 'src' | 'dst' | 'call_id' | 'sip' | 'payload'> &
  Partial<Pick<Event, 'transport' | 'rtp' | 'rtcp' | 'stats' | 'log' | 'callstate' | 'route' | 'linked_call_ids' | 'linked_inferred'>>;

export interface LadderOptions {
  /** agent id → name, for "seen by" lists and log sources */
  agentNames?: Record<number, string> | Map<number, string>;
  /** "ip:port" or "ip" (IPv6 without brackets) → a host name to show on the lane */
  endpointNames?: Record<string, string>;
  /** show one Call-ID only (the dialog selector), with the other legs of its call; null/undefined = all */
  callId?: string | null;
  /**
   * 'transaction' (default): one colour per transaction; 'call': one colour per Call-ID and each arrow
   * labelled with its call (the "All" view of many calls)
   */
  colourBy?: 'transaction' | 'call';
  /** two sightings of the same message by different agents closer than this are one arrow (µs) */
  dedupeWindowUs?: number;
}

export interface Lane {
  index: number;
  /** "ip:port" ("[v6]:port" for IPv6) */
  key: string;
  ip: string;
  /** null for a lane that only carries media or has no port */
  port: number | null;
  /** the name shown over the IP:port: from endpointNames, else User-Agent/Server seen from it, else null */
  name: string | null;
}

export interface LadderArrow {
  /** position among the arrows shown (0-based) */
  index: number;
  /** the first event drawn as this arrow (the detail panel shows its payload) */
  eventId: number;
  /** every event merged into this arrow (one per agent that saw the message) */
  eventIds: number[];
  /** agents that saw it, ids ascending, and their names where known */
  agents: number[];
  agentNames: string[];
  from: number;
  to: number;
  /** "INVITE", "180 Ringing" */
  label: string;
  method: string | null;
  status: number | null;
  cseq: string | null;
  hasSdp: boolean;
  transport: string | null;
  /** capture time, µs since the epoch */
  ts: number;
  /** µs since the previous arrow shown (0 for the first) */
  deltaUs: number;
  /** Call-ID + CSeq + branch: one colour per transaction */
  transactionKey: string;
  /** index into the palette, stable for the transaction (or the call, with colourBy 'call') */
  colour: number;
  /** with colourBy 'call': the call's short name drawn beside the arrow ("#3 a84b4c76…"), else null */
  callTag: string | null;
  /** the same message was already drawn before (same agent, or later than the dedupe window) */
  retransmission: boolean;
  callId: string | null;
  /** Call-ID + the sorted From/To tags; "" when the message has no Call-ID */
  dialogId: string;
  /** "A", "B", … when the call has several legs (B2BUA/SBC, linked by the agents), else null */
  leg: string | null;
  /** the legs were linked by inference (number and time), not by a header or a platform */
  legInferred: boolean;
}

export interface MediaStream {
  /** "src>dst#ssrc" */
  key: string;
  kind: 'rtp' | 'webrtc';
  from: number;
  to: number;
  src: string;
  dst: string;
  ssrc: number | null;
  codec: string | null;
  packets: number;
  expected: number | null;
  lost: number | null;
  lossPct: number | null;
  jitterMs: number | null;
  mos: number | null;
  firstTs: number;
  lastTs: number;
  callId: string | null;
  final: boolean;
}

export interface LogLine {
  eventId: number;
  ts: number;
  /** agent name and log file, e.g. "edge-1 /var/log/kamailio.log" */
  source: string;
  text: string;
  callId: string | null;
}

/** A platform's call state (a marker on its lane) or a routing decision (a note), from `callstate`/`route` events. */
export interface CallMark {
  eventId: number;
  ts: number;
  kind: 'callstate' | 'route';
  /** the lane it sits on: the platform's (by the name its SIP messages give), or one added for it */
  lane: number;
  /** "hangup NORMAL_CLEARING · Q.850 16", "route RELAY → sip:gw@10.0.0.9" */
  label: string;
  /** freeswitch, asterisk, … (callstate); null for a route */
  platform: string | null;
  /** created, answered, hangup, … (callstate); the route name (route) */
  state: string | null;
  callId: string | null;
  /** agent name and collector, e.g. "pbx-1 esl:127.0.0.1:8021" */
  source: string;
  /** the platform's own view (ESL/AMI headers, log fields), for the detail panel */
  fields: Record<string, string | number | boolean | null>;
  /** the original log line of a route decision, if any */
  text: string | null;
}

export interface DialogInfo {
  /** Call-ID + sorted tags */
  id: string;
  fromTag: string | null;
  toTag: string | null;
  /** early: only provisional responses with this to-tag so far; confirmed: a 2xx; failed: final ≥ 300 */
  state: 'early' | 'confirmed' | 'failed' | 'pending';
  arrows: number;
}

export interface CallInfo {
  callId: string;
  /** the creating request's method, e.g. INVITE */
  method: string | null;
  fromUser: string | null;
  toUser: string | null;
  firstTs: number;
  lastTs: number;
  messages: number;
  /** one per To-tag the call created (forked INVITEs give several early dialogs) */
  dialogs: DialogInfo[];
  /**
   * B2BUA/SBC legs (events' linked_call_ids): the Call-ID of the call's first leg (itself when not
   * linked), this leg's letter ("A" first seen, then "B", …; null when the call has one leg) and the
   * other legs' Call-IDs. Linked by headers or platforms the agents read, never guessed.
   */
  group: string;
  leg: string | null;
  legs: string[];
  /** some link of this call's legs was inferred by number and time (shown as such) */
  legsInferred: boolean;
}

export type LadderRow =
  | { type: 'arrow'; ts: number; arrow: number }
  | { type: 'media'; ts: number; media: number }
  | { type: 'log'; ts: number; log: number }
  | { type: 'mark'; ts: number; mark: number };

export interface Ladder {
  lanes: Lane[];
  arrows: LadderArrow[];
  media: MediaStream[];
  logs: LogLine[];
  /** call states and route decisions */
  marks: CallMark[];
  /** every Call-ID in the events (not only the selected one), for the dialog selector */
  calls: CallInfo[];
  /** arrows, media and logs interleaved by time: what the drawing iterates, one row each */
  rows: LadderRow[];
  startTs: number | null;
  endTs: number | null;
}
