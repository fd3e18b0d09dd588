// Every tunnel and framing against tshark, on real traffic: there are no real tunnel captures here,
// so each frame of shared captures (UDP SIP with DNS/NBNS noise; SIP over TCP and WebSocket) is
// wrapped in the tunnel by the test builders, written as a pcap, and both tshark and our decode
// pipeline read the same file: the (frame, Call-ID, method, status) tuples must be equal, and equal
// to tshark's reading of the original file. HEP1/HEP2 have no tshark dissector: each SIP datagram is
// re-sent inside HEP (original addresses and time) and our rows must equal tshark's on the original.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/protocol/capture-file.js';
import type { CaptureRecord } from '../../src/protocol/capture-file.js';
import { decodeCaptureBuffer } from '../../src/protocol/decode-pipeline.js';
import type { SipRow } from '../../src/protocol/decode-pipeline.js';
import { Dissector } from '../../src/protocol/dissector.js';
import { encodeHep2 } from '../../src/protocol/hep.js';
import { linkToL3 } from '../../src/protocol/link.js';
import { PcapWriter } from '../../src/protocol/pcap-writer.js';
import { erspan2Header, erspan3Header, ethernet, geneve, gre, gtpu, ipv4, ipv6, mpls, pwControlWord, udp, vxlan } from '../../src/protocol/testing/packets.js';
import { PCAP_DIR, tsharkSip, tupleText } from './shared-captures.js';
import type { FrameTuples } from './shared-captures.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tunaio-tunnels-'));
const FILES = [
  'sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap', // UDP SIP, DNS/NBNS noise, 691 frames
  'sip_websocket_and_udp_b2bua_407__heplify.pcap', // SIP over TCP/WebSocket and UDP
];

const O4 = ['198.51.100.1', '198.51.100.2'];
const O6 = ['2001:db8:ffff::1', '2001:db8:ffff::2'];
const outer4 = (proto: number, payload: Buffer, id: number): Buffer => ethernet(0x0800, ipv4({ src: O4[0], dst: O4[1], proto, id: id & 0xffff }, payload));
const outerUdp4 = (dport: number, payload: Buffer, id: number): Buffer => outer4(17, udp(O4[0], 40000 + (id % 1000), O4[1], dport, payload), id);

/** A tunnel: how one Ethernet frame of the original capture is carried. */
interface Tunnel {
  name: string;
  wrap(frame: Buffer, ipPacket: Buffer, n: number): Buffer;
}

const TUNNELS: Tunnel[] = [
  { name: 'GTP-U (UDP 2152), no extension', wrap: (_f, ip, n) => outerUdp4(2152, gtpu(0x1000 + n, ip), n) },
  { name: 'GTP-U (UDP 2152), PDU session container extension', wrap: (_f, ip, n) => outerUdp4(2152, gtpu(0x2000 + n, ip, 9), n) },
  {
    name: 'GTP-U over IPv6',
    wrap: (_f, ip, n) => ethernet(0x86dd, ipv6({ src: O6[0], dst: O6[1], nextHeader: 17 }, udp(O6[0], 2152, O6[1], 2152, gtpu(n, ip, 5)))),
  },
  { name: 'VXLAN (UDP 4789)', wrap: (f, _ip, n) => outerUdp4(4789, vxlan(5001, f), n) },
  { name: 'Geneve (UDP 6081), Ethernet inside, one option', wrap: (f, _ip, n) => outerUdp4(6081, geneve(77, 0x6558, f, true), n) },
  { name: 'Geneve (UDP 6081), IPv4 inside', wrap: (_f, ip, n) => outerUdp4(6081, geneve(78, 0x0800, ip), n) },
  { name: 'MPLS 0x8847, two labels, IPv4', wrap: (_f, ip) => ethernet(0x8847, mpls([1000, 2000], ip)) },
  { name: 'MPLS 0x8848 (multicast), one label', wrap: (_f, ip) => ethernet(0x8848, mpls([3000], ip)) },
  { name: 'MPLS pseudowire with control word, Ethernet inside', wrap: (f, _ip, n) => ethernet(0x8847, mpls([16, 4000], pwControlWord(n, f))) },
  { name: 'MPLS over GRE', wrap: (_f, ip, n) => outer4(47, gre(0x8847, mpls([5000], ip)), n) },
  { name: 'ERSPAN type II (GRE 0x88BE)', wrap: (f, _ip, n) => outer4(47, gre(0x88be, Buffer.concat([erspan2Header(3), f]), { seq: n }), n) },
  { name: 'ERSPAN type III (GRE 0x22EB)', wrap: (f, _ip, n) => outer4(47, gre(0x22eb, Buffer.concat([erspan3Header(4), f]), { seq: n }), n) },
  { name: 'ERSPAN type III with platform sub-header', wrap: (f, _ip, n) => outer4(47, gre(0x22eb, Buffer.concat([erspan3Header(4, true), f]), { seq: n }), n) },
  { name: 'VXLAN inside GTP-U (nested)', wrap: (f, _ip, n) => outerUdp4(2152, gtpu(n, ipv4({ src: '10.9.9.1', dst: '10.9.9.2', proto: 17, id: n }, udp('10.9.9.1', 1234, '10.9.9.2', 4789, vxlan(9, f)))), n) },
];

