// MatchEngine: dialog capture "from that point", life cycle and linger, bounded tables with counted
// eviction, method narrowing, orientation, media learning and sampling, log correlation.
import { describe, expect, it } from 'vitest';
import { MatchEngine, type PacketMeta, type StatsEvent } from './engine.js';
import { request, response, meta, sipText } from './testing/sip-builder.js';
import { parseSip } from '../../protocol/sip.js';
import type { CallOpts } from './testing/sip-builder.js';

const S = 1_000_000;

const ids = (h: { sessions: { id: string }[] } | null): string[] => (h === null ? [] : h.sessions.map((s) => s.id).sort());

/** A whole INVITE dialog, in order; returns the sessions that took each message. */
function call(e: MatchEngine, o: CallOpts, t0: number, opts: { byCallee?: boolean; fail?: number } = {}): string[][] {
  const out: string[][] = [];
  const at = (i: number) => meta(t0 + i * 1000);
  const rev: CallOpts = { ...o, from: o.to ?? '<sip:bob@example.com>', to: o.from ?? '<sip:alice@example.com>', fromTag: o.toTag ?? 'ttag', toTag: o.fromTag ?? 'ftag' };
  out.push(ids(e.onSip(at(0), request('INVITE', o))));
  out.push(ids(e.onSip(at(1), response(100, 'INVITE', o))));
  out.push(ids(e.onSip(at(2), response(180, 'INVITE', o))));
  if (opts.fail !== undefined) {
    out.push(ids(e.onSip(at(3), response(opts.fail, 'INVITE', o))));
    out.push(ids(e.onSip(at(4), request('ACK', o, true))));
    return out;
  }
  out.push(ids(e.onSip(at(3), response(200, 'INVITE', o))));
  out.push(ids(e.onSip(at(4), request('ACK', o, true))));
  if (opts.byCallee) {
    out.push(ids(e.onSip(at(5), request('BYE', { ...rev, cseq: 1 }, true))));
    out.push(ids(e.onSip(at(6), response(200, 'BYE', { ...rev, cseq: 1 }))));
  } else {
    out.push(ids(e.onSip(at(5), request('BYE', { ...o, cseq: 2 }, true))));
    out.push(ids(e.onSip(at(6), response(200, 'BYE', { ...o, cseq: 2 }))));
  }
  return out;
}

describe('dialog capture', () => {
  it('captures every message of a matching dialog, both directions, and nothing of others', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's1', criteria: { from: '15551110001' } });
    const a = call(e, { callId: 'a', from: '<sip:15551110001@example.com>', to: '<sip:15552220002@example.com>' }, 1 * S);
    const b = call(e, { callId: 'b', from: '<sip:15553330003@example.com>', to: '<sip:15552220002@example.com>' }, 2 * S);
    expect(a).toEqual(Array(7).fill(['s1']));
    expect(b).toEqual(Array(7).fill([]));
  });

  it('tells why: criteria on the message that opened it, dialog afterwards', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's1', criteria: { call_id: 'x' } });
    e.addSession({ id: 's2', criteria: { text: 'INVITE sip:' } });
    const h1 = e.onSip(meta(S), request('INVITE', { callId: 'x' }));
    expect(h1?.sessions).toEqual([
      { id: 's1', reason: 'criteria' },
      { id: 's2', reason: 'criteria' },
    ]);
    const h2 = e.onSip(meta(S + 1), response(180, 'INVITE', { callId: 'x' }));
    expect(h2?.sessions.map((s) => s.reason)).toEqual(['dialog', 'dialog']);
  });

  it('a call TO a number is not captured by from=<that number>, even when the callee hangs up', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'from-b', criteria: { from: '15552220002' } });
    e.addSession({ id: 'to-b', criteria: { to: '15552220002' } });
    const r = call(e, { callId: 'c', from: '<sip:15551110001@example.com>', to: '<sip:15552220002@example.com>', ruri: 'sip:15552220002@example.com' }, S, { byCallee: true });
    expect(r).toEqual(Array(7).fill(['to-b']));
  });

  it('captures from that point when a mid-dialog message matches (BYE whose From matches)', () => {
    const e = new MatchEngine();
    const o = { callId: 'm', from: '<sip:15551110001@example.com>' };
    // INVITE..ACK happen before the session exists.
    call(e, o, S).slice(0, 5);
    e.addSession({ id: 's', criteria: { from: '15551110001' } });
    expect(ids(e.onSip(meta(3 * S), request('BYE', { ...o, cseq: 2 }, true)))).toEqual(['s']);
    expect(ids(e.onSip(meta(3 * S + 1), response(200, 'BYE', { ...o, cseq: 2 })))).toEqual(['s']);
  });

  it('a method-narrowed capture opens at a response or an in-dialog request of a dialog of that method', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'inv', criteria: { from: 'alice', method: 'INVITE' } });
    // the 180 answers an INVITE (CSeq), the BYE exists only in INVITE dialogs (RFC 3261 §15)
    expect(ids(e.onSip(meta(S), response(180, 'INVITE', { callId: 'r' })))).toEqual(['inv']);
    expect(ids(e.onSip(meta(S + 1), request('BYE', { callId: 'r0' }, true)))).toEqual(['inv']);
    expect(e.onSip(meta(S + 1), request('NOTIFY', { callId: 'r1' }, true))).toBeNull();
    expect(e.onSip(meta(S + 1), response(200, 'REGISTER', { callId: 'r3' }))).toBeNull();
    expect(ids(e.onSip(meta(S + 2), request('INVITE', { callId: 'r2' })))).toEqual(['inv']);
    expect(ids(e.onSip(meta(S + 3), response(200, 'INVITE', { callId: 'r2' })))).toEqual(['inv']);
  });

  it('method narrows: the dialog must be created by that method', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'reg', criteria: { from: 'alice', method: 'REGISTER' } });
    e.addSession({ id: 'any', criteria: { from: 'alice' } });
    const inv = call(e, { callId: 'i' }, S);
    expect(inv).toEqual(Array(7).fill(['any']));
    const reg = { callId: 'reg-1', to: '<sip:alice@example.com>' };
    expect(ids(e.onSip(meta(2 * S), request('REGISTER', { ...reg, ruri: 'sip:example.com' })))).toEqual(['any', 'reg']);
    expect(ids(e.onSip(meta(2 * S + 1), response(200, 'REGISTER', reg)))).toEqual(['any', 'reg']);
    const opt = e.onSip(meta(2 * S + 2), request('OPTIONS', { callId: 'o' }));
    expect(ids(opt)).toEqual(['any']);
  });
});

