// Layers and tunnels with packets built here, each file checked against tshark (written with
// PcapWriter, read by both, SIP tuples compared), plus bounds and malformed-input counting.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tsharkSip, tupleText } from '../../test/oracle/shared-captures.js';
import { createCaptureReader } from './capture-file.js';
import type { CaptureRecord } from './capture-file.js';
import { decodeCaptureBuffer } from './decode-pipeline.js';
import type { SipRow } from './decode-pipeline.js';
import { Dissector } from './dissector.js';
import { encodeHep3 } from './hep.js';
import type { Unit } from './dissector.js';
import { ipv6Text } from './ip.js';
import { PcapWriter } from './pcap-writer.js';
import {
  erspan2Header,
  erspan3Header,
  ethernet,
  gre,
  ip6,
  ipv4,
  ipv4Fragments,
  ipv6,
  ipv6Fragments,
  ipv6OptionsHeader,
  pppoe,
  sipRequest,
  sipResponse,
  sll2,
  TCP,
  tcp,
  tcp4,
  udp,
  udp4,
} from './testing/packets.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tunaio-dissect-'));
let fileNo = 0;

const rec = (frame: number, data: Buffer, linkType = 1, tsUs = 1_700_000_000_000_000 + frame * 1000): CaptureRecord => ({
  frame,
  linkType,
  tsUs,
  tsSec: Math.floor(tsUs / 1e6),
  tsNsec: (tsUs % 1e6) * 1000,
  caplen: data.length,
  origLen: data.length,
  data,
  interfaceId: 0,
});

function dissectAll(frames: Buffer[], linkType = 1, d = new Dissector()): Unit[] {
  const out: Unit[] = [];
  frames.forEach((f, i) => out.push(...d.push(rec(i + 1, f, linkType))));
  return out;
}

/** Writes the frames as a pcap, decodes it with our pipeline and with tshark, expects equal tuples. */
async function sameAsTshark(frames: Buffer[], linkType = 1, tsharkArgs: string[] = []): Promise<SipRow[]> {
  const w = new PcapWriter({ linkType });
  const f = path.join(tmp, `t${++fileNo}.pcap`);
  writeFileSync(f, w.file(frames.map((data, i) => ({ tsUs: 1_700_000_000_000_000 + i * 1000, data }))));
  const { rows } = decodeCaptureBuffer(readFileSync(f));
  const theirs = await tsharkSip(f, [], tsharkArgs);
  const by = new Map<number, SipRow[]>();
  for (const r of rows) by.set(r.frame, [...(by.get(r.frame) ?? []), r]);
  const mine = new Map(
    [...by].map(([fr, l]) => [
      fr,
      tupleText(
        l.map((r) => r.callId ?? ''),
        l.flatMap((r) => (r.method ? [r.method] : [])),
        l.flatMap((r) => (r.status ? [String(r.status)] : [])),
      ),
    ]),
  );
  expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(theirs));
  expect(rows.length).toBeGreaterThan(0);
  return rows;
}

const A = '192.0.2.1';
const B = '192.0.2.2';
const sipUdp = (callId: string, id = 1) => udp4(A, 5060, B, 5060, sipRequest('OPTIONS', callId, 1), id);

