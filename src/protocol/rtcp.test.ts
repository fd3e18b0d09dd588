// Tests for rtcp.ts: tshark as the oracle on the real RTCP of the shared captures, and on synthetic
// compounds (SR+SDES+BYE, RR+APP, XR with VoIP metrics/RRT/DLRR) written to a pcap with text2pcap.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRtcp } from './rtcp.js';
import type { RtcpCompound, RtcpPacket, XrVoipMetrics } from './rtcp.js';
import { looksLikeRtcp, looksLikeRtp } from './rtp.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');
const tshark = (args: string[]): string[] =>
  execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 })
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '');

const FIELDS = [
  'rtcp.pt', 'rtcp.length', 'rtcp.senderssrc', 'rtcp.timestamp.ntp.msw', 'rtcp.timestamp.ntp.lsw', 'rtcp.timestamp.rtp',
  'rtcp.sender.packetcount', 'rtcp.sender.octetcount', 'rtcp.ssrc.identifier', 'rtcp.ssrc.fraction', 'rtcp.ssrc.cum_nr',
  'rtcp.ssrc.ext_high', 'rtcp.ssrc.jitter', 'rtcp.ssrc.lsr', 'rtcp.ssrc.dlsr', 'rtcp.sdes.text',
];

/** Our view of a compound, in the same shape as tshark's fields (occurrence lists, decimal). */
function ourFields(c: RtcpCompound, raw: Buffer): string[] {
  const f: Record<string, (number | string)[]> = Object.fromEntries(FIELDS.map((k) => [k, []]));
  let off = 0;
  for (const p of c.packets) {
    f['rtcp.pt'].push(p.type);
    f['rtcp.length'].push(raw.readUInt16BE(off + 2));
    off += (raw.readUInt16BE(off + 2) + 1) * 4;
    if ((p.type === 200 || p.type === 201) && 'ssrc' in p) {
      f['rtcp.senderssrc'].push(p.ssrc);
      if (p.type === 200 && 'ntpSec' in p) {
        f['rtcp.timestamp.ntp.msw'].push(p.ntpSec);
        f['rtcp.timestamp.ntp.lsw'].push(p.ntpFrac);
        f['rtcp.timestamp.rtp'].push(p.rtpTimestamp);
        f['rtcp.sender.packetcount'].push(p.packetCount);
        f['rtcp.sender.octetcount'].push(p.octetCount);
      }
      if ('reports' in p) {
        for (const r of p.reports) {
          f['rtcp.ssrc.identifier'].push(r.ssrc);
          f['rtcp.ssrc.fraction'].push(r.fractionLost);
          f['rtcp.ssrc.cum_nr'].push(r.cumulativeLost);
          f['rtcp.ssrc.ext_high'].push(r.highestSeq);
          f['rtcp.ssrc.jitter'].push(r.jitter);
          f['rtcp.ssrc.lsr'].push(r.lsr);
          f['rtcp.ssrc.dlsr'].push(r.dlsr);
        }
      }
    }
    if (p.type === 202 && 'chunks' in p) {
      for (const ch of p.chunks) {
        f['rtcp.ssrc.identifier'].push(ch.ssrc); // tshark files the SDES chunk SSRC under this field too
        for (const it of ch.items) f['rtcp.sdes.text'].push(it.value);
      }
    }
    if (p.type === 203 && 'ssrcs' in p) {
      // tshark files BYE SSRCs and the reason under the same fields as report blocks / SDES text
      for (const x of p.ssrcs) f['rtcp.ssrc.identifier'].push(x);
      if (p.reason !== undefined) f['rtcp.sdes.text'].push(p.reason);
    }
  }
  return FIELDS.map((k) => f[k].join(','));
}

