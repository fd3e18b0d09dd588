// IPv4/IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5). Keyed by the caller (src, dst, id,
// protocol, version). Bounded: total buffered bytes, datagrams held, bytes per datagram; a datagram
// expires after `timeoutUs` of *capture* time (there is no clock here). Every drop is counted.
// Overlapping fragments keep the bytes that arrived first.

export interface IpReassemblyOptions {
  /** bytes held over all incomplete datagrams */
  maxBytes?: number;
  /** incomplete datagrams held at once */
  maxDatagrams?: number;
  /** largest reassembled payload accepted */
  maxDatagramBytes?: number;
  /** capture-time age after which an incomplete datagram is dropped */
  timeoutUs?: number;
}

export interface IpReassemblyStats {
  fragments: number;
  reassembled: number;
  /** incomplete datagrams dropped because they grew older than timeoutUs */
  timeouts: number;
  /** incomplete datagrams dropped to stay within maxBytes / maxDatagrams */
  evicted: number;
  /** fragments dropped because they overlapped bytes already held */
  overlaps: number;
  /** datagrams dropped for exceeding maxDatagramBytes, or fragments past a known end */
  tooBig: number;
  /** bytes currently held */
  bufferedBytes: number;
  /** datagrams currently held */
  pending: number;
}

interface Frag {
  off: number;
  data: Buffer;
}

interface Datagram {
  frags: Frag[];
  bytes: number;
  /** payload length once the last fragment (M=0) was seen, else -1 */
  total: number;
  firstTsUs: number;
}

export class IpReassembler {
  readonly stats: IpReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    timeouts: 0,
    evicted: 0,
    overlaps: 0,
    tooBig: 0,
    bufferedBytes: 0,
    pending: 0,
  };
  private readonly maxBytes: number;
  private readonly maxDatagrams: number;
  private readonly maxDatagramBytes: number;
  private readonly timeoutUs: number;
  /** insertion order = age order, which eviction and expiry rely on */
  private readonly held = new Map<string, Datagram>();

  constructor(opts: IpReassemblyOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
    this.maxDatagrams = opts.maxDatagrams ?? 4096;
    this.maxDatagramBytes = opts.maxDatagramBytes ?? 65535;
    this.timeoutUs = opts.timeoutUs ?? 30_000_000;
  }

  /**
   * Adds one fragment's payload (it is copied). Returns the whole payload when this fragment
   * completes the datagram, else null.
   */
  add(key: string, fragOffset: number, more: boolean, data: Buffer, tsUs: number): Buffer | null {
    this.stats.fragments++;
    this.expire(tsUs);
    const endOff = fragOffset + data.length;
    if (endOff > this.maxDatagramBytes) {
      this.stats.tooBig++;
      this.drop(key);
      return null;
    }
    let d = this.held.get(key);
    if (d === undefined) {
      d = { frags: [], bytes: 0, total: -1, firstTsUs: tsUs };
      this.held.set(key, d);
      this.stats.pending++;
    }
    if (!more) {
      if (d.total >= 0 && d.total !== endOff) {
        this.stats.overlaps++;
        return null;
      }
      d.total = endOff;
    }
    if (d.total >= 0 && endOff > d.total) {
      this.stats.tooBig++;
      return null;
    }
    // Insert sorted by offset; a fragment that overlaps held bytes is dropped (first data wins).
    let i = 0;
    while (i < d.frags.length && d.frags[i].off < fragOffset) i++;
    const prev = i > 0 ? d.frags[i - 1] : undefined;
    const next = i < d.frags.length ? d.frags[i] : undefined;
    if ((prev !== undefined && prev.off + prev.data.length > fragOffset) || (next !== undefined && next.off < endOff)) {
      this.stats.overlaps++;
      return null;
    }
    if (data.length > 0) {
      d.frags.splice(i, 0, { off: fragOffset, data: Buffer.from(data) });
      d.bytes += data.length;
      this.stats.bufferedBytes += data.length;
    }
    if (d.total >= 0 && this.complete(d)) {
      const out = Buffer.allocUnsafe(d.total);
      for (const f of d.frags) f.data.copy(out, f.off);
      this.drop(key);
      this.stats.reassembled++;
      return out;
    }
    this.enforceBounds(key);
    return null;
  }

  private complete(d: Datagram): boolean {
    let at = 0;
    for (const f of d.frags) {
      if (f.off !== at) return false;
      at += f.data.length;
    }
    return at === d.total;
  }

  private drop(key: string): void {
    const d = this.held.get(key);
    if (d === undefined) return;
    this.held.delete(key);
    this.stats.bufferedBytes -= d.bytes;
    this.stats.pending--;
  }

  private enforceBounds(keep: string): void {
    while (this.stats.bufferedBytes > this.maxBytes || this.held.size > this.maxDatagrams) {
      const oldest = this.held.keys().next();
      if (oldest.done === true) break;
      this.drop(oldest.value);
      this.stats.evicted++;
      if (oldest.value === keep) break;
    }
  }

  /** Drops datagrams older than the timeout at capture time `nowUs`. */
  expire(nowUs: number): void {
    for (const [key, d] of this.held) {
      if (nowUs - d.firstTsUs <= this.timeoutUs) break;
      this.drop(key);
      this.stats.timeouts++;
    }
  }
}