describe('dialog life cycle', () => {
  it('BYE/200 ends the dialog; captured during the linger, not after', () => {
    const e = new MatchEngine({ lingerUs: 5 * S });
    e.addSession({ id: 's', criteria: { call_id: 'L' } });
    e.addSession({ id: 't', criteria: { from: 'alice' } });
    call(e, { callId: 'L' }, S);
    const end = S + 6000;
    const late = (dt: number) => ids(e.onSip(meta(end + dt), request('BYE', { callId: 'L', cseq: 2 }, true)));
    expect(late(4 * S)).toEqual(['s', 't']);
    // A retransmission after the linger: the dialog is gone and only criteria decide again.
    expect(late(5 * S + 1)).toEqual(['s', 't']);
    const e2 = new MatchEngine({ lingerUs: 5 * S });
    e2.addSession({ id: 'm', criteria: { from: 'alice', method: 'INVITE' } });
    call(e2, { callId: 'L' }, S);
    expect(ids(e2.onSip(meta(end + 4 * S), request('BYE', { callId: 'L', cseq: 2 }, true)))).toEqual(['m']);
    e2.advance(end + 6 * S);
    expect(e2.dialogCount).toBe(0);
    // after the linger the BYE (an INVITE dialog's, from alice) matches the criteria afresh
    expect(ids(e2.onSip(meta(end + 6 * S), request('BYE', { callId: 'L', cseq: 2 }, true)))).toEqual(['m']);
  });

  it('final non-2xx to the INVITE ends it after the ACK; a re-sent INVITE with credentials revives it', () => {
    const e = new MatchEngine({ lingerUs: 5 * S });
    e.addSession({ id: 'm', criteria: { from: 'alice', method: 'INVITE' } });
    const r = call(e, { callId: 'auth' }, S, { fail: 407 });
    expect(r).toEqual(Array(5).fill(['m']));
    const o = { callId: 'auth', cseq: 2, extra: ['Proxy-Authorization: Digest x'] };
    expect(ids(e.onSip(meta(S + 1 * S), request('INVITE', o)))).toEqual(['m']);
    expect(e.onSip(meta(S + 1 * S + 1), response(200, 'INVITE', o))?.dialog).toBe('active');
    // Established now: still captured well after the old linger.
    expect(ids(e.onSip(meta(S + 60 * S), request('BYE', { callId: 'auth', cseq: 3 }, true)))).toEqual(['m']);
  });

  it('CANCEL/487 ends it', () => {
    const e = new MatchEngine({ lingerUs: 2 * S });
    e.addSession({ id: 'm', criteria: { from: 'alice', method: 'INVITE' } });
    const o = { callId: 'cx' };
    e.onSip(meta(S), request('INVITE', o));
    e.onSip(meta(S + 1), response(180, 'INVITE', o));
    expect(ids(e.onSip(meta(S + 2), request('CANCEL', o)))).toEqual(['m']);
    expect(e.onSip(meta(S + 3), response(200, 'CANCEL', o))?.dialog).toBe('active');
    expect(e.onSip(meta(S + 4), response(487, 'INVITE', o))?.dialog).toBe('ended');
    expect(ids(e.onSip(meta(S + 5), request('ACK', o, true)))).toEqual(['m']);
    e.advance(S + 3 * S);
    expect(e.dialogCount).toBe(0);
  });

  it('re-INVITE non-2xx (488) does not end an established dialog', () => {
    const e = new MatchEngine({ lingerUs: S });
    e.addSession({ id: 'm', criteria: { from: 'alice', method: 'INVITE' } });
    const o = { callId: 'ri' };
    e.onSip(meta(S), request('INVITE', o));
    e.onSip(meta(S + 1), response(200, 'INVITE', o));
    e.onSip(meta(S + 2), request('INVITE', { ...o, cseq: 2 }, true));
    expect(e.onSip(meta(S + 3), response(488, 'INVITE', { ...o, cseq: 2 }))?.dialog).toBe('active');
    expect(ids(e.onSip(meta(100 * S), request('INFO', { ...o, cseq: 3 }, true)))).toEqual(['m']);
  });

  it('joined at a re-INVITE, a 488 answer does not end the capture', () => {
    const e = new MatchEngine({ lingerUs: S });
    const o = { callId: 'mid', cseq: 5 };
    e.addSession({ id: 't', criteria: { text: 'a=sendonly' } });
    expect(ids(e.onSip(meta(S), request('INVITE', { ...o, body: 'v=0\r\na=sendonly\r\n' }, true)))).toEqual(['t']);
    expect(e.onSip(meta(S + 1), response(488, 'INVITE', o))?.dialog).toBe('active');
    expect(ids(e.onSip(meta(60 * S), request('BYE', { ...o, cseq: 6 }, true)))).toEqual(['t']);
  });

  it('REGISTER/OPTIONS transactions end on their final response', () => {
    const e = new MatchEngine({ lingerUs: S });
    e.addSession({ id: 'r', criteria: { from: 'alice', method: 'REGISTER' } });
    const o = { callId: 'rg', ruri: 'sip:example.com' };
    e.onSip(meta(S), request('REGISTER', o));
    expect(e.onSip(meta(S + 1), response(401, 'REGISTER', o))?.dialog).toBe('ended');
    // The authenticated REGISTER within the linger continues the capture.
    expect(ids(e.onSip(meta(S + S / 2), request('REGISTER', { ...o, cseq: 2 })))).toEqual(['r']);
    expect(e.onSip(meta(S + S / 2 + 1), response(200, 'REGISTER', { ...o, cseq: 2 }))?.dialog).toBe('ended');
    e.advance(10 * S);
    expect(e.dialogCount).toBe(0);
  });

  it('an unanswered request goes away after the transaction timeout', () => {
    const e = new MatchEngine({ transactionTimeoutUs: 32 * S });
    e.addSession({ id: 'o', criteria: { call_id: 'opt' } });
    e.addSession({ id: 'x', criteria: { text: 'zzz-never' } });
    e.onSip(meta(S), request('OPTIONS', { callId: 'opt' }));
    expect(e.dialogCount).toBe(1);
    e.advance(40 * S);
    expect(e.dialogCount).toBe(0);
  });

  it('time comes from packets: nothing expires without packets, however long the wall clock runs', () => {
    const e = new MatchEngine({ lingerUs: S });
    e.addSession({ id: 's', criteria: { from: 'alice', method: 'INVITE' } });
    call(e, { callId: 't' }, 1000 * S, { fail: 486 });
    expect(e.dialogCount).toBe(1);
    // A packet from the past (reordered capture) does not move the clock back or forward.
    e.onSip(meta(5 * S), request('OPTIONS', { callId: 'other', from: '<sip:zed@x>' }));
    expect(e.dialogCount).toBe(1);
    e.advance(1002 * S);
    expect(e.dialogCount).toBe(0);
  });
});

