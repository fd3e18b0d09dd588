// The byte-stream half of the live and replay sources: what the dissector could not decode reaches
// the source's status counters by kind, summed across stream restarts, never dropped silently.
import { describe, expect, it } from 'vitest';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { ethernet, geneve, ipv4, sipRequest, udp, udp4 } from '../../protocol/testing/packets.js';
import { PacketPipeline } from './pipeline.js';
import type { PacketInput } from '../capture-manager.js';

const pcap = (frames: Buffer[]): Buffer => new PcapWriter({ linkType: 1 }).file(frames.map((data, i) => ({ tsUs: 1_700_000_000_000_000 + i, data })));

describe('PacketPipeline status counters', () => {
  it('counts undecoded kinds and malformed reasons across a restart; tunnelled SIP comes out', () => {
    const got: PacketInput[] = [];
    const p = new PacketPipeline((x) => got.push(x));
    const sip = udp4('192.0.2.1', 5060, '192.0.2.2', 5060, sipRequest('OPTIONS', 'in-geneve', 1));
    const frames = [
      ethernet(0x0806, Buffer.alloc(28)), // ARP
      ethernet(0x0800, ipv4({ src: '198.51.100.1', dst: '198.51.100.2', proto: 1 }, Buffer.alloc(8))), // ICMP
      ethernet(0x0800, ipv4({ src: '198.51.100.1', dst: '198.51.100.2', proto: 17 }, udp('198.51.100.1', 4000, '198.51.100.2', 6081, geneve(5, 0x0800, sip)))),
    ];
    expect(p.push(pcap(frames))).toBeNull();
    p.reset(); // tcpdump restarted: counts carry over
    expect(p.push(pcap([ethernet(0x0806, Buffer.alloc(28))]))).toBeNull();
    const c: Record<string, number> = {};
    p.frameCounters(c);
    expect(c).toEqual({ undecoded_arp: 2, undecoded_icmp: 1 });
    expect(got.map((x) => x.dst.port)).toEqual([5060]);
  });
});
