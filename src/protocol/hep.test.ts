// Tests for hep.ts: the 8 HEP3 packets of the shared hepgen capture (decode, inner SIP, exact round
// trip), every generic chunk, vendor/unknown chunks, compressed payloads, IPv6, UTF-8, HEP1/2, the
// TCP stream framer, and bad input.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HEP3_CHUNK, HEP3_CHUNK_NAMES, HEP_MAX_INFLATED, HepStreamFramer, decodeHep, encodeHep, encodeHep2, encodeHep3, encodeHep3Chunks, ipv6Bytes, looksLikeHep } from './hep.js';
import type { HepPacket } from './hep.js';
import { parseSipDatagram } from './sip.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');
const HEP_PCAP = path.join(PCAPS, 'hep3_udp9060_sip_rtcp-json_log__hepgen.pcap');

const hepgenPackets = (): Buffer[] =>
  execFileSync('tshark', ['-r', HEP_PCAP, '-T', 'fields', '-e', 'udp.payload'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((h) => Buffer.from(h, 'hex'));

const ok = (r: ReturnType<typeof decodeHep>): HepPacket => {
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r;
};

describe('the hepgen capture (8 HEP3 packets)', () => {
  const pkts = hepgenPackets();

  it('decodes all 8: 6 SIP (type 1), 1 log (type 100), 1 RTCP JSON (type 5)', () => {
    expect(pkts).toHaveLength(8);
    const decoded = pkts.map((b) => ok(decodeHep(b)));
    expect(decoded.map((p) => p.protoType)).toEqual([1, 1, 1, 1, 100, 1, 1, 5]);
    for (const p of decoded) {
      expect(p).toMatchObject({ version: 3, ipFamily: 2, ipProto: 17, captureId: 2001, authKey: 'myHep', correlationId: 'qgf3dm9rudi@127.0.0.1', badChunks: 0, compressed: false });
      expect(p.chunks.map((c) => c.typeId)).toEqual([1, 2, 3, 4, 7, 8, 9, 0x0a, 0x0b, 0x0c, 0x0e, 0x11, 0x0f]);
      expect(p.tsSec).toBeGreaterThan(1481455195);
    }
    expect(decoded[0]).toMatchObject({ srcIp: '192.168.1.1', dstIp: '192.168.1.2', srcPort: 5060, dstPort: 5060, tsSec: 1481455196, tsUsec: 100 });
    const sip = decoded.filter((p) => p.protoType === 1).map((p) => parseSipDatagram(p.payload));
    expect(sip.map((m) => (m.ok ? (m.method ?? m.statusCode) : m.code))).toEqual(['INVITE', 100, 407, 'OPTIONS', 200, 'PUBLISH']);
    expect(new Set(sip.map((m) => m.ok && m.callId))).toEqual(new Set(['qgf3dm9rudi@127.0.0.1']));
    // hepgen rewrote CRLF to LF after computing Content-Length: the INVITE and PUBLISH bodies come up short.
    expect(sip.map((m) => m.ok && m.bodyTruncated === true)).toEqual([true, false, false, false, false, true]);
    expect(decoded[4].payload.toString()).toMatch(/^SYSLOG: Processing OPTIONS request/);
    expect(JSON.parse(decoded[7].payload.toString())).toHaveProperty('sender_information');
  });

  it('round trip: encode(decode(bytes)) equals bytes, for each packet', () => {
    for (const b of pkts) expect(encodeHep(ok(decodeHep(b))).equals(b)).toBe(true);
  });

  it('the payload is a subarray of the input (no copy)', () => {
    const p = ok(decodeHep(pkts[0]));
    expect(p.payload.buffer).toBe(pkts[0].buffer);
  });
});

describe('every generic chunk', () => {
  const fields = {
    ipFamily: 10, ipProto: 6, srcIp: '2001:db8::1', dstIp: 'fe80::1:2', srcPort: 5061, dstPort: 40000, tsSec: 1700000000, tsUsec: 999999,
    protoType: 1, captureId: 0xfffffffe, keepAlive: 30, authKey: 'sécret', correlationId: 'abc@host', vlan: 4094, nodeName: 'kamailio-1',
    srcMac: '00:11:22:33:44:55', dstMac: 'aa:bb:cc:dd:ee:ff', ethType: 0x86dd, tcpFlags: 0x18, ipTos: 0xb8, mos: 436, rFactor: 93,
    geoLocation: '52.37,4.89', jitter: 123456, transactionType: 'call', payloadJsonKeys: 'rtcp', tagValues: 'a=1;b=2', tagType: 7,
  };
  const payload = 'MESSAGE sip:ü@x SIP/2.0\r\nContent-Length: 6\r\n\r\nÅngström ✓'; // multi-byte UTF-8

  it('encodes and decodes each of 0x01–0x18 and 0x20–0x27 (IPv6)', () => {
    const b = encodeHep3({ ...fields, payload });
    const p = ok(decodeHep(b));
    expect(p).toMatchObject(fields);
    expect(p.payload.toString('utf8')).toBe(payload);
    expect(p.payload.length).toBe(Buffer.byteLength(payload));
    const ids = p.chunks.map((c) => c.typeId).sort((x, y) => x - y);
    const want = [...Array(0x18).keys()].map((i) => i + 1).concat([...Array(8).keys()].map((i) => i + 0x20));
    // 0x03/0x04 (IPv4) are absent with IPv6 addresses, and 0x10 (compressed) with a plain payload
    expect(ids).toEqual(want.filter((i) => i !== 3 && i !== 4 && i !== 0x10));
    for (const id of want) expect(HEP3_CHUNK_NAMES[id], `name of 0x${id.toString(16)}`).toBeTruthy();
    expect(Object.values(HEP3_CHUNK).sort((x, y) => x - y)).toEqual(want);
    expect(encodeHep(p).equals(b)).toBe(true);
    expect(p.chunks.find((c) => c.typeId === HEP3_CHUNK.SRC_MAC)?.value.length).toBe(8); // uint64 per the spec
  });

  it('IPv4 addresses use chunks 3 and 4', () => {
    const p = ok(decodeHep(encodeHep3({ srcIp: '10.0.0.1', dstIp: '255.255.255.255', payload: 'x' })));
    expect(p.chunks.map((c) => c.typeId)).toEqual([1, 3, 4, 0x0f]);
    expect(p).toMatchObject({ ipFamily: 2, srcIp: '10.0.0.1', dstIp: '255.255.255.255' });
  });

  it('compressed payload (0x0010): zlib and gzip are inflated, the flag is set, round trip is exact', () => {
    for (const deflate of [deflateSync, gzipSync]) {
      const b = encodeHep3({ srcIp: '1.2.3.4', dstIp: '5.6.7.8', protoType: 1, payload, compress: true }, (x) => deflate(x));
      const p = ok(decodeHep(b));
      expect(p.compressed).toBe(true);
      expect(p.payload.toString()).toBe(payload);
      expect(p.payloadError).toBeUndefined();
      expect(encodeHep(p).equals(b)).toBe(true);
    }
  });

  it('a corrupt or oversized compressed payload is reported, not thrown', () => {
    const bad = ok(decodeHep(encodeHep3Chunks([{ vendorId: 0, typeId: 0x10, value: Buffer.from('not zlib at all') }])));
    expect(bad.compressed).toBe(true);
    expect(bad.payload.length).toBe(0);
    expect(bad.payloadError).toMatch(/inflate/);
    const bomb = deflateSync(Buffer.alloc(HEP_MAX_INFLATED + 1));
    const p = ok(decodeHep(encodeHep3Chunks([{ vendorId: 0, typeId: 0x10, value: bomb }])));
    expect(p.payload.length).toBe(0);
    expect(p.payloadError).toBeTruthy();
  });

  it('vendor chunks are skipped by length but kept; unknown generic chunks too; wrong sizes are counted', () => {
    const chunks = [
      { vendorId: 0, typeId: 1, value: Buffer.from([2]) },
      { vendorId: 0x0003, typeId: 0x0001, value: Buffer.from('vendor data, not an ip family') },
      { vendorId: 0, typeId: 0x0099, value: Buffer.from([1, 2, 3]) },
      { vendorId: 0, typeId: 7, value: Buffer.from([1, 2, 3]) }, // src port of 3 bytes
      { vendorId: 0, typeId: 0x0f, value: Buffer.from('payload') },
    ];
    const b = encodeHep3Chunks(chunks);
    const p = ok(decodeHep(b));
    expect(p.ipFamily).toBe(2);
    expect(p.srcPort).toBeUndefined();
    expect(p.badChunks).toBe(1);
    expect(p.payload.toString()).toBe('payload');
    expect(p.chunks).toEqual(chunks);
    expect(encodeHep(p).equals(b)).toBe(true);
  });

  it('a 2-byte capture id (early senders) is accepted', () => {
    const p = ok(decodeHep(encodeHep3Chunks([{ vendorId: 0, typeId: 0x0c, value: Buffer.from([0x07, 0xd1]) }])));
    expect(p.captureId).toBe(2001);
  });
});

describe('HEP1 / HEP2', () => {
  it('HEP2 IPv4 and IPv6 round trip; time header little-endian as Kamailio/OpenSIPS send it', () => {
    for (const [src, dst] of [['192.168.0.1', '10.0.0.2'], ['2001:db8::5', '::1']]) {
      const b = encodeHep2({ version: 2, ipProto: 17, srcIp: src, dstIp: dst, srcPort: 5060, dstPort: 5080, tsSec: 1700000000, tsUsec: 42, captureId: 2001, payload: Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n') });
      expect(looksLikeHep(b)).toBe(true);
      const p = ok(decodeHep(b));
      expect(p).toMatchObject({ version: 2, srcIp: src, dstIp: dst, srcPort: 5060, dstPort: 5080, tsSec: 1700000000, tsUsec: 42, captureId: 2001, ipProto: 17 });
      expect(p.chunks).toEqual([]);
      expect(p.payload.toString()).toBe('OPTIONS sip:x SIP/2.0\r\n\r\n');
      expect(encodeHep(p).equals(b)).toBe(true);
      const hl = src.includes(':') ? 40 : 16;
      expect(b[1]).toBe(hl);
      expect(b.readUInt32LE(hl)).toBe(1700000000);
    }
  });
  it('HEP1 has no time header', () => {
    const b = encodeHep2({ version: 1, srcIp: '1.1.1.1', dstIp: '2.2.2.2', srcPort: 1, dstPort: 2, payload: Buffer.from('x') });
    expect(b.length).toBe(17);
    const p = ok(decodeHep(b));
    expect(p.version).toBe(1);
    expect(p.tsSec).toBeUndefined();
    expect(encodeHep(p).equals(b)).toBe(true);
  });
});

describe('bad input', () => {
  const good = encodeHep3({ srcIp: '1.2.3.4', dstIp: '5.6.7.8', payload: 'hello' });
  it.each([
    ['empty', Buffer.alloc(0), 'truncated'],
    ['not HEP', Buffer.from('INVITE sip:x SIP/2.0\r\n'), 'not_hep'],
    ['HEP3 length over the datagram', Buffer.concat([good.subarray(0, 4), Buffer.from([0xff, 0xff]), good.subarray(6)]), 'truncated'],
    ['HEP3 length under 6', Buffer.concat([good.subarray(0, 4), Buffer.from([0, 3]), good.subarray(6)]), 'bad_length'],
    ['chunk length under 6', (() => { const b = Buffer.from(good); b.writeUInt16BE(2, 10); return b; })(), 'bad_chunk'],
    ['chunk past the packet', (() => { const b = Buffer.from(good); b.writeUInt16BE(200, 10); return b; })(), 'bad_chunk'],
    ['chunk header cut', (() => { const b = Buffer.concat([good, Buffer.from([0, 0, 0])]); b.writeUInt16BE(b.length, 4); return b; })(), 'truncated'],
    ['HEP2 header length / family mismatch', Buffer.from([2, 40, 2, 17, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]), 'bad_header'],
    ['HEP2 cut in the time header', Buffer.from([2, 16, 2, 17, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0]), 'truncated'],
  ])('%s → %s', (_n, b, code) => {
    const r = decodeHep(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
  it('trailing bytes after the HEP3 length are not part of the packet', () => {
    const p = ok(decodeHep(Buffer.concat([good, Buffer.from('junk')])));
    expect(p.raw.equals(good)).toBe(true);
  });
  it('encoder rejects bad addresses (caller error)', () => {
    expect(() => encodeHep3({ srcIp: '1.2.3' })).toThrow(RangeError);
    expect(() => encodeHep3({ srcIp: '2001:db8:::1' })).toThrow(RangeError);
  });
  it('ipv6Bytes', () => {
    expect(ipv6Bytes('::ffff:192.0.2.1')?.toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(ipv6Bytes('[fe80::1%eth0]')?.toString('hex')).toBe('fe800000000000000000000000000001');
    expect(ipv6Bytes('1:2:3:4:5:6:7:8')?.toString('hex')).toBe('00010002000300040005000600070008');
    for (const s of ['', '1:2', 'g::1', '1::2::3', '1:2:3:4:5:6:7:8:9']) expect(ipv6Bytes(s)).toBeNull();
  });
});

describe('HepStreamFramer', () => {
  const pkts = hepgenPackets();
  const stream = Buffer.concat(pkts);

  it('reassembles packets from chunks of every size 1..64 and one big chunk', () => {
    for (const size of [1, 2, 3, 5, 7, 64, stream.length]) {
      const f = new HepStreamFramer();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...f.push(stream.subarray(i, i + size)));
      expect(out.map((b) => b.toString('hex')), `chunk size ${size}`).toEqual(pkts.map((b) => b.toString('hex')));
      expect(f.stats).toEqual({ packets: 8, resyncs: 0, skippedBytes: 0 });
      expect(f.pending).toBe(0);
    }
  });

  it('resyncs on garbage and counts it', () => {
    const garbage = Buffer.from('\r\n\r\nGARBAGE-HEP-no-magic');
    const f = new HepStreamFramer();
    const out = f.push(Buffer.concat([garbage, pkts[0], garbage, pkts[1]]));
    expect(out).toHaveLength(2);
    expect(f.stats.packets).toBe(2);
    expect(f.stats.resyncs).toBeGreaterThanOrEqual(2);
    expect(f.stats.skippedBytes).toBe(2 * garbage.length);
  });

  it('a HEP3 header with a bad length is skipped', () => {
    const f = new HepStreamFramer();
    const out = f.push(Buffer.concat([Buffer.from('HEP3\0\x02'), pkts[2]]));
    expect(out.map((b) => b.toString('hex'))).toEqual([pkts[2].toString('hex')]);
    expect(f.stats.resyncs).toBe(1);
  });

  it('HEP2 in a stream is framed by the inner SIP Content-Length', () => {
    const sip = (n: number): Buffer => Buffer.from(`MESSAGE sip:x SIP/2.0\r\nCall-ID: ${n}\r\nl: 5\r\n\r\nhello`);
    const a = encodeHep2({ version: 2, srcIp: '1.1.1.1', dstIp: '2.2.2.2', srcPort: 1, dstPort: 2, payload: sip(1) });
    const b = encodeHep2({ version: 2, srcIp: '::1', dstIp: '::2', srcPort: 1, dstPort: 2, payload: sip(2) });
    const f = new HepStreamFramer();
    const all = Buffer.concat([a, pkts[0], b]);
    const out: Buffer[] = [];
    for (let i = 0; i < all.length; i += 10) out.push(...f.push(all.subarray(i, i + 10)));
    expect(out.map((x) => x.toString('hex'))).toEqual([a, pkts[0], b].map((x) => x.toString('hex')));
  });
});