describe('bounded tables', () => {
  it('evicts the least recently active dialog when the total table is full, and counts it', () => {
    const e = new MatchEngine({ maxDialogs: 3 });
    e.addSession({ id: 's', criteria: { from: 'alice' } });
    for (let i = 0; i < 5; i++) e.onSip(meta(S + i), request('INVITE', { callId: `c${i}` }));
    expect(e.dialogCount).toBe(3);
    expect(e.counters.dialogsEvicted).toBe(2);
    expect(e.sessionCounters('s')?.evicted).toBe(2);
    expect(e.dialogsOf('s').sort()).toEqual(['c2', 'c3', 'c4']);
  });

  it('per-session cap evicts that session’s least recently active dialog only', () => {
    const e = new MatchEngine({ maxDialogsPerSession: 2 });
    e.addSession({ id: 'small', criteria: { from: 'alice' } });
    e.addSession({ id: 'big', criteria: { domain: 'example.com' }, captureRtp: false });
    for (let i = 0; i < 4; i++) e.onSip(meta(S + i), request('INVITE', { callId: `c${i}` }));
    expect(e.sessionCounters('small')?.evicted).toBe(2);
    expect(e.dialogsOf('small').sort()).toEqual(['c2', 'c3']);
    // c2 touched again: c3 is now the least recent and goes when c4 arrives.
    expect(ids(e.onSip(meta(S + 10), response(180, 'INVITE', { callId: 'c2' })))).toEqual(['big', 'small']);
    e.onSip(meta(S + 11), request('INVITE', { callId: 'c4' }));
    expect(e.dialogsOf('small').sort()).toEqual(['c2', 'c4']);
    expect(e.sessionCounters('small')?.evicted).toBe(3);
    expect(e.counters.dialogsEvicted).toBe(6);
  });
});