describe('link layers', () => {
  it('Ethernet with 802.1Q, 802.1ad QinQ and old 0x9100 tags', async () => {
    const frames = [
      ethernet(0x0800, sipUdp('vlan-1'), { vlans: [{ tpid: 0x8100, vid: 10 }] }),
      ethernet(0x0800, sipUdp('qinq-2'), { vlans: [{ tpid: 0x88a8, vid: 100 }, { tpid: 0x8100, vid: 200 }] }),
      ethernet(0x0800, sipUdp('q9100-3'), { vlans: [{ tpid: 0x9100, vid: 7 }, { tpid: 0x8100, vid: 8 }] }),
    ];
    const rows = await sameAsTshark(frames);
    expect(rows.map((r) => r.callId)).toEqual(['vlan-1', 'qinq-2', 'q9100-3']);
  });

  it('Linux SLL2 (276) and SLL (113)', async () => {
    const rows = await sameAsTshark([sll2(0x0800, sipUdp('sll2-1')), sll2(0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 17 }, udp('2001:db8::1', 5060, '2001:db8::2', 5060, sipRequest('INVITE', 'sll2-v6', 1))))], 276);
    expect(rows.map((r) => r.src)).toEqual(['192.0.2.1:5060', '[2001:db8::1]:5060']);
    const sll = Buffer.alloc(16);
    sll.writeUInt16BE(0x0800, 14);
    const units = dissectAll([Buffer.concat([sll, sipUdp('sll1')])], 113);
    expect(units).toHaveLength(1);
  });

  it('BSD NULL/loopback in both byte orders and every AF_INET6 value; raw IP by version nibble', async () => {
    const af = (v: number, le: boolean) => {
      const b = Buffer.alloc(4);
      if (le) b.writeUInt32LE(v);
      else b.writeUInt32BE(v);
      return b;
    };
    const v6 = (id: string) => ipv6({ src: 'fe80::1', dst: 'fe80::2', nextHeader: 17 }, udp('fe80::1', 5060, 'fe80::2', 5060, sipRequest('OPTIONS', id, 1)));
    const frames = [
      Buffer.concat([af(2, true), sipUdp('null-le')]),
      Buffer.concat([af(2, false), sipUdp('null-be')]),
      Buffer.concat([af(24, true), v6('af24')]),
      Buffer.concat([af(28, true), v6('af28')]),
      Buffer.concat([af(30, false), v6('af30')]),
    ];
    const rows = await sameAsTshark(frames, 0);
    expect(rows).toHaveLength(5);
    await sameAsTshark([sipUdp('raw4'), v6('raw6')], 101);
    expect(dissectAll([sipUdp('raw12'), v6('raw14')], 12)).toHaveLength(2);
  });
});

describe('tunnels', () => {
  it('GRE with checksum/key/sequence, transparent Ethernet, ERSPAN II and III', async () => {
    const outer = (inner: Buffer, id: number) => ethernet(0x0800, ipv4({ src: '198.51.100.1', dst: '198.51.100.2', proto: 47, id }, inner));
    const frames = [
      outer(gre(0x0800, sipUdp('gre-plain')), 1),
      outer(gre(0x0800, sipUdp('gre-ks'), { key: 42, seq: 7, checksum: true }), 2),
      outer(gre(0x6558, ethernet(0x0800, sipUdp('gre-teb'))), 3),
      outer(gre(0x88be, Buffer.concat([erspan2Header(5), ethernet(0x0800, sipUdp('erspan2'))]), { seq: 1 }), 4),
      outer(gre(0x22eb, Buffer.concat([erspan3Header(6), ethernet(0x0800, sipUdp('erspan3'), { vlans: [{ tpid: 0x8100, vid: 3 }] })]), { seq: 2 }), 5),
      outer(gre(0x22eb, Buffer.concat([erspan3Header(6, true), ethernet(0x0800, sipUdp('erspan3-sub'))]), { seq: 3 }), 6),
    ];
    const rows = await sameAsTshark(frames);
    expect(rows.map((r) => r.callId)).toEqual(['gre-plain', 'gre-ks', 'gre-teb', 'erspan2', 'erspan3', 'erspan3-sub']);
  });

  it('PPTP enhanced GRE (v1) with PPP inside', async () => {
    const ppp = Buffer.concat([Buffer.from([0xff, 0x03, 0x00, 0x21]), sipUdp('pptp')]);
    const h = Buffer.alloc(12);
    h.writeUInt16BE(0x3001 | 0x0000, 0); // K and S set, version 1
    h.writeUInt16BE(0x880b, 2);
    h.writeUInt16BE(ppp.length, 4);
    h.writeUInt16BE(9, 6); // call id
    h.writeUInt32BE(1, 8); // sequence
    const frame = ethernet(0x0800, ipv4({ src: '198.51.100.1', dst: '198.51.100.2', proto: 47 }, Buffer.concat([h, ppp])));
    const rows = await sameAsTshark([frame]);
    expect(rows[0].callId).toBe('pptp');
  });

  it('IP-in-IP, IPv6-in-IPv4, IPv6-in-IPv6 and PPPoE', async () => {
    const v6inner = (id: string) => ipv6({ src: '2001:db8::a', dst: '2001:db8::b', nextHeader: 17 }, udp('2001:db8::a', 5060, '2001:db8::b', 5060, sipRequest('MESSAGE', id, 1)));
    const frames = [
      ethernet(0x0800, ipv4({ src: '10.1.1.1', dst: '10.1.1.2', proto: 4 }, sipUdp('ipip'))),
      ethernet(0x0800, ipv4({ src: '10.1.1.1', dst: '10.1.1.2', proto: 41 }, v6inner('6in4'))),
      ethernet(0x86dd, ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 41 }, v6inner('6in6'))),
      ethernet(0x8864, pppoe(sipUdp('pppoe'))),
      ethernet(0x8864, pppoe(v6inner('pppoe6'), true)),
    ];
    const rows = await sameAsTshark(frames);
    expect(rows.map((r) => r.callId)).toEqual(['ipip', '6in4', '6in6', 'pppoe', 'pppoe6']);
    expect(rows[1].src).toBe('[2001:db8::a]:5060');
  });

  it('bounds the tunnel depth', () => {
    let p = sipUdp('deep');
    for (let i = 0; i < 12; i++) p = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 4 }, p);
    const d = new Dissector({ maxTunnelDepth: 8 });
    expect(dissectAll([ethernet(0x0800, p)], 1, d)).toHaveLength(0);
    expect(d.stats.malformed.tunnel_depth).toBe(1);
  });
});

