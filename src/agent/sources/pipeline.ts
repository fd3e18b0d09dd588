// The byte-stream half shared by the live and replay sources: pcap/pcapng bytes in (chunks of any
// size) → capture records → dissected units → `PacketInput` for the capture manager, each carrying
// a lazy accessor to its original frame for PCAP export. Owns the reader/dissector pair of one
// stream and their counters; it does not own where the bytes come from.
import { createCaptureReader, type CaptureReader, type CaptureRecord } from '../../protocol/capture-file.js';
import { Dissector, type Unit } from '../../protocol/dissector.js';
import type { PacketInput } from '../capture-manager.js';

export class PacketPipeline {
  private reader: CaptureReader = createCaptureReader();
  // keepFrames: a SIP message split over TCP segments or IP fragments is exported as all its frames
  private dissector = new Dissector({ keepFrames: true });
  private readonly onPacket: (p: PacketInput) => void;
  readonly counters = { frames: 0, units: 0, consumer_errors: 0 };
  /** malformed frames by reason, and what was not decoded by kind, summed over every stream this pipeline read */
  private readonly malformedBase: Record<string, number> = {};
  private readonly undecodedBase: Record<string, number> = {};

  constructor(onPacket: (p: PacketInput) => void) {
    this.onPacket = onPacket;
  }

  /** A new stream (tcpdump restarted): fresh reader and reassembly state, counters kept. */
  reset(): void {
    for (const [k, v] of Object.entries(this.dissector.stats.malformed)) this.malformedBase[k] = (this.malformedBase[k] ?? 0) + v;
    for (const [k, v] of Object.entries(this.dissector.stats.undecoded)) this.undecodedBase[k] = (this.undecodedBase[k] ?? 0) + v;
    this.reader = createCaptureReader();
    this.dissector = new Dissector({ keepFrames: true });
  }

  /** Feeds bytes; returns the reader's error message once the stream is unreadable (then stop feeding). */
  push(chunk: Buffer): string | null {
    const records = this.reader.push(chunk);
    for (const rec of records) this.record(rec);
    return this.reader.error ? this.reader.error.message : null;
  }

  /** Feeds already-split records (tests, in-memory replays). */
  record(rec: CaptureRecord): void {
    this.counters.frames++;
    const units = this.dissector.push(rec);
    for (const u of units) this.unit(u);
  }

  end(): { truncated: boolean; reason?: string } {
    const st = this.reader.end();
    return { truncated: st.truncated, ...(st.reason ? { reason: st.reason } : {}) };
  }

  malformed(): Record<string, number> {
    const out: Record<string, number> = { ...this.malformedBase };
    for (const [k, v] of Object.entries(this.dissector.stats.malformed)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** What the dissector did not decode, by kind (ARP, ICMP, an unknown encapsulation…). */
  undecoded(): Record<string, number> {
    const out: Record<string, number> = { ...this.undecodedBase };
    for (const [k, v] of Object.entries(this.dissector.stats.undecoded)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** For a source's status counters: `malformed_<reason>` and `undecoded_<kind>`. */
  frameCounters(into: Record<string, number>): void {
    for (const [k, v] of Object.entries(this.malformed())) into[`malformed_${k}`] = v;
    for (const [k, v] of Object.entries(this.undecoded())) into[`undecoded_${k}`] = v;
  }

  private unit(u: Unit): void {
    this.counters.units++;
    const rec = u.frameData;
    try {
      this.onPacket({
        tsUs: u.tsUs,
        transport: u.transport,
        src: u.src,
        dst: u.dst,
        payload: u.payload,
        frame: () => ({ linkType: rec.linkType, data: rec.data, origLen: rec.origLen, tsUs: rec.tsUs, no: rec.frame }),
        ...(u.earlierFrames !== null ? { earlierFrames: () => u.earlierFrames!.map((r) => ({ linkType: r.linkType, data: r.data, origLen: r.origLen, tsUs: r.tsUs, no: r.frame })) } : {}),
      });
    } catch {
      this.counters.consumer_errors++;
    }
  }
}
