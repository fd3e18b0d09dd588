// The call list's leg grouping (dialog-fold.ts) on an in-memory store: the bounds the storage contract
// suite does not reach — a call of more legs than a row holds, and a store that did not read a leg.
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../core/schema/index.js';
import { LEGS_MAX, foldDialogs } from './dialog-fold.js';
import type { DialogRow, DialogWrite } from './dialog-fold.js';

let id = 0;
const invite = (callId: string, ts: number, linked: string[]): StoredEvent =>
  ({
    id: ++id,
    agent_id: 1,
    session_id: 's',
    seq: id,
    ts,
    kind: 'sip',
    transport: 'udp',
    src: null,
    dst: null,
    call_id: callId,
    sip: { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: 'alice', to_user: 'bob', has_sdp: false },
    payload: `INVITE sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK${callId}\r\n\r\n`,
    rtp: null,
    rtcp: null,
    stats: null,
    log: null,
    callstate: null,
    route: null,
    linked_call_ids: linked,
  }) as StoredEvent;

/** a store in a Map, with the columns a real one keeps */
function memoryStore() {
  const rows = new Map<string, DialogWrite & { id: number }>();
  let next = 0;
  return {
    rows,
    load: (_s: string, c: string): DialogRow | null => {
      const r = rows.get(c);
      return r ? { id: r.id, version: r.version, dialog: structuredClone(r.dialog) } : null;
    },
    save: (w: DialogWrite): void => void rows.set(w.call_id, { ...structuredClone(w), id: w.id ?? ++next }),
    listed: () => [...rows.values()].filter((r) => r.leg_of === null).map((r) => r.call_id),
  };
}

describe('call list legs (dialog-fold)', () => {
  it(`a call of more than ${LEGS_MAX} legs: the first ${LEGS_MAX} by start are one row, later ones rows of their own`, () => {
    const st = memoryStore();
    const legs = Array.from({ length: LEGS_MAX + 2 }, (_, i) => `leg-${i}`);
    // each leg names the first, one batch per leg
    legs.forEach((c, i) => foldDialogs([invite(c, 1000 * (i + 1), i === 0 ? [] : ['leg-0'])], st.load, st.save));
    expect(st.listed().sort()).toEqual(['leg-0', legs[LEGS_MAX], legs[LEGS_MAX + 1]].sort());
    const head = st.rows.get('leg-0')!;
    expect(head.dialog.legs).toEqual(legs.slice(0, LEGS_MAX));
    expect(head.dialog.call?.messages).toBe(LEGS_MAX);
    expect(st.rows.get(legs[LEGS_MAX])!.dialog.legs).toEqual([legs[LEGS_MAX]]);
  });

  it('a leg the store did not read is left alone, never overwritten by a placeholder', () => {
    const st = memoryStore();
    foldDialogs([invite('b', 2000, [])], st.load, st.save);
    const before = structuredClone(st.rows.get('b'));
    // the A leg names b, but this store read only a's row
    foldDialogs([invite('a', 1000, ['b'])], (s, c) => (c === 'a' ? st.load(s, c) : undefined), st.save);
    expect(st.rows.get('b')).toEqual(before);
    // read properly, the call is one row under a
    foldDialogs([invite('a', 1500, ['b'])], st.load, st.save);
    expect(st.listed()).toEqual(['a']);
    expect(st.rows.get('a')!.dialog.legs).toEqual(['a', 'b']);
  });
});
