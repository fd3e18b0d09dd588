// Where a center keeps its state (DESIGN §7, §9): the SQLite backend (one center, a data folder:
// tunaio.db, pcap/, secret.key) or the PostgreSQL backend (any number of centers, everything in the
// database, nothing on local disk). Everything that differs between the two is chosen here, once.
import type { ResolvedConfig } from './config.js';
import { dbFile, pcapRoot, secureDataDir, serialRunner } from './context.js';
import type { AgentTokenStore, SecretSealer } from './agents/token-vault.js';
import { TokenVault } from './agents/token-vault.js';
import type { LoginLimiter } from './auth/rate-limit.js';
import type { Leadership } from './cluster/leadership.js';
import { alwaysLeader, PostgresLeadership } from './cluster/leadership.js';
import { PostgresBus } from './cluster/postgres-bus.js';
import { PostgresPcapStore } from './pcap/postgres-store.js';
import { FilePcapStore } from './pcap/store.js';
import type { PcapStore } from './pcap/store.js';
import type { LiveFeed } from './sse/feed.js';
import { LocalFeed } from './sse/feed.js';
import type { Hub } from './sse/hub.js';
import { PostgresFeed, TAGS_CHANNEL } from './sse/postgres-feed.js';
import { EVENTS_CHANNEL } from './storage/postgres/ingest.js';
import { PostgresLoginLimiter } from './storage/postgres/login-limiter.js';
import { PostgresStorage, STATUS_CHANNEL } from './storage/postgres/storage.js';
import { PostgresTokenVault } from './storage/postgres/token-vault.js';
import { openSqliteStorage } from './storage/sqlite.js';
import type { Storage } from './storage/types.js';

/** a push the reconciling center must make for another center (agents/commander.ts) */
export type ForwardedCommand =
  | { op: 'start' | 'stop'; session_id: string }
  /** Call-IDs an agent of the session captured: the session's other agents follow them (agents/follow.ts) */
  | { op: 'follow'; session_id: string; from_agent_id: number; call_ids: string[] };

/** Whether a forwarded payload (from another center, through the database) is a command this version knows. */
export function isForwardedCommand(v: unknown): v is ForwardedCommand {
  const c = v as Partial<{ op: unknown; session_id: unknown; from_agent_id: unknown; call_ids: unknown }> | null;
  if (c === null || typeof c !== 'object' || typeof c.session_id !== 'string') return false;
  if (c.op === 'start' || c.op === 'stop') return true;
  return (
    c.op === 'follow' &&
    typeof c.from_agent_id === 'number' &&
    Array.isArray(c.call_ids) &&
    c.call_ids.every((x) => typeof x === 'string')
  );
}

export const COMMANDS_CHANNEL = 'tunaio_commands';

export interface Backend {
  kind: 'sqlite' | 'postgres';
  storage: Storage;
  pcapStore: PcapStore;
  tokens: AgentTokenStore & SecretSealer;
  /** where login failures are counted; in memory when undefined (auth/rate-limit.ts LoginGuard) */
  loginLimiter?: (maxFailures: number, windowMs: number, scope: 'user' | 'address') => LoginLimiter;
  feed: LiveFeed;
  leadership: Leadership;
  /** the ingest route's serial step: one at a time for SQLite (ids = publish order); PostgreSQL orders by itself */
  serial: <T>(fn: () => Promise<T>) => Promise<T>;
  /** sends a command to the reconciling center; undefined with one center */
  forward?: (cmd: ForwardedCommand) => Promise<void>;
  /** receives commands forwarded by other centers */
  onForwarded(fn: (cmd: ForwardedCommand) => void): void;
  /** closes what the backend opened besides storage (storage.close() is the center's last step) */
  close(): Promise<void>;
}

export async function openBackend(
  config: Pick<ResolvedConfig, 'dataDir'>,
  opts: { database?: string; storage?: Storage; hub: Hub; onError: (err: unknown) => void },
): Promise<Backend> {
  if (opts.database === undefined) {
    secureDataDir(config.dataDir, opts.storage === undefined);
    return {
      kind: 'sqlite',
      storage: opts.storage ?? openSqliteStorage(dbFile(config.dataDir)),
      pcapStore: new FilePcapStore(pcapRoot(config.dataDir)),
      tokens: new TokenVault(config.dataDir),
      feed: new LocalFeed(opts.hub),
      leadership: alwaysLeader,
      serial: serialRunner(),
      onForwarded: () => undefined,
      close: async () => undefined,
    };
  }
  const storage = await PostgresStorage.open(opts.database);
  let bus: PostgresBus;
  try {
    bus = await PostgresBus.open(opts.database, storage.pool, [EVENTS_CHANNEL, STATUS_CHANNEL, COMMANDS_CHANNEL, TAGS_CHANNEL], opts.onError);
  } catch (e) {
    await storage.close();
    throw e;
  }
  const feed = new PostgresFeed(opts.hub, storage, bus, opts.onError);
  const leadership = new PostgresLeadership(opts.database);
  return {
    kind: 'postgres',
    storage,
    pcapStore: new PostgresPcapStore(storage.pool),
    tokens: new PostgresTokenVault(storage.pool),
    loginLimiter: (max, windowMs, scope) => new PostgresLoginLimiter(storage.pool, max, windowMs, scope),
    feed,
    leadership,
    serial: (fn) => fn(),
    forward: (cmd) => bus.notify(COMMANDS_CHANNEL, JSON.stringify(cmd)),
    onForwarded: (fn) =>
      bus.on(COMMANDS_CHANNEL, (payload) => {
        const cmd = JSON.parse(payload) as unknown;
        if (isForwardedCommand(cmd)) fn(cmd);
      }),
    async close() {
      await leadership.close();
      await bus.close();
      await feed.close();
    },
  };
}
