// The center's PCAP retention (DESIGN §3 export.tar, §7): one classic pcap per agent per session,
// appended at ingest, read back by export.tar. Behind `PcapStore` so a PostgreSQL backend can keep the
// same records in the database; `FilePcapStore` is the SQLite mode's: files under
// `<data>/pcap/<session id>/agent-<agent id>.pcap`.
//
// Link types: a file has one. Its first frame decides it (raw IP becomes Ethernet, see frames.ts);
// later raw-IP frames are given that file's link header; a frame of another link type that cannot be
// converted (say Ethernet and Linux SLL2 from two interfaces of one agent) goes to a second file of
// that agent, `agent-<id>.lt<link type>.pcap`, exported as `<agent-name>.lt<link type>.pcap`.
//
// Consistency: appends are synchronous and run in the center's serial ingest step, so a snapshot taken
// in that step (export.tar does) sees whole records only, and reading up to the snapshot's sizes is a
// consistent view of a running session. The session folder is made when the session is created
// (sessions/service.ts) and never re-created here: a batch that races a purge or retention writes nothing.
// Not here: who may read (routes), when files are deleted (purge, lifecycle/retention.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { PCAP_GLOBAL_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES, PcapWriter } from '../../protocol/pcap-writer.js';
import { PRIVATE_DIR, PRIVATE_FILE } from '../context.js';
import { fileLinkTypeFor, fitFrame } from './frames.js';

export interface PcapRecord {
  agentId: number;
  /** capture time, µs since the epoch */
  tsUs: number;
  linkType: number;
  data: Buffer;
  origLen: number;
}

export interface PcapFile {
  agentId: number;
  linkType: number;
  /** true for the agent's main file, false for a file of a second link type */
  primary: boolean;
  /** bytes at snapshot time, global header included */
  bytes: number;
  /** the store's name of the file */
  key: string;
}

export interface PcapStore {
  /** makes room for a new session's files (its folder); appends for sessions without it write nothing */
  create(sessionId: string): Promise<void>;
  /** appends the records, in order; records of a session the store has no place for are dropped */
  append(sessionId: string, records: readonly PcapRecord[]): Promise<void>;
  /** the session's files and their sizes now (empty when none) */
  snapshot(sessionId: string): Promise<PcapFile[]>;
  /** the first `file.bytes` bytes of a file of a snapshot */
  open(sessionId: string, file: PcapFile): Readable;
  /** deletes every file of the session */
  remove(sessionId: string): Promise<void>;
}

/** Large enough for any frame the ingest schema admits (64 KB IP packet plus link header). */
const SNAPLEN = 262_144;

/** Writes one record at `at` of `buf` as PcapWriter.record makes it (header, frame cut to SNAPLEN); returns the end. */
function recordInto(buf: Buffer, at: number, tsUs: number, data: Buffer, origLen: number): number {
  const caplen = Math.min(data.length, SNAPLEN);
  const sec = Math.floor(tsUs / 1_000_000);
  buf.writeUInt32LE(sec >>> 0, at);
  buf.writeUInt32LE(tsUs - sec * 1_000_000, at + 4);
  buf.writeUInt32LE(caplen, at + 8);
  buf.writeUInt32LE(Math.max(origLen, caplen), at + 12);
  data.copy(buf, at + PCAP_RECORD_HEADER_BYTES, 0, caplen);
  return at + PCAP_RECORD_HEADER_BYTES + caplen;
}

/** A file's global header (the link type decides how readers decode every record). */
export function globalHeader(linkType: number): Buffer {
  return new PcapWriter({ linkType, snaplen: SNAPLEN }).header();
}

export interface PlannedFile {
  agentId: number;
  linkType: number;
  primary: boolean;
  /** the batch's records of this file, laid out as pcap records (no global header) */
  records: Buffer;
}

/**
 * Groups a batch's records into the store's files (the link-type rules at the top of this file) and
 * lays each file's records out in one buffer. `mainLinkType` gives an agent's main-file link type
 * when the file exists; agents without one get it from their first record (`newMainLinkTypes`).
 */
export function planAppend(
  records: readonly PcapRecord[],
  mainLinkType: (agentId: number) => number | null,
): { files: Map<string, PlannedFile>; newMainLinkTypes: Map<number, number> } {
  const newMainLinkTypes = new Map<number, number>();
  const grouped = new Map<string, { agentId: number; linkType: number; primary: boolean; records: { tsUs: number; data: Buffer; origLen: number }[]; bytes: number }>();
  for (const r of records) {
    let lt = newMainLinkTypes.get(r.agentId) ?? mainLinkType(r.agentId);
    if (lt === null) {
      lt = fileLinkTypeFor(r.linkType);
      newMainLinkTypes.set(r.agentId, lt);
    }
    let file = `agent-${r.agentId}.pcap`;
    let primary = true;
    let data = fitFrame(r.data, r.linkType, lt);
    if (data === null) {
      lt = r.linkType;
      data = r.data;
      file = `agent-${r.agentId}.lt${lt}.pcap`;
      primary = false;
    }
    // the original length grows by the link header we added
    const origLen = Math.max(r.origLen + (data.length - r.data.length), data.length);
    let o = grouped.get(file);
    if (!o) grouped.set(file, (o = { agentId: r.agentId, linkType: lt, primary, records: [], bytes: 0 }));
    o.records.push({ tsUs: r.tsUs, data, origLen });
    o.bytes += PCAP_RECORD_HEADER_BYTES + Math.min(data.length, SNAPLEN);
  }
  const files = new Map<string, PlannedFile>();
  for (const [file, o] of grouped) {
    const buf = Buffer.allocUnsafe(o.bytes);
    let at = 0;
    for (const r of o.records) at = recordInto(buf, at, r.tsUs, r.data, r.origLen);
    files.set(file, { agentId: o.agentId, linkType: o.linkType, primary: o.primary, records: buf });
  }
  return { files, newMainLinkTypes };
}

