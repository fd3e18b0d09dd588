// The call list's rows, folded event by event (DESIGN §9). A store keeps one `DialogAgg` per call
// and, for each ingested batch, applies the batch's events of that call in memory and writes the row
// back once — so the list is never computed by reading a session's events. Pure and storage-agnostic:
// the SQLite and PostgreSQL stores share it (center/storage/dialog-fold.ts).
//
// State rules (RFC 3261 §13, §17.1.1, §21): the call's method is its first request's (a mid-dialog
// request or response seen first — the capture started mid-call — implies an INVITE dialog); 1xx other
// than 100 to the initial INVITE → ringing; 2xx → answered (a 2xx after another fork's failure wins:
// a proxy forwards the best response, RFC 3261 §16.7); ≥ 300 → failed, or cancelled for 487 / after a
// CANCEL; BYE → completed. A 401/407 challenge followed by a new initial request (CSeq + 1, same
// Call-ID, RFC 3261 §22.2) starts the call over. Re-INVITE / UPDATE answers never change the state.
import type { Event } from '../schema/event.js';
import type { Dialog, DialogState } from '../schema/dialog.js';
import { readSipText, tagOf, branchOf } from '../ladder/sip-text.js';

/** The events a row is folded from. */
export type DialogEvent = Pick<Event, 'agent_id' | 'ts' | 'kind' | 'src' | 'dst' | 'call_id' | 'sip' | 'payload' | 'stats'> &
  Partial<Pick<Event, 'linked_call_ids' | 'linked_inferred'>>;

/** What a store keeps per call (JSON-serialisable). Times are µs since the epoch, like events. */
export interface DialogAgg {
  call_id: string;
  legs: string[];
  from: string | null;
  to: string | null;
  method: string | null;
  state: DialogState;
  final_status: { code: number; reason: string } | null;
  started_at: number;
  answered_at: number | null;
  ended_at: number | null;
  last_at: number;
  messages: number;
  agents: number[];
  has_rtp: boolean;
  mos: number | null;
  retransmissions: number;
  user_agents: string[];
  /** users of From / To / request-URI / P-Asserted-Identity seen, for search */
  numbers: string[];
  /** CSeq number of the current initial request */
  init_cseq: number | null;
  /** hashes of messages seen (retransmission detection), at most SEEN_MAX */
  seen: string[];
  // B2BUA / SBC legs (issue 13; storage/dialog-fold.ts groups them). Optional: rows stored before
  // legs were grouped have none of these.
  /** Call-IDs this call's events named as its other legs (events' linked_call_ids), at most LIST_MAX */
  linked?: string[];
  /** one of those links was inferred by number and time, not read from a header or a platform */
  linked_inferred?: boolean;
  /** set on a leg listed under another row: that row's Call-ID (the call's first leg) */
  leg_of?: string;
  /** no event of this Call-ID yet: the row exists because another leg named it */
  placeholder?: boolean;
  /** on the listed row of a call of several legs: the whole call (mergeLegs), what the list shows */
  call?: DialogAgg;
}

const SEEN_MAX = 400;
const LIST_MAX = 8;
const HEADERS: ReadonlySet<string> = new Set(['via', 'to', 'user-agent', 'server', 'p-asserted-identity']);
/** requests that live inside an INVITE dialog: seen first, the capture began mid-call */
const IN_DIALOG = new Set(['ACK', 'BYE', 'CANCEL', 'PRACK', 'UPDATE', 'INFO', 'REFER']);

export function newDialog(callId: string, ts: number): DialogAgg {
  return {
    call_id: callId,
    legs: [callId],
    from: null,
    to: null,
    method: null,
    state: 'unknown',
    final_status: null,
    started_at: ts,
    answered_at: null,
    ended_at: null,
    last_at: ts,
    messages: 0,
    agents: [],
    has_rtp: false,
    mos: null,
    retransmissions: 0,
    user_agents: [],
    numbers: [],
    init_cseq: null,
    seen: [],
  };
}

// FNV-1a, 32 bits: a compact key for "this exact message was seen before"
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

function addTo(list: string[], v: string | null | undefined, max = LIST_MAX): void {
  if (v === null || v === undefined || v === '' || list.length >= max || list.includes(v)) return;
  list.push(v);
}

/** the user part of a SIP/TEL URI inside a header value or request line, or null */
function userOf(v: string | undefined): string | null {
  if (!v) return null;
  const m = /(?:sips?|tel):([^@;>\s]+)/i.exec(v);
  return m ? m[1] : null;
}

function restart(d: DialogAgg, method: string, cseq: number | null): void {
  d.method = method;
  d.state = 'calling';
  d.init_cseq = cseq;
  d.final_status = null;
  d.ended_at = null;
}

