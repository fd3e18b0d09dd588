// The PCAP store and its frames: tshark (the oracle) reads the files and sees the original packets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildEthernetFrame, fitFrame, LINKTYPE } from './frames.js';
import { FilePcapStore } from './store.js';
import { rec, runPcapStoreContract, sipMessage, tshark } from './store.case.test.js';

const SID = 'abcdef0123456789abcd';
let root: string;
afterEach(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function newStore(): FilePcapStore {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-pcap-'));
  fs.mkdirSync(path.join(root, SID));
  return new FilePcapStore(root);
}

const sip = sipMessage;


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

runPcapStoreContract('files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-pcap-'));
  return {
    store: new FilePcapStore(dir),
    addSession: (id) => new FilePcapStore(dir).create(id),
    purgeSession: async () => undefined,
    reopen: () => new FilePcapStore(dir),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe('FilePcapStore', () => {
  it('never re-creates a removed session folder, and refuses names outside the store', async () => {
    const store = newStore();
    await store.remove(SID);
    await store.append(SID, [rec(1, 1, 1, Buffer.alloc(60))]);
    expect(fs.existsSync(path.join(root, SID))).toBe(false);
    expect(await store.snapshot(SID)).toEqual([]);
    expect(() => store.open('../etc', { agentId: 1, linkType: 1, primary: true, bytes: 10, key: 'agent-1.pcap' })).toThrow();
  });
});
