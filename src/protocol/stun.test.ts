// Tests for stun.ts and dtls.ts: synthetic STUN/DTLS datagrams checked against tshark (written to a
// pcap with text2pcap), the RFC 7983 demultiplexer on real ZRTP traffic, and bad input.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { looksLikeDtls, parseDtls } from './dtls.js';
import { STUN_MAGIC_COOKIE, classifyRfc7983, looksLikeStun, parseStun } from './stun.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');
const dir = mkdtempSync(path.join(tmpdir(), 'tunaio-stun-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
/** tshark's fields for one UDP datagram sent to `port`, with an optional decode-as. */
function tsharkOn(payload: Buffer, port: number, fields: string[], decodeAs?: string): string[] {
  const txt = path.join(dir, `p${seq++}.txt`);
  writeFileSync(txt, `0000 ${[...payload].map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n`);
  execFileSync('text2pcap', ['-q', '-u', `40000,${port}`, txt, `${txt}.pcap`], { stdio: 'ignore' });
  const args = ['-r', `${txt}.pcap`, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  if (decodeAs) args.push('-d', decodeAs);
  for (const f of fields) args.push('-e', f);
  return execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trimEnd().split('\t');
}

const TID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');

function stunMsg(type: number, attrs: Buffer[]): Buffer {
  const body = Buffer.concat(attrs);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(body.length, 2);
  h.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  TID.copy(h, 8);
  return Buffer.concat([h, body]);
}
function attr(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}
function xorAddr4(ip: string, port: number): Buffer {
  const v = Buffer.alloc(8);
  v[1] = 1;
  v.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), 2);
  const n = ip.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  v.writeUInt32BE((n ^ STUN_MAGIC_COOKIE) >>> 0, 4);
  return v;
}
function xorAddr6(bytes: Buffer, port: number): Buffer {
  const v = Buffer.alloc(20);
  v[1] = 2;
  v.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), 2);
  const key = Buffer.concat([Buffer.from('2112a442', 'hex'), TID]);
  for (let i = 0; i < 16; i++) v[4 + i] = bytes[i] ^ key[i];
  return v;
}