/** Folds one event of the call into its row. Events may come in any order across agents. */
export function applyEvent(d: DialogAgg, e: DialogEvent): void {
  if (d.placeholder === true) {
    // the first event of a leg another leg named: its times are its own from now on
    delete d.placeholder;
    d.started_at = e.ts;
    d.last_at = e.ts;
  }
  for (const l of e.linked_call_ids ?? []) if (l !== d.call_id) addTo((d.linked ??= []), l);
  if (e.linked_inferred === true && (e.linked_call_ids?.length ?? 0) > 0) d.linked_inferred = true;
  if (e.ts < d.started_at) d.started_at = e.ts;
  if (e.ts > d.last_at) d.last_at = e.ts;
  if (!d.agents.includes(e.agent_id)) {
    d.agents.push(e.agent_id);
    d.agents.sort((a, b) => a - b);
  }
  if (e.kind === 'rtp' || e.kind === 'rtcp') {
    d.has_rtp = true;
    const mos = e.stats?.mos;
    if (mos !== null && mos !== undefined && (d.mos === null || mos < d.mos)) d.mos = mos;
    return;
  }
  // a `webrtc` event is the twin of a `sip` event of SIP over WebSocket (DESIGN §5: the agent sends
  // both, the message once): counting it too made every WebSocket message two
  const sip = e.sip;
  if (sip === null || e.kind !== 'sip') return;
  d.messages++;
  const text = e.payload ?? '';
  const parsed = text !== '' ? readSipText(text, HEADERS) : null;
  const h = parsed?.headers;
  const key = hash(
    `${e.agent_id}|${e.src?.ip}:${e.src?.port}|${e.dst?.ip}:${e.dst?.port}|${parsed?.startLine ?? `${sip.method ?? ''}${sip.status ?? ''}`}|${sip.cseq_seq ?? ''} ${sip.cseq_method ?? ''}|${branchOf(h?.get('via')) ?? ''}|${tagOf(h?.get('to')) ?? ''}`,
  );
  if (d.seen.includes(key)) {
    d.retransmissions++;
    return; // a retransmission changes nothing else
  }
  if (d.seen.length < SEEN_MAX) d.seen.push(key);
  addTo(d.user_agents, h?.get('user-agent')?.slice(0, 80));
  addTo(d.user_agents, h?.get('server')?.slice(0, 80));
  addTo(d.numbers, sip.from_user);
  addTo(d.numbers, sip.to_user);
  addTo(d.numbers, userOf(h?.get('p-asserted-identity')));
  const cseq = sip.cseq_seq ?? null;
  if (sip.status === undefined) {
    const method = sip.method ?? parsed?.startLine.split(' ')[0] ?? '';
    if (method === '') return;
    addTo(d.numbers, userOf(parsed?.startLine));
    // a new attempt on the same Call-ID: after a failed INVITE (a 401/407 challenge, RFC 3261 §22.2),
    // or a refresh of a non-INVITE (REGISTER every Expires); a re-INVITE inside a dialog is not one
    const newer = cseq === null || d.init_cseq === null || cseq > d.init_cseq;
    const initial = d.method === null || (d.method === method && newer && (method !== 'INVITE' || d.state === 'failed'));
    if (d.method === null && IN_DIALOG.has(method)) {
      d.method = 'INVITE';
      d.state = 'answered';
    } else if (initial && method !== 'ACK') {
      restart(d, method, cseq);
      d.from = sip.from_user ?? d.from;
      d.to = sip.to_user ?? d.to;
    }
    if (d.method === 'INVITE') {
      if (method === 'CANCEL' && (d.state === 'calling' || d.state === 'ringing')) {
        d.state = 'cancelled';
        d.ended_at ??= e.ts;
      } else if (method === 'BYE' && (d.state === 'answered' || d.state === 'calling' || d.state === 'ringing')) {
        d.state = 'completed';
        d.ended_at = e.ts;
      }
    }
    return;
  }
  // a response
  const code = sip.status;
  const reason = sip.reason ?? '';
  if (d.method === null) {
    // the capture began with a response: its CSeq method names what created the dialog
    const m = sip.cseq_method ?? null;
    d.method = m === null || IN_DIALOG.has(m) ? 'INVITE' : m;
    d.state = m !== null && IN_DIALOG.has(m) ? 'answered' : 'calling';
    d.init_cseq = m !== null && !IN_DIALOG.has(m) ? cseq : null;
    d.from ??= sip.from_user ?? null;
    d.to ??= sip.to_user ?? null;
  }
  if (sip.cseq_method !== undefined && sip.cseq_method !== d.method) return;
  if (cseq !== null && d.init_cseq !== null && cseq !== d.init_cseq) return; // re-INVITE, or an older attempt
  if (d.method === 'INVITE') {
    if (code < 200) {
      if (code > 100 && d.state === 'calling') d.state = 'ringing';
    } else if (code < 300) {
      if (d.state !== 'completed' && d.state !== 'answered') {
        d.state = 'answered';
        d.final_status = { code, reason };
        d.answered_at = e.ts;
        d.ended_at = null;
      }
    } else if (d.state === 'calling' || d.state === 'ringing' || d.state === 'cancelled' || d.state === 'failed') {
      d.state = code === 487 || d.state === 'cancelled' ? 'cancelled' : 'failed';
      d.final_status = { code, reason };
      d.ended_at = e.ts;
    }
    return;
  }
  if (code < 200) {
    if (code > 100 && d.state === 'calling') d.state = 'ringing';
    return;
  }
  d.final_status = { code, reason };
  d.ended_at = e.ts;
  d.state = code >= 300 ? 'failed' : d.method === 'REGISTER' ? 'registered' : 'completed';
}

