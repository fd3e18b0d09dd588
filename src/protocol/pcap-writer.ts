// Writes classic pcap (microsecond magic, little-endian): the global header once, then one record
// per frame. Produces Buffers only; the caller decides where they go (file, tar entry, HTTP body).
// Does not write pcapng.

export interface PcapWriterOptions {
  /** LINKTYPE_* of every record (1 Ethernet, 101 raw IP, 276 Linux SLL2, …) */
  linkType: number;
  /** largest captured length a record may have; longer frames are cut to it */
  snaplen?: number;
}

export const PCAP_GLOBAL_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;

export class PcapWriter {
  readonly linkType: number;
  readonly snaplen: number;

  constructor(opts: PcapWriterOptions) {
    this.linkType = opts.linkType;
    this.snaplen = opts.snaplen ?? 262144;
  }

  /** The 24-byte global header (pcap spec §4: magic, version 2.4, thiszone 0, sigfigs 0, snaplen, linktype). */
  header(): Buffer {
    const b = Buffer.alloc(PCAP_GLOBAL_HEADER_BYTES);
    b.writeUInt32LE(0xa1b2c3d4, 0);
    b.writeUInt16LE(2, 4);
    b.writeUInt16LE(4, 6);
    b.writeInt32LE(0, 8);
    b.writeUInt32LE(0, 12);
    b.writeUInt32LE(this.snaplen, 16);
    b.writeUInt32LE(this.linkType, 20);
    return b;
  }

  /** One record: header plus the frame bytes (cut to snaplen). `origLen` defaults to the frame length. */
  record(tsUs: number, data: Buffer, origLen: number = data.length): Buffer {
    const caplen = Math.min(data.length, this.snaplen);
    const b = Buffer.allocUnsafe(PCAP_RECORD_HEADER_BYTES + caplen);
    const sec = Math.floor(tsUs / 1_000_000);
    b.writeUInt32LE(sec >>> 0, 0);
    b.writeUInt32LE(tsUs - sec * 1_000_000, 4);
    b.writeUInt32LE(caplen, 8);
    b.writeUInt32LE(Math.max(origLen, caplen), 12);
    data.copy(b, PCAP_RECORD_HEADER_BYTES, 0, caplen);
    return b;
  }

  /** A whole file in one Buffer. */
  file(records: Iterable<{ tsUs: number; data: Buffer; origLen?: number }>): Buffer {
    const parts = [this.header()];
    for (const r of records) parts.push(this.record(r.tsUs, r.data, r.origLen));
    return Buffer.concat(parts);
  }
}
