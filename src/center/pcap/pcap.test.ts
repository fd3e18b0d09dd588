// The PCAP store and its frames: tshark (the oracle) reads the files and sees the original packets.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../protocol/capture-file.js';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { buildEthernetFrame, fitFrame, LINKTYPE } from './frames.js';
import { FilePcapStore } from './store.js';
import type { PcapFile, PcapRecord } from './store.js';

const SID = 'abcdef0123456789abcd';
let root: string;
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function newStore(): FilePcapStore {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-pcap-'));
  fs.mkdirSync(path.join(root, SID));
  return new FilePcapStore(root);
}

const sip = (callId: string, method = 'OPTIONS'): Buffer =>
  Buffer.from(
    `${method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${callId}\r\n` +
      `From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n` +
      'Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
  );

function tshark(file: string, ...args: string[]): string[] {
  const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter((l) => l !== '');
}

async function readAll(store: FilePcapStore, f: PcapFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of store.open(SID, f)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const rec = (agentId: number, tsUs: number, linkType: number, data: Buffer): PcapRecord => ({ agentId, tsUs, linkType, data, origLen: data.length });

describe('built frames (HEP packets without a link layer)', () => {
  it('tshark decodes them as SIP with the original addresses, ports, transport and time: IPv4/IPv6, UDP/TCP', async () => {
    const store = newStore();
    const packets = [
      { src: { ip: '203.0.113.7', port: 5060 }, dst: { ip: '198.51.100.9', port: 5080 }, transport: 'udp', callId: 'v4-udp@x' },
      { src: { ip: '2001:db8::1', port: 5060 }, dst: { ip: '2001:db8:0:1::20', port: 5062 }, transport: 'udp', callId: 'v6-udp@x' },
      { src: { ip: '203.0.113.7', port: 40000 }, dst: { ip: '198.51.100.9', port: 5060 }, transport: 'tcp', callId: 'v4-tcp@x' },
    ];
    const T0 = 1_780_000_000_123_456;
    await store.append(
      SID,
      packets.map((p, i) => {
        const frame = buildEthernetFrame({ ...p, payload: sip(p.callId) });
        if (!frame) throw new Error('no frame');
        return rec(7, T0 + i * 1000, LINKTYPE.ETHERNET, frame);
      }),
    );
    const [f] = await store.snapshot(SID);
    expect(f).toMatchObject({ agentId: 7, linkType: LINKTYPE.ETHERNET, primary: true });
    const file = path.join(root, SID, f.key);
    const rows = tshark(
      file,
      '-d', 'udp.port==5080,sip', '-d', 'udp.port==5062,sip',
      '-T', 'fields', '-E', 'separator=|',
      '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst',
      '-e', 'udp.srcport', '-e', 'tcp.srcport', '-e', 'udp.dstport', '-e', 'tcp.dstport', '-e', 'sip.Call-ID', '-e', '_ws.expert.message',
    ).map((l) => l.split('|'));
    expect(rows).toHaveLength(3);
    rows.forEach((r, i) => {
      const p = packets[i];
      expect(Number(r[0])).toBeCloseTo((T0 + i * 1000) / 1e6, 5);
      expect(r[1] || r[2]).toBe(p.src.ip);
      expect(r[3] || r[4]).toBe(p.dst.ip);
      expect(Number(r[5] || r[6])).toBe(p.src.port);
      expect(Number(r[7] || r[8])).toBe(p.dst.port);
      expect(r[9]).toBe(p.callId);
    });
    // checksums are right: tshark validates them when asked and flags nothing
    const bad = tshark(file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-Y', 'ip.checksum.status==0 || udp.checksum.status==0 || tcp.checksum.status==0');
    expect(bad).toEqual([]);
  });

  it('raw-IP frames (what agents rebuild from HEP) join an Ethernet file with a link header, keeping the IP packet', () => {
    const eth = buildEthernetFrame({ src: { ip: '192.0.2.1', port: 5060 }, dst: { ip: '192.0.2.2', port: 5060 }, transport: 'udp', payload: sip('r@x') });
    expect(eth).not.toBeNull();
    const raw = eth!.subarray(14);
    expect(fitFrame(raw, LINKTYPE.RAW, LINKTYPE.ETHERNET)).toEqual(eth);
    expect(fitFrame(eth!, LINKTYPE.ETHERNET, LINKTYPE.ETHERNET)).toBe(eth);
    const sll2 = fitFrame(raw, LINKTYPE.RAW, LINKTYPE.LINUX_SLL2);
    expect(sll2?.length).toBe(raw.length + 20);
    expect(sll2?.readUInt16BE(0)).toBe(0x0800);
    expect(fitFrame(eth!, LINKTYPE.ETHERNET, LINKTYPE.LINUX_SLL2)).toBeNull();
    expect(buildEthernetFrame({ src: { ip: '192.0.2.1', port: 1 }, dst: { ip: '192.0.2.2', port: 2 }, transport: 'sctp', payload: Buffer.alloc(1) })).toBeNull();
  });
});

describe('FilePcapStore', () => {
  it('one file per agent with the first frame\'s link type; captured frames byte-identical; other link types in a side file', async () => {
    const store = newStore();
    const eth = buildEthernetFrame({ src: { ip: '192.0.2.1', port: 5060 }, dst: { ip: '192.0.2.2', port: 5060 }, transport: 'udp', payload: sip('a@x') })!;
    const raw = buildEthernetFrame({ src: { ip: '192.0.2.3', port: 5060 }, dst: { ip: '192.0.2.4', port: 5060 }, transport: 'udp', payload: sip('b@x') })!.subarray(14);
    const sll2 = Buffer.concat([Buffer.alloc(20), raw]);
    sll2.writeUInt16BE(0x0800, 0);
    await store.append(SID, [rec(1, 1_000_000, LINKTYPE.ETHERNET, eth), rec(2, 1_000_001, LINKTYPE.RAW, raw)]);
    await store.append(SID, [rec(1, 1_000_002, LINKTYPE.RAW, raw), rec(1, 1_000_003, LINKTYPE.LINUX_SLL2, sll2)]);
    const files = await store.snapshot(SID);
    expect(files.map((f) => [f.agentId, f.linkType, f.primary, f.key])).toEqual([
      [1, LINKTYPE.ETHERNET, true, 'agent-1.pcap'],
      [1, LINKTYPE.LINUX_SLL2, false, 'agent-1.lt276.pcap'],
      [2, LINKTYPE.ETHERNET, true, 'agent-2.pcap'],
    ]);
    const a1 = readCaptureFile(await readAll(store, files[0])).records;
    expect(a1.map((r) => [r.tsUs, r.linkType])).toEqual([[1_000_000, 1], [1_000_002, 1]]);
    expect(a1[0].data.equals(eth)).toBe(true);
    expect(a1[1].data.subarray(14).equals(raw)).toBe(true);
    const side = readCaptureFile(await readAll(store, files[1])).records;
    expect(side[0].data.equals(sll2)).toBe(true);
    // the link type survives a restart of the center (read back from the file header)
    const again = new FilePcapStore(root);
    await again.append(SID, [rec(2, 1_000_004, LINKTYPE.RAW, raw)]);
    expect(readCaptureFile(fs.readFileSync(path.join(root, SID, 'agent-2.pcap'))).records.map((r) => r.linkType)).toEqual([1, 1]);
  });

  it('a snapshot is consistent: reading it later returns only what was there when it was taken', async () => {
    const store = newStore();
    const eth = buildEthernetFrame({ src: { ip: '192.0.2.1', port: 5060 }, dst: { ip: '192.0.2.2', port: 5060 }, transport: 'udp', payload: sip('s@x') })!;
    await store.append(SID, [rec(1, 1, 1, eth), rec(1, 2, 1, eth)]);
    const [snap] = await store.snapshot(SID);
    await store.append(SID, [rec(1, 3, 1, eth)]);
    expect(readCaptureFile(await readAll(store, snap)).records.map((r) => r.tsUs)).toEqual([1, 2]);
    const [now] = await store.snapshot(SID);
    expect(readCaptureFile(await readAll(store, now)).records).toHaveLength(3);
  });

  it('never re-creates a removed session folder (a batch racing a purge writes nothing)', async () => {
    const store = newStore();
    await store.remove(SID);
    await store.append(SID, [rec(1, 1, 1, Buffer.alloc(60))]);
    expect(fs.existsSync(path.join(root, SID))).toBe(false);
    expect(await store.snapshot(SID)).toEqual([]);
    expect(() => store.open('../etc', { agentId: 1, linkType: 1, primary: true, bytes: 10, key: 'agent-1.pcap' })).toThrow();
  });
});

describe('FilePcapStore layout', () => {
  it('appends byte for byte what PcapWriter writes for the same records, batch after batch (frames over the snaplen cut to it)', async () => {
    const store = newStore();
    const frame = (n: number, len: number): Buffer => {
      const b = buildEthernetFrame({ src: { ip: '192.0.2.10', port: 5060 }, dst: { ip: '192.0.2.20', port: 5060 }, transport: 'udp', payload: sip(`layout-${n}`) })!;
      return len <= b.length ? b : Buffer.concat([b, Buffer.alloc(len - b.length, n)]);
    };
    const recs: PcapRecord[] = [0, 1, 2, 3, 4].map((n) => ({ agentId: 7, tsUs: 1_780_000_000_123_456 + n * 1_000_001, linkType: LINKTYPE.ETHERNET, data: frame(n, n === 3 ? 300_000 : 0), origLen: n === 1 ? 5000 : 0 }));
    await store.append(SID, recs.slice(0, 2));
    await store.append(SID, recs.slice(2));
    const want = new PcapWriter({ linkType: LINKTYPE.ETHERNET, snaplen: 262_144 }).file(recs.map((r) => ({ tsUs: r.tsUs, data: r.data, origLen: Math.max(r.origLen, r.data.length) })));
    expect(fs.readFileSync(path.join(root, SID, 'agent-7.pcap')).equals(want)).toBe(true);
  });
});