describe('IP fragments', () => {
  const big = sipRequest('INVITE', 'frag-call', 1, 'v=0\r\n' + 'a=x-padding:'.padEnd(1800, 'p') + '\r\n');

  it('IPv4: reassembles fragments arriving out of order; the last one reports the message', async () => {
    const dgram = udp(A, 5060, B, 5060, big);
    const frags = ipv4Fragments({ src: A, dst: B, proto: 17, id: 777 }, dgram, 600);
    expect(frags).toHaveLength(4);
    const order = [frags[1], frags[0], frags[3], frags[2]];
    const rows = await sameAsTshark(order.map((f) => ethernet(0x0800, f)));
    expect(rows).toMatchObject([{ frame: 4, callId: 'frag-call', method: 'INVITE' }]);
  });

  it('IPv6: fragment header after a hop-by-hop header', async () => {
    const src = '2001:db8::1';
    const dst = '2001:db8::2';
    const dgram = udp(src, 5060, dst, 5060, big);
    const frags = ipv6Fragments({ src, dst }, 17, dgram, 1000, 0xabcdef);
    // put a hop-by-hop header in front of the fragment header of the first fragment
    const withHbh = frags.map((f, i) => {
      if (i !== 0) return f;
      const body = f.subarray(40);
      return ipv6({ src, dst, nextHeader: 0 }, Buffer.concat([ipv6OptionsHeader(44), body]));
    });
    const rows = await sameAsTshark(withHbh.map((f) => ethernet(0x86dd, f)));
    expect(withHbh.length).toBeGreaterThan(1);
    expect(rows).toMatchObject([{ frame: withHbh.length, callId: 'frag-call', src: '[2001:db8::1]:5060' }]);
  });

  it('counts overlaps, expires by capture time and stays within its byte bound', () => {
    const d = new Dissector({ ip: { maxBytes: 4000, timeoutUs: 1_000_000 } });
    const dgram = udp(A, 5060, B, 5060, big);
    const frags = ipv4Fragments({ src: A, dst: B, proto: 17, id: 1 }, dgram, 600);
    d.push(rec(1, ethernet(0x0800, frags[0])));
    d.push(rec(2, ethernet(0x0800, frags[0]))); // duplicate = overlap
    expect(d.stats.ip.overlaps).toBe(1);
    d.push(rec(3, ethernet(0x0800, frags[1]), 1, 1_800_000_000_000_000)); // much later: the first expires
    expect(d.stats.ip.timeouts).toBe(1);
    for (let id = 2; id < 40; id++) {
      const fs = ipv4Fragments({ src: A, dst: B, proto: 17, id }, dgram, 600);
      d.push(rec(10 + id, ethernet(0x0800, fs[0]), 1, 1_800_000_000_000_000));
      expect(d.bufferedBytes).toBeLessThanOrEqual(4000);
    }
    expect(d.stats.ip.evicted).toBeGreaterThan(0);
  });
});

