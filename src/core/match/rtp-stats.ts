// Per-stream RTP quality (one SSRC in one direction): packet count, expected/lost with 16-bit
// sequence wrap (RFC 3550 §6.4.1 and A.3), duplicates and reordering, interarrival jitter (RFC 3550
// §6.4.1 / A.8) in the codec's RTP clock, largest gap between packets, and an MOS estimate (mos.ts).
// Time is the capture time of the packets (µs), never the clock.
import { estimateMos } from './mos.js';

export interface StaticPayloadType {
  codec: string;
  clockRate: number;
}

/** RFC 3551 §6 static payload types. G.722 (9) uses an 8000 Hz RTP clock although it samples at 16 kHz. */
export const STATIC_PAYLOAD_TYPES: Readonly<Record<number, StaticPayloadType>> = {
  0: { codec: 'PCMU', clockRate: 8000 },
  3: { codec: 'GSM', clockRate: 8000 },
  4: { codec: 'G723', clockRate: 8000 },
  5: { codec: 'DVI4', clockRate: 8000 },
  6: { codec: 'DVI4', clockRate: 16000 },
  7: { codec: 'LPC', clockRate: 8000 },
  8: { codec: 'PCMA', clockRate: 8000 },
  9: { codec: 'G722', clockRate: 8000 },
  10: { codec: 'L16', clockRate: 44100 },
  11: { codec: 'L16', clockRate: 44100 },
  12: { codec: 'QCELP', clockRate: 8000 },
  13: { codec: 'CN', clockRate: 8000 },
  14: { codec: 'MPA', clockRate: 90000 },
  15: { codec: 'G728', clockRate: 8000 },
  16: { codec: 'DVI4', clockRate: 11025 },
  17: { codec: 'DVI4', clockRate: 22050 },
  18: { codec: 'G729', clockRate: 8000 },
  25: { codec: 'CelB', clockRate: 90000 },
  26: { codec: 'JPEG', clockRate: 90000 },
  28: { codec: 'nv', clockRate: 90000 },
  31: { codec: 'H261', clockRate: 90000 },
  32: { codec: 'MPV', clockRate: 90000 },
  33: { codec: 'MP2T', clockRate: 90000 },
  34: { codec: 'H263', clockRate: 90000 },
};

/** A stream summary, as sent in `rtp` stats events. Times in ms. */
export interface StreamStats {
  ssrc: number;
  src: { ip: string; port: number };
  dst: { ip: string; port: number };
  pt: number;
  codec: string | undefined;
  clockRate: number | undefined;
  packets: number;
  /** extended highest sequence number − base sequence number + 1 */
  expected: number;
  /** expected − packets received (RFC 3550 §6.4.1: duplicates count as received, so it can be negative, as tshark shows it) */
  lost: number;
  duplicates: number;
  /** packets that arrived with a sequence number below the highest seen (late, not duplicate) */
  reordered: number;
  /** RFC 3550 interarrival jitter after the last packet */
  jitterMs: number;
  /** mean and largest of the per-packet jitter values (tshark's Mean/Max Jitter) */
  meanJitterMs: number;
  maxJitterMs: number;
  /** largest arrival gap between consecutive packets */
  maxDeltaMs: number;
  /** last packet's arrival − first packet's */
  durationMs: number;
  firstTsUs: number;
  lastTsUs: number;
  mos: number | undefined;
}

const WINDOW = 1024; // sequence numbers remembered for duplicate detection

export class RtpStream {
  readonly ssrc: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  pt = -1;
  codec: string | undefined;
  clockRate: number | undefined;
  ptimeMs: number | undefined;
  packets = 0;
  duplicates = 0;
  reordered = 0;
  /** packets at the last periodic report */
  reportedPackets = 0;
  private baseSeq = 0;
  private maxSeq = 0; // extended
  private seen = new Uint32Array(WINDOW / 32);
  private lastArrivalUs = 0;
  private lastRtpTs = 0;
  private jitter = 0; // in RTP timestamp units (RFC 3550 A.8 keeps it scaled; we keep a double)
  private jitterSumMs = 0;
  private jitterCount = 0;
  private maxJitterMs = 0;
  private maxDeltaUs = 0;
  firstTsUs = 0;
  lastTsUs = 0;

  constructor(ssrc: number, srcIp: string, srcPort: number, dstIp: string, dstPort: number) {
    this.ssrc = ssrc;
    this.srcIp = srcIp;
    this.srcPort = srcPort;
    this.dstIp = dstIp;
    this.dstPort = dstPort;
  }

