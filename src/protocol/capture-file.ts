// Capture files: format detection and incremental readers for pcap (µs and ns magic, both byte
// orders) and pcapng (SHB/IDB/EPB/SPB/PB, several interfaces and sections). Bytes arrive in chunks of
// any size; records are subarrays of the chunk unless a record spans two chunks (then one copy).
// Owns no I/O: the caller reads the file. Does not decode what is inside a frame (see link.ts).
import { parseError } from './errors.js';
import type { ParseError } from './errors.js';

export interface CaptureRecord {
  /** 1-based record number across the whole file, as tshark counts frames */
  frame: number;
  /** link-layer type (LINKTYPE_*): per file for pcap, per interface for pcapng */
  linkType: number;
  /** capture time, microseconds since the Unix epoch (truncated from ns when the file has ns) */
  tsUs: number;
  /** capture time split exactly: whole seconds and nanoseconds within the second */
  tsSec: number;
  tsNsec: number;
  caplen: number;
  origLen: number;
  data: Buffer;
  /** pcapng interface id (0 for pcap) */
  interfaceId: number;
}

/**
 * What the reader returns: a CaptureRecord whose `data` view is made on first access. Hot paths
 * (the dissector) read `buf[offset, offset + caplen)` directly and never pay for a Buffer object per
 * frame. `buf` is the caller's chunk (or a copy when the record spanned chunks).
 */
export class ReaderRecord implements CaptureRecord {
  private view: Buffer | null = null;

  constructor(
    public frame: number,
    public linkType: number,
    public tsUs: number,
    public tsSec: number,
    public tsNsec: number,
    public caplen: number,
    public origLen: number,
    public interfaceId: number,
    public buf: Buffer,
    public offset: number,
  ) {}

  get data(): Buffer {
    return (this.view ??= this.buf.subarray(this.offset, this.offset + this.caplen));
  }

  /** Refills a reused record (pushEach): fields of the next frame, no view made yet. */
  set(frame: number, linkType: number, tsUs: number, tsSec: number, tsNsec: number, caplen: number, origLen: number, interfaceId: number, buf: Buffer, offset: number): void {
    this.frame = frame;
    this.linkType = linkType;
    this.tsUs = tsUs;
    this.tsSec = tsSec;
    this.tsNsec = tsNsec;
    this.caplen = caplen;
    this.origLen = origLen;
    this.interfaceId = interfaceId;
    this.buf = buf;
    this.offset = offset;
    this.view = null;
  }

  /** A record of its own (for keeping past a pushEach callback); shares the bytes. */
  clone(): ReaderRecord {
    return new ReaderRecord(this.frame, this.linkType, this.tsUs, this.tsSec, this.tsNsec, this.caplen, this.origLen, this.interfaceId, this.buf, this.offset);
  }

  toJSON(): object {
    const { frame, linkType, tsUs, caplen, origLen, interfaceId } = this;
    return { frame, linkType, tsUs, caplen, origLen, interfaceId };
  }
}

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcapng';

export interface CaptureEndStatus {
  format: CaptureFormat | null;
  records: number;
  /** bytes consumed from the start of the file */
  bytes: number;
  truncated: boolean;
  /** file offset where decoding stopped when truncated or failed */
  offset?: number;
  reason?: string;
  /** set when the input is not a capture this reader understands (code `unsupported_format`) or is corrupt */
  error?: ParseError;
}

export interface CaptureReader {
  /**
   * Feeds the next bytes; returns the records completed by them (possibly none). Records point into
   * `chunk` (no copy): do not reuse or modify a chunk while its records are in use, and copy
   * `record.data` before keeping it long (it keeps the whole chunk alive).
   */
  push(chunk: Buffer): CaptureRecord[];
  /**
   * Like push, without an array or an object per record: `fn` is called once per completed record,
   * in order, with a record object the reader reuses for the next one. Use the record (and its
   * bytes) only during the call; `clone()` one to keep it.
   */
  pushEach(chunk: Buffer, fn: (rec: ReaderRecord) => void): void;
  /** No more bytes: reports whether the file ended cleanly. */
  end(): CaptureEndStatus;
  readonly format: CaptureFormat | null;
  /** set once the reader has given up (unsupported format or corrupt record); further pushes return [] */
  readonly error: ParseError | null;
}

export interface CaptureReaderOptions {
  /** largest record accepted; tshark's own limit is 262144 for most link types */
  maxRecordBytes?: number;
}