describe('TCP', () => {
  const C = '192.0.2.10';
  const S = '192.0.2.20';
  const seg = (seq: number, flags: number, payload: Buffer, from = C) =>
    ethernet(0x0800, from === C ? tcp4(C, 40000, S, 5060, seq, flags, payload) : tcp4(S, 5060, C, 40000, seq, flags, payload));

  it('several messages in one segment, one message over many segments, keepalives, retransmission', async () => {
    const m1 = sipRequest('REGISTER', 'tcp-1', 1);
    const m2 = sipRequest('OPTIONS', 'tcp-2', 2, 'hello body');
    const m3 = sipRequest('INVITE', 'tcp-3', 3, 'v=0\r\n'.repeat(100));
    const r1 = sipResponse(200, 'OK', 'tcp-1', 1, 'REGISTER');
    let seq = 1000;
    const frames: Buffer[] = [seg(seq - 1, TCP.SYN, Buffer.alloc(0))];
    const both = Buffer.concat([m1, m2]);
    frames.push(seg(seq, TCP.PSH, both));
    seq += both.length;
    frames.push(seg(seq, TCP.PSH, Buffer.from('\r\n\r\n'))); // RFC 5626 keepalive
    seq += 4;
    frames.push(seg(5000, TCP.PSH, r1, S));
    frames.push(seg(seq - 4 - m2.length, TCP.PSH, m2)); // retransmission of m2
    for (let o = 0; o < m3.length; o += 200) frames.push(seg(seq + o, TCP.PSH, m3.subarray(o, o + 200)));
    const rows = await sameAsTshark(frames);
    expect(rows.map((r) => [r.frame, r.callId, r.transport])).toEqual([
      [2, 'tcp-1', 'tcp'],
      [2, 'tcp-2', 'tcp'],
      [4, 'tcp-1', 'tcp'],
      [frames.length, 'tcp-3', 'tcp'],
    ]);
  });

  it('reordered segments are held and delivered in order (tshark with out-of-order reassembly on)', async () => {
    const m = sipRequest('INVITE', 'tcp-reorder', 1, 'v=0\r\n'.repeat(60));
    const parts = [0, 1, 2].map((i) => m.subarray(i * 120, i === 2 ? m.length : (i + 1) * 120));
    const frames = [
      seg(100, TCP.PSH, parts[0]),
      seg(100 + 240, TCP.PSH, parts[2]),
      seg(100 + 120, TCP.PSH, parts[1]),
      seg(100 + 240, TCP.PSH, parts[2]), // duplicate of the held one
    ];
    // tshark 4.0 leaves out-of-order reassembly off by default
    const rows = await sameAsTshark(frames, 1, ['-o', 'tcp.reassemble_out_of_order:TRUE']);
    expect(rows).toMatchObject([{ frame: 3, callId: 'tcp-reorder' }]);
  });

  it('a hole is skipped after the out-of-order bound and counted', () => {
    const d = new Dissector({ tcp: { maxOutOfOrderSegments: 3 } });
    const msgs = [1, 2, 3, 4, 5, 6].map((i) => sipRequest('OPTIONS', `gap-${i}`, i));
    let seq = 1;
    const frames: Buffer[] = [];
    msgs.forEach((m, i) => {
      if (i !== 1) frames.push(seg(seq, TCP.PSH, m)); // the second message is never captured
      seq += m.length;
    });
    const units = dissectAll(frames, 1, d);
    expect(d.stats.tcp.gaps).toBe(1);
    expect(units.map((u) => u.payload.toString().match(/Call-ID: (\S+)/)![1])).toEqual(['gap-1', 'gap-3', 'gap-4', 'gap-5', 'gap-6']);
  });

  it('gives up on a non-SIP stream (TLS) after a few segments and counts it', () => {
    const d = new Dissector();
    const tls = Buffer.from('170303004000112233445566778899aabbccddeeff', 'hex');
    const frames = Array.from({ length: 12 }, (_, i) => seg(1 + i * tls.length, TCP.PSH, tls));
    expect(dissectAll(frames, 1, d)).toHaveLength(0);
    expect(d.stats.framing.nonSipFlows).toBe(1);
    expect(d.bufferedBytes).toBe(0);
  });

  it('FIN closes the stream; a later retransmission is not delivered twice', () => {
    const d = new Dissector();
    const m = sipRequest('BYE', 'fin-1', 5);
    const units = dissectAll([seg(1, TCP.PSH | TCP.FIN, m), seg(1, TCP.PSH, m)], 1, d);
    expect(units).toHaveLength(1);
    expect(d.stats.tcp.closed).toBe(1);
    expect(d.stats.tcp.retransmissions).toBe(1);
  });

  it('memory stays within the per-stream and total bounds', () => {
    const d = new Dissector({ tcp: { maxStreamBytes: 10_000, maxTotalBytes: 50_000, maxOutOfOrderSegments: 1000 } });
    const filler = Buffer.alloc(900, 0x41);
    for (let s = 0; s < 20; s++) {
      for (let i = 0; i < 30; i++) {
        // every segment leaves a hole before it: held out of order
        const f = ethernet(0x0800, tcp4(C, 30000 + s, S, 5060, 10_000 + i * 2000, TCP.PSH, filler));
        d.push(rec(s * 100 + i + 1, f));
        expect(d.stats.tcp.bufferedBytes).toBeLessThanOrEqual(50_000 + 10_000);
      }
    }
    expect(d.stats.tcp.evicted + d.stats.tcp.gaps).toBeGreaterThan(0);
  });
});

