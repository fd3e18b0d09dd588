// WAL checkpoints of the SQLite store, off the ingest thread. With SQLite's automatic checkpoint the
// commit that crosses 1000 WAL pages copies them into the database file and syncs it, on the event
// loop: that was half of the store's cost at ingest. Here the writing connection turns the automatic
// checkpoint off and a worker thread, with its own connection to the same file, runs a PASSIVE
// checkpoint (never blocks the writer or readers) every CHECKPOINT_MS. The WAL file stays bounded:
// the writer wraps it when it starts a transaction after a complete checkpoint, and when a steady
// stream of writes never leaves that moment, `guard()` (called by the writer after a batch) runs a
// RESTART checkpoint on the writer's thread once the WAL passes WAL_GUARD_BYTES: cheap when the
// worker has copied most frames already, and the whole job when the worker is behind or gone.
// Not here: what is stored (sqlite.ts).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database as Db } from 'better-sqlite3';

const CHECKPOINT_MS = 100;
/** a WAL larger than this is checkpointed by the writer itself, which then wraps it */
const WAL_GUARD_BYTES = 64 * 1024 * 1024;
/** how often (in calls) guard() looks at the WAL size */
const GUARD_EVERY = 4;

// CommonJS, evaluated in the worker (no file to find at run time, from dist/ and under vitest alike)
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage(String(e && e.message)); }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); try { db.close(); } catch {} parentPort.close(); }
});
`;

export class WalCheckpointer {
  private worker: Worker | null;
  private calls = 0;

  constructor(
    private readonly db: Db,
    private readonly file: string,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs: CHECKPOINT_MS } });
    this.worker.unref();
    const fallBack = (): void => {
      // no worker: SQLite's own automatic checkpoint again
      this.worker = null;
      if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
    };
    this.worker.on('error', fallBack);
    this.worker.on('exit', fallBack);
  }

  /** After a write: checkpoints here when the WAL has grown past the guard (worker behind or gone). */
  guard(): void {
    if (++this.calls % GUARD_EVERY !== 0) return;
    let size: number;
    try {
      size = fs.statSync(`${this.file}-wal`).size;
    } catch {
      return;
    }
    if (size <= WAL_GUARD_BYTES) return;
    // never wait on the event loop: if the worker is checkpointing right now, SQLite answers busy at
    // once and a later call tries again
    const prev = Number(this.db.pragma('busy_timeout', { simple: true }));
    this.db.pragma('busy_timeout = 0');
    try {
      this.db.pragma('wal_checkpoint(RESTART)');
    } finally {
      this.db.pragma(`busy_timeout = ${prev}`);
    }
  }

  /** Stops the worker; the writer's close() then checkpoints what is left. */
  async stop(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      w.postMessage('stop');
    });
  }
}