const NONE: CaptureRecord[] = [];

// pcap magic numbers (as read big-endian from the first 4 bytes)
const PCAP_US_BE = 0xa1b2c3d4;
const PCAP_US_LE = 0xd4c3b2a1;
const PCAP_NS_BE = 0xa1b23c4d;
const PCAP_NS_LE = 0x4d3cb2a1;
const PCAPNG_SHB = 0x0a0d0d0a; // pcapng §4.1 Section Header Block type, a byte palindrome
const PCAPNG_BOM = 0x1a2b3c4d; // pcapng §4.1 Byte-Order Magic

/** Names a format we do not read, from the first bytes, so the error says what the file is. */
function describeForeign(head: Buffer): string {
  const ascii = head.toString('latin1', 0, Math.min(8, head.length));
  if (ascii.startsWith('GMBU')) return 'NetMon 2.x capture: not supported; convert with editcap -F pcap';
  if (ascii.startsWith('RTSS')) return 'NetMon 1.x capture: not supported; convert with editcap -F pcap';
  if (ascii.startsWith('snoop')) return 'Solaris snoop capture: not supported; convert with editcap -F pcap';
  if (ascii.startsWith('XCP\0')) return 'NetXRay/Sniffer capture: not supported; convert with editcap -F pcap';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip-compressed file: decompress it first';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd-compressed file: decompress it first';
  const hex = head.subarray(0, Math.min(4, head.length)).toString('hex');
  return `not a pcap or pcapng capture (first bytes ${hex || 'none'})`;
}

interface Iface {
  linkType: number;
  snaplen: number;
  /** timestamp unit: 10^-n (decimal) or 2^-n (binary) seconds */
  decimal: boolean;
  exp: number;
  /** if_tsoffset, seconds */
  offsetSec: number;
}

class Reader implements CaptureReader {
  format: CaptureFormat | null = null;
  error: ParseError | null = null;
  private readonly maxRecord: number;
  /** bytes of the current unit that spans chunks */
  private pending: Buffer | null = null;
  /** absolute file offset of the next unread byte */
  private fileOff = 0;
  private frame = 0;
  private le = true;
  private linkType = 0;
  private snaplen = 0;
  private ns = false;
  private ifaces: Iface[] = [];
  private sawHeader = false;

  constructor(opts: CaptureReaderOptions) {
    this.maxRecord = opts.maxRecordBytes ?? 16 * 1024 * 1024;
  }

  push(chunk: Buffer): CaptureRecord[] {
    const out: CaptureRecord[] = [];
    this.feed(chunk, null, out);
    return out.length === 0 ? NONE : out;
  }

  pushEach(chunk: Buffer, fn: (rec: ReaderRecord) => void): void {
    this.feed(chunk, fn, null);
  }

  /** Records go to `fn` (reused object) or into `out` (one object each). */
  private feed(chunk: Buffer, fn: ((rec: ReaderRecord) => void) | null, out: CaptureRecord[] | null): void {
    if (this.error !== null || chunk.length === 0) return;
    let off = 0;
    // First finish a unit that spans chunks, copying only that unit's bytes.
    while (this.pending !== null) {
      let p: Buffer = this.pending;
      const need = this.unitSize(p, 0, p.length);
      if (need < 0) return;
      if (p.length < need) {
        const take = Math.min(need - p.length, chunk.length - off);
        p = Buffer.concat([p, chunk.subarray(off, off + take)]);
        off += take;
        this.pending = p;
        const need2 = this.unitSize(p, 0, p.length);
        if (need2 < 0) return;
        if (p.length < need2) {
          if (off >= chunk.length) return;
          continue;
        }
      }
      this.pending = null;
      const rec = this.unit(p, 0, p.length);
      if (this.error !== null) return;
      if (rec !== null) {
        if (fn !== null) fn(rec);
        else out!.push(rec);
      }
    }
    const len = chunk.length;
    while (off < len) {
      if (this.format === 'pcap' || this.format === 'pcap-ns') {
        // fast path; the generic code below handles the record it stops at (incomplete or corrupt)
        off = fn !== null ? this.pcapEach(chunk, off, len, fn) : this.pcapRecords(chunk, off, len, out!);
        if (off >= len) return;
      }
      const need = this.unitSize(chunk, off, len - off);
      if (need < 0) return;
      if (len - off < need) {
        this.pending = Buffer.from(chunk.subarray(off)); // copy: the rest of the record comes in another chunk
        return;
      }
      const rec = this.unit(chunk, off, need);
      if (this.error !== null) return;
      off += need;
      if (rec !== null) {
        if (fn !== null) fn(rec);
        else out!.push(rec);
      }
    }
  }