describe('STUN', () => {
  it('Binding request with USERNAME (ICE connectivity check)', () => {
    const m = stunMsg(0x0001, [attr(0x0006, Buffer.from('EsAw:sess')), attr(0x0024, Buffer.from('6e7f00ff', 'hex'))]);
    expect(looksLikeStun(m)).toBe(true);
    const r = parseStun(m);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r).toMatchObject({ messageType: 1, method: 1, cls: 'request', length: 24, transactionId: TID.toString('hex'), username: 'EsAw:sess' });
    expect(r.attributes.map((a) => a.type)).toEqual([0x0006, 0x0024]);
    const [type, id, user] = tsharkOn(m, 3478, ['stun.type', 'stun.id', 'stun.att.username']);
    expect(parseInt(type, 16)).toBe(r.messageType);
    expect(id.replace(/^0x/, '')).toBe(r.transactionId);
    expect(user).toBe('EsAw:sess');
  });

  it('Binding success with XOR-MAPPED-ADDRESS, IPv4 and IPv6', () => {
    const v6 = Buffer.from('20010db8000000000000000000000001', 'hex');
    const m = stunMsg(0x0101, [attr(0x8022, Buffer.from('test vector')), attr(0x0020, xorAddr4('192.0.2.1', 32853)), attr(0x0020, xorAddr6(v6, 5000))]);
    const r = parseStun(m);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.cls).toBe('success');
    expect(r.method).toBe(1);
    // the last XOR-MAPPED-ADDRESS wins; check each through the attribute list and tshark
    expect(r.xorMappedAddress).toEqual({ family: 6, ip: '2001:db8::1', port: 5000 });
    const r4 = parseStun(stunMsg(0x0101, [attr(0x0020, xorAddr4('192.0.2.1', 32853))]));
    expect(r4.ok && r4.xorMappedAddress).toEqual({ family: 4, ip: '192.0.2.1', port: 32853 });
    const [ip4, ip6, ports] = tsharkOn(m, 3478, ['stun.att.ipv4', 'stun.att.ipv6', 'stun.att.port']);
    expect(ip4).toBe('192.0.2.1');
    expect(ip6).toBe('2001:db8::1');
    expect(ports).toBe('32853,5000');
  });

  it('message classes and methods (RFC 5389 §6 bit layout)', () => {
    const cases: [number, string, number][] = [
      [0x0001, 'request', 1], [0x0011, 'indication', 1], [0x0101, 'success', 1], [0x0111, 'error', 1],
      [0x0003, 'request', 3], [0x0113, 'error', 3], [0x0016, 'indication', 6], [0x0008, 'request', 8],
    ];
    for (const [t, cls, method] of cases) {
      const r = parseStun(stunMsg(t, []));
      expect(r.ok && [r.cls, r.method], `type 0x${t.toString(16)}`).toEqual([cls, method]);
    }
  });

  it.each([
    ['short', Buffer.alloc(19), 'truncated'],
    ['top bits set', Buffer.concat([Buffer.from([0x80]), stunMsg(1, []).subarray(1)]), 'not_stun'],
    ['no cookie', Buffer.concat([stunMsg(1, []).subarray(0, 4), Buffer.alloc(16)]), 'not_stun'],
    ['odd length', (() => { const b = stunMsg(1, [attr(6, Buffer.from('abcd'))]); b.writeUInt16BE(6, 2); return b; })(), 'bad_length'],
    ['length past end', (() => { const b = stunMsg(1, []); b.writeUInt16BE(8, 2); return b; })(), 'truncated'],
    ['attribute past end', (() => { const b = stunMsg(1, [attr(6, Buffer.from('abcd'))]); b.writeUInt16BE(40, 22); return b; })(), 'malformed'],
  ])('%s → %s', (_n, b, code) => {
    const r = parseStun(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
});

describe('RFC 7983 demultiplexing', () => {
  it('first-byte ranges', () => {
    const table: [number, string][] = [[0, 'stun'], [3, 'stun'], [4, 'unknown'], [16, 'zrtp'], [19, 'zrtp'], [20, 'dtls'], [63, 'dtls'], [64, 'turn-channel'], [79, 'turn-channel'], [80, 'unknown'], [128, 'rtp'], [191, 'rtp'], [192, 'unknown'], [255, 'unknown']];
    for (const [b, k] of table) expect(classifyRfc7983(b), `byte ${b}`).toBe(k);
  });
  it('the real ZRTP Hello packets of the Zfone capture classify as zrtp', () => {
    const rows = execFileSync('tshark', ['-r', path.join(PCAPS, 'sip_udp_asterisk_zrtp_reinvite_register-401__wireshark.pcap'), '-Y', 'zrtp', '-T', 'fields', '-e', 'udp.payload'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter(Boolean);
    expect(rows.length).toBeGreaterThan(0);
    for (const hex of rows) {
      const b = Buffer.from(hex, 'hex');
      expect(classifyRfc7983(b[0])).toBe('zrtp');
      expect(looksLikeStun(b)).toBe(false);
      expect(looksLikeDtls(b)).toBe(false);
    }
  });
});

describe('DTLS', () => {
  const record = (ct: number, version: number, epoch: number, sq: number, frag: Buffer): Buffer => {
    const h = Buffer.alloc(13);
    h[0] = ct;
    h.writeUInt16BE(version, 1);
    h.writeUInt16BE(epoch, 3);
    h.writeUIntBE(sq, 5, 6);
    h.writeUInt16BE(frag.length, 11);
    return Buffer.concat([h, frag]);
  };
  // A ClientHello handshake header (type 1, length, message_seq, fragment offset/length) and a stub body.
  const hello = Buffer.concat([Buffer.from('010000200000000000000020', 'hex'), Buffer.alloc(32, 0x11)]);

  it('ClientHello in DTLS 1.0 then a DTLS 1.2 ChangeCipherSpec + encrypted handshake in one datagram', () => {
    const d1 = record(22, 0xfeff, 0, 0, hello);
    expect(looksLikeDtls(d1)).toBe(true);
    const r1 = parseDtls(d1);
    expect(r1.ok && r1.records).toEqual([{ contentType: 22, contentTypeName: 'handshake', version: 0xfeff, epoch: 0, sequence: 0, length: hello.length, fragmentOffset: 13, handshakeType: 1 }]);
    const d2 = Buffer.concat([record(20, 0xfefd, 0, 5, Buffer.from([1])), record(22, 0xfefd, 1, 0x0000ffffffff, Buffer.alloc(40, 0x77))]);
    const r2 = parseDtls(d2);
    expect(r2.ok).toBe(true);
    if (!r2.ok) return;
    expect(r2.records.map((x) => [x.contentTypeName, x.epoch, x.sequence, x.handshakeType])).toEqual([
      ['change_cipher_spec', 0, 5, undefined],
      ['handshake', 1, 0xffffffff, undefined],
    ]);
    const [ct, ver, epoch, sq] = tsharkOn(d2, 5684, ['dtls.record.content_type', 'dtls.record.version', 'dtls.record.epoch', 'dtls.record.sequence_number'], 'udp.port==5684,dtls');
    expect(ct).toBe('20,22');
    expect(ver).toBe('0xfefd,0xfefd');
    expect(epoch).toBe('0,1');
    expect(sq).toBe('5,4294967295');
    const [hsType] = tsharkOn(d1, 5684, ['dtls.handshake.type'], 'udp.port==5684,dtls');
    expect(hsType).toBe('1');
  });

  it('application data and alert; tls12_cid content type', () => {
    const d = Buffer.concat([record(23, 0xfefd, 1, 9, Buffer.alloc(10)), record(21, 0xfefd, 1, 10, Buffer.alloc(2)), record(25, 0xfefd, 1, 11, Buffer.alloc(4))]);
    const r = parseDtls(d);
    expect(r.ok && r.records.map((x) => x.contentTypeName)).toEqual(['application_data', 'alert', 'tls12_cid']);
  });

  it.each([
    ['TLS version', Buffer.from('16030100050000000000', 'hex'), 'not_dtls'],
    ['content type 26', record(26, 0xfefd, 0, 0, Buffer.alloc(1)), 'not_dtls'],
    ['short header', Buffer.from('16fefd00', 'hex'), 'truncated'],
    ['length past end', record(23, 0xfefd, 1, 1, Buffer.alloc(4)).subarray(0, 15), 'truncated'],
    ['empty', Buffer.alloc(0), 'truncated'],
  ])('%s → %s', (_n, b, code) => {
    const r = parseDtls(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
});
