// Classic pcap in and out for the corpus generator, written here on purpose instead of using
// src/protocol: the corpus is the input the decoder is measured on, so it must not depend on it.
// Owns: reading a small seed capture whole, and a buffered streaming pcap writer. Not pcapng.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

export interface RawPacket {
  tsUs: number;
  data: Buffer;
  origLen: number;
}

export interface PcapContents {
  linkType: number;
  snaplen: number;
  packets: RawPacket[];
}

/** Reads a classic pcap (either byte order, µs or ns magic). Throws on anything else: seeds are trusted files. */
export function readPcap(path: string): PcapContents {
  const b = readFileSync(path);
  if (b.length < 24) throw new Error(`${path}: not a pcap (shorter than its header)`);
  const magicLE = b.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = b.readUInt32BE(0);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) throw new Error(`${path}: not a classic pcap`);
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const snaplen = u32(16);
  const linkType = u32(20) & 0x0fffffff;
  const packets: RawPacket[] = [];
  let off = 24;
  while (off + 16 <= b.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const caplen = u32(off + 8);
    const origLen = u32(off + 12);
    if (off + 16 + caplen > b.length) break; // a capture cut short by the recorder: drop the partial record
    packets.push({ tsUs: sec * 1_000_000 + (nano ? Math.floor(frac / 1000) : frac), data: b.subarray(off + 16, off + 16 + caplen), origLen });
    off += 16 + caplen;
  }
  return { linkType, snaplen, packets };
}

/** Streams records to a file through a 4 MB buffer (little-endian, µs). */
export class PcapFileWriter {
  private readonly fd: number;
  private buf = Buffer.allocUnsafe(4 << 20);
  private used = 0;
  count = 0;

  constructor(path: string, linkType: number, snaplen = 65535) {
    this.fd = openSync(path, 'w');
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(linkType, 20);
    this.put(h);
  }

  write(tsUs: number, data: Buffer, origLen: number): void {
    if (this.used + 16 + data.length > this.buf.length) this.flush();
    const sec = Math.floor(tsUs / 1_000_000);
    this.buf.writeUInt32LE(sec, this.used);
    this.buf.writeUInt32LE(tsUs - sec * 1_000_000, this.used + 4);
    this.buf.writeUInt32LE(data.length, this.used + 8);
    this.buf.writeUInt32LE(origLen, this.used + 12);
    this.used += 16;
    this.put(data);
    this.count++;
  }

  private put(d: Buffer): void {
    if (this.used + d.length > this.buf.length) this.flush();
    if (d.length > this.buf.length) {
      writeSync(this.fd, d);
      return;
    }
    d.copy(this.buf, this.used);
    this.used += d.length;
  }

  private flush(): void {
    if (this.used > 0) writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