function tuples(rows: SipRow[]): FrameTuples {
  const by = new Map<number, SipRow[]>();
  for (const r of rows) by.set(r.frame, [...(by.get(r.frame) ?? []), r]);
  const out: FrameTuples = new Map();
  for (const [fr, l] of by)
    out.set(
      fr,
      tupleText(
        l.map((r) => r.callId ?? ''),
        l.flatMap((r) => (r.method !== undefined ? [r.method] : [])),
        l.flatMap((r) => (r.status !== undefined ? [String(r.status)] : [])),
      ),
    );
  return out;
}

const originals = new Map<string, { records: CaptureRecord[]; tshark: FrameTuples }>();
async function original(file: string): Promise<{ records: CaptureRecord[]; tshark: FrameTuples }> {
  let o = originals.get(file);
  if (o === undefined) {
    const full = path.join(PCAP_DIR, file);
    o = { records: readCaptureFile(readFileSync(full)).records, tshark: await tsharkSip(full) };
    originals.set(file, o);
  }
  return o;
}

const table: string[] = [];
afterAll(() => console.log(`tunnels: SIP messages ours / tshark on the wrapped file / tshark on the original\n${table.join('\n')}`));

let fileNo = 0;
describe('tunnels around real captures, tshark as the oracle', () => {
  for (const t of TUNNELS)
    for (const file of FILES)
      it(`${t.name}: ${file}`, async () => {
        const o = await original(file);
        const pos = { etherType: 0, off: 0 };
        const frames = o.records.map((r, i) => {
          expect(r.linkType).toBe(1);
          expect(linkToL3(1, r.data, 0, r.data.length, pos)).toBe(true);
          if (pos.etherType !== 0x0800) return { tsUs: r.tsUs, data: r.data }; // ARP stays as it is
          return { tsUs: r.tsUs, data: t.wrap(r.data, r.data.subarray(pos.off), i + 1) };
        });
        const f = path.join(tmp, `w${++fileNo}.pcap`);
        writeFileSync(f, new PcapWriter({ linkType: 1 }).file(frames));
        const { rows, pipeline } = decodeCaptureBuffer(readFileSync(f));
        const theirs = await tsharkSip(f);
        const mine = tuples(rows);
        table.push(`  ${t.name} / ${file}: ${rows.length} / ${theirs.size} frames / ${o.tshark.size} frames`);
        expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(theirs));
        expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(o.tshark));
        expect(pipeline.dissector.stats.malformed).toEqual({});
      });
});

