// What every route and job of the center shares: configuration, storage, the SSE hub, metrics,
// session lifecycle and the data-folder layout. Built once by app.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from './config.js';
import type { Storage } from './storage/types.js';
import type { Hub } from './sse/hub.js';
import type { LiveFeed } from './sse/feed.js';
import type { Metrics } from './metrics/metrics.js';
import type { SessionLifecycle } from './lifecycle/lifecycle.js';
import type { LoginGuard } from './auth/rate-limit.js';
import type { PcapRecorder } from './pcap/recorder.js';
import type { AgentCommander } from './agents/commander.js';
import type { CallFollower } from './agents/follow.js';
import type { OidcProvider } from './auth/oidc.js';
import type { SecretSealer } from './agents/token-vault.js';

export interface CenterContext {
  config: ResolvedConfig;
  storage: Storage;
  hub: Hub;
  /** how committed events and session ends reach the hub (one center, or several on PostgreSQL) */
  feed: LiveFeed;
  metrics: Metrics;
  lifecycle: SessionLifecycle;
  /** sha256 of --metrics-token, or null */
  metricsTokenHash: string | null;
  /** failed-login limits and the password-check gate */
  loginLimiter: LoginGuard;
  /** PCAP retention: frames of capture_pcap sessions, appended at ingest, read by export.tar */
  pcap: PcapRecorder;
  /** runs ingest transactions and their hub publication one at a time, so live events go out in id order */
  serial: <T>(fn: () => Promise<T>) => Promise<T>;
  /** pushes captures to agents and reconciles them (agents/commander.ts) */
  agents: AgentCommander;
  /** tells a session's other agents the dialogs one of them captured (agents/follow.ts) */
  follower: CallFollower;
  /** the single sign-on provider, when configured */
  oidc: OidcProvider | null;
  /** seals secrets the center shows again (share-link tokens) with its secret key */
  secrets: SecretSealer;
}

/** Data folder layout: `<data>/tunaio.db`, `<data>/pcap/<session id>/`. */
export const dbFile = (dataDir: string): string => path.join(dataDir, 'tunaio.db');
export const pcapRoot = (dataDir: string): string => path.join(dataDir, 'pcap');
export const pcapDir = (dataDir: string, sessionId: string): string => path.join(pcapRoot(dataDir), sessionId);

/** Modes of what the center creates under the data folder: captured traffic and credentials are private to its user. */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/**
 * Creates the data folder and `pcap/` as 0700 and (`sqlite`) the database as 0600 before SQLite opens it
 * (SQLite gives its `-wal` and `-shm` files the database file's mode), and tightens the modes of a
 * folder made by an older version. Everything below `pcap/` is behind its 0700 folder.
 */
export function secureDataDir(dataDir: string, sqlite: boolean): void {
  fs.mkdirSync(pcapRoot(dataDir), { recursive: true, mode: PRIVATE_DIR });
  fs.chmodSync(dataDir, PRIVATE_DIR);
  fs.chmodSync(pcapRoot(dataDir), PRIVATE_DIR);
  if (!sqlite) return;
  const db = dbFile(dataDir);
  fs.closeSync(fs.openSync(db, 'a', PRIVATE_FILE));
  for (const f of [db, `${db}-wal`, `${db}-shm`]) {
    try {
      fs.chmodSync(f, PRIVATE_FILE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** A promise chain that runs tasks one after another; a failing task does not block the next. */
export function serialRunner(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
