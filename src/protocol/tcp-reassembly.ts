// TCP stream reassembly, one direction of a connection per stream (RFC 9293 sequence space, mod
// 2^32). Delivers bytes in order to a per-stream consumer (the SIP framer): retransmitted bytes are
// dropped, overlaps trimmed (first data wins), out-of-order segments held up to a bound, holes
// skipped after that bound or a capture-time timeout. A stream seen without its SYN starts at the
// first sequence number seen. Memory is bounded per stream and in total; every eviction is counted.
// Capture time only: there is no clock here.

/** What a stream's bytes go to (sip-framing.ts's SipStreamFramer fits). */
export interface StreamConsumer {
  push(data: Buffer): void;
  /** bytes were lost before the next push */
  gap(): void;
  readonly bufferedBytes: number;
}

export interface TcpLimits {
  /** out-of-order segments held per stream before the hole is skipped */
  maxOutOfOrderSegments: number;
  /** bytes held per stream (out-of-order segments plus the consumer's partial message) */
  maxStreamBytes: number;
  /** bytes held over all streams */
  maxTotalBytes: number;
  /** streams tracked at once */
  maxStreams: number;
  /** a stream with no segment for this long (capture time) is dropped */
  idleTimeoutUs: number;
  /** a hole still open this long after the oldest held segment arrived is skipped */
  gapTimeoutUs: number;
  /** a closed stream is remembered this long to recognise retransmissions */
  closedLingerUs: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = {
  maxOutOfOrderSegments: 64,
  maxStreamBytes: 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxStreams: 65536,
  idleTimeoutUs: 300_000_000,
  gapTimeoutUs: 10_000_000,
  closedLingerUs: 30_000_000,
};

export interface TcpStats {
  segments: number;
  streams: number;
  /** segments whose bytes had all been delivered already */
  retransmissions: number;
  /** segments partly overlapping delivered bytes (trimmed) */
  overlaps: number;
  outOfOrder: number;
  /** holes skipped (bytes never seen) */
  gaps: number;
  /** streams closed by FIN or RST */
  closed: number;
  /** idle streams dropped by capture-time expiry */
  expired: number;
  /** streams dropped or emptied to stay within maxStreams / maxTotalBytes / maxStreamBytes */
  evicted: number;
  bufferedBytes: number;
}

export const newTcpStats = (): TcpStats => ({
  segments: 0,
  streams: 0,
  retransmissions: 0,
  overlaps: 0,
  outOfOrder: 0,
  gaps: 0,
  closed: 0,
  expired: 0,
  evicted: 0,
  bufferedBytes: 0,
});

export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

interface Held {
  seq: number;
  data: Buffer;
  tsUs: number;
}

interface Stream {
  next: number;
  held: Held[];
  heldBytes: number;
  consumer: StreamConsumer;
  /** bytes this stream counts in stats.bufferedBytes */
  accounted: number;
  lastTsUs: number;
  closed: boolean;
}

/** signed distance a - b in sequence space */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

export class TcpReassembler {
  readonly stats: TcpStats = newTcpStats();
  private readonly limits: TcpLimits;
  private readonly streams = new Map<string, Stream>();
  private lastSweepUs = -Infinity;

