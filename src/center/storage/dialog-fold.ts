// Folding an ingested batch into the call list, the same way in every store: group the batch's new
// events by (session, Call-ID) in memory, then per call read its row once, apply the events
// (core/dialogs/aggregate.ts) and write it once. Events without a Call-ID belong to no call.
//
// B2BUA / SBC legs (issue 13, docs/api.md "Call list"): every Call-ID keeps its own row, folded as
// above; legs the agents linked (events' linked_call_ids) form one call, listed once under its first
// leg. That row (the "head") carries the whole call (mergeLegs) in its data and in the columns the
// list filters and orders by; the other legs' rows name it in `leg_of` and are not listed. Groups are
// stars — the head's `legs` names every leg, each leg's `leg_of` names the head — so a group is read
// whole from any of its rows. A leg named by a link before any event of its own gets a placeholder row,
// so the group holds whichever leg arrives first. Calls with one leg cost nothing more.
import { applyEvent, dialogSearchText, mergeLegs, newDialog } from '../../core/dialogs/aggregate.js';
import type { DialogAgg } from '../../core/dialogs/aggregate.js';
import type { DialogState } from '../../core/schema/dialog.js';
import type { StoredEvent } from '../../core/schema/index.js';

/** legs grouped into one call at most; later legs (by start) are listed as rows of their own */
export const LEGS_MAX = 8;
/** rows read to find a call's legs (a bound on hostile link chains) */
const COMPONENT_MAX = 4 * LEGS_MAX;

/** A stored row as the fold reads it. */
export interface DialogRow {
  id: number;
  /** the row's version column */
  version: number;
  dialog: DialogAgg;
}

export interface DialogWrite {
  session_id: string;
  call_id: string;
  /** the row's id when it existed, else null (insert) */
  id: number | null;
  dialog: DialogAgg;
  // the columns the list filters and orders by: of the whole call on a head row, else of the leg
  /** the highest event id folded into what the row lists */
  version: number;
  started_at: number;
  state: DialogState;
  /** dialogSearchText of what the row lists */
  search: string;
  /** the head's Call-ID on a leg listed under another row, else null (listed) */
  leg_of: string | null;
}

interface Work {
  session_id: string;
  call_id: string;
  id: number | null;
  version: number;
  dialog: DialogAgg;
  dirty: boolean;
}

/** The Call-IDs a row links to: its own links, and the group it is already part of. */
export function legNeighbours(d: DialogAgg): string[] {
  const out = new Set<string>(d.linked ?? []);
  if (d.legs.length > 1) for (const l of d.legs) out.add(l);
  if (d.leg_of !== undefined) out.add(d.leg_of);
  out.delete(d.call_id);
  return [...out];
}

/**
 * Folds `inserted` (ascending ids) into the rows `load` returns, and hands each changed row to `save`
 * once. `load` and `save` run inside the store's ingest transaction. A store that reads rows ahead of
 * the fold (PostgreSQL) reads the batch's calls and the Call-IDs its events link to (`batchCallIds`),
 * then what `legNeighbours` reaches from those, and answers undefined for a row it did not read.
 */
