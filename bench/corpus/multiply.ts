// Multiplies a seed capture into a large corpus: copy k of every seed packet is shifted in time and
// rewritten by a per-copy plan (Call-IDs, numbers, media ports), consistently within each dialog,
// then all copies are merged in timestamp order and streamed to a pcap. Owns the ordering and the
// frame rebuilding; what to rewrite is the plan's business (see corpora.ts).
import { PcapFileWriter } from './pcap-io.js';
import type { RawPacket } from './pcap-io.js';
import { callIdOf, fixContentLength, rebuildUdp, sipText, udpView } from './rewrite.js';
import type { UdpView } from './rewrite.js';

export interface SeedPacket extends RawPacket {
  udp: UdpView | null;
  /** SIP text (latin1) when the UDP payload is a SIP message */
  sip: string | null;
  callId: string | undefined;
}

export interface CopyPlan {
  /** added to every timestamp of this copy */
  offsetUs: number;
  /** the rewritten SIP message (the plan keeps dialogs consistent by keying on the seed Call-ID) */
  sip(text: string, callId: string | undefined): string;
  /** UDP port mapping for this copy (identity for SIP ports) */
  port(p: number): number;
}

export function prepareSeed(packets: RawPacket[]): SeedPacket[] {
  return packets.map((p) => {
    const udp = udpView(p.data);
    const sip = udp === null ? null : sipText(p.data.subarray(udp.payload, udp.end));
    return { ...p, udp, sip, callId: sip === null ? undefined : callIdOf(sip) };
  });
}

/** Seed Call-IDs in order of first appearance. */
export function seedCallIds(seed: SeedPacket[]): string[] {
  const seen = new Set<string>();
  for (const p of seed) if (p.callId !== undefined) seen.add(p.callId);
  return [...seen];
}

export interface MultiplyResult {
  packets: number;
  sipMessages: number;
}

/** Writes `plans.length` rewritten copies of `seed`, merged by timestamp, to `path`. */
export function writeCopies(path: string, linkType: number, seed: SeedPacket[], plans: CopyPlan[]): MultiplyResult {
  const n = seed.length * plans.length;
  const ts = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let k = 0, i = 0; k < plans.length; k++) {
    const off = plans[k].offsetUs;
    for (let j = 0; j < seed.length; j++, i++) {
      ts[i] = seed[j].tsUs + off;
      order[i] = i;
    }
  }
  // Stable merge by time: ties keep copy order, then seed order.
  order.sort((a, b) => ts[a] - ts[b] || a - b);
  const w = new PcapFileWriter(path, linkType);
  let sipMessages = 0;
  for (let x = 0; x < n; x++) {
    const i = order[x];
    const k = Math.floor(i / seed.length);
    const p = seed[i - k * seed.length];
    const plan = plans[k];
    const tsUs = ts[i];
    if (p.udp === null) {
      w.write(tsUs, p.data, p.origLen);
      continue;
    }
    const v = p.udp;
    const sp = plan.port(v.srcPort);
    const dp = plan.port(v.dstPort);
    let frame: Buffer;
    if (p.sip !== null) {
      sipMessages++;
      const text = fixContentLength(p.sip, plan.sip(p.sip, p.callId));
      frame = rebuildUdp(p.data, v, Buffer.from(text, 'latin1'), sp, dp);
    } else if (sp !== v.srcPort || dp !== v.dstPort) {
      frame = rebuildUdp(p.data, v, p.data.subarray(v.payload, v.end), sp, dp);
    } else {
      frame = p.data;
    }
    const origLen = p.origLen === p.data.length ? frame.length : p.origLen + (frame.length - p.data.length);
    w.write(tsUs, frame, origLen);
  }
  w.close();
  return { packets: w.count, sipMessages };
}

// a corpus is a pure function of its seed: the project's one seeded PRNG
export { prng } from '../../src/protocol/testing/prng.js';
