// The on-disk spool: where events wait while the center is unreachable, and where per-session `seq`
// reservations live so a restarted agent never reuses a seq (the center dedupes on
// (session, agent, seq), so a reused seq would silently drop new events as duplicates).
//
// Layout under DIR:
//   seq.json                      {"<session_id>": <first seq not yet reserved>}
//   <session_id>/meta.json        {"ingest_url": "..."}
//   <session_id>/<000000000001>.jsonl   append-only segments, one JSON event per line, in seq order
// A segment being read is sealed first (no more appends), read whole, and deleted once every line in
// it was acknowledged. Total bytes are bounded; what does not fit is refused and counted by the
// caller. A torn last line (crash during append) is skipped and counted.
//
// Writes are synchronous on purpose: a sync append keeps the order of segments and lines trivially
// correct, and an event is durable against a kill of the agent (not a power cut: no fsync) as soon as
// append returns. Events are stored as the JSON text the uploader already built (one line each), so
// spilling and re-sending never parse or serialise them again.
// Everything here is created 0700 (folders) / 0600 (files): events hold call data.
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Folder and file modes of everything the agent writes (events hold call data). */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

interface SessionSpool {
  ingestUrl: string;
  /** segment numbers on disk, oldest first */
  segments: number[];
  /** bytes per segment on disk */
  sizes: Map<number, number>;
  /** segment currently appended to (undefined once sealed) */
  writing: number | undefined;
  /** the segment being read, parsed, and how many of its events were acknowledged */
  reading: { seg: number; events: string[]; acked: number } | undefined;
}

