// Call states as markers on the platform's lane (found by the name its SIP messages give, or added),
// route decisions as notes, both in time order with the arrows and filtered by the dialog selector.
import { describe, expect, it } from 'vitest';
import { buildLadder } from './build.js';
import type { LadderEvent } from './types.js';

const sip = (id: number, ts: number, src: string, dst: string, text: string, callId = 'c1'): LadderEvent => ({
  id, agent_id: 1, ts, kind: 'sip', src: { ip: src, port: 5060 }, dst: { ip: dst, port: 5060 }, call_id: callId,
  sip: text.startsWith('SIP/') ? { status: Number(text.slice(8, 11)), reason: 'OK', cseq_seq: 1, cseq_method: 'INVITE', has_sdp: false } : { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', has_sdp: false },
  payload: text,
});
const invite = 'INVITE sip:b@x SIP/2.0\r\nCall-ID: c1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nUser-Agent: softphone\r\n\r\n';
// a 100 Trying names its sender's lane (hop by hop): FreeSWITCH writes its User-Agent there
const ok = 'SIP/2.0 100 Trying\r\nCall-ID: c1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nUser-Agent: FreeSWITCH-mod_sofia/1.10.9\r\n\r\n';

const events: LadderEvent[] = [
  sip(1, 1000, '10.0.0.1', '10.0.0.2', invite),
  { id: 2, agent_id: 1, ts: 1500, kind: 'route', src: null, dst: null, call_id: 'c1', sip: null, payload: 'route=RELAY callid=c1', route: { route: 'RELAY', destination: 'sip:10.0.0.2', source: 'log:/k.log' } },
  { id: 3, agent_id: 1, ts: 2000, kind: 'callstate', src: null, dst: null, call_id: 'c1', sip: null, payload: null, callstate: { platform: 'freeswitch', state: 'answered', source: 'esl:x', fields: { 'Unique-ID': 'u1' } } },
  sip(4, 2500, '10.0.0.2', '10.0.0.1', ok),
  { id: 5, agent_id: 1, ts: 3000, kind: 'callstate', src: null, dst: null, call_id: 'c1', sip: null, payload: null, callstate: { platform: 'freeswitch', state: 'hangup', cause: 'NORMAL_CLEARING', q850: 16 } },
  { id: 6, agent_id: 1, ts: 3500, kind: 'callstate', src: null, dst: null, call_id: 'c1', sip: null, payload: null, callstate: { platform: 'asterisk', state: 'created' } },
  { id: 7, agent_id: 1, ts: 4000, kind: 'callstate', src: null, dst: null, call_id: 'other', sip: null, payload: null, callstate: { platform: 'freeswitch', state: 'created' } },
];

describe('ladder marks', () => {
  it('puts call states on the platform lane and route notes in time order', () => {
    const l = buildLadder(events, { agentNames: { 1: 'pbx-1' } });
    expect(l.lanes.map((x) => x.name)).toEqual(['softphone', 'FreeSWITCH-mod_sofia/1.10.9', 'asterisk']);
    expect(l.lanes[2].key).toBe('(asterisk)');
    expect(l.marks.map((m) => [m.kind, m.lane, m.label])).toEqual([
      ['route', 0, 'route RELAY → sip:10.0.0.2'],
      ['callstate', 1, 'freeswitch: answered'],
      ['callstate', 1, 'freeswitch: hangup · NORMAL_CLEARING · Q.850 16'],
      ['callstate', 2, 'asterisk: created'],
      ['callstate', 1, 'freeswitch: created'],
    ]);
    expect(l.rows.map((r) => r.type)).toEqual(['arrow', 'mark', 'mark', 'arrow', 'mark', 'mark', 'mark']);
    expect(l.marks[1]).toMatchObject({ source: 'pbx-1 esl:x', fields: { 'Unique-ID': 'u1' }, callId: 'c1' });
    expect(l.marks[0]).toMatchObject({ text: 'route=RELAY callid=c1', fields: { destination: 'sip:10.0.0.2' } });
  });

  it('follows the dialog selector', () => {
    const l = buildLadder(events, { callId: 'other' });
    expect(l.marks.map((m) => m.eventId)).toEqual([7]);
  });
});