export function foldDialogs(
  inserted: readonly StoredEvent[],
  /** the stored row, null when there is none, undefined when the store did not read it (a leg left alone) */
  load: (sessionId: string, callId: string) => DialogRow | null | undefined,
  save: (w: DialogWrite) => void,
): void {
  const groups = new Map<string, StoredEvent[]>();
  for (const e of inserted) {
    if (e.call_id === null || e.call_id === '') continue;
    const k = `${e.session_id}\n${e.call_id}`;
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  if (groups.size === 0) return;
  const rows = new Map<string, Work | null | undefined>();
  const get = (sessionId: string, callId: string): Work | null | undefined => {
    const k = `${sessionId}\n${callId}`;
    if (rows.has(k)) return rows.get(k);
    const r = load(sessionId, callId);
    const w = r === null || r === undefined ? r : { session_id: sessionId, call_id: callId, id: r.id, version: r.version, dialog: r.dialog, dirty: false };
    rows.set(k, w);
    return w;
  };
  const touched: Work[] = [];
  for (const events of groups.values()) {
    const { session_id, call_id } = events[0];
    const cid = call_id as string;
    let w = get(session_id, cid);
    if (w === null || w === undefined) {
      w = { session_id, call_id: cid, id: null, version: 0, dialog: newDialog(cid, events[0].ts), dirty: true };
      rows.set(`${session_id}\n${cid}`, w);
    }
    for (const e of events) applyEvent(w.dialog, e);
    w.version = events[events.length - 1].id;
    w.dirty = true;
    touched.push(w);
  }

  const grouped = new Set<Work>();
  for (const w of touched) {
    if (grouped.has(w) || legNeighbours(w.dialog).length === 0) continue;
    // the whole group, breadth first from this leg; legs never seen get a placeholder row
    const members: Work[] = [w];
    for (let i = 0; i < members.length && members.length < COMPONENT_MAX; i++) {
      for (const cid of legNeighbours(members[i].dialog)) {
        if (members.length >= COMPONENT_MAX) break;
        let m = get(w.session_id, cid);
        if (m === undefined) continue; // not read by the store: that leg is grouped when its row is
        if (m === null) {
          const dialog = newDialog(cid, members[i].dialog.started_at);
          dialog.placeholder = true;
          m = { session_id: w.session_id, call_id: cid, id: null, version: members[i].version, dialog, dirty: true };
          rows.set(`${w.session_id}\n${cid}`, m);
        }
        if (!members.includes(m)) members.push(m);
      }
    }
    if (members.length < 2) continue; // its legs are rows this store did not read: left as they are
    // the head is the leg seen first (placeholders last): the caller's leg of a B2BUA, usually
    members.sort(
      (a, b) =>
        Number(a.dialog.placeholder === true) - Number(b.dialog.placeholder === true) ||
        a.dialog.started_at - b.dialog.started_at ||
        (a.call_id < b.call_id ? -1 : a.call_id > b.call_id ? 1 : 0),
    );
    const head = members[0];
    const version = Math.max(...members.map((m) => m.version));
    const legs = members.slice(0, LEGS_MAX);
    for (const m of members) {
      grouped.add(m);
      m.dirty = true;
      delete m.dialog.call;
      if (!legs.includes(m)) {
        // past LEGS_MAX (docs/limits.md): a leg with events is a row of its own; a placeholder, with
        // nothing to show, is not kept
        if (m.dialog.placeholder === true && m.id === null) {
          m.dirty = false;
          continue;
        }
        if (m.dialog.placeholder === true) m.dialog.leg_of = head.call_id;
        else delete m.dialog.leg_of;
        m.dialog.legs = [m.call_id];
      } else if (m === head) {
        delete m.dialog.leg_of;
        m.dialog.legs = legs.map((x) => x.call_id);
        m.dialog.call = mergeLegs(legs.map((x) => x.dialog));
        m.version = version;
      } else {
        m.dialog.leg_of = head.call_id;
        m.dialog.legs = [m.call_id];
      }
    }
  }

  for (const w of rows.values()) {
    if (!w?.dirty) continue;
    const listed = w.dialog.call ?? w.dialog;
    save({
      session_id: w.session_id,
      call_id: w.call_id,
      id: w.id,
      dialog: w.dialog,
      version: w.version,
      started_at: listed.started_at,
      state: listed.state,
      search: dialogSearchText(listed),
      leg_of: w.dialog.leg_of ?? null,
    });
  }
}

/** The Call-IDs of a batch's calls and of the legs its events link to, per session (what to read first). */
export function batchCallIds(inserted: readonly StoredEvent[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of inserted) {
    if (e.call_id === null || e.call_id === '') continue;
    let s = out.get(e.session_id);
    if (!s) out.set(e.session_id, (s = new Set()));
    s.add(e.call_id);
    for (const l of e.linked_call_ids ?? []) s.add(l);
  }
  return out;
}

/** `q` as a LIKE pattern (ESCAPE '\'), matching the JSON text a store keeps of an event. */
export function likePattern(q: string, json: boolean): string {
  const text = json ? JSON.stringify(q).slice(1, -1) : q.toLowerCase();
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