describe('sessions', () => {
  it('add is idempotent, remove releases dialogs, expiry uses the caller clock', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'alice' }, expiresAtUs: 50 * S });
    e.onSip(meta(S), request('INVITE', { callId: 'k' }));
    e.addSession({ id: 's', criteria: { from: 'alice' }, expiresAtUs: 60 * S });
    expect(e.dialogsOf('s')).toEqual(['k']);
    expect(e.expireSessions(59 * S)).toEqual([]);
    expect(e.expireSessions(60 * S)).toEqual(['s']);
    expect(e.dialogCount).toBe(0);
    expect(e.onSip(meta(S + 1), response(200, 'INVITE', { callId: 'k' }))).toBeNull();
    expect(e.removeSession('s')).toBe(false);
  });
});

describe('SIP over WebSocket', () => {
  it('is a sip hit flagged webrtc, counted as webrtc too', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'w', criteria: { from: 'alice' } });
    const h = e.onSip(meta(S, '192.0.2.10', '198.51.100.20', 'ws'), request('INVITE', { callId: 'ws-1' }));
    expect(h).toMatchObject({ kind: 'sip', webrtc: true });
    expect(e.sessionCounters('w')).toMatchObject({ sip: 1, webrtc: 1 });
    expect(e.onSip(meta(S + 1), response(200, 'INVITE', { callId: 'ws-1' }))?.webrtc).toBe(false);
  });
});

describe('log lines', () => {
  it('correlates by Call-ID of captured dialogs and by a text-only session', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'c', criteria: { from: 'alice' } });
    e.addSession({ id: 'txt', criteria: { text: 'TRUNK-DOWN' } });
    e.onSip(meta(S), request('INVITE', { callId: 'abc-123@10.0.0.1' }));
    const h = e.onLogLine('Nov 26 kamailio[12]: NOTICE: <script>: callid=abc-123@10.0.0.1 routed', S, 'k.log');
    expect(h?.sessions).toEqual([{ id: 'c', callId: 'abc-123@10.0.0.1' }]);
    expect(e.onLogLine('callid=(abc-123@10.0.0.1)', S, 'k.log')?.sessions).toEqual([{ id: 'c', callId: 'abc-123@10.0.0.1' }]);
    expect(e.onLogLine('other call zzz@10.0.0.1', S, 'k.log')).toBeNull();
    expect(e.onLogLine('alarm: trunk-down on gw1', S, 'k.log')?.sessions).toEqual([{ id: 'txt', callId: undefined }]);
    expect(e.sessionCounters('c')?.log).toBe(2);
  });
});

// ---- media --------------------------------------------------------------------------------------

const sdp = (ip: string, port: number, extra: string[] = []) =>
  ['v=0', `o=- 1 1 IN IP4 ${ip}`, 's=-', `c=IN IP4 ${ip}`, 't=0 0', `m=audio ${port} RTP/AVP 9 101`, 'a=rtpmap:9 G722/8000', 'a=rtpmap:101 telephone-event/8000', ...extra, ''].join('\r\n');

const rtp = (seq: number, ts: number, ssrc = 0x1234, pt = 9): Buffer => {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
};
const udp = (tsUs: number, src: string, sport: number, dst: string, dport: number): PacketMeta => ({
  tsUs,
  transport: 'udp',
  src: { ip: src, port: sport },
  dst: { ip: dst, port: dport },
});

