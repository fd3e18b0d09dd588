// End-to-end harness: a real command center (HTTP on an ephemeral port, SQLite in a temp folder)
// and real agents (in-process, or `tunaio agent` child processes), driven through the public HTTP
// APIs only, plus sipp helpers. Test code only: this is where center and agent meet.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import type { AgentConfig } from '../../src/agent/agent.js';
import { startCenter } from '../../src/center/index.js';
import type { CenterConfig, RunningCenter } from '../../src/center/index.js';
import type { Event, SessionDetail } from '../../src/core/schema/index.js';

export const OPERATOR_TOKEN = 'e2e-operator-token-0123456789abcdefghijklmnop';
export const REPO = path.resolve(new URL('../..', import.meta.url).pathname);
export const FIXTURES = path.join(REPO, 'test/e2e/fixtures');

export const tempDir = (tag: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `tunaio-e2e-${tag}-`));
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A center on an ephemeral (or given) port that reconciles every second. */
export async function e2eCenter(dataDir: string, over: Partial<CenterConfig> = {}): Promise<RunningCenter> {
  return startCenter({
    dataDir,
    port: 0,
    logLevel: 'silent',
    scryptLog2N: 10,
    adminPassword: 'e2e admin password',
    adminToken: OPERATOR_TOKEN,
    reconcileSeconds: 1,
    agentTimeoutSeconds: 2,
    ...over,
  });
}

/** Operator API calls against a running center. */
export class Api {
  constructor(public base: string) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked by the tests, field by field
  async req(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await fetch(`${this.base}${p}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }

  async newSession(label: string, criteria: Record<string, string>, agentIds: number[], extra: Record<string, unknown> = {}): Promise<string> {
    const r = await this.req('POST', '/api/sessions', { label, criteria, agent_ids: agentIds, duration_seconds: 600, ...extra });
    if (r.status !== 201) throw new Error(`POST /api/sessions ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json.id as string;
  }

  async detail(id: string): Promise<SessionDetail> {
    return (await this.req('GET', `/api/sessions/${id}`)).json as SessionDetail;
  }

  /** Every event of a session, following next_after (bounded). */
  async events(id: string): Promise<Event[]> {
    const out: Event[] = [];
    let after = 0;
    for (let i = 0; i < 1000; i++) {
      const r = await this.req('GET', `/api/sessions/${id}/events?after=${after}&limit=1000`);
      out.push(...(r.json.events as Event[]));
      after = r.json.next_after as number;
      if (!r.json.more) break;
    }
    return out;
  }
}

/** Polls `fn` until it returns a truthy value or `ms` pass (every loop bounded). */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, ms = 15_000, every = 200): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 500)})`);
}

/** Waits until `count()` reaches `n`, then a little longer to see that nothing more arrives. */
export async function settle(count: () => Promise<number>, n: number, ms = 20_000): Promise<number> {
  await waitFor(`${n} events`, async () => (await count()) >= n, ms).catch(() => undefined);
  await sleep(1500);
  return count();
}

/** An agent in this process, registered on the center with its command API URL. */
export async function inProcessAgent(
  center: RunningCenter,
  cfg: Omit<AgentConfig, 'token' | 'listen'> & { tags?: string[] },
): Promise<{ agent: Agent; id: number; token: string; url: string }> {
  const token = `e2e-agent-${cfg.name}-token-0123456789abcdef`;
  const agent = new Agent({ ...cfg, token, listen: { host: '127.0.0.1', port: 0 } });
  const addr = await agent.start();
  const url = `http://127.0.0.1:${addr!.port}`;
  const view = await center.ensureAgent({ name: cfg.name, url, token, tags: cfg.tags ?? [] });
  return { agent, id: view.id, token, url };
}

/** A free TCP port on 127.0.0.1 (for children that must reuse the same port after a restart). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `tunaio agent` as a child process (node + tsx loader), for kill -9 tests. */
export function spawnAgentProcess(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/tunaio.ts'), 'agent', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', () => undefined);
  return child;
}

// ---- sipp

export interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs sipp to completion without blocking the event loop (the in-process agent must keep reading). */
export function sipp(args: string[], cwd: string, timeoutMs = 120_000): Promise<SippRun> {
  return new Promise((resolve) => {
    const c = spawn('sipp', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(-20_000)));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a background sipp (`-bg`) and returns its pid (sipp prints `PID=[n]`). */
export async function sippBg(args: string[], cwd: string): Promise<number> {
  const r = await sipp([...args, '-bg'], cwd, 15_000);
  const m = /PID=\[(\d+)\]/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`sipp -bg did not start: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

export function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** "INVITE", "180", … : a SIP event's method or status. */
export const label = (e: Event): string => (e.sip?.method ?? String(e.sip?.status ?? '?')).toUpperCase();

/** Call-ID → ordered labels of its SIP events. */
export function dialogs(events: Event[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of events) {
    if (e.kind !== 'sip' || !e.call_id) continue;
    const l = m.get(e.call_id) ?? [];
    l.push(label(e));
    m.set(e.call_id, l);
  }
  return m;
}

/** What each sipp scenario puts on the wire per dialog (the built-in uas sends no 100). */
export const CALL_MESSAGES = ['INVITE', '180', '200', 'ACK', 'BYE', '200'];
