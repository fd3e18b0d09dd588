// The command center's configuration: what the composition root (cli) passes to startCenter().
// Nothing in center reads the environment; defaults live here, in one place.
import type { Storage } from './storage/types.js';
import type { OidcConfig } from './auth/oidc.js';

export interface CenterConfig {
  /** data folder: `tunaio.db` (SQLite) and `pcap/<session>/` */
  dataDir: string;
  /** 0 picks a free port */
  port?: number;
  host?: string;
  /** bootstrap credentials of user `admin` (TUNAIO_ADMIN_PASSWORD / TUNAIO_ADMIN_TOKEN, read by the cli) */
  adminPassword?: string;
  adminToken?: string;
  /** delete the event history of sessions that ended longer ago than this */
  eventRetentionHours?: number;
  /** delete stored frames / PCAP files of sessions that ended longer ago than this */
  pcapRetentionHours?: number;
  /** delete audit log entries older than this */
  auditRetentionDays?: number;
  /** keep at most this many audit log entries (the oldest go first) */
  auditMaxEntries?: number;
  maxSessionEvents?: number;
  maxSessionBytes?: number;
  /** SSE comment heartbeat period; fractional values let tests use a short one */
  heartbeatSeconds?: number;
  /** how often the retention job runs */
  retentionIntervalSeconds?: number;
  /** how often overdue running sessions are expired (besides the per-session timers) */
  sweepIntervalSeconds?: number;
  /** ingest still accepted this long after a session ended (batches in flight) */
  ingestGraceSeconds?: number;
  /** an agent not heard from for this long is shown offline */
  agentOfflineSeconds?: number;
  /** login failures allowed per IP+username within loginWindowSeconds before 429 */
  loginMaxFailures?: number;
  /** login failures allowed per source address (any user names; IPv6 per /64) within loginWindowSeconds before 429 */
  loginMaxFailuresPerAddress?: number;
  loginWindowSeconds?: number;
  /** bearer token that may read /metrics only (TUNAIO_METRICS_TOKEN, read by the cli); operators may read it too */
  metricsToken?: string;
  webSessionHours?: number;
  /** set the cookie's Secure flag (behind HTTPS) */
  cookieSecure?: boolean;
  /** scrypt cost of new password hashes, log2(N); lowered only by tests to keep them fast */
  scryptLog2N?: number;
  /** pino level; 'silent' in tests */
  logLevel?: string;
  /** where log lines go instead of stdout (tests that read the log) */
  logDestination?: { write(line: string): void };
  /** clock in epoch ms, for tests of expiry and retention */
  now?: () => number;
  /** PostgreSQL URL (postgres://USER@HOST:PORT/DB): every piece of state in that database, nothing under dataDir */
  database?: string;
  /** a storage to use instead of SQLite under dataDir (another backend, or a test wrapper); closed by close() */
  storage?: Storage;
  /** folder of the built web UI (index.html, assets/), served at `/`; no UI when omitted */
  webRoot?: string;
  /** how often the reconciler polls agents (GET /v1/status) and re-asserts running captures; 0 = never */
  reconcileSeconds?: number;
  /** timeout of each call to an agent's command API */
  agentTimeoutSeconds?: number;
  /** the center's URL as agents and people reach it (agents' ingest_url, share links); default: the listen address / the request's Host */
  publicUrl?: string;
  /** single sign-on by OpenID Connect (docs/organisations.md); password logins keep working */
  oidc?: OidcConfig;
}

type Optional = 'adminPassword' | 'adminToken' | 'webRoot' | 'publicUrl' | 'logDestination' | 'metricsToken' | 'oidc';
export type ResolvedConfig = Required<Omit<CenterConfig, Optional | 'storage' | 'database'>> & Pick<CenterConfig, Optional>;

export const CENTER_DEFAULTS = {
  port: 8080,
  host: '127.0.0.1',
  eventRetentionHours: 168,
  pcapRetentionHours: 72,
  auditRetentionDays: 365,
  auditMaxEntries: 1_000_000,
  maxSessionEvents: 1_000_000,
  maxSessionBytes: 1024 * 1024 * 1024,
  heartbeatSeconds: 15,
  retentionIntervalSeconds: 600,
  sweepIntervalSeconds: 5,
  ingestGraceSeconds: 30,
  agentOfflineSeconds: 60,
  loginMaxFailures: 10,
  loginMaxFailuresPerAddress: 30,
  loginWindowSeconds: 60,
  webSessionHours: 12,
  cookieSecure: false,
  logLevel: 'info',
  scryptLog2N: 15,
  reconcileSeconds: 5,
  agentTimeoutSeconds: 3,
} as const;

export function resolveConfig(c: CenterConfig): ResolvedConfig {
  const pick = <K extends keyof typeof CENTER_DEFAULTS>(k: K): (typeof CENTER_DEFAULTS)[K] =>
    (c[k] ?? CENTER_DEFAULTS[k]) as (typeof CENTER_DEFAULTS)[K];
  return {
    dataDir: c.dataDir,
    port: pick('port'),
    host: pick('host'),
    adminPassword: c.adminPassword,
    adminToken: c.adminToken,
    webRoot: c.webRoot,
    publicUrl: c.publicUrl,
    logDestination: c.logDestination,
    metricsToken: c.metricsToken,
    oidc: c.oidc,
    eventRetentionHours: pick('eventRetentionHours'),
    pcapRetentionHours: pick('pcapRetentionHours'),
    auditRetentionDays: pick('auditRetentionDays'),
    auditMaxEntries: pick('auditMaxEntries'),
    maxSessionEvents: pick('maxSessionEvents'),
    maxSessionBytes: pick('maxSessionBytes'),
    heartbeatSeconds: pick('heartbeatSeconds'),
    retentionIntervalSeconds: pick('retentionIntervalSeconds'),
    sweepIntervalSeconds: pick('sweepIntervalSeconds'),
    ingestGraceSeconds: pick('ingestGraceSeconds'),
    agentOfflineSeconds: pick('agentOfflineSeconds'),
    loginMaxFailures: pick('loginMaxFailures'),
    loginMaxFailuresPerAddress: pick('loginMaxFailuresPerAddress'),
    loginWindowSeconds: pick('loginWindowSeconds'),
    webSessionHours: pick('webSessionHours'),
    cookieSecure: pick('cookieSecure'),
    logLevel: pick('logLevel'),
    scryptLog2N: pick('scryptLog2N'),
    reconcileSeconds: pick('reconcileSeconds'),
    agentTimeoutSeconds: pick('agentTimeoutSeconds'),
    now: c.now ?? Date.now,
  };
}