/**
 * One call of several legs (B2BUA / SBC), as the list shows it; `legs` is in the order the legs were
 * first seen, so legs[0] — the caller's leg, usually — names the call. What the caller lived decides
 * from, to, method, state, final status and answer time: the first leg that carried SIP (a leg known
 * only from another leg's link has none). The call ends when that leg has ended and every leg that
 * ended is done (the latest end); counts are summed, agents and user agents united, MOS the worst.
 */
export function mergeLegs(legs: readonly DialogAgg[]): DialogAgg {
  const lead = legs.find((l) => l.method !== null) ?? legs[0];
  const call: DialogAgg = {
    call_id: legs[0].call_id,
    legs: legs.map((l) => l.call_id),
    from: lead.from,
    to: lead.to,
    method: lead.method,
    state: lead.state,
    final_status: lead.final_status,
    started_at: Math.min(...legs.map((l) => l.started_at)),
    answered_at: lead.answered_at,
    ended_at: lead.ended_at === null ? null : Math.max(...legs.map((l) => l.ended_at ?? lead.ended_at!)),
    last_at: Math.max(...legs.map((l) => l.last_at)),
    messages: 0,
    agents: [],
    has_rtp: false,
    mos: null,
    retransmissions: 0,
    user_agents: [],
    numbers: [],
    init_cseq: null,
    seen: [],
  };
  for (const l of legs) {
    call.messages += l.messages;
    call.retransmissions += l.retransmissions;
    call.has_rtp ||= l.has_rtp;
    if (l.mos !== null && (call.mos === null || l.mos < call.mos)) call.mos = l.mos;
    for (const a of l.agents) if (!call.agents.includes(a)) call.agents.push(a);
    for (const u of l.user_agents) addTo(call.user_agents, u);
    for (const n of l.numbers) addTo(call.numbers, n, LIST_MAX * 2);
    if (l.linked_inferred === true) call.linked_inferred = true;
  }
  call.agents.sort((a, b) => a - b);
  return call;
}

/** The lowercase text `q` is matched against besides the messages: Call-IDs, numbers, user agents. */
export function dialogSearchText(d: DialogAgg): string {
  return [...d.legs, d.from ?? '', d.to ?? '', ...d.numbers, ...d.user_agents, d.final_status?.reason ?? ''].join('\n').toLowerCase();
}

const iso = (us: number | null): string | null => (us === null ? null : new Date(Math.floor(us / 1000)).toISOString());

/** The wire row. `id` is the store's cursor for the row. */
export function presentDialog(id: number, version: number, row: DialogAgg): Dialog {
  const d = row.call ?? row;
  return {
    id,
    version,
    call_id: d.call_id,
    legs: d.legs,
    legs_inferred: d.legs.length > 1 && d.linked_inferred === true,
    from: d.from,
    to: d.to,
    method: d.method,
    state: d.state,
    final_status: d.final_status,
    started_at: iso(d.started_at) as string,
    answered_at: iso(d.answered_at),
    ended_at: iso(d.ended_at),
    // from the millisecond times shown, so duration = ended_at − started_at exactly as displayed
    duration_ms: Math.max(0, Math.floor((d.ended_at ?? d.last_at) / 1000) - Math.floor(d.started_at / 1000)),
    messages: d.messages,
    agents: d.agents,
    has_rtp: d.has_rtp,
    mos: d.mos,
    retransmissions: d.retransmissions,
    user_agents: d.user_agents,
  };
}
