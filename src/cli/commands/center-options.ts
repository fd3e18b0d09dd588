// Options shared by `tunaio center` and `tunaio standalone` (DESIGN §1, §7), and their translation
// into the center's configuration. This is the composition root: the only place that reads the
// environment for the center (TUNAIO_ADMIN_PASSWORD / TUNAIO_ADMIN_TOKEN / TUNAIO_METRICS_TOKEN /
// TUNAIO_OIDC_CLIENT_SECRET are environment-only, so secrets never appear in a process listing).
import { fileURLToPath } from 'node:url';
import type { OptionSpec, OptionValues } from '../options.js';
import { UsageError } from '../options.js';
import { CENTER_DEFAULTS } from '../../center/config.js';
import { OIDC_DEFAULTS } from '../../center/auth/oidc.js';
import type { OidcConfig } from '../../center/auth/oidc.js';
import type { CenterConfig } from '../../center/index.js';

export const centerOptions: OptionSpec[] = [
  { name: 'port', type: 'number', default: 8080, arg: 'PORT', help: 'HTTP port of the command center' },
  { name: 'host', type: 'string', default: '127.0.0.1', arg: 'HOST', help: 'address the command center listens on' },
  { name: 'data', type: 'string', default: './data', arg: 'DIR', help: 'data folder: SQLite database and PCAP files (unused by the center with --database)' },
  {
    name: 'database',
    type: 'string',
    arg: 'URL',
    help: 'PostgreSQL instead of SQLite, e.g. postgres://tunaio@db:5432/tunaio: all state in that database, so several centers behind a load balancer act as one (docs/scale-out.md)',
  },
  {
    name: 'event-retention-hours',
    type: 'number',
    default: CENTER_DEFAULTS.eventRetentionHours,
    arg: 'HOURS',
    help: 'delete the event history of sessions that ended longer ago than this',
  },
  {
    name: 'pcap-retention-hours',
    type: 'number',
    default: CENTER_DEFAULTS.pcapRetentionHours,
    arg: 'HOURS',
    help: 'delete the packet data (PCAP export) of sessions that ended longer ago than this',
  },
  {
    name: 'audit-retention-days',
    type: 'number',
    default: CENTER_DEFAULTS.auditRetentionDays,
    arg: 'DAYS',
    help: 'delete audit log entries older than this',
  },
  {
    name: 'audit-max-entries',
    type: 'number',
    default: CENTER_DEFAULTS.auditMaxEntries,
    arg: 'N',
    help: 'keep at most this many audit log entries; the oldest are deleted first',
  },
  {
    name: 'max-session-events',
    type: 'number',
    default: CENTER_DEFAULTS.maxSessionEvents,
    arg: 'N',
    help: 'per-session cap on stored events; further events are rejected and the session shows capped',
  },
  {
    name: 'max-session-bytes',
    type: 'number',
    default: CENTER_DEFAULTS.maxSessionBytes,
    arg: 'BYTES',
    help: 'per-session cap on stored event and packet bytes; further events are rejected and the session shows capped',
  },
  {
    name: 'heartbeat-seconds',
    type: 'number',
    default: CENTER_DEFAULTS.heartbeatSeconds,
    arg: 'SECONDS',
    help: 'period of the SSE comment heartbeat',
  },
  {
    name: 'retention-interval-seconds',
    type: 'number',
    default: CENTER_DEFAULTS.retentionIntervalSeconds,
    arg: 'SECONDS',
    help: 'how often the retention job runs',
  },
  {
    name: 'ingest-grace-seconds',
    type: 'number',
    default: CENTER_DEFAULTS.ingestGraceSeconds,
    arg: 'SECONDS',
    help: 'ingest still accepted this long after a session stopped or expired (batches in flight)',
  },
  {
    name: 'agent-offline-seconds',
    type: 'number',
    default: CENTER_DEFAULTS.agentOfflineSeconds,
    arg: 'SECONDS',
    help: 'an agent not heard from for this long is shown offline',
  },
  {
    name: 'login-max-failures',
    type: 'number',
    default: CENTER_DEFAULTS.loginMaxFailures,
    arg: 'N',
    help: 'failed logins per IP and username per minute before 429',
  },
  {
    name: 'login-max-failures-per-address',
    type: 'number',
    default: CENTER_DEFAULTS.loginMaxFailuresPerAddress,
    arg: 'N',
    help: 'failed logins per source address (any usernames; IPv6 per /64) per minute before 429',
  },
  {
    name: 'reconcile-seconds',
    type: 'number',
    default: CENTER_DEFAULTS.reconcileSeconds,
    arg: 'SECONDS',
    help: 'how often agents are polled (GET /v1/status) and their running captures re-asserted',
  },
  {
    name: 'public-url',
    type: 'string',
    arg: 'URL',
    help: 'the center URL as agents and browsers reach it: agents upload to it, share links point to it (default: the listen address; share links use the Host of the request)',
  },
  { name: 'cookie-secure', type: 'boolean', help: 'mark the login cookie Secure (when served over HTTPS)' },
  {
    name: 'oidc-issuer',
    type: 'string',
    arg: 'URL',
    help: 'single sign-on: the OpenID Connect provider\'s issuer URL (https; http only on loopback); with --oidc-client-id and TUNAIO_OIDC_CLIENT_SECRET. The provider redirects to <public URL>/api/sso/callback (docs/organisations.md)',
  },
  { name: 'oidc-client-id', type: 'string', arg: 'ID', help: 'single sign-on: this center\'s client id at the provider' },
  {
    name: 'oidc-org-claim',
    type: 'string',
    default: OIDC_DEFAULTS.orgClaim,
    arg: 'CLAIM',
    help: 'single sign-on: the claim naming the user\'s organisation (an existing organisation\'s name; unknown ones are refused)',
  },
  {
    name: 'oidc-role-claim',
    type: 'string',
    default: OIDC_DEFAULTS.roleClaim,
    arg: 'CLAIM',
    help: 'single sign-on: the claim naming the user\'s role: viewer, operator or org_admin, or a list holding some (the strongest wins); anything else is refused',
  },
  {
    name: 'oidc-username-claim',
    type: 'string',
    default: OIDC_DEFAULTS.usernameClaim,
    arg: 'CLAIM',
    help: 'single sign-on: the claim giving the user name (sub when missing)',
  },
  { name: 'oidc-scopes', type: 'string', default: OIDC_DEFAULTS.scopes, arg: 'SCOPES', help: 'single sign-on: the scopes asked for (space-separated, openid first); add the one releasing the organisation and role claims' },
  { name: 'oidc-name', type: 'string', default: OIDC_DEFAULTS.name, arg: 'TEXT', help: 'single sign-on: the provider\'s name on the login button ("Log in with TEXT")' },
  { name: 'log-level', type: 'string', default: CENTER_DEFAULTS.logLevel, arg: 'LEVEL', help: 'log level: fatal, error, warn, info, debug, trace or silent' },
];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function positive(values: OptionValues, name: string, opts: { integer?: boolean; min?: number } = {}): number {
  const v = values[name];
  const min = opts.min ?? 0;
  if (typeof v !== 'number' || !(v > min) || (opts.integer && !Number.isInteger(v))) {
    throw new UsageError(`--${name} must be a ${opts.integer ? 'whole ' : ''}number greater than ${min}, got ${String(v)}`);
  }
  return v;
}

