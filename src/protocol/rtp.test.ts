// Tests for rtp.ts: header vectors (CSRC, extension, padding, marker), the RFC 5761 RTP/RTCP
// demultiplexing heuristics, and tshark's RTP dissection of the shared captures as the oracle.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { looksLikeRtcp, looksLikeRtp, parseRtp } from './rtp.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');

const rtp = (opts: { pt?: number; m?: boolean; cc?: number; x?: number; pad?: number; payload?: number }): Buffer => {
  const cc = opts.cc ?? 0;
  const parts: Buffer[] = [];
  const h = Buffer.alloc(12 + cc * 4);
  h[0] = 0x80 | (opts.pad ? 0x20 : 0) | (opts.x !== undefined ? 0x10 : 0) | cc;
  h[1] = (opts.m ? 0x80 : 0) | (opts.pt ?? 0);
  h.writeUInt16BE(65535, 2);
  h.writeUInt32BE(0xfffffff0, 4);
  h.writeUInt32BE(0xcafebabe, 8);
  for (let i = 0; i < cc; i++) h.writeUInt32BE(0x100 + i, 12 + i * 4);
  parts.push(h);
  if (opts.x !== undefined) {
    const e = Buffer.alloc(4 + opts.x * 4);
    e.writeUInt16BE(0xbede, 0);
    e.writeUInt16BE(opts.x, 2);
    parts.push(e);
  }
  parts.push(Buffer.alloc(opts.payload ?? 160, 0xd5));
  if (opts.pad) {
    const p = Buffer.alloc(opts.pad);
    p[opts.pad - 1] = opts.pad;
    parts.push(p);
  }
  return Buffer.concat(parts);
};

describe('parseRtp', () => {
  it('plain G.711 packet', () => {
    const r = parseRtp(rtp({ pt: 8, m: true }));
    expect(r).toEqual({
      ok: true, version: 2, padding: false, extension: false, csrcCount: 0, marker: true, payloadType: 8, sequence: 65535,
      timestamp: 0xfffffff0, ssrc: 0xcafebabe, csrc: [], payloadOffset: 12, payloadLength: 160, paddingLength: 0,
    });
  });
  it('CSRC list, header extension and padding', () => {
    const r = parseRtp(rtp({ pt: 96, cc: 2, x: 2, pad: 4, payload: 20 }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.csrc).toEqual([0x100, 0x101]);
    expect(r.extensionProfile).toBe(0xbede);
    expect(r.extensionLength).toBe(8);
    expect(r.payloadOffset).toBe(12 + 8 + 4 + 8);
    expect(r.payloadLength).toBe(20);
    expect(r.paddingLength).toBe(4);
  });
  it('honours start/end', () => {
    const b = Buffer.concat([Buffer.from('xx'), rtp({ pt: 0, payload: 10 }), Buffer.from('yy')]);
    const r = parseRtp(b, 2, b.length - 2);
    expect(r.ok && [r.payloadOffset, r.payloadLength]).toEqual([12, 10]);
  });
  it.each([
    ['too short', Buffer.alloc(11, 0x80), 'truncated'],
    ['version 1', Buffer.from('400000000000000000000000', 'hex'), 'bad_version'],
    ['CSRC past end', rtp({ cc: 15, payload: 0 }).subarray(0, 20), 'truncated'],
    ['extension past end', rtp({ x: 100, payload: 0 }).subarray(0, 30), 'truncated'],
    ['padding 0', Buffer.concat([rtp({ payload: 3 }), Buffer.from([0])]).fill(0xa0, 0, 1), 'bad_padding'],
    ['padding larger than payload', Buffer.concat([Buffer.from('a000000000000000000000000000ff', 'hex')]), 'bad_padding'],
  ])('%s → %s', (_n, b, code) => {
    const r = parseRtp(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
    expect(looksLikeRtp(b)).toBe(false);
  });
});

describe('RFC 5761 demultiplexing', () => {
  it('RTCP packet types 200–207 are RTCP, not RTP', () => {
    for (let pt = 200; pt <= 207; pt++) {
      const b = Buffer.alloc(28);
      b[0] = 0x80;
      b[1] = pt;
      b.writeUInt16BE(6, 2);
      expect(looksLikeRtcp(b)).toBe(true);
      expect(looksLikeRtp(b)).toBe(false);
    }
  });
  it('RTP payload types 72–79 are never RTP; others are', () => {
    for (let pt = 0; pt < 128; pt++) expect(looksLikeRtp(rtp({ pt })), `pt ${pt}`).toBe(pt < 72 || pt > 79);
  });
  it('RTCP length must fit', () => {
    const b = Buffer.from([0x80, 200, 0, 20, 0, 0, 0, 0]);
    expect(looksLikeRtcp(b)).toBe(false);
  });
  it('STUN, DTLS, SIP text are neither', () => {
    for (const b of [Buffer.from('0001000021a4421200000000000000000000000', 'hex'), Buffer.from('16fefd0000000000000000000000', 'hex'), Buffer.from('INVITE sip:x SIP/2.0\r\n')]) {
      expect(looksLikeRtp(b)).toBe(false);
      expect(looksLikeRtcp(b)).toBe(false);
    }
  });
});

describe('parseRtp vs tshark on the shared captures', () => {
  it.each([
    ['sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap', 2884],
    ['sip_udp_asterisk_zrtp_reinvite_register-401__wireshark.pcap', 997],
    ['sip_udp_h263-video-rtp_null-loopback__wireshark.pcap', 45],
    ['sip_udp_call_rtp-g722-wideband__wireshark.pcap', 425],
  ])('%s: %i RTP packets', (name, count) => {
    const rows = execFileSync('tshark', [
      '-r', path.join(PCAPS, name), '-o', 'rtp.heuristic_rtp:TRUE', '-Y', 'rtp.p_type && !rtcp', '-T', 'fields',
      '-e', 'udp.payload', '-e', 'rtp.p_type', '-e', 'rtp.marker', '-e', 'rtp.seq', '-e', 'rtp.timestamp', '-e', 'rtp.ssrc', '-e', 'rtp.cc', '-e', 'rtp.ext',
    ], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
    expect(rows.length).toBe(count);
    for (const row of rows) {
      const [hex, pt, marker, seq, ts, ssrc, cc, ext] = row.split('\t');
      const b = Buffer.from(hex, 'hex');
      expect(looksLikeRtp(b)).toBe(true);
      expect(looksLikeRtcp(b)).toBe(false);
      const r = parseRtp(b);
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect([r.payloadType, r.marker ? 1 : 0, r.sequence, r.timestamp, r.ssrc, r.csrcCount, r.extension ? 1 : 0]).toEqual(
        [Number(pt), marker === 'True' || marker === '1' ? 1 : 0, Number(seq), Number(ts), parseInt(ssrc, 16), Number(cc), ext === 'True' || ext === '1' ? 1 : 0],
      );
    }
  });
});