  private readonly cur = new ReaderRecord(0, 0, 0, 0, 0, 0, 0, 0, Buffer.alloc(0), 0);

  /**
   * The hot loop for classic pcap: whole records straight out of the chunk, header fields read
   * byte-wise, handed to `fn` as one reused record object (no allocation per packet). Returns the
   * offset of the first incomplete record.
   */
  private pcapEach(b: Buffer, off: number, len: number, fn: (rec: ReaderRecord) => void): number {
    const le = this.le;
    const ns = this.ns;
    const linkType = this.linkType;
    const max = this.maxRecord;
    const rec = this.cur;
    while (len - off >= 16) {
      const sec = le ? (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16)) + b[off + 3] * 0x1000000 : b[off] * 0x1000000 + ((b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]);
      const frac = le ? (b[off + 4] | (b[off + 5] << 8) | (b[off + 6] << 16)) + b[off + 7] * 0x1000000 : b[off + 4] * 0x1000000 + ((b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]);
      const caplen = le ? (b[off + 8] | (b[off + 9] << 8) | (b[off + 10] << 16)) + b[off + 11] * 0x1000000 : b[off + 8] * 0x1000000 + ((b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]);
      if (caplen > max) return off; // the generic path reports it
      if (len - off - 16 < caplen) return off;
      const origLen = le ? (b[off + 12] | (b[off + 13] << 8) | (b[off + 14] << 16)) + b[off + 15] * 0x1000000 : b[off + 12] * 0x1000000 + ((b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15]);
      const nsec = ns ? frac : frac * 1000;
      rec.set(++this.frame, linkType, sec * 1_000_000 + (ns ? Math.floor(frac / 1000) : frac), sec, nsec, caplen, origLen, 0, b, off + 16);
      // advance before the call, so a callback that throws leaves the reader consistent
      off += 16 + caplen;
      this.fileOff += 16 + caplen;
      fn(rec);
    }
    return off;
  }

  /** Classic pcap records of the chunk as kept objects (push()); returns the offset of the first incomplete record. */
  private pcapRecords(b: Buffer, off: number, len: number, out: CaptureRecord[]): number {
    return this.pcapEach(b, off, len, (rec) => out.push(rec.clone()));
  }

  /**
   * Size in bytes of the unit starting at `off` (file header, pcap record or pcapng block), or the
   * number of header bytes needed to know it when fewer are available. -1 after setting `error`.
   */
  private unitSize(b: Buffer, off: number, avail: number): number {
    if (this.format === null) {
      if (avail < 4) return 4;
      const magic = b.readUInt32BE(off);
      if (magic === PCAP_US_BE || magic === PCAP_US_LE || magic === PCAP_NS_BE || magic === PCAP_NS_LE) return 24;
      if (magic === PCAPNG_SHB) return this.pcapngSize(b, off, avail);
      this.fail('unsupported_format', off, describeForeign(b.subarray(off, off + Math.min(avail, 8))));
      return -1;
    }
    if (this.format === 'pcapng') return this.pcapngSize(b, off, avail);
    if (avail < 16) return 16;
    const caplen = this.le ? b.readUInt32LE(off + 8) : b.readUInt32BE(off + 8);
    if (caplen > this.maxRecord) {
      this.fail('corrupt_record', this.fileOff, `pcap record ${this.frame + 1} at byte ${this.fileOff} claims ${caplen} captured bytes (limit ${this.maxRecord})`);
      return -1;
    }
    return 16 + caplen;
  }

  private pcapngSize(b: Buffer, off: number, avail: number): number {
    if (avail < 12) return 12;
    const type = b.readUInt32BE(off);
    if (type === PCAPNG_SHB) {
      const bom = b.readUInt32BE(off + 8);
      if (bom === PCAPNG_BOM) this.le = false;
      else if (bom === 0x4d3c2b1a) this.le = true;
      else {
        this.fail('corrupt_record', this.fileOff, `pcapng section header at byte ${this.fileOff} has a bad byte-order magic`);
        return -1;
      }
    }
    const total = this.le ? b.readUInt32LE(off + 4) : b.readUInt32BE(off + 4);
    if (total < 12 || total % 4 !== 0 || total > this.maxRecord + 64 * 1024) {
      this.fail('corrupt_record', this.fileOff, `pcapng block at byte ${this.fileOff} has an invalid length ${total}`);
      return -1;
    }
    return total;
  }

  private fail(code: string, offset: number, message: string): void {
    this.error = parseError(code, offset, message);
    this.pending = null;
  }

  /** Consumes one complete unit of `size` bytes at `off`; returns a record for packet units. */
  private unit(b: Buffer, off: number, size: number): ReaderRecord | null {
    const at = this.fileOff;
    this.fileOff += size;
    if (this.format === null) {
      const magic = b.readUInt32BE(off);
      if (magic === PCAPNG_SHB) {
        this.format = 'pcapng';
        this.sawHeader = true;
        return this.block(b, off, size, at);
      }
      this.le = magic === PCAP_US_LE || magic === PCAP_NS_LE;
      this.ns = magic === PCAP_NS_BE || magic === PCAP_NS_LE;
      this.format = this.ns ? 'pcap-ns' : 'pcap';
      this.snaplen = this.le ? b.readUInt32LE(off + 16) : b.readUInt32BE(off + 16);
      // The upper bits of the link-type field carry FCS information (pcap spec §LinkType).
      this.linkType = (this.le ? b.readUInt32LE(off + 20) : b.readUInt32BE(off + 20)) & 0x0fffffff & 0xffff;
      this.sawHeader = true;
      return null;
    }
    if (this.format === 'pcapng') return this.block(b, off, size, at);
    const le = this.le;
    const sec = le ? b.readUInt32LE(off) : b.readUInt32BE(off);
    const frac = le ? b.readUInt32LE(off + 4) : b.readUInt32BE(off + 4);
    const caplen = size - 16;
    const origLen = le ? b.readUInt32LE(off + 12) : b.readUInt32BE(off + 12);
    const nsec = this.ns ? frac : frac * 1000;
    return new ReaderRecord(++this.frame, this.linkType, sec * 1_000_000 + Math.floor(nsec / 1000), sec, nsec, caplen, origLen, 0, b, off + 16);
  }

  private u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  private u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  private block(b: Buffer, off: number, size: number, at: number): ReaderRecord | null {
    const type = this.u32(b, off);
    const end = off + size - 4; // trailing block total length
    switch (type) {
      case PCAPNG_SHB:
        this.ifaces = []; // interfaces are per section (pcapng §4.1)
        return null;
      case 1: // Interface Description Block (pcapng §4.2)
        this.idb(b, off, end);
        return null;
      case 6: {
        // Enhanced Packet Block (pcapng §4.3)
        if (size < 32) return this.badBlock(at, 'enhanced packet block too short');
        const id = this.u32(b, off + 8);
        const caplen = this.u32(b, off + 20);
        const orig = this.u32(b, off + 24);
        if (28 + caplen > end - off) return this.badBlock(at, `enhanced packet block captured length ${caplen} exceeds the block`);
        return this.packet(id, this.u32(b, off + 12), this.u32(b, off + 16), b, off + 28, caplen, orig, at);
      }
      case 3: {
        // Simple Packet Block (pcapng §4.4): interface 0, no timestamp, captured = min(orig, snaplen, block)
        if (size < 16) return this.badBlock(at, 'simple packet block too short');
        const orig = this.u32(b, off + 8);
        const iface = this.ifaces[0];
        let caplen = Math.min(orig, end - off - 12);
        if (iface !== undefined && iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
        return this.packet(0, 0, 0, b, off + 12, caplen, orig, at);
      }
      case 2: {
        // obsolete Packet Block (pcapng appendix)
        if (size < 32) return this.badBlock(at, 'packet block too short');
        const id = this.u16(b, off + 8);
        const caplen = this.u32(b, off + 20);
        const orig = this.u32(b, off + 24);
        if (28 + caplen > end - off) return this.badBlock(at, `packet block captured length ${caplen} exceeds the block`);
        return this.packet(id, this.u32(b, off + 12), this.u32(b, off + 16), b, off + 28, caplen, orig, at);
      }
      default:
        return null; // NRB, ISB, DSB, custom and unknown blocks are skipped by their length
    }
  }

  private badBlock(at: number, why: string): null {
    this.fail('corrupt_record', at, `pcapng block at byte ${at}: ${why}`);
    return null;
  }

  private idb(b: Buffer, off: number, end: number): void {
    const iface: Iface = {
      linkType: this.u16(b, off + 8),
      snaplen: this.u32(b, off + 12),
      decimal: true,
      exp: 6,
      offsetSec: 0,
    };
    let o = off + 16;
    while (o + 4 <= end) {
      const code = this.u16(b, o);
      const len = this.u16(b, o + 2);
      if (code === 0) break; // opt_endofopt
      if (o + 4 + len > end) break;
      if (code === 9 && len >= 1) {
        // if_tsresol: MSB clear → 10^-n, set → 2^-n
        const v = b[o + 4];
        iface.decimal = (v & 0x80) === 0;
        iface.exp = v & 0x7f;
      } else if (code === 14 && len >= 8) {
        // if_tsoffset: seconds added to every timestamp
        iface.offsetSec = Number(this.le ? b.readBigInt64LE(o + 4) : b.readBigInt64BE(o + 4));
      }
      o += 4 + ((len + 3) & ~3);
    }
    this.ifaces.push(iface);
  }

  private packet(id: number, hi: number, lo: number, b: Buffer, dataOff: number, caplen: number, orig: number, at: number): ReaderRecord | null {
    const iface = this.ifaces[id];
    if (iface === undefined) return this.badBlock(at, `packet refers to interface ${id}, which no interface block described`);
    let sec: number;
    let nsec: number;
    if (iface.decimal && iface.exp === 6) {
      const us = hi * 4294967296 + lo; // exact below 2^53 µs (year 2255)
      sec = Math.floor(us / 1e6);
      nsec = (us - sec * 1e6) * 1000;
    } else {
      const units = (BigInt(hi) << 32n) | BigInt(lo);
      let div: bigint;
      let unitsNs: bigint;
      if (iface.decimal) {
        div = 10n ** BigInt(iface.exp);
        const s = units / div;
        const rem = units - s * div;
        unitsNs = iface.exp <= 9 ? rem * 10n ** BigInt(9 - iface.exp) : rem / 10n ** BigInt(iface.exp - 9);
        sec = Number(s);
      } else {
        div = 1n << BigInt(iface.exp);
        const s = units / div;
        const rem = units - s * div;
        unitsNs = (rem * 1_000_000_000n) / div;
        sec = Number(s);
      }
      nsec = Number(unitsNs);
    }
    sec += iface.offsetSec;
    return new ReaderRecord(++this.frame, iface.linkType, sec * 1_000_000 + Math.floor(nsec / 1000), sec, nsec, caplen, orig, id, b, dataOff);
  }

  end(): CaptureEndStatus {
    const base = { format: this.format, records: this.frame, bytes: this.fileOff };
    if (this.error !== null) {
      if (this.error.code === 'unsupported_format') return { ...base, truncated: false, error: this.error };
      return { ...base, truncated: true, offset: this.error.offset, reason: this.error.message, error: this.error };
    }
    if (!this.sawHeader) {
      const head = this.pending ?? Buffer.alloc(0);
      const msg = head.length === 0 ? 'empty file: not a capture' : describeForeign(head);
      this.error = parseError('unsupported_format', 0, msg);
      return { ...base, truncated: false, error: this.error };
    }
    if (this.pending !== null && this.pending.length > 0) {
      const have = this.pending.length;
      const reason = `file ends inside a ${this.format === 'pcapng' ? 'block' : 'record'}: ${have} bytes of record ${this.frame + 1} at byte ${this.fileOff}`;
      return { ...base, truncated: true, offset: this.fileOff, reason };
    }
    return { ...base, truncated: false };
  }
}

export function createCaptureReader(opts: CaptureReaderOptions = {}): CaptureReader {
  return new Reader(opts);
}

/** Whole-buffer convenience: every record, and how the file ended. */
export function readCaptureFile(buf: Buffer, opts: CaptureReaderOptions = {}): { records: CaptureRecord[]; status: CaptureEndStatus } {
  const r = createCaptureReader(opts);
  const records = r.push(buf);
  return { records: records === NONE ? [] : records, status: r.end() };
}

/** True when the first bytes are a pcap or pcapng magic. */
export function looksLikeCapture(head: Buffer): boolean {
  if (head.length < 4) return false;
  const m = head.readUInt32BE(0);
  return m === PCAP_US_BE || m === PCAP_US_LE || m === PCAP_NS_BE || m === PCAP_NS_LE || m === PCAPNG_SHB;
}