function publicUrl(v: OptionValues[string]): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`--public-url must be an http(s) URL such as http://10.0.0.1:8080, got "${v}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--public-url must be http(s), got "${v}"`);
  return v.replace(/\/+$/, '');
}

/** --database (or TUNAIO_DATABASE): a PostgreSQL URL (a password, if any, best in PGPASSWORD or ~/.pgpass) */
function database(v: OptionValues[string]): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const raw = v;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--database must be a URL such as postgres://tunaio@127.0.0.1:5432/tunaio, got "${raw}"`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new UsageError(`--database must be a postgres:// URL (SQLite is the default without it), got "${u.protocol}"`);
  }
  return raw;
}

/** --oidc-* (and the environment-only TUNAIO_OIDC_CLIENT_SECRET): all three of issuer, client id and secret, or none */
function oidc(values: OptionValues, env: NodeJS.ProcessEnv): OidcConfig | undefined {
  const str = (name: string): string => (typeof values[name] === 'string' ? (values[name] as string).trim() : '');
  const issuer = str('oidc-issuer');
  const clientId = str('oidc-client-id');
  const clientSecret = env.TUNAIO_OIDC_CLIENT_SECRET ?? '';
  if (issuer === '' && clientId === '') return undefined;
  if (issuer === '' || clientId === '' || clientSecret === '') {
    throw new UsageError('single sign-on needs --oidc-issuer, --oidc-client-id and TUNAIO_OIDC_CLIENT_SECRET (environment only), all three');
  }
  let u: URL;
  try {
    u = new URL(issuer);
  } catch {
    throw new UsageError(`--oidc-issuer must be a URL such as https://login.example.com/realms/noc, got "${issuer}"`);
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new UsageError(`--oidc-issuer must be https (plain http only on loopback), got "${issuer}"`);
  const scopes = str('oidc-scopes');
  if (!scopes.split(/\s+/).includes('openid')) throw new UsageError(`--oidc-scopes must include openid, got "${scopes}"`);
  for (const name of ['oidc-org-claim', 'oidc-role-claim', 'oidc-username-claim', 'oidc-name']) {
    if (str(name) === '') throw new UsageError(`--${name} must not be empty`);
  }
  return {
    issuer,
    clientId,
    clientSecret,
    orgClaim: str('oidc-org-claim'),
    roleClaim: str('oidc-role-claim'),
    usernameClaim: str('oidc-username-claim'),
    scopes,
    name: str('oidc-name'),
  };
}

/** Options + environment → the center's configuration. */
export function centerConfigFrom(values: OptionValues, env: NodeJS.ProcessEnv): CenterConfig {
  const port = values.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`--port must be 0..65535, got ${String(port)}`);
  }
  const logLevel = String(values['log-level']);
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const secret = (name: string): string | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    if (v.length < 8) throw new UsageError(`${name} must have at least 8 characters`);
    return v;
  };
  return {
    dataDir: String(values.data),
    database: database(values.database),
    port,
    host: String(values.host),
    adminPassword: secret('TUNAIO_ADMIN_PASSWORD'),
    adminToken: secret('TUNAIO_ADMIN_TOKEN'),
    eventRetentionHours: positive(values, 'event-retention-hours'),
    pcapRetentionHours: positive(values, 'pcap-retention-hours'),
    auditRetentionDays: positive(values, 'audit-retention-days'),
    auditMaxEntries: positive(values, 'audit-max-entries', { integer: true }),
    maxSessionEvents: positive(values, 'max-session-events', { integer: true }),
    maxSessionBytes: positive(values, 'max-session-bytes', { integer: true }),
    heartbeatSeconds: positive(values, 'heartbeat-seconds'),
    retentionIntervalSeconds: positive(values, 'retention-interval-seconds'),
    ingestGraceSeconds: positive(values, 'ingest-grace-seconds'),
    agentOfflineSeconds: positive(values, 'agent-offline-seconds'),
    loginMaxFailures: positive(values, 'login-max-failures', { integer: true }),
    loginMaxFailuresPerAddress: positive(values, 'login-max-failures-per-address', { integer: true }),
    metricsToken: secret('TUNAIO_METRICS_TOKEN'),
    reconcileSeconds: positive(values, 'reconcile-seconds'),
    publicUrl: publicUrl(values['public-url']),
    cookieSecure: values['cookie-secure'] === true,
    oidc: oidc(values, env),
    logLevel,
    // the built UI (`dist/web` at the repository root), from src/cli/commands and dist/cli/commands alike
    webRoot: fileURLToPath(new URL('../../../dist/web/', import.meta.url)),
  };
}