describe('media', () => {
  it('learns endpoints from offer/answer, follows a re-INVITE, classifies RTP/RTCP/STUN/DTLS, samples', () => {
    const stats: StatsEvent[] = [];
    const e = new MatchEngine({ onStats: (ev) => stats.push(ev), rtpSampleFirst: 10, rtpSampleEvery: 50, statsIntervalUs: 0 });
    e.addSession({ id: 'rtp', criteria: { from: 'alice' }, captureRtp: true });
    e.addSession({ id: 'sig', criteria: { from: 'alice' } });
    const o = { callId: 'media' };
    e.onSip(meta(S), request('INVITE', { ...o, body: sdp('192.0.2.10', 4000) }));
    e.onSip(meta(S + 1), response(200, 'INVITE', { ...o, body: sdp('198.51.100.20', 6000, ['a=rtcp-mux']) }));
    let samples = 0;
    let n = 0;
    for (let i = 0; i < 200; i++) {
      const h = e.onDatagram(udp(2 * S + i * 20000, '192.0.2.10', 4000, '198.51.100.20', 6000), rtp(65500 + i, i * 160));
      expect(h?.kind).toBe('rtp');
      expect((h as { sessions: string[] }).sessions).toEqual(['rtp']);
      if ((h as { sample: boolean }).sample) samples++;
      n++;
    }
    expect(n).toBe(200);
    // first 10, then packets 60, 110, 160 (1 in 50 after the first 10)
    expect(samples).toBe(13);
    // Only the answer carries rtcp-mux, so mux is not in effect (RFC 5761 §5.1.1): RTCP on port+1 of
    // both; a mux-style RTCP on the RTP port is still taken (same 5-tuple as the RTP).
    // Offer and answer both known: only the negotiated 5-tuple counts, a stranger's packet does not.
    const rr = Buffer.from([0x81, 201, 0, 7, 0, 0, 0, 1, ...Array(24).fill(0)]);
    expect(e.onDatagram(udp(3 * S, '192.0.2.10', 4001, '198.51.100.20', 6000), rr)?.kind).toBe('rtcp');
    expect(e.onDatagram(udp(3 * S, '198.51.100.20', 6000, '192.0.2.10', 4001), rr)?.kind).toBe('rtcp');
    expect(e.onDatagram(udp(3 * S, '192.0.2.10', 4001, '203.0.113.1', 9), rr)).toBeNull();
    expect(e.onDatagram(udp(3 * S, '203.0.113.1', 9, '198.51.100.20', 6000), rr)).toBeNull();
    expect(e.onDatagram(udp(3 * S, '192.0.2.10', 4001, '198.51.100.20', 6001), rr)?.kind).toBe('rtcp');
    const stun = Buffer.alloc(20);
    stun.writeUInt16BE(0x0001, 0);
    stun.writeUInt32BE(0x2112a442, 4);
    const h = e.onDatagram(udp(3 * S, '198.51.100.20', 6000, '192.0.2.10', 4000), stun);
    expect(h).toMatchObject({ kind: 'webrtc', protocol: 'stun' });
    const dtls = Buffer.from([22, 0xfe, 0xfd, ...Array(20).fill(0)]);
    expect(e.onDatagram(udp(3 * S, '198.51.100.20', 6000, '192.0.2.10', 4000), dtls)).toMatchObject({ kind: 'webrtc', protocol: 'dtls' });
    // re-INVITE moves the answerer to a new address: the old one is forgotten.
    e.onSip(meta(4 * S), request('INVITE', { ...o, cseq: 2, body: sdp('192.0.2.10', 4000) }, true));
    e.onSip(meta(4 * S + 1), response(200, 'INVITE', { ...o, cseq: 2, body: sdp('198.51.100.99', 7000) }));
    expect(e.onDatagram(udp(5 * S, '203.0.113.1', 9, '198.51.100.20', 6000), rtp(1, 1, 7))).toBeNull();
    expect(e.onDatagram(udp(5 * S, '198.51.100.99', 7000, '192.0.2.10', 4000), rtp(1, 1, 0x99))?.kind).toBe('rtp');
    expect(e.onDatagram(udp(5 * S, '192.0.2.10', 4001, '198.51.100.99', 7001), rr)?.kind).toBe('rtcp');
    // BYE/200 + linger: final stats for the session that captures RTP.
    e.onSip(meta(6 * S), request('BYE', { ...o, cseq: 3 }, true));
    e.onSip(meta(6 * S + 1), response(200, 'BYE', { ...o, cseq: 3 }));
    e.advance(20 * S);
    const fin = stats.filter((s) => s.final);
    expect(fin).toHaveLength(2);
    const main = fin.find((s) => s.stats.ssrc === 0x1234)!;
    expect(main.sessions).toEqual(['rtp']);
    expect(main.stats).toMatchObject({ packets: 200, expected: 200, lost: 0, codec: 'G722', clockRate: 8000 });
    expect(main.stats.maxDeltaMs).toBeCloseTo(20, 3);
    expect(main.stats.jitterMs).toBeCloseTo(0, 6);
    expect(e.onDatagram(udp(21 * S, '192.0.2.10', 4000, '198.51.100.20', 6000), rtp(1, 1))).toBeNull();
  });

  it('ICE candidates are media endpoints; sessions without capture_rtp get nothing', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'sig', criteria: { from: 'alice' } });
    const o = { callId: 'ice', body: sdp('192.0.2.10', 4000, ['a=candidate:1 1 UDP 2130706431 10.1.1.1 50000 typ host']) };
    e.onSip(meta(S), request('INVITE', o));
    expect(e.onDatagram(udp(2 * S, '10.1.1.1', 50000, '1.2.3.4', 9), rtp(1, 1))).toBeNull();
    const e2 = new MatchEngine();
    e2.addSession({ id: 'rtp', criteria: { from: 'alice' }, captureRtp: true });
    e2.onSip(meta(S), request('INVITE', o));
    expect(e2.onDatagram(udp(2 * S, '10.1.1.1', 50000, '1.2.3.4', 9), rtp(1, 1))?.kind).toBe('rtp');
    expect(e2.onDatagram(udp(2 * S, '::ffff:10.1.1.1', 50000, '1.2.3.4', 9), rtp(2, 161))?.kind).toBe('rtp');
  });

  it('periodic summaries follow capture time', () => {
    const stats: StatsEvent[] = [];
    const e = new MatchEngine({ onStats: (ev) => stats.push(ev), statsIntervalUs: 5 * S });
    e.addSession({ id: 'rtp', criteria: { from: 'alice' }, captureRtp: true });
    e.onSip(meta(S), request('INVITE', { callId: 'p', body: sdp('192.0.2.10', 4000) }));
    for (let i = 0; i < 1000; i++) e.onDatagram(udp(2 * S + i * 20000, '192.0.2.10', 4000, '198.51.100.20', 6000), rtp(i, i * 160));
    const periodic = stats.filter((s) => !s.final);
    expect(periodic.length).toBeGreaterThanOrEqual(3);
    expect(periodic.length).toBeLessThanOrEqual(5);
    e.removeSession('rtp');
    expect(stats.filter((s) => s.final)).toHaveLength(1);
    expect(stats.at(-1)?.stats.packets).toBe(1000);
  });
});