describe('HEP over TCP', () => {
  it('a stream that starts with HEP3 is framed as HEP packets; the pipeline decodes the inner SIP', () => {
    const hep = (callId: string) =>
      encodeHep3({ ipFamily: 2, ipProto: 17, srcIp: '10.9.9.1', dstIp: '10.9.9.2', srcPort: 5060, dstPort: 5060, tsSec: 1_700_000_000, tsUsec: 42, protoType: 1, captureId: 7, payload: sipRequest('INVITE', callId, 1) });
    const stream = Buffer.concat([hep('hep-tcp-1'), hep('hep-tcp-2'), hep('hep-tcp-3')]);
    const cuts = [0, 100, 700, stream.length];
    const frames = cuts.slice(1).map((c, i) => ethernet(0x0800, tcp4('192.0.2.50', 41000, '192.0.2.60', 9060, 1 + cuts[i], TCP.PSH, stream.subarray(cuts[i], c))));
    const w = new PcapWriter({ linkType: 1 });
    const { rows } = decodeCaptureBuffer(w.file(frames.map((data, i) => ({ tsUs: 1_700_000_100_000_000 + i, data }))));
    expect(rows.map((r) => [r.callId, r.hep, r.src, r.tsUs])).toEqual(
      ['hep-tcp-1', 'hep-tcp-2', 'hep-tcp-3'].map((c) => [c, true, '10.9.9.1:5060', 1_700_000_000_000_042]),
    );
  });
});

describe('WebSocket (RFC 6455 / RFC 7118)', () => {
  const C = '192.0.2.30';
  const S = '192.0.2.40';
  const P = 8080;
  const frame = (op: number, payload: Buffer, fin: boolean, mask?: Buffer) => {
    const len = payload.length;
    const ext = len < 126 ? 0 : 2;
    const h = Buffer.alloc(2 + ext + (mask ? 4 : 0));
    h[0] = (fin ? 0x80 : 0) | op;
    h[1] = (mask ? 0x80 : 0) | (ext ? 126 : len);
    if (ext) h.writeUInt16BE(len, 2);
    if (!mask) return Buffer.concat([h, payload]);
    mask.copy(h, 2 + ext);
    return Buffer.concat([h, Buffer.from(payload.map((c, i) => c ^ mask[i & 3]))]);
  };
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);

  it('upgrade, masked fragmented messages with a ping between fragments, unmasked replies', async () => {
    const up = Buffer.from(`GET / HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const ok = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n`);
    const inv = sipRequest('INVITE', 'ws-1', 1, 'v=0\r\n'.repeat(40));
    const reg = sipRequest('REGISTER', 'ws-2', 1);
    const resp = sipResponse(100, 'Trying', 'ws-1', 1, 'INVITE');
    let cs = 1;
    let ss = 1;
    const c = (p: Buffer) => {
      const f = ethernet(0x0800, tcp4(C, 50000, S, P, cs, TCP.PSH, p));
      cs += p.length;
      return f;
    };
    const s = (p: Buffer) => {
      const f = ethernet(0x0800, tcp4(S, P, C, 50000, ss, TCP.PSH, p));
      ss += p.length;
      return f;
    };
    const frames = [
      c(up),
      s(ok),
      // INVITE in three masked fragments (text, continuation, continuation) with a ping between
      c(Buffer.concat([frame(1, inv.subarray(0, 100), false, mask), frame(9, Buffer.from('hi'), true, mask)])),
      c(frame(0, inv.subarray(100, 200), false, mask)),
      c(frame(0, inv.subarray(200), true, mask)),
      s(frame(1, resp, true)),
      // a 16-bit-length masked frame split across two TCP segments
      ...(() => {
        const f = frame(1, reg, true, mask);
        return [c(f.subarray(0, 50)), c(f.subarray(50))];
      })(),
    ];
    const rows = await sameAsTshark(frames);
    expect(rows.map((r) => [r.frame, r.callId, r.transport])).toEqual([
      [5, 'ws-1', 'ws'],
      [6, 'ws-1', 'ws'],
      [8, 'ws-2', 'ws'],
    ]);
  });
});