const SESSION_DIR = /^[A-Za-z0-9_-]{1,64}$/;
const segName = (n: number): string => `${String(n).padStart(12, '0')}.jsonl`;

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly sessions = new Map<string, SessionSpool>();
  private bytes = 0;
  private seqReserved: Record<string, number> = {};
  readonly counters = { corrupt_lines: 0, segments_written: 0, segments_deleted: 0 };

  constructor(dir: string, maxBytes: number, segmentBytes = 1024 * 1024) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.segmentBytes = Math.max(1024, Math.min(segmentBytes, maxBytes));
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    chmodSync(dir, DIR_MODE); // a folder made by an older version or by hand
    this.load();
  }

  /** bytes currently held on disk */
  get size(): number {
    return this.bytes;
  }

  /** sessions with spooled events, with the ingest URL they were meant for */
  pending(): { sessionId: string; ingestUrl: string }[] {
    return [...this.sessions.entries()]
      .filter(([, s]) => s.segments.length > 0)
      .map(([sessionId, s]) => ({ sessionId, ingestUrl: s.ingestUrl }));
  }

  has(sessionId: string): boolean {
    const s = this.sessions.get(sessionId);
    return s !== undefined && s.segments.length > 0;
  }

  /**
   * Appends events (their JSON text, one line each, `bytes` their UTF-8 size) in order, as many as
   * fit the limit; returns how many were written.
   */
  append(sessionId: string, ingestUrl: string, events: readonly { json: string; bytes: number }[]): number {
    if (events.length === 0 || !SESSION_DIR.test(sessionId)) return 0;
    const lines: string[] = [];
    let len = 0;
    for (const e of events) {
      const l = e.bytes + 1;
      if (this.bytes + len + l > this.maxBytes) break;
      lines.push(e.json);
      len += l;
    }
    if (lines.length === 0) return 0;
    const s = this.session(sessionId, ingestUrl);
    if (s.writing === undefined || (s.sizes.get(s.writing) ?? 0) >= this.segmentBytes) {
      const next = (s.segments[s.segments.length - 1] ?? 0) + 1;
      s.segments.push(next);
      s.sizes.set(next, 0);
      s.writing = next;
      this.counters.segments_written++;
    }
    appendFileSync(join(this.dir, sessionId, segName(s.writing)), lines.join('\n') + '\n', { mode: FILE_MODE });
    s.sizes.set(s.writing, (s.sizes.get(s.writing) ?? 0) + len);
    this.bytes += len;
    return lines.length;
  }

  /** The oldest not yet acknowledged events of a session (their JSON text), at most `max`, in seq order. */
  peek(sessionId: string, max: number): string[] {
    const s = this.sessions.get(sessionId);
    if (!s) return [];
    // Bounded: each turn either returns or deletes one empty/corrupt segment.
    for (let guard = 0; guard < 1_000_000 && s.segments.length > 0; guard++) {
      if (!s.reading) {
        const seg = s.segments[0];
        if (s.writing === seg) s.writing = undefined; // seal: appends go to a new segment
        s.reading = { seg, events: this.readSegment(sessionId, seg), acked: 0 };
      }
      const r = s.reading;
      if (r.acked < r.events.length) return r.events.slice(r.acked, r.acked + max);
      this.dropSegment(sessionId, s, r.seg);
    }
    return [];
  }

  /** Acknowledges the first n events returned by peek (they reached the center). */
  ack(sessionId: string, n: number): void {
    const s = this.sessions.get(sessionId);
    if (!s?.reading) return;
    s.reading.acked = Math.min(s.reading.events.length, s.reading.acked + n);
    if (s.reading.acked >= s.reading.events.length) this.dropSegment(sessionId, s, s.reading.seg);
  }

  /** Discards everything spooled for a session (the center refuses it for good). */
  discard(sessionId: string): number {
    const s = this.sessions.get(sessionId);
    if (!s) return 0;
    let n = 0;
    for (const seg of [...s.segments]) {
      n += s.reading?.seg === seg ? s.reading.events.length - s.reading.acked : this.readSegment(sessionId, seg).length;
      this.dropSegment(sessionId, s, seg);
    }
    return n;
  }

  /** Seq reservation (hi-lo): the first seq never handed out before, persisted ahead of use. */
  reservedSeq(sessionId: string): number {
    return this.seqReserved[sessionId] ?? 0;
  }

  reserveSeq(sessionId: string, upTo: number): void {
    if (!(sessionId in this.seqReserved)) {
      // Bounded: forget the oldest sessions' reservations (their seqs start from the clock floor anyway).
      const keys = Object.keys(this.seqReserved);
      for (let i = 0; i < keys.length - 9_999; i++) delete this.seqReserved[keys[i]];
    }
    this.seqReserved[sessionId] = upTo;
    this.reserveSeqFlush();
  }

  forgetSeq(sessionId: string): void {
    if (!(sessionId in this.seqReserved)) return;
    delete this.seqReserved[sessionId];
    this.reserveSeqFlush();
  }

  private reserveSeqFlush(): void {
    this.writeState('seq.json', this.seqReserved);
  }

  /** A small JSON state file next to the spool (seq reservations, counters), replaced atomically. */
  writeState(name: string, value: unknown): void {
    writeStateFile(join(this.dir, name), value);
  }

  /** A state file written by writeState; undefined when absent or unreadable. */
  readState(name: string): unknown {
    try {
      return JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  private session(sessionId: string, ingestUrl: string): SessionSpool {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = { ingestUrl, segments: [], sizes: new Map(), writing: undefined, reading: undefined };
      this.sessions.set(sessionId, s);
    }
    if (s.segments.length === 0 || s.ingestUrl !== ingestUrl) {
      mkdirSync(join(this.dir, sessionId), { recursive: true, mode: DIR_MODE });
      writeFileSync(join(this.dir, sessionId, 'meta.json'), JSON.stringify({ ingest_url: ingestUrl }), { mode: FILE_MODE });
      s.ingestUrl = ingestUrl;
    }
    return s;
  }

  private readSegment(sessionId: string, seg: number): string[] {
    let text: string;
    try {
      text = readFileSync(join(this.dir, sessionId, segName(seg)), 'utf8');
    } catch {
      return [];
    }
    const lines = text.split('\n');
    // Every append ends with a newline, so only a torn write (a crash mid-append) leaves a last piece.
    const torn = lines.pop();
    if (torn) this.counters.corrupt_lines++;
    const out: string[] = [];
    for (const line of lines) {
      if (line === '') continue;
      // A line the agent wrote is one JSON object; anything else (disk trouble) would make the center
      // refuse the whole batch, so it is skipped and counted here.
      if (line.charCodeAt(0) === 123 && line.charCodeAt(line.length - 1) === 125) out.push(line);
      else this.counters.corrupt_lines++;
    }
    return out;
  }

  private dropSegment(sessionId: string, s: SessionSpool, seg: number): void {
    try {
      unlinkSync(join(this.dir, sessionId, segName(seg)));
    } catch {
      // already gone
    }
    this.bytes -= s.sizes.get(seg) ?? 0;
    s.sizes.delete(seg);
    s.segments = s.segments.filter((x) => x !== seg);
    if (s.writing === seg) s.writing = undefined;
    if (s.reading?.seg === seg) s.reading = undefined;
    this.counters.segments_deleted++;
    if (s.segments.length === 0) {
      rmSync(join(this.dir, sessionId), { recursive: true, force: true });
      this.sessions.delete(sessionId);
    }
  }

  private load(): void {
    try {
      const raw = JSON.parse(readFileSync(join(this.dir, 'seq.json'), 'utf8')) as unknown;
      if (raw && typeof raw === 'object') {
        for (const [k, v] of Object.entries(raw)) if (typeof v === 'number' && Number.isFinite(v)) this.seqReserved[k] = v;
      }
    } catch {
      // first start, or unreadable: seqs then start from the clock-based floor
    }
    for (const name of readdirSync(this.dir)) {
      if (!SESSION_DIR.test(name)) continue;
      const d = join(this.dir, name);
      if (!statSync(d).isDirectory()) continue;
      let ingestUrl = '';
      try {
        ingestUrl = String((JSON.parse(readFileSync(join(d, 'meta.json'), 'utf8')) as { ingest_url?: unknown }).ingest_url ?? '');
      } catch {
        // no meta: the events cannot be delivered anywhere
      }
      const segs = readdirSync(d)
        .filter((f) => /^\d{12}\.jsonl$/.test(f))
        .map((f) => Number(f.slice(0, 12)))
        .sort((a, b) => a - b);
      if (!ingestUrl || segs.length === 0) {
        rmSync(d, { recursive: true, force: true });
        continue;
      }
      const s: SessionSpool = { ingestUrl, segments: segs, sizes: new Map(), writing: undefined, reading: undefined };
      for (const seg of segs) {
        const p = join(d, segName(seg));
        const size = existsSync(p) ? statSync(p).size : 0;
        s.sizes.set(seg, size);
        this.bytes += size;
      }
      this.sessions.set(name, s);
    }
  }
}

/** Writes a small JSON file atomically (temp file + rename), readable by the owner only. */
export function writeStateFile(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: FILE_MODE });
  renameSync(tmp, path);
}
