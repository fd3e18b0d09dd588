// Real processes for the memory benchmark: a `tunaio center` and a `tunaio agent` run from dist/
// (node bin/tunaio.js, secrets by environment only), the center's operator API, and a process's
// memory from /proc (VmRSS, VmHWM). Every child is spawned here and stopped by its own pid.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stop, waitFor } from './proc.js';

export const OPERATOR_TOKEN = 'bench-memory-operator-token-0123456789abcdef';
const ADMIN_PASSWORD = 'bench-memory-admin-password';

export interface Mem {
  rssKb: number;
  hwmKb: number;
}

/** VmRSS and VmHWM of a live process, in kB. */
export function memOf(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it is truthy or `ms` pass (bounded); throws naming `what` and the last value. */
export async function until<T>(what: string, fn: () => Promise<T> | T, ms: number, every = 250): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let last: T | undefined;
  for (let i = 0; Date.now() < end && i < 1_000_000; i++) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 400)})`);
}

/** Children started by this benchmark, stopped on every exit path. */
export class Children {
  private readonly list: ChildProcess[] = [];
  add(c: ChildProcess): ChildProcess {
    this.list.push(c);
    c.stderr?.setEncoding('utf8');
    c.stderr?.on('data', (d: string) => {
      if (process.env.BENCH_VERBOSE) process.stderr.write(d);
    });
    c.stdout?.on('data', () => undefined);
    return c;
  }
  async stopAll(): Promise<void> {
    await Promise.all(this.list.splice(0).map((c) => stop(c, 'SIGTERM')));
  }
}

/**
 * `tunaio center` on 127.0.0.1:port with its data under `dataDir`, fd limit raised by a `bash -c`
 * wrapper that `exec`s node (so the child's pid is the center's).
 */
export async function startCenter(kids: Children, repo: string, port: number, dataDir: string, extra: string[] = []): Promise<ChildProcess> {
  const args = ['bin/tunaio.js', 'center', '--port', String(port), '--host', '127.0.0.1', '--data', dataDir, '--log-level', 'warn', ...extra];
  const c = kids.add(
    spawn('bash', ['-c', `ulimit -n 16384 2>/dev/null || ulimit -n 4096 2>/dev/null; exec "${process.execPath}" "$@"`, 'center', ...args], {
      cwd: repo,
      env: { ...process.env, TUNAIO_ADMIN_TOKEN: OPERATOR_TOKEN, TUNAIO_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitFor(c, /listening on/, 30);
  return c;
}

/** `tunaio agent` with a HEP UDP listener; token by environment; heap snapshots on SIGUSR2 into `cwd`. */
export async function startAgent(
  kids: Children,
  repo: string,
  o: { name: string; token: string; apiPort: number; hepPort: number; spool: string; cwd: string },
): Promise<ChildProcess> {
  const args = [
    join(repo, 'bin/tunaio.js'),
    'agent',
    '--name',
    o.name,
    '--listen',
    `127.0.0.1:${o.apiPort}`,
    '--hep',
    `udp:127.0.0.1:${o.hepPort}`,
    '--spool',
    o.spool,
  ];
  const c = kids.add(
    // BENCH_MEMORY_AGENT_FLAGS: extra node flags for the agent (trying V8 settings while developing)
    spawn(process.execPath, ['--heapsnapshot-signal=SIGUSR2', ...(process.env.BENCH_MEMORY_AGENT_FLAGS ?? '').split(' ').filter(Boolean), ...args], {
      cwd: o.cwd,
      env: { ...process.env, TUNAIO_TOKEN: o.token, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitFor(c, /command API on/, 30);
  return c;
}

/** JSON calls with a bearer token; throws on a non-2xx answer. */
export class Api {
  constructor(
    readonly base: string,
    private readonly token = OPERATOR_TOKEN,
  ) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field by the caller
  async req(method: string, path: string, body?: unknown): Promise<any> {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status}: ${text.slice(0, 400)}`);
    return text ? JSON.parse(text) : null;
  }

  /** registers (or updates) an agent; returns its id */
  async agent(name: string, url: string, token: string): Promise<number> {
    const a = await this.req('POST', '/api/agents', { name, url, token, enabled: true });
    return a.id as number;
  }

  async session(label: string, criteria: Record<string, string>, agentId: number, captureRtp: boolean): Promise<string> {
    const s = await this.req('POST', '/api/sessions', { label, criteria, agent_ids: [agentId], duration_seconds: 3600, capture_rtp: captureRtp });
    return s.id as string;
  }
}
