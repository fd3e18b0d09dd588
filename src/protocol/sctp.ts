// SCTP packets (RFC 9260 §3): the common header and the user data they carry, from DATA chunks
// (type 0) and I-DATA chunks (type 64, RFC 8260), with reassembly of user messages fragmented over
// consecutive TSNs (DATA) or fragment sequence numbers (I-DATA), bounded and counted. Other chunk
// types are skipped by their length. Association state, acknowledgements and checksums are not
// tracked.

export const SCTP_CHUNK = { DATA: 0, IDATA: 64 } as const;

export interface SctpHeader {
  srcPort: number;
  dstPort: number;
  verificationTag: number;
}

export interface SctpStats {
  packets: number;
  dataChunks: number;
  /** DATA chunks that were fragments of a larger user message */
  fragmented: number;
  /** user messages rebuilt from fragments */
  reassembled: number;
  /** fragments dropped: out of sequence, over the size bound, or evicted */
  fragmentsDropped: number;
  malformed: number;
  bufferedBytes: number;
}

export const newSctpStats = (): SctpStats => ({
  packets: 0,
  dataChunks: 0,
  fragmented: 0,
  reassembled: 0,
  fragmentsDropped: 0,
  malformed: 0,
  bufferedBytes: 0,
});

/** One DATA / I-DATA chunk as seen by `sctpData`'s callback. */
export interface SctpChunk {
  payload: Buffer;
  ppid: number;
  /** B (first) and E (last) fragment flags; both set for a whole message */
  begin: boolean;
  end: boolean;
  unordered: boolean;
  streamId: number;
  /** DATA: the TSN; I-DATA: the message id */
  tsn: number;
  /** I-DATA fragment sequence number (0 for DATA) */
  fsn: number;
  idata: boolean;
}

/**
 * Walks the chunks of the SCTP packet [off, end): calls `onChunk` for each DATA / I-DATA chunk (the
 * chunk object is reused; its payload is a subarray, no copy). Returns false when the common header
 * is missing; chunk-level damage stops the walk and is counted.
 */
export function sctpData(b: Buffer, off: number, end: number, stats: SctpStats, onChunk: (c: SctpChunk) => void): boolean {
  if (end - off < 12) {
    stats.malformed++;
    return false;
  }
  stats.packets++;
  const chunk: SctpChunk = { payload: b, ppid: 0, begin: false, end: false, unordered: false, streamId: 0, tsn: 0, fsn: 0, idata: false };
  let o = off + 12;
  for (let i = 0; i < 1024 && end - o >= 4; i++) {
    const type = b[o];
    const flags = b[o + 1];
    const len = b.readUInt16BE(o + 2);
    if (len < 4 || len > end - o) {
      stats.malformed++;
      return true;
    }
    if (type === SCTP_CHUNK.DATA || type === SCTP_CHUNK.IDATA) {
      const hdr = type === SCTP_CHUNK.DATA ? 16 : 20;
      if (len < hdr) stats.malformed++;
      else {
        stats.dataChunks++;
        // flags: I=8, U=4, B=2, E=1 (RFC 9260 §3.3.1)
        if ((flags & 3) !== 3) stats.fragmented++;
        const c = chunk;
        c.payload = b.subarray(o + hdr, o + len);
        c.begin = (flags & 2) !== 0;
        c.end = (flags & 1) !== 0;
        c.unordered = (flags & 4) !== 0;
        c.streamId = b.readUInt16BE(o + 8);
        c.tsn = type === SCTP_CHUNK.DATA ? b.readUInt32BE(o + 4) : b.readUInt32BE(o + 12);
        c.idata = type === SCTP_CHUNK.IDATA;
        // I-DATA: the word at 16 is the PPID on the first fragment and the FSN on the others (RFC 8260 §2.1)
        c.ppid = type === SCTP_CHUNK.DATA || c.begin ? b.readUInt32BE(o + (type === SCTP_CHUNK.DATA ? 12 : 16)) : 0;
        c.fsn = type === SCTP_CHUNK.IDATA && !c.begin ? b.readUInt32BE(o + 16) : 0;
        onChunk(c);
      }
    }
    o += (len + 3) & ~3;
  }
  return true;
}

/** Ports of the common header. */
export function sctpPorts(b: Buffer, off: number): SctpHeader {
  return { srcPort: b.readUInt16BE(off), dstPort: b.readUInt16BE(off + 2), verificationTag: b.readUInt32BE(off + 4) };
}

interface PartialMessage {
  parts: Buffer[];
  bytes: number;
  /** TSN (DATA) or FSN (I-DATA) expected next */
  next: number;
  ppid: number;
}

/**
 * Rebuilds fragmented user messages. Keyed by the caller (association direction) plus stream and
 * ordering (DATA: fragments have consecutive TSNs) or message id (I-DATA: consecutive FSNs).
 */
export class SctpReassembler {
  private readonly partial = new Map<string, PartialMessage>();

  constructor(
    private readonly stats: SctpStats,
    private readonly maxMessageBytes = 256 * 1024,
    private readonly maxPending = 1024,
    /** bytes held over all partial messages */
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  /** Returns the whole user message when `c` completes one (or is one), else null. */
  chunk(flowKey: string, c: SctpChunk): Buffer | null {
    if (c.begin && c.end) return c.payload;
    const key = c.idata ? `${flowKey}|${c.streamId}|${c.unordered ? 'u' : 'o'}|${c.tsn}` : `${flowKey}|${c.streamId}|${c.unordered ? 'u' : 'o'}`;
    const seq = c.idata ? c.fsn : c.tsn;
    if (c.begin) {
      const old = this.partial.get(key);
      if (old !== undefined) this.drop(key, old);
      if (this.partial.size >= this.maxPending) {
        const first = this.partial.entries().next();
        if (first.done !== true) this.drop(first.value[0], first.value[1]);
      }
      const p: PartialMessage = { parts: [Buffer.from(c.payload)], bytes: c.payload.length, next: (seq + 1) >>> 0, ppid: c.ppid };
      this.partial.set(key, p);
      this.stats.bufferedBytes += p.bytes;
      this.bound();
      return null;
    }
    const p = this.partial.get(key);
    if (p === undefined || p.next !== seq >>> 0 || p.bytes + c.payload.length > this.maxMessageBytes) {
      this.stats.fragmentsDropped++;
      if (p !== undefined) this.drop(key, p);
      return null;
    }
    p.parts.push(Buffer.from(c.payload));
    p.bytes += c.payload.length;
    this.stats.bufferedBytes += c.payload.length;
    if (this.bound() && !this.partial.has(key)) return null;
    p.next = (p.next + 1) >>> 0;
    if (!c.end) return null;
    this.partial.delete(key);
    this.stats.bufferedBytes -= p.bytes;
    this.stats.reassembled++;
    return Buffer.concat(p.parts, p.bytes);
  }

  /** Evicts the oldest partial messages while over maxBytes; true when something was evicted. */
  private bound(): boolean {
    let evicted = false;
    while (this.stats.bufferedBytes > this.maxBytes) {
      const first = this.partial.entries().next();
      if (first.done === true) break;
      this.drop(first.value[0], first.value[1]);
      evicted = true;
    }
    return evicted;
  }

  private drop(key: string, p: PartialMessage): void {
    this.partial.delete(key);
    this.stats.bufferedBytes -= p.bytes;
    this.stats.fragmentsDropped += p.parts.length;
  }
}
