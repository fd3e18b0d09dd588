// Legs of one call (X-CID, Session-ID, icid, collector links) and followed Call-IDs in the engine.
import { describe, expect, it } from 'vitest';
import { MatchEngine } from './engine.js';
import { meta, request, response } from './testing/sip-builder.js';

const S = 1_000_000;
const ids = (h: { sessions: { id: string }[] } | null): string[] => (h === null ? [] : h.sessions.map((s) => s.id).sort());

describe('B2BUA legs', () => {
  it('a leg naming a captured Call-ID in X-CID is captured, reported as linked, with the legs on the hit', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'alice' } });
    expect(ids(e.onSip(meta(S), request('INVITE', { callId: 'A' })))).toEqual(['s']);
    const b = e.onSip(meta(S + 1), request('INVITE', { callId: 'B', from: '<sip:sbc@x>', extra: ['X-CID: A'] }));
    expect(b?.sessions).toEqual([{ id: 's', reason: 'linked' }]);
    expect(b?.legs).toEqual(['A']);
    expect(e.legsOf('A')).toEqual(['B']);
    // later messages of A carry the leg too
    expect(e.onSip(meta(S + 2), response(180, 'INVITE', { callId: 'A' }))?.legs).toEqual(['B']);
  });

  it('configurable link headers; [] turns header links off', () => {
    const e = new MatchEngine({ linkHeaders: ['X-Other-Leg'] });
    e.addSession({ id: 's', criteria: { call_id: 'A' } });
    e.onSip(meta(S), request('INVITE', { callId: 'A' }));
    expect(e.onSip(meta(S + 1), request('INVITE', { callId: 'B', extra: ['X-CID: A'] }))).toBeNull();
    expect(ids(e.onSip(meta(S + 1), request('INVITE', { callId: 'C', extra: ['x-other-leg: A'] })))).toEqual(['s']);
    const off = new MatchEngine({ linkHeaders: [] });
    off.addSession({ id: 's', criteria: { call_id: 'A' } });
    off.onSip(meta(S), request('INVITE', { callId: 'A' }));
    expect(off.onSip(meta(S + 1), request('INVITE', { callId: 'B', extra: ['X-CID: A'] }))).toBeNull();
  });

  it('an inferred leg is a new hop: the next call of a UA on the same hop (sipp on loopback) is not a leg', () => {
    const at = (tsUs: number, srcPort: number, dstPort: number) => ({ tsUs, transport: 'udp', src: { ip: '127.0.0.1', port: srcPort }, dst: { ip: '127.0.0.1', port: dstPort } });
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'alice' } });
    const call = (callId: string, from: string) => request('INVITE', { callId, from, ruri: 'sip:15554430191@127.0.0.1' });
    expect(ids(e.onSip(at(S, 5091, 5060), call('A', '<sip:alice@x>')))).toEqual(['s']);
    // the UA's next call to the same number, same ports both ends, within the window: not A's leg
    expect(e.onSip(at(S + 1000, 5091, 5060), call('N', '<sip:sipp@x>'))).toBeNull();
    // the B2BUA on 5060 sending onwards to another hop: A's leg, inferred
    const b = e.onSip(at(S + 2000, 5060, 5092), call('B', '<sip:b2bua@x>'));
    expect(b?.sessions).toEqual([{ id: 's', reason: 'linked' }]);
    expect(b?.legsInferred).toBe(true);
  });

  it('the null Session-ID links nothing', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { call_id: 'A' } });
    const nul = 'Session-ID: 00000000000000000000000000000000;remote=00000000000000000000000000000000';
    e.onSip(meta(S), request('INVITE', { callId: 'A', extra: [nul] }));
    expect(e.onSip(meta(S + 1), request('INVITE', { callId: 'B', extra: [nul] }))).toBeNull();
  });

  it('linkCallIds (platform collectors): either leg captured captures the other, both ways', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { call_id: 'B' } });
    e.onSip(meta(S), request('INVITE', { callId: 'A' }));
    e.onSip(meta(S + 1), request('INVITE', { callId: 'B' }));
    e.linkCallIds('A', 'B');
    expect(ids(e.onSip(meta(S + 2), response(200, 'INVITE', { callId: 'A' })))).toEqual(['s']);
    expect(e.dialogsOf('s').sort()).toEqual(['A', 'B']);
    // a raw datagram of the linked leg is taken without any criterion in it
    const raw = Buffer.from('BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: A\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n');
    expect(ids(e.onDatagram(meta(S + 3), raw) as never)).toEqual(['s']);
  });
});

describe('follow (one session, all its agents)', () => {
  it('a followed Call-ID is captured from its next message, and log lines carrying it are taken', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'nobody-here' } });
    expect(e.follow('nope', ['X'])).toBe(false);
    expect(e.follow('s', ['X', 'Y'])).toBe(true);
    expect(ids(e.onSip(meta(S), request('BYE', { callId: 'X' }, true)))).toEqual(['s']);
    expect(e.onLogLine('2026-12-04 kamailio: call-id=Y routed to gw2', S, 'kamailio')?.sessions).toEqual([{ id: 's', callId: 'Y' }]);
    expect(e.onLogLine('unrelated call-id=Z', S, 'kamailio')).toBeNull();
  });

  it('following one leg follows its linked legs', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'nobody-here' } });
    e.onSip(meta(S), request('INVITE', { callId: 'B', extra: ['X-CID: A'] }));
    e.follow('s', ['A']);
    expect(e.dialogsOf('s').sort()).toEqual(['A', 'B']);
  });
});
