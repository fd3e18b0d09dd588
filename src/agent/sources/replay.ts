// Replay source (`--read FILE`): feeds a pcap/pcapng file through the same pipeline as live capture,
// for tests and demos. `speed` 0 replays as fast as possible (yielding to the event loop between
// chunks so the agent keeps serving its API); 1 follows the capture timestamps in real time; 2 is
// twice as fast, and so on. Packets keep their capture timestamps. Owns the file read and pacing.
import { open } from 'node:fs/promises';
import { createCaptureReader } from '../../protocol/capture-file.js';
import type { PacketInput } from '../capture-manager.js';
import { PacketPipeline } from './pipeline.js';
import type { Source, SourceStatus } from './source.js';

export interface ReplaySourceOptions {
  path: string;
  speed?: number;
  onPacket: (p: PacketInput) => void;
  /** called once at the end of the file */
  onDone?: () => void;
  /** wait before the first packet (lets captures be PUT first), ms */
  startDelayMs?: number;
}

const CHUNK = 256 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ReplaySource implements Source {
  readonly kind = 'replay' as const;
  readonly name: string;
  private readonly o: ReplaySourceOptions;
  private readonly pipeline: PacketPipeline;
  private state: SourceStatus['state'] = 'stopped';
  private error: string | undefined;
  private stopping = false;
  private run: Promise<void> | undefined;
  private bytes = 0;

  constructor(opts: ReplaySourceOptions) {
    this.o = opts;
    this.name = `replay:${opts.path}`;
    this.pipeline = new PacketPipeline(opts.onPacket);
  }

  async start(): Promise<void> {
    if (this.run) return;
    this.state = 'running';
    this.stopping = false;
    this.run = this.replay().catch((e: unknown) => {
      this.state = 'failed';
      this.error = `replaying ${this.o.path}: ${(e as Error).message}`;
    });
  }

  /** Resolves when the replay ended (end of file, stop, or failure). */
  done(): Promise<void> {
    return this.run ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.run;
    if (this.state === 'running') this.state = 'stopped';
  }

  status(): SourceStatus {
    const p = this.pipeline.counters;
    const counters: Record<string, number> = { frames: p.frames, units: p.units, bytes: this.bytes };
    this.pipeline.frameCounters(counters);
    return { name: this.name, kind: this.kind, state: this.state, ...(this.error ? { error: this.error } : {}), counters };
  }

  private async replay(): Promise<void> {
    if (this.o.startDelayMs) await sleep(this.o.startDelayMs);
    const speed = this.o.speed ?? 0;
    const fh = await open(this.o.path, 'r');
    try {
      const reader = createCaptureReader();
      const buf = Buffer.alloc(CHUNK);
      let firstTs: number | undefined;
      const t0 = Date.now();
      let pos = 0;
      // Bounded by the file size: every turn reads at least one byte or ends.
      while (!this.stopping) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        this.bytes += bytesRead;
        // Records may be subarrays of the chunk, and the buffer is reused: give the reader a copy.
        const records = reader.push(Buffer.from(buf.subarray(0, bytesRead)));
        for (const rec of records) {
          if (this.stopping) break;
          if (speed > 0) {
            firstTs ??= rec.tsUs;
            const due = t0 + (rec.tsUs - firstTs) / 1000 / speed;
            const wait = due - Date.now();
            // Cap a single wait so bogus timestamps (a jump of years) cannot stall the replay.
            if (wait > 0) await sleep(Math.min(wait, 10_000));
          }
          this.pipeline.record(rec);
        }
        if (reader.error) {
          this.error = `${this.o.path}: ${reader.error.message}`;
          this.state = 'failed';
          return;
        }
        if (speed === 0) await new Promise((r) => setImmediate(r));
      }
      const end = reader.end();
      if (end.error) {
        this.error = `${this.o.path}: ${end.error.message}`;
        this.state = 'failed';
        return;
      }
      if (end.truncated) this.error = `${this.o.path} ends inside a record${end.reason ? ` (${end.reason})` : ''}`;
      this.state = this.stopping ? 'stopped' : 'done';
    } finally {
      await fh.close();
      if (!this.stopping) this.o.onDone?.();
    }
  }
}
