// Log source: follows one file like `tail -F`. Owns the file position, rotation detection (rename:
// the inode behind the path changes; truncation: the size shrinks below our position), line
// splitting with a bounded line buffer, and the counters that say what happened. It does not know
// what a Call-ID is: each complete line goes to `onLine`, and the capture manager correlates it.
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Source, SourceStatus } from './source.js';

export interface LogTailOptions {
  path: string;
  /** called once per complete line (without the newline, `\r` stripped); tsUs = when we read it */
  onLine: (line: string, tsUs: number, source: string) => void;
  /** interval poll, the fallback when fs.watch misses an event (network file systems, rotation races) */
  pollMs?: number;
  /** longer lines are cut: counted as `overlong` and skipped up to their newline */
  maxLineBytes?: number;
  /** bytes read per wake-up before yielding to the event loop */
  readChunkBytes?: number;
}

const NEWLINE = 0x0a;

export class LogTailSource implements Source {
  readonly name: string;
  readonly kind = 'log' as const;
  private readonly opts: Required<Omit<LogTailOptions, 'onLine'>> & Pick<LogTailOptions, 'onLine'>;
  private state: SourceStatus['state'] = 'stopped';
  private error: string | undefined;
  private fh: FileHandle | undefined;
  private ino = -1;
  private pos = 0;
  /** bytes of the current, not yet terminated line */
  private partial: Buffer[] = [];
  private partialLen = 0;
  /** true while skipping the rest of an overlong line */
  private skipping = false;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly counters = {
    lines: 0,
    bytes: 0,
    overlong: 0,
    binary: 0,
    rotations: 0,
    truncations: 0,
    read_errors: 0,
  };

  constructor(opts: LogTailOptions) {
    this.opts = { pollMs: 250, maxLineBytes: 16 * 1024, readChunkBytes: 256 * 1024, ...opts };
    this.name = `log:${opts.path}`;
  }

  async start(): Promise<void> {
    if (this.state !== 'stopped') return;
    this.state = 'running';
    // Start at the end of the file, as `tail -F -n 0` does: history is not part of a capture.
    try {
      const st = await stat(this.opts.path);
      this.fh = await open(this.opts.path, 'r');
      this.ino = st.ino;
      this.pos = st.size;
    } catch (e) {
      this.noteMissing(e);
    }
    try {
      // Watch the directory, not the file: a watch on the file dies with a rename rotation.
      const name = basename(this.opts.path);
      this.watcher = watch(dirname(this.opts.path), { persistent: false }, (_ev, f) => {
        if (f === null || f === name) this.kick();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // fs.watch is unavailable here: the interval poll alone still follows the file.
    }
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  status(): SourceStatus {
    return {
      name: this.name,
      kind: this.kind,
      state: this.state,
      ...(this.error ? { error: this.error } : {}),
      counters: { ...this.counters },
    };
  }

  /** Reads whatever is new now; resolves when caught up. Tests call it to avoid waiting on timers. */
  poll(): Promise<void> {
    this.kick();
    return this.running ?? Promise.resolve();
  }

  private kick(): void {
    if (this.state === 'stopped') return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      // Bounded: one pass per wake-up plus at most a few re-runs for events that arrived meanwhile.
      for (let i = 0; i < 4; i++) {
        this.again = false;
        await this.check().catch((e: unknown) => {
          this.counters.read_errors++;
          this.error = `reading ${this.opts.path}: ${(e as Error).message}`;
        });
        if (!this.again || this.state === 'stopped') break;
      }
      this.running = undefined;
    })();
  }

  private noteMissing(e: unknown): void {
    const code = (e as NodeJS.ErrnoException).code;
    this.error =
      code === 'ENOENT'
        ? `${this.opts.path} does not exist (yet); waiting for it`
        : code === 'EACCES'
          ? `${this.opts.path}: permission denied`
          : `${this.opts.path}: ${(e as Error).message}`;
  }

  private async check(): Promise<void> {
    let st;
    try {
      st = await stat(this.opts.path);
    } catch (e) {
      // Renamed away and not re-created yet: drain what the old file still has, keep waiting.
      if (this.fh) await this.drain();
      this.noteMissing(e);
      return;
    }
    if (this.fh && st.ino !== this.ino) {
      // Rotation by rename: finish the old file (the writer may have appended before rotating),
      // then follow the new one from its start.
      await this.drain();
      await this.fh.close().catch(() => undefined);
      this.fh = undefined;
      this.counters.rotations++;
      this.flushPartial();
    }
    if (!this.fh) {
      try {
        this.fh = await open(this.opts.path, 'r');
      } catch (e) {
        this.noteMissing(e);
        return;
      }
      const now = await this.fh.stat();
      this.ino = now.ino;
      this.pos = 0;
      this.error = undefined;
      st = now;
    }
    if (st.size < this.pos) {
      // Truncation (copytruncate rotation or `> file`): start over at the beginning.
      this.counters.truncations++;
      this.pos = 0;
      this.dropPartial();
    }
    this.error = undefined;
    await this.drain();
  }

  /** Reads from pos to the current end of the open file. */
  private async drain(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    const buf = Buffer.allocUnsafe(this.opts.readChunkBytes);
    // Bounded: at most 64 chunks per wake-up; the next wake-up continues.
    for (let i = 0; i < 64; i++) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, this.pos);
      if (bytesRead === 0) return;
      this.pos += bytesRead;
      this.counters.bytes += bytesRead;
      this.split(buf.subarray(0, bytesRead));
      if (this.state === 'stopped') return;
    }
    this.again = true;
  }

  private split(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        const piece = chunk.subarray(start, end);
        if (this.partialLen + piece.length > this.opts.maxLineBytes) {
          this.counters.overlong++;
          this.dropPartial();
          this.skipping = true;
        } else if (piece.length > 0) {
          // Copy: the read buffer is reused for the next chunk.
          this.partial.push(Buffer.from(piece));
          this.partialLen += piece.length;
        }
      }
      if (nl < 0) return;
      if (this.skipping) this.skipping = false;
      else this.emitPartial();
      start = nl + 1;
    }
  }

  private emitPartial(): void {
    const raw = this.partial.length === 1 ? this.partial[0] : Buffer.concat(this.partial, this.partialLen);
    this.dropPartial();
    if (!raw || raw.length === 0) return;
    // NUL bytes mean a binary or corrupted file region, not a log line: count and skip.
    if (raw.includes(0)) {
      this.counters.binary++;
      return;
    }
    let line = raw.toString('utf8');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length === 0) return;
    this.counters.lines++;
    try {
      this.opts.onLine(line, Date.now() * 1000, this.name);
    } catch {
      // A consumer error must not stop the tail.
    }
  }

  /** On rotation the old file's last line may lack its newline: deliver it rather than lose it. */
  private flushPartial(): void {
    if (this.skipping) {
      this.skipping = false;
      this.dropPartial();
      return;
    }
    if (this.partialLen > 0) this.emitPartial();
  }

  private dropPartial(): void {
    this.partial = [];
    this.partialLen = 0;
  }
}