// ---- media attribution with shared addresses ------------------------------------------------------

describe('media attribution when addresses are shared', () => {
  // sipp's echo UAS answers every call with the same media address; the UACs differ.
  const UAS = '198.51.100.20';
  const uac = (n: number) => ({ ip: `192.0.2.${10 + n}`, port: 4000 + 2 * n });
  const start = (e: MatchEngine, n: number, t: number, uasPort = 6000): void => {
    const o = { callId: `call-${n}`, from: `<sip:alice${n}@example.com>`, fromTag: `f${n}`, toTag: `t${n}` };
    e.onSip(meta(t, uac(n).ip, UAS), request('INVITE', { ...o, toTag: undefined, body: sdp(uac(n).ip, uac(n).port) }));
    e.onSip(meta(t + 1, UAS, uac(n).ip), response(200, 'INVITE', { ...o, body: sdp(UAS, uasPort) }));
    e.onSip(meta(t + 2, uac(n).ip, UAS), request('ACK', o, true));
  };
  const bye = (e: MatchEngine, n: number, t: number): void => {
    const o = { callId: `call-${n}`, from: `<sip:alice${n}@example.com>`, fromTag: `f${n}`, toTag: `t${n}`, cseq: 2 };
    e.onSip(meta(t, uac(n).ip, UAS), request('BYE', o, true));
    e.onSip(meta(t + 1, UAS, uac(n).ip), response(200, 'BYE', o));
  };
  const callOf = (h: unknown): string | null => (h === null ? null : (h as { callId: string }).callId);
  /** RTP both ways for calls 1 and 2, interleaved; returns the Call-ID each packet went to. */
  const interleave = (e: MatchEngine, t0: number, uasPort = 6000): Record<string, (string | null)[]> => {
    const got: Record<string, (string | null)[]> = { '1': [], '2': [] };
    for (let i = 0; i < 20; i++) {
      for (const n of [1, 2]) {
        const a = uac(n);
        const t = t0 + i * 20000 + n;
        got[n].push(callOf(e.onDatagram(udp(t, a.ip, a.port, UAS, uasPort), rtp(i, i * 160, 0x100 + n))));
        got[n].push(callOf(e.onDatagram(udp(t, UAS, uasPort, a.ip, a.port), rtp(i, i * 160, 0x200 + n))));
      }
    }
    return got;
  };

  it('a session matching only call 2 gets only call 2 RTP, though both calls share the UAS address', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'two', criteria: { from: 'alice2' }, captureRtp: true });
    start(e, 1, S);
    start(e, 2, S + 10);
    const got = interleave(e, 2 * S);
    expect(got['2']).toEqual(Array(40).fill('call-2'));
    expect(got['1']).toEqual(Array(40).fill(null));
    expect(e.sessionCounters('two')?.rtp).toBe(40);
  });

  it('two captured calls on one UAS address: each packet goes to the dialog of its 5-tuple', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'one', criteria: { from: 'alice1' }, captureRtp: true });
    e.addSession({ id: 'two', criteria: { from: 'alice2' }, captureRtp: true });
    start(e, 1, S);
    start(e, 2, S + 10);
    const got = interleave(e, 2 * S);
    expect(got['1']).toEqual(Array(40).fill('call-1'));
    expect(got['2']).toEqual(Array(40).fill('call-2'));
  });

  it('an ended dialog releases its endpoints; while it lingers a live dialog on the same address wins', () => {
    const e = new MatchEngine({ lingerUs: 5 * S });
    e.addSession({ id: 'all', criteria: { domain: 'example.com' }, captureRtp: true });
    start(e, 1, S);
    bye(e, 1, 2 * S);
    // Call 3 reuses call 1's UAC and UAS addresses (a port handed out again) while call 1 lingers.
    const o = { callId: 'call-3', from: '<sip:alice3@example.com>', fromTag: 'f3', toTag: 't3' };
    e.onSip(meta(3 * S, uac(1).ip, UAS), request('INVITE', { ...o, toTag: undefined, body: sdp(uac(1).ip, uac(1).port) }));
    e.onSip(meta(3 * S + 1, UAS, uac(1).ip), response(200, 'INVITE', { ...o, body: sdp(UAS, 6000) }));
    expect(callOf(e.onDatagram(udp(3 * S + 2, uac(1).ip, uac(1).port, UAS, 6000), rtp(1, 160)))).toBe('call-3');
    // After the linger, call 1 is gone; call 3 keeps the address.
    expect(callOf(e.onDatagram(udp(9 * S, UAS, 6000, uac(1).ip, uac(1).port), rtp(2, 320)))).toBe('call-3');
    bye(e, 3, 10 * S);
    e.advance(20 * S);
    expect(e.onDatagram(udp(20 * S + 1, uac(1).ip, uac(1).port, UAS, 6000), rtp(3, 480))).toBeNull();
  });

  it('a re-INVITE that moves a side releases the old address, and the newest SDP wins a tie', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'all', criteria: { domain: 'example.com' }, captureRtp: true });
    start(e, 1, S);
    const o = { callId: 'call-1', from: '<sip:alice1@example.com>', fromTag: 'f1', toTag: 't1', cseq: 3 };
    e.onSip(meta(2 * S, uac(1).ip, UAS), request('INVITE', { ...o, body: sdp(uac(1).ip, 4100) }, true));
    e.onSip(meta(2 * S + 1, UAS, uac(1).ip), response(200, 'INVITE', { ...o, body: sdp(UAS, 6000) }));
    expect(e.onDatagram(udp(3 * S, uac(1).ip, uac(1).port, UAS, 6000), rtp(1, 160))).toBeNull();
    expect(callOf(e.onDatagram(udp(3 * S, uac(1).ip, 4100, UAS, 6000), rtp(1, 160)))).toBe('call-1');
    // Call 2 negotiates exactly call 1's new pair (both still up): the most recent SDP takes it.
    const o2 = { callId: 'call-2', from: '<sip:alice2@example.com>', fromTag: 'f2', toTag: 't2' };
    e.onSip(meta(4 * S, uac(1).ip, UAS), request('INVITE', { ...o2, toTag: undefined, body: sdp(uac(1).ip, 4100) }));
    e.onSip(meta(4 * S + 1, UAS, uac(1).ip), response(200, 'INVITE', { ...o2, body: sdp(UAS, 6000) }));
    expect(callOf(e.onDatagram(udp(5 * S, uac(1).ip, 4100, UAS, 6000), rtp(2, 320)))).toBe('call-2');
  });

  it('with only the offer known, RTP to the offered address is attributed whatever its source', () => {
    const e = new MatchEngine();
    e.addSession({ id: 'all', criteria: { domain: 'example.com' }, captureRtp: true });
    e.onSip(meta(S, uac(1).ip, UAS), request('INVITE', { callId: 'offer', from: '<sip:alice@example.com>', body: sdp(uac(1).ip, 4002) }));
    expect(callOf(e.onDatagram(udp(2 * S, '203.0.113.9', 30000, uac(1).ip, 4002), rtp(1, 160)))).toBe('offer');
  });
});