const tsharkRows = (file: string, extra: string[] = []): Map<string, string[]> => {
  const rows = new Map<string, string[]>();
  const args = ['-r', file, ...extra, '-o', 'rtcp.heuristic_rtcp:TRUE', '-Y', 'rtcp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', '-e', 'udp.payload'];
  for (const k of FIELDS) args.push('-e', k);
  for (const line of tshark(args)) {
    const [frame, hex, ...rest] = line.split('\t');
    rows.set(frame, [hex, ...rest.map((x) => x.split(',').map((v) => (v.startsWith('0x') ? String(parseInt(v, 16)) : v)).join(','))]);
  }
  return rows;
};

describe('parseRtcp vs tshark on the shared captures', () => {
  it.each([
    ['sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap', 26],
    ['sip_udp_asterisk_zrtp_reinvite_register-401__wireshark.pcap', 2],
  ])('%s (%i RTCP frames)', (name, count) => {
    const rows = tsharkRows(path.join(PCAPS, name));
    expect(rows.size).toBe(count);
    for (const [frame, [hex, ...theirs]] of rows) {
      const raw = Buffer.from(hex, 'hex');
      expect(looksLikeRtcp(raw), `frame ${frame}`).toBe(true);
      expect(looksLikeRtp(raw), `frame ${frame}`).toBe(false);
      const c = parseRtcp(raw);
      expect(c.ok, `frame ${frame}`).toBe(true);
      if (!c.ok) continue;
      expect(c.error).toBeUndefined();
      expect(ourFields(c, raw), `frame ${frame}`).toEqual(theirs);
    }
  });
});

// ---- synthetic vectors, checked by tshark through text2pcap ----