describe('HEP1 and HEP2 inside capture files', () => {
  for (const version of [1, 2] as const)
    it(`every SIP datagram of aaa.pcap re-sent as HEP${version} over UDP decodes like tshark reads the original`, async () => {
      const file = FILES[0];
      const o = await original(file);
      const d = new Dissector();
      const frames = o.records.map((r, i) => {
        const units = d.push(r);
        const u = units.find((x) => x.transport === 'udp' && /^(SIP\/2\.0 |[A-Za-z]+ \S+ SIP\/2\.0)/.test(x.payload.subarray(0, 64).toString('latin1')));
        if (u === undefined) return { tsUs: r.tsUs, data: r.data };
        const hep = encodeHep2({
          version,
          payload: u.payload,
          srcIp: u.src.ip,
          dstIp: u.dst.ip,
          srcPort: u.src.port,
          dstPort: u.dst.port,
          ipProto: 17,
          tsSec: Math.floor(r.tsUs / 1e6),
          tsUsec: r.tsUs % 1e6,
        });
        return { tsUs: r.tsUs + 1000, data: outerUdp4(9060, hep, i + 1) };
      });
      const f = path.join(tmp, `hep${version}.pcap`);
      writeFileSync(f, new PcapWriter({ linkType: 1 }).file(frames));
      const { rows, pipeline } = decodeCaptureBuffer(readFileSync(f));
      expect(Object.fromEntries(tuples(rows))).toEqual(Object.fromEntries(o.tshark));
      expect(pipeline.hepPackets).toBe(o.tshark.size);
      expect(pipeline.hepErrors).toBe(0);
      expect(rows.every((r) => r.hep === true && !r.src.startsWith('198.51.100.'))).toBe(true);
      // HEP2 carries the capture time; HEP1 has none, so the frame's time stands
      if (version === 2) expect(rows.every((r) => o.records[r.frame - 1].tsUs === r.tsUs)).toBe(true);
      else expect(rows.every((r) => o.records[r.frame - 1].tsUs + 1000 === r.tsUs)).toBe(true);
    });
});

describe('what is not decoded is counted by kind', () => {
  it('ARP, LLC, ICMP, ESP, an unknown EtherType, GTP-U echo, MPLS G-ACh, an unknown link type', () => {
    const d = new Dissector();
    const frames: [number, Buffer][] = [
      [1, ethernet(0x0806, Buffer.alloc(28))],
      [1, Buffer.concat([Buffer.alloc(12), Buffer.from([0, 38]), Buffer.alloc(38)])],
      [1, outer4(1, Buffer.alloc(16), 1)],
      [1, outer4(50, Buffer.alloc(32), 2)],
      [1, ethernet(0x88b5, Buffer.alloc(40))],
      [1, outerUdp4(2152, Buffer.from([0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]), 3)],
      [1, ethernet(0x8847, mpls([13], Buffer.from('1000000000000000', 'hex')))],
      [147, Buffer.alloc(40)],
    ];
    frames.forEach(([lt, data], i) => d.push({ frame: i + 1, linkType: lt, tsUs: 0, tsSec: 0, tsNsec: 0, caplen: data.length, origLen: data.length, data, interfaceId: 0 }));
    expect(d.stats.undecoded).toEqual({ arp: 1, llc: 1, icmp: 1, esp: 1, ethertype_0x88b5: 1, gtpu_type_1: 1, mpls_gach: 1, linktype_147: 1 });
    expect(d.stats.malformed).toEqual({});
  });

  it('a UDP datagram on a tunnel port that is not the tunnel (RTP on 6081) stays UDP', () => {
    const d = new Dissector();
    const rtp = Buffer.concat([Buffer.from([0x80, 0x00, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4]), Buffer.alloc(160, 0xff)]);
    const data = ethernet(0x0800, ipv4({ src: O4[0], dst: O4[1], proto: 17 }, udp(O4[0], 6080, O4[1], 6081, rtp)));
    const units = d.push({ frame: 1, linkType: 1, tsUs: 0, tsSec: 0, tsNsec: 0, caplen: data.length, origLen: data.length, data, interfaceId: 0 });
    expect(units).toHaveLength(1);
    expect(units[0].payload.length).toBe(172);
  });
});