// ---- media behind NAT ------------------------------------------------------------------------------

describe('media behind NAT: the far side latches (symmetric RTP)', () => {
  const SBC = '198.51.100.20';
  const PHONE = '10.0.0.5'; // private address in the phone's SDP
  const PUBLIC = '203.0.113.7'; // where its RTP really comes from
  const call = (e: MatchEngine, id: string, t: number, sbcPort = 6000, phonePort = 4000, from = 'alice'): void => {
    const o = { callId: id, from: `<sip:${from}@example.com>`, fromTag: `f-${id}`, toTag: `t-${id}` };
    e.onSip(meta(t, PUBLIC, SBC), request('INVITE', { ...o, toTag: undefined, body: sdp(PHONE, phonePort) }));
    e.onSip(meta(t + 1, SBC, PUBLIC), response(200, 'INVITE', { ...o, body: sdp(SBC, sbcPort) }));
  };
  const callOf = (h: unknown): string | null => (h === null ? null : (h as { callId: string }).callId);
  const rr = Buffer.from([0x81, 201, 0, 7, 0, 0, 0, 1, ...Array(24).fill(0)]);

  it('RTP to the SDP address from an unnamed source latches it: both directions and RTCP on port+1 follow', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'alice' }, captureRtp: true });
    call(e, 'nat', S);
    expect(callOf(e.onDatagram(udp(2 * S, PUBLIC, 31000, SBC, 6000), rtp(1, 160)))).toBe('nat');
    expect(callOf(e.onDatagram(udp(2 * S + 1, SBC, 6000, PUBLIC, 31000), rtp(1, 160, 0x99)))).toBe('nat');
    expect(e.onDatagram(udp(2 * S + 2, PUBLIC, 31001, SBC, 6001), rr)?.kind).toBe('rtcp');
    expect(e.onDatagram(udp(2 * S + 3, SBC, 6001, PUBLIC, 31001), rr)?.kind).toBe('rtcp');
    // the address latched one source: a second stranger sending there is not this call's
    expect(e.onDatagram(udp(2 * S + 4, '203.0.113.66', 40000, SBC, 6000), rtp(1, 160, 0x66))).toBeNull();
    expect(e.sessionCounters('s')?.rtp).toBe(2);
  });

  it('no latching where the negotiated peer already sends (no NAT there)', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'alice' }, captureRtp: true });
    call(e, 'plain', S);
    expect(callOf(e.onDatagram(udp(2 * S, PHONE, 4000, SBC, 6000), rtp(1, 160)))).toBe('plain');
    expect(e.onDatagram(udp(2 * S + 1, PUBLIC, 31000, SBC, 6000), rtp(2, 320))).toBeNull();
  });

  it('a shared media port claimed by two captured calls latches nothing (which call is unknowable)', () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { domain: 'example.com' }, captureRtp: true });
    call(e, 'one', S, 6000, 4000);
    call(e, 'two', S + 10, 6000, 4002);
    expect(e.onDatagram(udp(2 * S, PUBLIC, 31000, SBC, 6000), rtp(1, 160))).toBeNull();
  });

  it("a source another dialog's SDP names is never latched, even when that dialog is not captured", () => {
    const e = new MatchEngine();
    e.addSession({ id: 's', criteria: { from: 'alice' }, captureRtp: true });
    call(e, 'captured', S, 6000, 4000);
    // bob's call is not captured; its UA offers 192.0.2.77:5000 and sends to the same media port
    const o = { callId: 'other', from: '<sip:bob@example.com>', fromTag: 'fb' };
    expect(e.onDatagram(meta(S + 5, '192.0.2.77', SBC), request('INVITE', { ...o, body: sdp('192.0.2.77', 5000) }).raw)).toBeNull();
    expect(e.onDatagram(udp(2 * S, '192.0.2.77', 5000, SBC, 6000), rtp(1, 160))).toBeNull();
    expect(callOf(e.onDatagram(udp(2 * S + 1, PUBLIC, 31000, SBC, 6000), rtp(1, 160)))).toBe('captured');
  });
});