/** the store's file names: `agent-<id>.pcap`, `agent-<id>.lt<link type>.pcap` */
export const PCAP_FILE_RE = /^agent-(\d+)(?:\.lt(\d+))?\.pcap$/;

export class FilePcapStore implements PcapStore {
  /** "<session>/<agent>" → link type of the agent's main file */
  private readonly linkTypes = new Map<string, number>();

  constructor(private readonly root: string) {}

  private dir(sessionId: string): string {
    // session ids are 20 hex digits (validated by the routes); refuse anything else outright
    if (!/^[0-9a-f]{20}$/.test(sessionId)) throw new Error(`not a session id: ${sessionId}`);
    return path.join(this.root, sessionId);
  }

  private mainLinkType(dir: string, sessionId: string, agentId: number): number | null {
    const k = `${sessionId}/${agentId}`;
    const known = this.linkTypes.get(k);
    if (known !== undefined) return known;
    let fd: number;
    try {
      fd = fs.openSync(path.join(dir, `agent-${agentId}.pcap`), 'r');
    } catch {
      return null;
    }
    try {
      const h = Buffer.alloc(PCAP_GLOBAL_HEADER_BYTES);
      if (fs.readSync(fd, h, 0, h.length, 0) < h.length) return null;
      const lt = h.readUInt32LE(20);
      this.linkTypes.set(k, lt);
      return lt;
    } finally {
      fs.closeSync(fd);
    }
  }

  async create(sessionId: string): Promise<void> {
    fs.mkdirSync(this.dir(sessionId), { recursive: true, mode: PRIVATE_DIR });
  }

  async append(sessionId: string, records: readonly PcapRecord[]): Promise<void> {
    if (records.length === 0) return;
    const dir = this.dir(sessionId);
    if (!fs.existsSync(dir)) return;
    const planned = planAppend(records, (agentId) => this.mainLinkType(dir, sessionId, agentId));
    for (const [agentId, lt] of planned.newMainLinkTypes) this.linkTypes.set(`${sessionId}/${agentId}`, lt);
    for (const [file, o] of planned.files) {
      // 0600: packets are private to the center's user (the folders are 0700, context.ts)
      const fd = fs.openSync(path.join(dir, file), 'a', PRIVATE_FILE);
      try {
        // one buffer and one write per file per batch, the records laid out in place
        const head = fs.fstatSync(fd).size === 0 ? globalHeader(o.linkType) : null;
        const buf = head ? Buffer.concat([head, o.records]) : o.records;
        fs.writeSync(fd, buf, 0, buf.length);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  async snapshot(sessionId: string): Promise<PcapFile[]> {
    const dir = this.dir(sessionId);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return [];
    }
    const files: PcapFile[] = [];
    for (const name of names) {
      const m = PCAP_FILE_RE.exec(name);
      if (!m) continue;
      let bytes: number;
      try {
        bytes = fs.statSync(path.join(dir, name)).size;
      } catch {
        continue;
      }
      if (bytes < PCAP_GLOBAL_HEADER_BYTES) continue;
      const h = Buffer.alloc(PCAP_GLOBAL_HEADER_BYTES);
      const fd = fs.openSync(path.join(dir, name), 'r');
      try {
        fs.readSync(fd, h, 0, h.length, 0);
      } finally {
        fs.closeSync(fd);
      }
      files.push({ agentId: Number(m[1]), linkType: h.readUInt32LE(20), primary: m[2] === undefined, bytes, key: name });
    }
    return files.sort((a, b) => a.agentId - b.agentId || Number(b.primary) - Number(a.primary) || a.linkType - b.linkType);
  }

  open(sessionId: string, file: PcapFile): Readable {
    if (!PCAP_FILE_RE.test(file.key)) throw new Error(`not a pcap file of the store: ${file.key}`);
    return fs.createReadStream(path.join(this.dir(sessionId), file.key), { start: 0, end: Math.max(0, file.bytes - 1) });
  }

  async remove(sessionId: string): Promise<void> {
    fs.rmSync(this.dir(sessionId), { recursive: true, force: true });
    for (const k of [...this.linkTypes.keys()]) if (k.startsWith(`${sessionId}/`)) this.linkTypes.delete(k);
  }
}