const dir = mkdtempSync(path.join(tmpdir(), 'tunaio-rtcp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write one UDP datagram (port 5001) to a pcap and return tshark's fields for it. */
function tsharkOn(payload: Buffer, fields: string[]): string[] {
  const txt = path.join(dir, `p${Math.random().toString(36).slice(2)}.txt`);
  const pcap = `${txt}.pcap`;
  const hex = [...payload].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  writeFileSync(txt, `0000 ${hex}\n`);
  execFileSync('text2pcap', ['-q', '-u', '5000,5001', txt, pcap], { stdio: 'ignore' });
  const args = ['-r', pcap, '-d', 'udp.port==5001,rtcp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  return tshark(args)[0].split('\t');
}

const hdr = (b0: number, pt: number, words: number): Buffer => Buffer.from([b0, pt, words >> 8, words & 255]);
const u32 = (...n: number[]): Buffer => {
  const b = Buffer.alloc(4 * n.length);
  n.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4));
  return b;
};
const pad4 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

describe('synthetic compounds', () => {
  it('SR with 2 report blocks (negative cumulative loss) + SDES (2 items) + BYE with reason', () => {
    const block = (ssrc: number, frac: number, cum: number): Buffer => {
      const b = Buffer.alloc(24);
      b.writeUInt32BE(ssrc, 0);
      b[4] = frac;
      b.writeIntBE(cum, 5, 3);
      b.writeUInt32BE(70000, 8);
      b.writeUInt32BE(123, 12);
      b.writeUInt32BE(0xdeadbeef, 16);
      b.writeUInt32BE(65536, 20);
      return b;
    };
    const sr = Buffer.concat([hdr(0x82, 200, 6 + 12), u32(0x11111111, 3900000000, 0x80000000, 160, 10, 1600), block(0x22, 25, -3), block(0x33, 0, 1000)]);
    const items = Buffer.concat([Buffer.from([1, 11]), Buffer.from('alice@host1'), Buffer.from([6, 5]), Buffer.from('tuna1'), Buffer.from([0])]);
    const sdesBody = pad4(Buffer.concat([u32(0x11111111), items]));
    const sdes = Buffer.concat([hdr(0x81, 202, sdesBody.length / 4), sdesBody]);
    const byeBody = pad4(Buffer.concat([u32(0x11111111), Buffer.from([7]), Buffer.from('hang up')]));
    const bye = Buffer.concat([hdr(0x81, 203, byeBody.length / 4), byeBody]);
    const raw = Buffer.concat([sr, sdes, bye]);
    const c = parseRtcp(raw);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.packets.map((p) => p.type)).toEqual([200, 202, 203]);
    const [p0, p1, p2] = c.packets as [RtcpPacket & { type: 200 }, RtcpPacket, RtcpPacket];
    expect(p1).toEqual({ type: 202, name: 'SDES', chunks: [{ ssrc: 0x11111111, items: [{ type: 1, name: 'CNAME', value: 'alice@host1' }, { type: 6, name: 'TOOL', value: 'tuna1' }] }] });
    expect(p2).toEqual({ type: 203, name: 'BYE', ssrcs: [0x11111111], reason: 'hang up' });
    expect(ourFields(c, raw)).toEqual(
      tsharkOn(raw, FIELDS).map((x) => x.split(',').map((v) => (v.startsWith('0x') ? String(parseInt(v, 16)) : v)).join(',')),
    );
    expect('reports' in p0 && p0.reports[0].cumulativeLost).toBe(-3);
    const [byeReason, sdesType] = tsharkOn(raw, ['rtcp.bye_reason_not_padded', 'rtcp.sdes.type']);
    expect(byeReason).toBe('');
    expect(sdesType).toBe('1,6,0');
  });

  it('RR + APP', () => {
    const rr = Buffer.concat([hdr(0x80, 201, 1), u32(0xabcdef01)]);
    const app = Buffer.concat([hdr(0x83, 204, 3), u32(0x01020304), Buffer.from('TUNA'), u32(42)]);
    const raw = Buffer.concat([rr, app]);
    const c = parseRtcp(raw);
    expect(c.ok && c.packets).toEqual([
      { type: 201, name: 'RR', ssrc: 0xabcdef01, reports: [] },
      { type: 204, name: 'APP', subtype: 3, ssrc: 0x01020304, appName: 'TUNA', data: u32(42) },
    ]);
    expect(tsharkOn(raw, ['rtcp.pt', 'rtcp.app.subtype', 'rtcp.app.name'])).toEqual(['201,204', '3', 'TUNA']);
  });

  it('XR: VoIP metrics, RRT, DLRR (RFC 3611) against tshark', () => {
    const vm = Buffer.alloc(36);
    vm[0] = 7;
    vm.writeUInt16BE(8, 2);
    vm.writeUInt32BE(0x55667788, 4);
    [12, 3, 40, 5].forEach((x, i) => (vm[8 + i] = x));
    vm.writeUInt16BE(120, 12);
    vm.writeUInt16BE(3400, 14);
    vm.writeUInt16BE(35, 16);
    vm.writeUInt16BE(70, 18);
    vm.writeInt8(-20, 20);
    vm.writeInt8(-60, 21);
    vm[22] = 40;
    vm[23] = 16;
    vm[24] = 88;
    vm[25] = 127;
    vm[26] = 41;
    vm[27] = 43;
    vm[28] = 0b10_11_0011;
    vm.writeUInt16BE(40, 30);
    vm.writeUInt16BE(80, 32);
    vm.writeUInt16BE(200, 34);
    const rrt = Buffer.concat([Buffer.from([4, 0, 0, 2]), u32(3900000001, 0x40000000)]);
    const dlrr = Buffer.concat([Buffer.from([5, 0, 0, 3]), u32(0x99, 0x1234, 0x5678)]);
    const body = Buffer.concat([u32(0x01010101), vm, rrt, dlrr]);
    const raw = Buffer.concat([hdr(0x80, 207, body.length / 4), body]);
    const c = parseRtcp(raw);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    const xr = c.packets[0];
    expect(xr.type).toBe(207);
    if (!('blocks' in xr)) return;
    const m = xr.blocks[0] as XrVoipMetrics;
    expect(xr.blocks[1]).toEqual({ blockType: 4, ntpSec: 3900000001, ntpFrac: 0x40000000 });
    expect(xr.blocks[2]).toEqual({ blockType: 5, items: [{ ssrc: 0x99, lrr: 0x1234, dlrr: 0x5678 }] });
    const t = tsharkOn(raw, [
      'rtcp.xr.bt', 'rtcp.xr.voipmetrics.burstdensity', 'rtcp.xr.voipmetrics.gapdensity', 'rtcp.xr.voipmetrics.burstduration',
      'rtcp.xr.voipmetrics.gapduration', 'rtcp.xr.voipmetrics.rtdelay', 'rtcp.xr.voipmetrics.esdelay', 'rtcp.xr.voipmetrics.signallevel',
      'rtcp.xr.voipmetrics.noiselevel', 'rtcp.xr.voipmetrics.rerl', 'rtcp.xr.voipmetrics.gmin', 'rtcp.xr.voipmetrics.rfactor',
      'rtcp.xr.voipmetrics.extrfactor', 'rtcp.xr.voipmetrics.moslq', 'rtcp.xr.voipmetrics.moscq', 'rtcp.xr.voipmetrics.plc',
      'rtcp.xr.voipmetrics.jba', 'rtcp.xr.voipmetrics.jbrate', 'rtcp.xr.voipmetrics.jbnominal', 'rtcp.xr.voipmetrics.jbmax',
      'rtcp.xr.voipmetrics.jbabsmax', 'rtcp.xr.lrr', 'rtcp.xr.dlrr',
    ]);
    expect(t).toEqual([
      '7,4,5', m.burstDensity, m.gapDensity, m.burstDuration, m.gapDuration, m.roundTripDelay, m.endSystemDelay, m.signalLevel,
      m.noiseLevel, m.rerl, m.gmin, m.rFactor, m.extRFactor, m.mosLq / 10, m.mosCq / 10, m.plc, m.jba, m.jbRate, m.jbNominal,
      m.jbMaximum, m.jbAbsMax, '4660', '22136',
    ].map(String));
    expect(m).toMatchObject({ ssrc: 0x55667788, lossRate: 12, discardRate: 3, signalLevel: -20, noiseLevel: -60, mosLq: 41, mosCq: 43, plc: 2, jba: 3, jbRate: 3 });
  });
});

