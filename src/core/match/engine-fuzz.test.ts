// Hostile input never throws out of the engine (DESIGN §8): mutated SIP (with SDP) through
// onDatagram/onSip/onLogLine with sessions of every criterion kind, RTP capture on.
import { describe, expect, it } from 'vitest';
import { MatchEngine } from './engine.js';
import { sipText } from './testing/sip-builder.js';
import { parseSip } from '../../protocol/sip.js';

const base = Buffer.from(
  sipText({
    start: 'INVITE sip:+1-555-443-0191@pbx.example.com;user=phone SIP/2.0',
    headers: [
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1',
      'From: "A" <sip:alice@acme.example.com;tenant=acme>;tag=1',
      'To: <tel:+1-555-443-0191>',
      'Call-ID: fuzz-1@x',
      'CSeq: 1 INVITE',
      'P-Asserted-Identity: <sip:+15551112222@example.com>, <tel:+15551112222>',
      'Diversion: <sip:100@example.com>;reason=unconditional',
      'History-Info: <sip:bob@example.com?Reason=SIP%3Bcause%3D302>;index=1',
      'X-Tenant: acme',
      'Content-Type: application/sdp',
    ],
    body: 'v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\na=rtcp:4005 IN IP4 192.0.2.11\r\na=candidate:1 1 UDP 1 192.0.2.12 5000 typ host\r\n',
  }),
);

describe('engine under mutation', () => {
  it('8k mutated messages, datagrams and log lines: no exception, bounded tables', () => {
    const e = new MatchEngine({ maxDialogs: 500, maxDialogsPerSession: 200 });
    const crit = [
      { from: '15551112222' },
      { to: '+1 555 443 0191' },
      { domain: 'example.com' },
      { tenant: 'acme' },
      { provider_ip: '192.0.2.0/24' },
      { text: 'invite' },
      { call_id: 'fuzz-1@x' },
      { from: 'alice', method: 'INVITE' },
    ];
    let hits = 0;
    crit.forEach((criteria, i) => e.addSession({ id: `s${i}`, criteria, captureRtp: i % 2 === 0 }));
    let seed = 12345;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const meta = (i: number) => ({ tsUs: 1e12 + i * 1000, transport: 'udp', src: { ip: '192.0.2.10', port: 5060 }, dst: { ip: '192.0.2.12', port: 5000 } });
    for (let i = 0; i < 8_000; i++) {
      const b = Buffer.from(base);
      const k = 1 + rnd(8);
      for (let j = 0; j < k; j++) {
        const op = rnd(4);
        const at = rnd(b.length);
        if (op === 0) b[at] = rnd(256);
        else if (op === 1) b[at] = [0x3a, 0x3b, 0x3c, 0x3e, 0x40, 0x2c, 0x0a, 0x0d, 0x25, 0x22][rnd(10)];
        else if (op === 2) b.copyWithin(at, rnd(b.length));
        else b[at] = 0x30 + rnd(10);
      }
      const cut = b.subarray(0, b.length - rnd(40));
      // A throw fails the test with the input's index in the stack.
      if (e.onDatagram(meta(i), cut) !== null) hits++;
      const m = parseSip(cut);
      if (m.ok) e.onSip(meta(i), m);
      e.onDatagram(meta(i), cut.subarray(rnd(20)));
      if (i % 8 === 0) e.onLogLine(cut.toString('latin1'), i, 'fuzz');
    }
    expect(hits).toBeGreaterThan(100); // the mutations leave many messages matchable
    expect(e.dialogCount).toBeLessThanOrEqual(500);
    expect(() => e.flush()).not.toThrow();
  });
});
