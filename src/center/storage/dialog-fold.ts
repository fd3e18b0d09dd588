// Folding an ingested batch into the call list, the same way in every store: group the batch's new
// events by (session, Call-ID) in memory, then per call read its row once, apply the events
// (core/dialogs/aggregate.ts) and write it once. Events without a Call-ID belong to no call.
import { applyEvent, dialogSearchText, newDialog } from '../../core/dialogs/aggregate.js';
import type { DialogAgg } from '../../core/dialogs/aggregate.js';
import type { StoredEvent } from '../../core/schema/index.js';

export interface DialogWrite {
  session_id: string;
  call_id: string;
  /** the row's id when it existed, else null (insert) */
  id: number | null;
  dialog: DialogAgg;
  /** the highest event id folded in */
  version: number;
  /** dialogSearchText(dialog) */
  search: string;
}

/**
 * Folds `inserted` (ascending ids) into the rows `load` returns, and hands each changed row to `save`.
 * `load` and `save` run inside the store's ingest transaction.
 */
export function foldDialogs(
  inserted: readonly StoredEvent[],
  load: (sessionId: string, callId: string) => { id: number; dialog: DialogAgg } | null,
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
  for (const events of groups.values()) {
    const { session_id, call_id } = events[0];
    const row = load(session_id, call_id as string);
    const dialog = row?.dialog ?? newDialog(call_id as string, events[0].ts);
    for (const e of events) applyEvent(dialog, e);
    save({ session_id, call_id: call_id as string, id: row?.id ?? null, dialog, version: events[events.length - 1].id, search: dialogSearchText(dialog) });
  }
}

/** `q` as a LIKE pattern (ESCAPE '\'), matching the JSON text a store keeps of an event. */
export function likePattern(q: string, json: boolean): string {
  const text = json ? JSON.stringify(q).slice(1, -1) : q.toLowerCase();
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
