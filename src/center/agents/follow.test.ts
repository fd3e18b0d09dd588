import { describe, expect, it } from 'vitest';
import { CallFollower } from './follow.js';

const ev = (session_id: string, call_id: string | null, kind = 'sip', linked_call_ids?: string[]) => ({ session_id, call_id, kind: kind as 'sip', linked_call_ids });

describe('CallFollower', () => {
  it('announces each new Call-ID (and its legs) of SIP events once per session, to the other agents', () => {
    const pushed: [string, number, string[]][] = [];
    const f = new CallFollower({ pushFollow: async (s, a, ids) => void pushed.push([s, a, ids]) });
    f.onStored(1, [ev('s1', 'c1'), ev('s1', 'c1'), ev('s1', 'c2', 'sip', ['c2-b']), ev('s2', 'c1'), ev('s1', 'c9', 'log'), ev('s1', null)]);
    expect(pushed).toEqual([
      ['s1', 1, ['c1', 'c2', 'c2-b']],
      ['s2', 1, ['c1']],
    ]);
    // the followers' own events for those calls come back: nothing more is announced
    f.onStored(2, [ev('s1', 'c1'), ev('s1', 'c2-b')]);
    expect(pushed.length).toBe(2);
    f.forget('s1');
    f.onStored(2, [ev('s1', 'c1')]);
    expect(pushed[2]).toEqual(['s1', 2, ['c1']]);
    expect(f.announcedTotal).toBe(5);
  });
});
