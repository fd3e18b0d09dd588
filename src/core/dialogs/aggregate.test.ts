// The call list's fold: state rules on hand-written flows for the cases real captures in
// test/api/dialogs.test.ts do not cover (re-INVITE failure, mid-call pick-up, a fork's failure before
// another branch's 2xx, a REGISTER refresh, retransmissions vs another agent's copy).
import { describe, expect, it } from 'vitest';
import { applyEvent, dialogSearchText, newDialog, presentDialog } from './aggregate.js';
import type { DialogEvent } from './aggregate.js';

let t = 1_000_000;
const req = (method: string, cseq: number, cseqMethod = method, over: Partial<DialogEvent> = {}): DialogEvent => ({
  agent_id: 1,
  ts: (t += 1000),
  kind: 'sip',
  src: { ip: '192.0.2.1', port: 5060 },
  dst: { ip: '192.0.2.2', port: 5060 },
  call_id: 'c',
  sip: { method, cseq_seq: cseq, cseq_method: cseqMethod, from_user: 'alice', to_user: 'bob', has_sdp: false },
  payload: `${method} sip:bob@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-${method}-${cseq}\r\n\r\n`,
  stats: null,
  ...over,
});
const res = (status: number, cseq: number, method = 'INVITE', tag = 't1'): DialogEvent => ({
  ...req(method, cseq),
  sip: { status, reason: `R${status}`, cseq_seq: cseq, cseq_method: method, has_sdp: false },
  payload: `SIP/2.0 ${status} R${status}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-${method}-${cseq}\r\nTo: <sip:bob@h>;tag=${tag}\r\n\r\n`,
});
const fold = (events: DialogEvent[]) => {
  const d = newDialog('c', events[0].ts);
  const states: string[] = [];
  for (const e of events) {
    applyEvent(d, e);
    states.push(d.state);
  }
  return { d, states };
};

describe('call list fold', () => {
  it('SIP over WebSocket: the webrtc twin of a sip event is not another message', () => {
    const inv = req('INVITE', 1);
    const ok = res(200, 1);
    const twin = (e: DialogEvent): DialogEvent => ({ ...e, kind: 'webrtc', payload: null });
    const { d, states } = fold([inv, twin(inv), ok, twin(ok)]);
    expect(states).toEqual(['calling', 'calling', 'answered', 'answered']);
    expect([d.messages, d.retransmissions]).toEqual([2, 0]);
  });

  it('INVITE: calling → ringing → answered → completed; 100 Trying does not ring', () => {
    const { d, states } = fold([req('INVITE', 1), res(100, 1), res(180, 1), res(200, 1), req('ACK', 1), req('BYE', 2), res(200, 2, 'BYE')]);
    expect(states).toEqual(['calling', 'calling', 'ringing', 'answered', 'answered', 'completed', 'completed']);
    expect(d.final_status).toEqual({ code: 200, reason: 'R200' });
  });

  it('a failed re-INVITE does not end or fail the call (RFC 3261 §14.1)', () => {
    const { d } = fold([req('INVITE', 1), res(200, 1), req('INVITE', 2), res(491, 2)]);
    expect(d.state).toBe('answered');
    expect(d.final_status?.code).toBe(200);
  });

  it('a fork fails before another branch answers: answered wins (RFC 3261 §16.7)', () => {
    const { states } = fold([req('INVITE', 1), res(180, 1, 'INVITE', 'a'), res(486, 1, 'INVITE', 'a'), res(200, 1, 'INVITE', 'b')]);
    expect(states.slice(-2)).toEqual(['failed', 'answered']);
  });

  it('CANCEL then 487: cancelled; a 200 racing the CANCEL answers the call', () => {
    expect(fold([req('INVITE', 1), res(180, 1), req('CANCEL', 1), res(200, 1, 'CANCEL'), res(487, 1)]).d).toMatchObject({ state: 'cancelled', final_status: { code: 487 } });
    expect(fold([req('INVITE', 1), req('CANCEL', 1), res(200, 1)]).d.state).toBe('answered');
  });

  it('INVITE challenged with 407, then sent again with credentials (CSeq + 1): starts over and is answered', () => {
    const { states, d } = fold([req('INVITE', 1), res(407, 1), req('ACK', 1), req('INVITE', 2), res(180, 2), res(200, 2)]);
    expect(states).toEqual(['calling', 'failed', 'failed', 'calling', 'ringing', 'answered']);
    expect(d.final_status?.code).toBe(200);
  });

  it('mid-call pick-up: a BYE or an in-dialog answer first makes an INVITE call', () => {
    expect(fold([req('BYE', 7)]).d).toMatchObject({ method: 'INVITE', state: 'completed' });
    expect(fold([res(200, 7, 'UPDATE')]).d).toMatchObject({ method: 'INVITE', state: 'answered' });
    expect(fold([res(200, 3, 'REGISTER')]).d).toMatchObject({ method: 'REGISTER', state: 'registered' });
  });

  it('REGISTER: 401 then 200 is registered; a refresh that fails shows failed', () => {
    expect(fold([req('REGISTER', 1), res(401, 1, 'REGISTER'), req('REGISTER', 2), res(200, 2, 'REGISTER')]).states).toEqual(['calling', 'failed', 'calling', 'registered']);
    expect(fold([req('REGISTER', 1), res(200, 1, 'REGISTER'), req('REGISTER', 2), res(403, 2, 'REGISTER')]).d.state).toBe('failed');
  });

  it('retransmissions: the same message from the same agent again; another agent\'s copy is not one', () => {
    const inv = req('INVITE', 1);
    const { d } = fold([inv, { ...inv, ts: inv.ts + 500_000 }, { ...inv, agent_id: 2 }, res(180, 1), res(180, 1)]);
    expect(d).toMatchObject({ messages: 5, retransmissions: 2, agents: [1, 2] });
  });

  it('media: has_rtp and the worst MOS; logs count as nothing but time and agents; search text', () => {
    const stats = (mos: number | null): DialogEvent => ({ ...req('X', 1), kind: 'rtp', sip: null, payload: null, stats: { ssrc: 1, packets: 1, expected: 1, lost: 0, jitter_ms: 0, max_delta_ms: 0, mos, codec: null, final: true } });
    const { d } = fold([req('INVITE', 1, 'INVITE', { payload: 'INVITE sip:bob@h SIP/2.0\r\nUser-Agent: Zoiper 5\r\nP-Asserted-Identity: <tel:+15550001>\r\n\r\n' }), stats(4.1), stats(null), stats(2.9), { ...req('X', 1), kind: 'log', sip: null, agent_id: 3 }]);
    expect(d).toMatchObject({ has_rtp: true, mos: 2.9, messages: 1, agents: [1, 3] });
    expect(dialogSearchText(d)).toContain('zoiper 5');
    expect(dialogSearchText(d)).toContain('+15550001');
    expect(presentDialog(1, 2, d).duration_ms).toBe(Math.floor(d.last_at / 1000) - Math.floor(d.started_at / 1000));
  });
});