  constructor(
    private readonly newConsumer: (key: string) => StreamConsumer,
    limits: Partial<TcpLimits> = {},
  ) {
    this.limits = { ...DEFAULT_TCP_LIMITS, ...limits };
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** One segment of the stream `key` (one direction). `payload` is not kept unless held out of order. */
  segment(key: string, seq: number, flags: number, payload: Buffer, tsUs: number): void {
    this.stats.segments++;
    if (tsUs - this.lastSweepUs >= 1_000_000 || tsUs < this.lastSweepUs) this.sweep(tsUs);
    let s = this.streams.get(key);
    const syn = (flags & TCP_FLAG.SYN) !== 0;
    if (s === undefined || (syn && (s.closed || s.next !== ((seq + 1) >>> 0)))) {
      if (s !== undefined) this.remove(key, s);
      if (payload.length === 0 && !syn) return; // a bare ACK/FIN/RST tells nothing about a stream we do not know
      if (this.streams.size >= this.limits.maxStreams) this.evictOldest();
      s = {
        next: syn ? (seq + 1) >>> 0 : seq >>> 0,
        held: [],
        heldBytes: 0,
        consumer: this.newConsumer(key),
        accounted: 0,
        lastTsUs: tsUs,
        closed: false,
      };
      this.streams.set(key, s);
      this.stats.streams++;
      if (syn) seq = (seq + 1) >>> 0; // data on a SYN (TFO) follows the SYN's sequence number
    }
    s.lastTsUs = tsUs;
    if (payload.length > 0) {
      if (s.closed) {
        // after FIN/RST only retransmissions are expected
        if (seqDiff(seq, s.next) + payload.length <= 0) this.stats.retransmissions++;
        return;
      }
      this.data(s, seq >>> 0, payload, tsUs);
    }
    if ((flags & (TCP_FLAG.FIN | TCP_FLAG.RST)) !== 0 && !s.closed) {
      // flush what is held: the stream will not fill its holes any more
      while (s.held.length > 0) this.skipHole(s);
      s.closed = true;
      s.consumer.gap();
      this.account(s);
      this.stats.closed++;
    }
    if (s.held.length > 0 && tsUs - s.held[0].tsUs > this.limits.gapTimeoutUs) {
      this.skipHole(s);
    }
    this.account(s);
    if (this.stats.bufferedBytes > this.limits.maxTotalBytes) this.shed(s);
  }

  private data(s: Stream, seq: number, payload: Buffer, tsUs: number): void {
    const d = seqDiff(seq, s.next);
    if (d + payload.length <= 0) {
      this.stats.retransmissions++;
      return;
    }
    if (d > 0) {
      this.hold(s, seq, payload, tsUs);
      return;
    }
    if (d < 0) {
      this.stats.overlaps++;
      payload = payload.subarray(-d);
    }
    this.deliver(s, payload);
    this.drain(s);
  }

  private deliver(s: Stream, payload: Buffer): void {
    s.next = (s.next + payload.length) >>> 0;
    s.consumer.push(payload);
  }

  /** Delivers held segments that have become in order. */
  private drain(s: Stream): void {
    while (s.held.length > 0) {
      const h = s.held[0];
      const d = seqDiff(h.seq, s.next);
      if (d > 0) return;
      s.held.shift();
      s.heldBytes -= h.data.length;
      if (d + h.data.length <= 0) {
        this.stats.retransmissions++;
        continue;
      }
      if (d < 0) this.stats.overlaps++;
      this.deliver(s, d < 0 ? h.data.subarray(-d) : h.data);
    }
  }

  private hold(s: Stream, seq: number, payload: Buffer, tsUs: number): void {
    this.stats.outOfOrder++;
    let i = 0;
    const hs = s.held;
    while (i < hs.length && seqDiff(hs[i].seq, seq) < 0) i++;
    if (i < hs.length && hs[i].seq === seq && hs[i].data.length >= payload.length) {
      this.stats.retransmissions++;
      return;
    }
    hs.splice(i, 0, { seq, data: Buffer.from(payload), tsUs });
    s.heldBytes += payload.length;
    if (hs.length > this.limits.maxOutOfOrderSegments || s.heldBytes + s.consumer.bufferedBytes > this.limits.maxStreamBytes) {
      this.skipHole(s);
    }
  }

  /** Gives up on the bytes before the first held segment. */
  private skipHole(s: Stream): void {
    if (s.held.length === 0) return;
    this.stats.gaps++;
    s.consumer.gap();
    s.next = s.held[0].seq;
    this.drain(s);
  }

  private account(s: Stream): void {
    const now = s.heldBytes + s.consumer.bufferedBytes;
    if (now > this.limits.maxStreamBytes) {
      s.held = [];
      s.heldBytes = 0;
      s.consumer.gap();
      this.stats.evicted++;
    }
    const b = s.heldBytes + s.consumer.bufferedBytes;
    this.stats.bufferedBytes += b - s.accounted;
    s.accounted = b;
  }

  private remove(key: string, s: Stream): void {
    this.streams.delete(key);
    this.stats.bufferedBytes -= s.accounted;
    s.accounted = 0;
  }

  private evictOldest(): void {
    const first = this.streams.entries().next();
    if (first.done === true) return;
    this.remove(first.value[0], first.value[1]);
    this.stats.evicted++;
  }

  /** Over the total bound: empty other streams' buffers, oldest first. */
  private shed(current: Stream): void {
    for (const [key, s] of this.streams) {
      if (this.stats.bufferedBytes <= this.limits.maxTotalBytes) return;
      if (s === current || s.accounted === 0) continue;
      this.remove(key, s);
      this.stats.evicted++;
    }
    if (this.stats.bufferedBytes > this.limits.maxTotalBytes) {
      current.held = [];
      current.heldBytes = 0;
      current.consumer.gap();
      this.account(current);
      this.stats.evicted++;
    }
  }

  /** Drops idle and long-closed streams, by capture time. */
  sweep(nowUs: number): void {
    this.lastSweepUs = nowUs;
    for (const [key, s] of this.streams) {
      const idle = nowUs - s.lastTsUs;
      if (s.closed ? idle > this.limits.closedLingerUs : idle > this.limits.idleTimeoutUs) {
        this.remove(key, s);
        this.stats.expired++;
      } else if (s.held.length > 0 && nowUs - s.held[0].tsUs > this.limits.gapTimeoutUs) {
        this.skipHole(s);
        this.account(s);
      }
    }
  }
}