describe('SCTP', () => {
  const chunk = (type: number, flags: number, tsn: number, payload: Buffer) => {
    const hdr = type === 0 ? 16 : 20;
    const len = hdr + payload.length;
    const b = Buffer.alloc((len + 3) & ~3);
    b[0] = type;
    b[1] = flags;
    b.writeUInt16BE(len, 2);
    if (type === 0) {
      b.writeUInt32BE(tsn, 4);
      b.writeUInt32BE(0, 12);
    } else {
      b.writeUInt32BE(tsn, 4);
      b.writeUInt32BE(1, 12); // message id
      b.writeUInt32BE(0, 16);
    }
    payload.copy(b, hdr);
    return b;
  };
  const sctp = (...chunks: Buffer[]) => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(5060, 0);
    h.writeUInt16BE(5060, 2);
    h.writeUInt32BE(1, 4);
    return ethernet(0x0800, ipv4({ src: A, dst: B, proto: 132 }, Buffer.concat([h, ...chunks])));
  };

  it('DATA chunks: whole, two in one packet, fragmented over two packets; I-DATA; other chunks skipped', () => {
    const m = sipRequest('INVITE', 'sctp-1', 1, 'v=0\r\n'.repeat(30));
    const sack = Buffer.alloc(16);
    sack[0] = 3;
    sack.writeUInt16BE(16, 2);
    const units = dissectAll([
      sctp(sack, chunk(0, 3, 1, sipRequest('OPTIONS', 'sctp-0', 1))),
      sctp(chunk(0, 3, 2, sipRequest('OPTIONS', 'sctp-a', 1)), chunk(0, 3, 3, sipRequest('OPTIONS', 'sctp-b', 1))),
      sctp(chunk(0, 2, 4, m.subarray(0, 100))),
      sctp(chunk(0, 1, 5, m.subarray(100))),
      sctp(chunk(64, 3, 6, sipRequest('OPTIONS', 'sctp-idata', 1))),
    ]);
    expect(units.map((u) => [u.frame, u.transport, u.payload.toString().match(/Call-ID: (\S+)/)![1]])).toEqual([
      [1, 'sctp', 'sctp-0'],
      [2, 'sctp', 'sctp-a'],
      [2, 'sctp', 'sctp-b'],
      [4, 'sctp', 'sctp-1'],
      [5, 'sctp', 'sctp-idata'],
    ]);
  });
});

