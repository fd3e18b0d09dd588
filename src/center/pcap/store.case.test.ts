// The PCAP store contract: every PcapStore (files under the data folder, PostgreSQL) must pass it.
// Each implementation's own test file calls runPcapStoreContract — see pcap.test.ts and
// postgres-store.test.ts. tshark (the oracle) reads what the store gives back.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../protocol/capture-file.js';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { buildEthernetFrame, LINKTYPE } from './frames.js';
import { planAppend } from './store.js';
import type { PcapFile, PcapRecord, PcapStore } from './store.js';

export interface PcapStoreUnderTest {
  store: PcapStore;
  /** makes the session exist for the store (its folder, its row), as session creation does */
  addSession(id: string): Promise<void>;
  /** the session is purged (its row deleted; its files removed by remove()) */
  purgeSession(id: string): Promise<void>;
  /** the same data through a new store object (a restarted center, another center) */
  reopen(): PcapStore;
  cleanup(): Promise<void>;
}

export const sipMessage = (callId: string, method = 'OPTIONS'): Buffer =>
  Buffer.from(
    `${method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${callId}\r\n` +
      `From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\n` +
      'Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
  );

export function tshark(file: string, ...args: string[]): string[] {
  const r = spawnSync('tshark', ['-r', file, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter((l) => l !== '');
}

export async function readAll(store: PcapStore, sid: string, f: PcapFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of store.open(sid, f)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export const rec = (agentId: number, tsUs: number, linkType: number, data: Buffer): PcapRecord => ({ agentId, tsUs, linkType, data, origLen: data.length });

const udp = (callId: string, a = '192.0.2.1', b = '192.0.2.2'): Buffer =>
  buildEthernetFrame({ src: { ip: a, port: 5060 }, dst: { ip: b, port: 5060 }, transport: 'udp', payload: sipMessage(callId) }) as Buffer;

let n = 0;
const newSid = (): string => `abcdef${(++n).toString(16).padStart(14, '0')}`;

export function runPcapStoreContract(name: string, make: () => Promise<PcapStoreUnderTest>): void {
  describe(`PCAP store contract: ${name}`, () => {
    const withStore = (fn: (t: PcapStoreUnderTest, sid: string) => Promise<void>) => async () => {
      const t = await make();
      const sid = newSid();
      await t.addSession(sid);
      try {
        await fn(t, sid);
      } finally {
        await t.cleanup();
      }
    };

    it("one file per agent with the first frame's link type; captured frames byte-identical; other link types in a side file", withStore(async (t, sid) => {
      const { store } = t;
      const eth = udp('a@x');
      const raw = udp('b@x', '192.0.2.3', '192.0.2.4').subarray(14);
      const sll2 = Buffer.concat([Buffer.alloc(20), raw]);
      sll2.writeUInt16BE(0x0800, 0);
      await store.append(sid, [rec(1, 1_000_000, LINKTYPE.ETHERNET, eth), rec(2, 1_000_001, LINKTYPE.RAW, raw)]);
      await store.append(sid, [rec(1, 1_000_002, LINKTYPE.RAW, raw), rec(1, 1_000_003, LINKTYPE.LINUX_SLL2, sll2)]);
      const files = await store.snapshot(sid);
      expect(files.map((f) => [f.agentId, f.linkType, f.primary, f.key])).toEqual([
        [1, LINKTYPE.ETHERNET, true, 'agent-1.pcap'],
        [1, LINKTYPE.LINUX_SLL2, false, 'agent-1.lt276.pcap'],
        [2, LINKTYPE.ETHERNET, true, 'agent-2.pcap'],
      ]);
      const a1 = readCaptureFile(await readAll(store, sid, files[0])).records;
      expect(a1.map((r) => [r.tsUs, r.linkType])).toEqual([[1_000_000, 1], [1_000_002, 1]]);
      expect(a1[0].data.equals(eth)).toBe(true);
      expect(a1[1].data.subarray(14).equals(raw)).toBe(true);
      const side = readCaptureFile(await readAll(store, sid, files[1])).records;
      expect(side[0].data.equals(sll2)).toBe(true);
      // the link type survives a restart of the center (or is what another center sees)
      const again = t.reopen();
      await again.append(sid, [rec(2, 1_000_004, LINKTYPE.RAW, raw)]);
      const a2 = (await again.snapshot(sid)).find((f) => f.key === 'agent-2.pcap') as PcapFile;
      expect(readCaptureFile(await readAll(again, sid, a2)).records.map((r) => r.linkType)).toEqual([1, 1]);
    }));

    it('a snapshot is consistent: reading it later returns only what was there when it was taken', withStore(async ({ store }, sid) => {
      const eth = udp('s@x');
      await store.append(sid, [rec(1, 1, 1, eth), rec(1, 2, 1, eth)]);
      const [snap] = await store.snapshot(sid);
      await store.append(sid, [rec(1, 3, 1, eth)]);
      expect(readCaptureFile(await readAll(store, sid, snap)).records.map((r) => r.tsUs)).toEqual([1, 2]);
      const [now] = await store.snapshot(sid);
      expect(readCaptureFile(await readAll(store, sid, now)).records).toHaveLength(3);
    }));

    it('remove deletes every file; a batch racing a purge writes nothing', withStore(async (t, sid) => {
      const { store } = t;
      await store.append(sid, [rec(1, 1, 1, udp('r@x'))]);
      expect(await store.snapshot(sid)).toHaveLength(1);
      await t.purgeSession(sid);
      await store.remove(sid);
      expect(await store.snapshot(sid)).toEqual([]);
      await store.append(sid, [rec(1, 2, 1, udp('r@x'))]);
      expect(await store.snapshot(sid)).toEqual([]);
      // a session the store never had a place for
      const unknown = newSid();
      await store.append(unknown, [rec(1, 1, 1, udp('u@x'))]);
      expect(await store.snapshot(unknown)).toEqual([]);
    }));

    it('appends byte for byte what PcapWriter writes for the same records, batch after batch; tshark reads it', withStore(async ({ store }, sid) => {
      const frame = (k: number, len: number): Buffer => {
        const b = udp(`layout-${k}`, '192.0.2.10', '192.0.2.20');
        return len <= b.length ? b : Buffer.concat([b, Buffer.alloc(len - b.length, k)]);
      };
      const recs: PcapRecord[] = [0, 1, 2, 3, 4].map((k) => ({
        agentId: 7,
        tsUs: 1_780_000_000_123_456 + k * 1_000_001,
        linkType: LINKTYPE.ETHERNET,
        data: frame(k, k === 3 ? 300_000 : 0),
        origLen: k === 1 ? 5000 : 0,
      }));
      await store.append(sid, recs.slice(0, 2));
      await store.append(sid, recs.slice(2));
      const want = new PcapWriter({ linkType: LINKTYPE.ETHERNET, snaplen: 262_144 }).file(
        recs.map((r) => ({ tsUs: r.tsUs, data: r.data, origLen: Math.max(r.origLen, r.data.length) })),
      );
      const [f] = await store.snapshot(sid);
      const got = await readAll(store, sid, f);
      expect(got.equals(want)).toBe(true);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-pcap-read-'));
      try {
        fs.writeFileSync(path.join(dir, 'a.pcap'), got);
        expect(tshark(path.join(dir, 'a.pcap'), '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID')).toEqual([0, 1, 2, 3, 4].map((k) => `layout-${k}`));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }));
  });
}

describe('planAppend (shared by every PCAP store)', () => {
  it("puts an agent's records in its main file under the known link type, frames of another link type in a side file", () => {
    const eth = udp('p@x');
    const sll2 = Buffer.concat([Buffer.alloc(20), eth.subarray(14)]);
    sll2.writeUInt16BE(0x0800, 0);
    const { files, newMainLinkTypes } = planAppend(
      [rec(1, 1, LINKTYPE.ETHERNET, eth), rec(2, 2, LINKTYPE.LINUX_SLL2, sll2), rec(1, 3, LINKTYPE.LINUX_SLL2, sll2)],
      (agentId) => (agentId === 1 ? LINKTYPE.ETHERNET : null),
    );
    expect([...files].map(([k, f]) => [k, f.agentId, f.linkType, f.primary])).toEqual([
      ['agent-1.pcap', 1, LINKTYPE.ETHERNET, true],
      ['agent-2.pcap', 2, LINKTYPE.LINUX_SLL2, true],
      ['agent-1.lt276.pcap', 1, LINKTYPE.LINUX_SLL2, false],
    ]);
    expect([...newMainLinkTypes]).toEqual([[2, LINKTYPE.LINUX_SLL2]]);
    expect(files.get('agent-1.pcap')?.records.length).toBe(16 + eth.length);
  });
});