// ---- the raw no-match path ------------------------------------------------------------------------

describe('onDatagram (raw Call-ID lookup, prefilter) takes exactly what onSip takes', () => {
  it('many concurrent dialogs, compact and non-ASCII Call-IDs, dialogs ending and released', () => {
    const raw = new MatchEngine({ lingerUs: 2 * S });
    const parsed = new MatchEngine({ lingerUs: 2 * S });
    for (const e of [raw, parsed]) {
      e.addSession({ id: 'mark', criteria: { text: 'X-Mark: yes' } });
      e.addSession({ id: 'carol', criteria: { from: 'carol' } });
    }
    const cid = (n: number) => (n % 7 === 3 ? `ü-${n}@häst` : `c${n}-${'x'.repeat(n % 5)}@host`);
    const msgs: Buffer[] = [];
    const text = (start: string, n: number, cseq: string, toTag: boolean, extra: string[] = []) =>
      Buffer.from(
        sipText({
          start,
          headers: [
            'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1',
            `From: <sip:${n % 4 === 0 ? 'carol' : 'dave'}@example.com>;tag=f${n}`,
            `To: <sip:bob@example.com>${toTag ? `;tag=t${n}` : ''}`,
            n % 3 === 0 ? `i: ${cid(n)}` : `Call-ID: ${cid(n)}`,
            `CSeq: ${cseq}`,
            ...extra,
          ],
        }),
      );
    // 40 calls, 8 open at a time; a third of them marked on their INVITE only.
    for (let n = 0; n < 40; n++) {
      msgs.push(text('INVITE sip:bob@example.com SIP/2.0', n, '1 INVITE', false, n % 3 === 1 ? ['X-Mark: yes'] : []));
      if (n >= 8) {
        const m = n - 8;
        msgs.push(text('SIP/2.0 200 OK', m, '1 INVITE', true));
        msgs.push(text('ACK sip:bob@example.com SIP/2.0', m, '1 ACK', true));
        msgs.push(text('BYE sip:bob@example.com SIP/2.0', m, '2 BYE', true));
        msgs.push(text('SIP/2.0 200 OK', m, '2 BYE', true));
      }
    }
    const a: string[] = [];
    const b: string[] = [];
    msgs.forEach((m, i) => {
      const at = meta(S + i * 200_000);
      const h1 = raw.onDatagram(at, m);
      const p = parseSip(m);
      const h2 = p.ok ? parsed.onSip(at, p) : null;
      a.push(h1 === null ? '-' : `${(h1 as { callId: string }).callId}:${ids(h1 as { sessions: { id: string }[] })}`);
      b.push(h2 === null ? '-' : `${h2.callId}:${ids(h2)}`);
    });
    expect(a).toEqual(b);
    expect(a.filter((x) => x !== '-').length).toBeGreaterThan(40);
    expect(raw.counters.sipPrefiltered).toBeGreaterThan(40);
    // Ended dialogs were released: their later messages are prefiltered, not looked up as captured.
    const late = text('SIP/2.0 200 OK', 1, '2 BYE', true);
    expect(raw.onDatagram(meta(S + 100 * S), late)).toBeNull();
  });
});