describe('robustness', () => {
  it('counts malformed packets by reason and never throws', () => {
    const d = new Dissector();
    const good = ethernet(0x0800, sipUdp('x'));
    const frames = [
      good.subarray(0, 20), // IPv4 header cut
      ethernet(0x0800, Buffer.from([0x46, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8])), // IHL 24 > captured
      ethernet(0x0800, ipv4({ src: A, dst: B, proto: 17 }, Buffer.from([0, 1, 0, 2, 0, 3, 0, 0]))), // UDP length 3
      ethernet(0x0806, Buffer.alloc(28)), // ARP
      ethernet(0x0800, ipv4({ src: A, dst: B, proto: 6 }, Buffer.alloc(10))), // TCP cut
    ];
    expect(dissectAll(frames, 1, d)).toHaveLength(0);
    expect(d.stats.malformed).toMatchObject({ ipv4_short: 2, udp_length: 1, tcp_short: 1 });
    expect(d.stats.notIp).toBe(1);
    expect(dissectAll([good], 1, d)).toHaveLength(1);
  });

  it('IPv4 total length shorter than the frame ignores Ethernet padding', () => {
    const f = Buffer.concat([ethernet(0x0800, sipUdp('pad')), Buffer.alloc(6)]);
    const [u] = dissectAll([f]);
    expect(u.payload.subarray(-4).toString()).toBe('\r\n\r\n');
  });

  it('formats IPv6 addresses per RFC 5952', () => {
    const t = (s: string) => ipv6Text(ip6(s), 0);
    expect(t('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(t('::')).toBe('::');
    expect(t('::1')).toBe('::1');
    expect(t('fe80::')).toBe('fe80::');
    expect(t('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(t('::ffff:c000:0201')).toBe('::ffff:192.0.2.1');
  });

  it('one TCP segment in a frame and one in another direction are different streams', () => {
    const d = new Dissector();
    const m = sipRequest('OPTIONS', 'dir', 1);
    const a = ethernet(0x0800, ipv4({ src: A, dst: B, proto: 6 }, tcp(A, 1, B, 5060, 1, 0, TCP.PSH | TCP.ACK, m)));
    const b = ethernet(0x0800, ipv4({ src: B, dst: A, proto: 6 }, tcp(B, 5060, A, 1, 1, 0, TCP.PSH | TCP.ACK, m)));
    expect(dissectAll([a, b], 1, d)).toHaveLength(2);
    expect(d.stats.tcp.streams).toBe(2);
  });
});

// The allocation-free paths (reader.pushEach, dissector.pushEach) must see exactly what push sees,
// whatever the chunking: every record's fields and bytes, every unit's frame, transport,
// addresses and payload. Copies are taken inside the callbacks, as their contract says.
describe('pushEach (reused records and units) equals push', () => {
  const SHARED = path.resolve(process.cwd(), '../shared/pcaps');
  const files = [
    'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap', // UDP + TCP (FTP) + ARP
    'sip_tcp-to-udp-proxy_register-digest_retrans_sll__heplify.pcap',
    'sip_sctp_invite-403_sll__heplify.pcap',
    'sip_websocket_and_udp_b2bua_407__heplify.pcap',
  ];
  const unitText = (u: Unit): string =>
    `${u.frame} ${u.tsUs} ${u.transport} ${u.src.ip}:${u.src.port}>${u.dst.ip}:${u.dst.port} ${u.frameData.frame}/${u.frameData.data.length} ${u.payload.toString('hex')}`;

  for (const name of files) {
    it(name, () => {
      const buf = readFileSync(path.join(SHARED, name));
      // reference: push, whole buffer
      const r1 = createCaptureReader();
      const d1 = new Dissector();
      const recs1: string[] = [];
      const units1: string[] = [];
      for (const rec of r1.push(buf)) {
        recs1.push(`${rec.frame} ${rec.linkType} ${rec.tsUs} ${rec.tsSec}.${rec.tsNsec} ${rec.caplen} ${rec.origLen} ${rec.data.toString('hex')}`);
        for (const u of d1.push(rec)) units1.push(unitText(u));
      }
      // pushEach, odd chunk sizes so records span chunks
      for (const size of [777, 4096, buf.length]) {
        const r2 = createCaptureReader();
        const d2 = new Dissector();
        const recs2: string[] = [];
        const units2: string[] = [];
        for (let o = 0; o < buf.length; o += size) {
          r2.pushEach(buf.subarray(o, o + size), (rec) => {
            recs2.push(`${rec.frame} ${rec.linkType} ${rec.tsUs} ${rec.tsSec}.${rec.tsNsec} ${rec.caplen} ${rec.origLen} ${rec.data.toString('hex')}`);
            d2.pushEach(rec, (u) => units2.push(unitText(u)));
          });
        }
        expect(recs2).toEqual(recs1);
        expect(units2).toEqual(units1);
        expect(r2.end()).toEqual(r1.end());
        expect(d2.stats).toEqual(d1.stats);
      }
      expect(units1.length).toBeGreaterThan(0);
    });
  }
});