  private bit(ext: number): boolean {
    const i = ext % WINDOW;
    return (this.seen[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  private setBit(ext: number, on: boolean): void {
    const i = ext % WINDOW;
    if (on) this.seen[i >>> 5] |= 1 << (i & 31);
    else this.seen[i >>> 5] &= ~(1 << (i & 31));
  }

  /**
   * Accounts one packet. `clockRate` resolves the payload type (rtpmap or static table); without it
   * jitter stays 0 (it cannot be expressed in time).
   */
  update(
    seq: number,
    rtpTs: number,
    pt: number,
    arrivalUs: number,
    clock?: { codec?: string; clockRate?: number },
    marker = false,
  ): void {
    const prevPt = this.pt;
    if (pt !== this.pt) {
      this.pt = pt;
      const st = STATIC_PAYLOAD_TYPES[pt];
      // A payload-type change (e.g. to comfort noise or telephone-event) keeps the first codec's name
      // for the MOS; the clock follows the packets.
      const rate = clock?.clockRate ?? st?.clockRate;
      if (this.codec === undefined || this.packets === 0) this.codec = clock?.codec ?? st?.codec;
      if (rate !== undefined) this.clockRate = rate;
    }
    if (this.packets === 0) {
      this.baseSeq = seq;
      this.maxSeq = seq + 65536; // keep extended numbers positive when early packets arrive late
      this.baseSeq += 65536;
      this.setBit(this.maxSeq, true);
      this.packets = 1;
      this.firstTsUs = arrivalUs;
      this.lastTsUs = arrivalUs;
      this.lastArrivalUs = arrivalUs;
      this.lastRtpTs = rtpTs;
      return;
    }
    this.packets++;
    // Sequence: RFC 3550 A.1 style, on the 16-bit distance from the highest sequence seen.
    const high = this.maxSeq & 0xffff;
    const delta = (seq - high) & 0xffff;
    if (delta === 0) {
      this.duplicates++;
    } else if (delta < 0x8000) {
      for (let k = 1; k < delta && k < WINDOW; k++) this.setBit(this.maxSeq + k, false);
      this.maxSeq += delta;
      this.setBit(this.maxSeq, true);
    } else {
      const ext = this.maxSeq - (0x10000 - delta);
      if (ext < this.baseSeq) {
        // Earlier than the first packet: move the base back.
        this.baseSeq = ext;
        this.reordered++;
      } else if (this.maxSeq - ext < WINDOW && this.bit(ext)) {
        this.duplicates++;
      } else {
        this.reordered++;
      }
      if (this.maxSeq - ext < WINDOW) this.setBit(ext, true);
    }
    // Arrival gap. A marked packet starts a talkspurt after silence suppression, and comfort noise
    // (PT 13, RFC 3389) is sent sparsely: their gaps are by design, not network trouble (tshark
    // leaves them out of Max Delta too).
    const gap = arrivalUs - this.lastArrivalUs;
    if (gap > this.maxDeltaUs && !marker && pt !== 13 && prevPt !== 13) this.maxDeltaUs = gap;
    // RFC 3550 A.8: D = (Rj − Ri) − (Sj − Si) in RTP units; J += (|D| − J) / 16.
    const rate = this.clockRate;
    if (rate !== undefined && rate > 0) {
      const arrivalUnits = (gap * rate) / 1e6;
      const tsDiff = (rtpTs - this.lastRtpTs) | 0; // 32-bit wrap-safe signed difference
      const d = Math.abs(arrivalUnits - tsDiff);
      this.jitter += (d - this.jitter) / 16;
      const jms = (this.jitter * 1000) / rate;
      this.jitterSumMs += jms;
      this.jitterCount++;
      if (jms > this.maxJitterMs) this.maxJitterMs = jms;
    }
    this.lastArrivalUs = arrivalUs;
    this.lastRtpTs = rtpTs;
    if (arrivalUs > this.lastTsUs) this.lastTsUs = arrivalUs;
  }

  get expected(): number {
    return this.packets === 0 ? 0 : this.maxSeq - this.baseSeq + 1;
  }

  /** RFC 3550 §6.4.1 / A.3: cumulative lost = expected − received; duplicates make it negative */
  get lost(): number {
    return this.expected - this.packets;
  }

  snapshot(): StreamStats {
    const expected = this.expected;
    const lost = this.lost;
    const rate = this.clockRate;
    const jitterMs = rate ? (this.jitter * 1000) / rate : 0;
    const meanJitterMs = this.jitterCount > 0 ? this.jitterSumMs / this.jitterCount : 0;
    // no MOS for a stream of DTMF events (RFC 4733): there is no speech to score
    const audio = rate !== undefined && rate <= 48000 && !isEventCodec(this.codec);
    return {
      ssrc: this.ssrc,
      src: { ip: this.srcIp, port: this.srcPort },
      dst: { ip: this.dstIp, port: this.dstPort },
      pt: this.pt,
      codec: this.codec,
      clockRate: rate,
      packets: this.packets,
      expected,
      lost,
      duplicates: this.duplicates,
      reordered: this.reordered,
      jitterMs: round3(jitterMs),
      meanJitterMs: round3(meanJitterMs),
      maxJitterMs: round3(this.maxJitterMs),
      maxDeltaMs: round3(this.maxDeltaUs / 1000),
      durationMs: round3((this.lastTsUs - this.firstTsUs) / 1000),
      firstTsUs: this.firstTsUs,
      lastTsUs: this.lastTsUs,
      mos: audio
        ? estimateMos({ codec: this.codec, lossRatio: expected > 0 ? Math.max(0, lost) / expected : 0, jitterMs: meanJitterMs, ptimeMs: this.ptimeMs })
        : undefined,
    };
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const isEventCodec = (codec: string | undefined): boolean => codec !== undefined && codec.toLowerCase() === 'telephone-event';