describe('malformed RTCP', () => {
  const sr = Buffer.concat([hdr(0x80, 200, 6), u32(1, 2, 3, 4, 5, 6)]);
  it.each([
    ['empty', Buffer.alloc(0), 'truncated'],
    ['short header', Buffer.from([0x80, 200]), 'truncated'],
    ['version 1', Buffer.from([0x40, 200, 0, 0]), 'bad_version'],
    ['length past end', Buffer.concat([hdr(0x80, 200, 9), u32(1, 2, 3)]), 'truncated'],
    ['RC larger than body', Buffer.concat([hdr(0x81, 200, 6), u32(1, 2, 3, 4, 5, 6)]), 'malformed'],
    ['bad padding', Buffer.concat([hdr(0xa0, 201, 1), Buffer.from([0, 0, 0, 9])]), 'malformed'],
    ['SDES without END', Buffer.concat([hdr(0x81, 202, 2), u32(1), Buffer.from([1, 2, 65, 66])]), 'malformed'],
  ])('%s → %s', (_n, raw, code) => {
    const r = parseRtcp(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
  it('a broken second packet keeps the first and reports the error', () => {
    const r = parseRtcp(Buffer.concat([sr, Buffer.from([0x80, 201, 0, 5])]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.packets).toHaveLength(1);
    expect(r.error?.code).toBe('truncated');
    expect(r.error?.offset).toBe(28);
  });
  it('unknown packet type is kept raw', () => {
    const r = parseRtcp(Buffer.concat([hdr(0x80, 199, 1), u32(7)]));
    expect(r.ok && r.packets[0]).toMatchObject({ type: 199, name: 'PT199', body: u32(7) });
  });
});
