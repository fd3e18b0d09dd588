import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCaptureReader, readCaptureFile } from './capture-file.js';
import type { CaptureRecord } from './capture-file.js';
import { PcapWriter } from './pcap-writer.js';
import { pcapng, sipRequest, sll2, udp4 } from './testing/packets.js';
import { ethernet } from './testing/packets.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tunaio-capfile-'));
const real = readFileSync(path.join(PCAPS, 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap'));

const strip = (r: CaptureRecord) => ({ frame: r.frame, linkType: r.linkType, tsUs: r.tsUs, caplen: r.caplen, origLen: r.origLen, data: r.data.toString('hex'), interfaceId: r.interfaceId });

/** Rewrites a µs little-endian pcap with another magic / byte order. */
function rewrite(src: Buffer, bigEndian: boolean, nanos: boolean): Buffer {
  const { records } = readCaptureFile(src);
  const parts: Buffer[] = [];
  const g = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt32BE(v >>> 0, o) : b.writeUInt32LE(v >>> 0, o));
  const w16 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  w32(g, nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, 65535, 16);
  w32(g, 1, 20);
  parts.push(g);
  for (const r of records) {
    const h = Buffer.alloc(16);
    w32(h, r.tsSec, 0);
    w32(h, nanos ? r.tsNsec + 7 : r.tsNsec / 1000, 4);
    w32(h, r.caplen, 8);
    w32(h, r.origLen, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

describe('pcap reader', () => {
  const whole = readCaptureFile(real);

  it('reads every record of a real capture, 1-based frames, µs timestamps', () => {
    expect(whole.status).toMatchObject({ format: 'pcap', truncated: false, records: 691 });
    expect(whole.records).toHaveLength(691);
    expect(whole.records[0].frame).toBe(1);
    expect(whole.records[690].frame).toBe(691);
    // tshark's epoch time of frame 1, for the oracle
    const t = execFileSync('tshark', ['-r', path.join(PCAPS, 'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap'), '-c', '1', '-T', 'fields', '-e', 'frame.time_epoch'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    expect(whole.records[0].tsUs).toBe(Math.round(Number(t) * 1e6));
  });

  for (const [name, be, ns] of [
    ['big-endian µs', true, false],
    ['little-endian ns', false, true],
    ['big-endian ns', true, true],
  ] as const) {
    it(`reads the ${name} variant identically`, () => {
      const { records, status } = readCaptureFile(rewrite(real, be, ns));
      expect(status.format).toBe(ns ? 'pcap-ns' : 'pcap');
      expect(records.map(strip)).toEqual(whole.records.map(strip));
      if (ns) expect(records[3].tsNsec).toBe(whole.records[3].tsNsec + 7);
    });
  }

  it('gives the same records whatever the chunk sizes', () => {
    for (const size of [1, 3, 16, 17, 24, 100, 1500, 65536]) {
      const r = createCaptureReader();
      const got: CaptureRecord[] = [];
      for (let o = 0; o < real.length; o += size) got.push(...r.push(real.subarray(o, o + size)));
      expect(r.end()).toMatchObject({ truncated: false, records: 691 });
      expect(got.map(strip)).toEqual(whole.records.map(strip));
    }
  });

  it('a truncated file decodes up to the cut and says where it stopped', () => {
    const cut = real.subarray(0, 5000);
    const { records, status } = readCaptureFile(cut);
    expect(records.length).toBeGreaterThan(5);
    expect(status.truncated).toBe(true);
    expect(status.offset).toBeGreaterThan(24);
    expect(status.offset).toBeLessThanOrEqual(5000);
    expect(status.reason).toMatch(/file ends inside a record/);
    expect(records.map(strip)).toEqual(whole.records.slice(0, records.length).map(strip));
  });

  it('a record length lie stops decoding with corrupt_record and reports the offset', () => {
    const bad = Buffer.from(real);
    // record 3's caplen field
    let off = 24;
    for (let i = 0; i < 2; i++) off += 16 + bad.readUInt32LE(off + 8);
    bad.writeUInt32LE(0x7fffffff, off + 8);
    const { records, status } = readCaptureFile(bad);
    expect(records).toHaveLength(2);
    expect(status).toMatchObject({ truncated: true, offset: off });
    expect(status.error?.code).toBe('corrupt_record');
  });

  it('names foreign formats: NetMon, random bytes, empty input', () => {
    const netmon = readFileSync(path.join(PCAPS, 'sip_protos-c07-fuzz_netmon2-format__wireshark.cap'));
    const r = createCaptureReader();
    expect(r.push(netmon)).toEqual([]);
    expect(r.error).toMatchObject({ code: 'unsupported_format', message: 'NetMon 2.x capture: not supported; convert with editcap -F pcap' });
    expect(readCaptureFile(Buffer.from('hello world, not a capture')).status.error?.message).toMatch(/not a pcap or pcapng capture \(first bytes 68656c6c\)/);
    expect(readCaptureFile(Buffer.alloc(0)).status.error).toMatchObject({ code: 'unsupported_format', message: 'empty file: not a capture' });
    expect(readCaptureFile(Buffer.from([0xd4, 0xc3])).status.error?.code).toBe('unsupported_format');
  });
});

describe('pcapng reader', () => {
  const sip = (i: number) => udp4('10.0.0.1', 5060, '10.0.0.2', 5060, sipRequest('OPTIONS', `ng-${i}`, i));
  const ifaces = [
    { linkType: 1 }, // µs (default)
    { linkType: 276, tsresol: 9 }, // ns
    { linkType: 101, tsresol: 0x80 | 20 }, // 2^-20 s
  ];
  const base = 1_700_000_000n;
  const packets = [
    { iface: 0, ts: base * 1_000_000n + 123_456n, data: ethernet(0x0800, sip(1)) },
    { iface: 1, ts: base * 1_000_000_000n + 987_654_321n, data: sll2(0x0800, sip(2)) },
    { iface: 2, ts: (base << 20n) + (1n << 19n), data: sip(3) },
    { iface: 0, ts: base * 1_000_000n + 5n, data: ethernet(0x0800, sip(4)), simple: true },
  ];

  it('several interfaces with their own link type and resolution, SPB, NRB skipped, two sections', () => {
    const file = pcapng(ifaces, packets, { extraSection: true });
    const { records, status } = readCaptureFile(file);
    expect(status).toMatchObject({ format: 'pcapng', truncated: false, records: 4 });
    expect(records.map((r) => [r.frame, r.linkType, r.interfaceId])).toEqual([
      [1, 1, 0],
      [2, 276, 1],
      [3, 101, 2],
      [4, 1, 0],
    ]);
    expect(records[0].tsUs).toBe(1_700_000_000_123_456);
    expect(records[1]).toMatchObject({ tsUs: 1_700_000_000_987_654, tsSec: 1_700_000_000, tsNsec: 987_654_321 });
    expect(records[2]).toMatchObject({ tsSec: 1_700_000_000, tsNsec: 500_000_000 });
    expect(records[3].data.equals(packets[3].data)).toBe(true);

    // tshark agrees on frames, link types and times
    const f = path.join(tmp, 'multi.pcapng');
    writeFileSync(f, file);
    const out = execFileSync('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'sip.Call-ID'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(out.map((l) => l[2])).toEqual(['ng-1', 'ng-2', 'ng-3', 'ng-4']);
    expect(out.map((l) => Number(l[1]))).toEqual(records.map((r) => r.tsSec + r.tsNsec / 1e9));
  });

  it('big-endian sections and chunked input', () => {
    const le = pcapng(ifaces.slice(0, 1), [packets[0], packets[3]]);
    // swap every 32/16-bit header field: rebuild the same blocks big-endian
    const be = Buffer.from(le);
    const sw32 = (o: number) => be.writeUInt32BE(le.readUInt32LE(o), o);
    const sw16 = (o: number) => be.writeUInt16BE(le.readUInt16LE(o), o);
    let o = 0;
    while (o < le.length) {
      const type = le.readUInt32LE(o);
      const len = le.readUInt32LE(o + 4);
      sw32(o);
      sw32(o + 4);
      sw32(o + len - 4);
      if (type === 0x0a0d0d0a) {
        sw32(o + 8);
        sw16(o + 12);
        sw16(o + 14);
      } else if (type === 1) {
        sw16(o + 8);
        sw32(o + 12);
      } else if (type === 6) for (const k of [8, 12, 16, 20, 24]) sw32(o + k);
      else if (type === 3) sw32(o + 8);
      o += len;
    }
    const a = readCaptureFile(le).records.map(strip);
    const r = createCaptureReader();
    const got: CaptureRecord[] = [];
    for (let i = 0; i < be.length; i += 5) got.push(...r.push(be.subarray(i, i + 5)));
    expect(r.end().truncated).toBe(false);
    expect(got.map(strip)).toEqual(a);
  });

  it('reads what Wireshark writes: editcap to pcapng and to nanosecond pcap give the same records', () => {
    for (const name of ['sip_websocket_and_udp_b2bua_407__heplify.pcap', 'sip_udp_h263-video-rtp_null-loopback__wireshark.pcap', 'sip_sctp_invite-403_sll__heplify.pcap']) {
      const src = path.join(PCAPS, name);
      const want = readCaptureFile(readFileSync(src)).records.map(strip);
      for (const [fmt, expected] of [
        ['pcapng', 'pcapng'],
        ['nsecpcap', 'pcap-ns'],
      ] as const) {
        const out = path.join(tmp, `${name}.${fmt}`);
        execFileSync('editcap', ['-F', fmt, src, out], { stdio: 'ignore' });
        const { records, status } = readCaptureFile(readFileSync(out));
        expect(status).toMatchObject({ format: expected, truncated: false });
        expect(records.map(strip)).toEqual(want);
      }
    }
  });

  it('a packet naming an undescribed interface is corrupt', () => {
    const file = pcapng([{ linkType: 1 }], [{ iface: 3, ts: 1n, data: Buffer.alloc(20) }]);
    const { records, status } = readCaptureFile(file);
    expect(records).toHaveLength(0);
    expect(status.error?.code).toBe('corrupt_record');
  });
});

describe('PcapWriter', () => {
  it('writes a pcap that tshark reads with the same frames, times and SIP', () => {
    const src = path.join(PCAPS, 'sip_udp_call_rtp-g722-wideband__wireshark.pcap');
    const { records } = readCaptureFile(readFileSync(src));
    const w = new PcapWriter({ linkType: 1, snaplen: 65535 });
    const f = path.join(tmp, 'written.pcap');
    writeFileSync(f, w.file(records.map((r) => ({ tsUs: r.tsUs, data: r.data, origLen: r.origLen }))));
    const fields = ['-T', 'fields', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'sip.Call-ID', '-e', 'sip.Method', '-e', 'sip.Status-Code'];
    const a = execFileSync('tshark', ['-r', src, ...fields], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const b = execFileSync('tshark', ['-r', f, ...fields], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(b.split('\n').length).toBe(records.length + 1);
    expect(b).toBe(a);
    // and we read back what we wrote
    const back = readCaptureFile(readFileSync(f)).records;
    expect(back.map((r) => [r.tsUs, r.data.toString('hex')])).toEqual(records.map((r) => [r.tsUs, r.data.toString('hex')]));
  });

  it('cuts frames to the snap length and keeps the original length', () => {
    const w = new PcapWriter({ linkType: 101, snaplen: 10 });
    const rec = w.record(1_000_000_500_000, Buffer.alloc(30, 1));
    expect(rec.readUInt32LE(0)).toBe(1_000_000);
    expect(rec.readUInt32LE(4)).toBe(500_000);
    expect(rec.readUInt32LE(8)).toBe(10);
    expect(rec.readUInt32LE(12)).toBe(30);
    expect(rec.length).toBe(26);
  });
});
