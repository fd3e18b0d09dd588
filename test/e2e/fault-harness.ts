// Fault and load scenarios with real processes (issue 16): a `tunaio center` child process that can
// be killed with SIGKILL and started again on the same port and data folder, `tunaio agent` child
// processes, an independent tcpdump writing the reference capture, and the count that every
// scenario reports: SIP messages sent on the wire (our capture reader reads the reference) against events
// stored by the center, lost and duplicated. Used by test/e2e/agent-faults.test.ts (short, npm test)
// and scripts/soak.ts (full length).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Api } from './harness.js';
import { OPERATOR_TOKEN, REPO, label, sleep, waitFor } from './harness.js';
import type { Event } from '../../src/core/schema/index.js';
import { SipDecodePipeline, type SipRow } from '../../src/protocol/decode-pipeline.js';

const CLI = path.join(REPO, 'src/cli/tunaio.ts');

/** A child process that a scenario kills (-9) or stops, and may start again. */
class Restartable {
  child: ChildProcess | undefined;

  /** SIGKILL: no shutdown code runs (what a crash or an OOM kill does). */
  async kill9(): Promise<void> {
    await killChild(this.child, 'SIGKILL');
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await killChild(this.child, 'SIGTERM');
    this.child = undefined;
  }
}

/** A `tunaio center` child process on a fixed port (so it can come back where agents expect it). */
export class CenterProcess extends Restartable {
  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly extra: string[] = [],
  ) {
    super();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const c = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'center', '--host', '127.0.0.1', '--port', String(this.port), '--data', this.dataDir, '--log-level', 'warn',
        '--reconcile-seconds', '1', '--agent-offline-seconds', '5', ...this.extra],
      { cwd: REPO, env: { ...process.env, TUNAIO_ADMIN_TOKEN: OPERATOR_TOKEN, TUNAIO_ADMIN_PASSWORD: 'fault admin password' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    c.stderr!.setEncoding('utf8').on('data', () => undefined);
    this.child = c;
    await waitFor('center health', async () => (await fetch(`${this.url}/api/health`).catch(() => null))?.ok === true, 90_000, 100);
  }

}

/** A `tunaio agent` child process with a spool, capturing on lo, with a fixed command port. */
export class AgentProcess extends Restartable {
  readonly token: string;
  /** the end of its stderr (all runs), for failure messages */
  log = '';
  constructor(
    readonly name: string,
    readonly port: number,
    readonly args: string[],
  ) {
    super();
    this.token = `fault-agent-${name}-token-0123456789abcdef`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const c = spawn(process.execPath, ['--import', 'tsx', CLI, 'agent', '--name', this.name, '--listen', `127.0.0.1:${this.port}`, ...this.args], {
      cwd: REPO,
      env: { ...process.env, TUNAIO_TOKEN: this.token },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (this.log = (this.log + d).slice(-20_000)));
    this.child = c;
    await waitFor('agent command API', async () => (await fetch(`${this.url}/v1/health`).catch(() => null))?.ok === true, 90_000, 100);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the status document is checked field by field by the scenarios
  async status(): Promise<any> {
    const r = await fetch(`${this.url}/v1/status`, { headers: { authorization: `Bearer ${this.token}` } }).catch(() => null);
    return r?.ok ? r.json() : null;
  }

}

async function killChild(c: ChildProcess | undefined, sig: NodeJS.Signals): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill(sig);
  const t = setTimeout(() => c.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

/** The reference: an independent tcpdump writing every packet of the SIP ports to a file. */
export class Reference {
  private child: ChildProcess | undefined;
  private stopped: Promise<{ keys: string[]; kernelDropped: number }> | undefined;
  constructor(
    readonly file: string,
    readonly bpf: string,
  ) {}

  async start(): Promise<void> {
    const c = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '8192', '-B', '65536', '-Z', 'root', '-w', this.file, this.bpf], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    this.child = c;
    await waitFor('reference tcpdump listening', () => /listening on/.test(err), 10_000, 20);
  }

  /**
   * Stops the capture; the SIP messages in it, as the same keys as `eventKey`, with tcpdump's own drop
   * count. The file is read in a stream by our own capture reader and SIP summary parser (the ones the
   * tshark oracle test holds equal to tshark on the shared captures): tshark needed over 40 minutes
   * for the 224 MB of a 60 s run at 1 000 calls/s; this takes seconds and bounded memory.
   */
  stop(): Promise<{ keys: string[]; kernelDropped: number }> {
    // once: the scenario reads the result, the cleanup's call after it gets the same
    this.stopped ??= this.stopAndRead();
    return this.stopped;
  }

  private async stopAndRead(): Promise<{ keys: string[]; kernelDropped: number }> {
    const c = this.child;
    let err = '';
    c?.stderr?.on('data', (d: string) => (err += d));
    await killChild(c, 'SIGINT');
    this.child = undefined;
    const keys = await sipKeysOfCapture(this.file);
    const m = /(\d+) packets dropped by kernel/.exec(err);
    return { keys, kernelDropped: m ? Number(m[1]) : 0 };
  }
}

/** The SIP messages of a capture file as `eventKey` keys (Call-ID | method or status | CSeq number | CSeq method). */
export async function sipKeysOfCapture(file: string): Promise<string[]> {
  const keys: string[] = [];
  const pipeline = new SipDecodePipeline();
  const onRow = (r: SipRow): void => {
    const [seq, method] = (r.cseq ?? ' ').split(' ');
    keys.push(`${r.callId ?? ''}|${(r.method ?? String(r.status)).toUpperCase()}|${seq}|${method}`);
  };
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) pipeline.push(chunk as Buffer, onRow);
  const end = pipeline.end();
  if (end.error) throw new Error(`reference ${file}: ${end.error.message}`);
  return keys;
}

/** The key of a stored SIP event, comparable with the reference's. */
export const eventKey = (e: Event): string => `${e.call_id}|${label(e)}|${e.sip?.cseq_seq}|${e.sip?.cseq_method}`;

/** The keys of the SIP events among `events`. */
export const sipKeys = (events: Event[]): string[] => events.filter((e) => e.kind === 'sip').map(eventKey);

export interface Tally {
  sent: number;
  stored: number;
  lost: number;
  duplicated: number;
  /** stored events with no message in the reference (0, unless the reference itself dropped packets) */
  unknown: number;
  /** packets the reference tcpdump says the kernel dropped for it */
  referenceDropped: number;
  /** a few keys of each kind of difference, for failure messages */
  samples: { lost: string[]; duplicated: string[]; unknown: string[] };
}

/**
 * The keys of a session's stored SIP events, page by page (only the keys are kept: a 60 s run at
 * 1 000 calls/s stores 360 000 events).
 */
export async function storedSipKeys(api: Api, id: string): Promise<string[]> {
  const keys: string[] = [];
  let after = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = await api.req('GET', `/api/sessions/${id}/events?after=${after}&limit=1000`);
    keys.push(...sipKeys(r.json.events as Event[]));
    after = r.json.next_after as number;
    if (!r.json.more) break;
  }
  return keys;
}

/** Counts the stored SIP events (their `eventKey`s) against the reference's messages (multisets). */
export function tally(ref: { keys: string[]; kernelDropped: number }, stored: string[], keep: (key: string) => boolean = () => true): Tally {
  const want = new Map<string, number>();
  for (const k of ref.keys) if (keep(k)) want.set(k, (want.get(k) ?? 0) + 1);
  const got = new Map<string, number>();
  for (const k of stored) got.set(k, (got.get(k) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  let unknown = 0;
  const samples: Tally['samples'] = { lost: [], duplicated: [], unknown: [] };
  const note = (l: string[], k: string): void => void (l.length < 5 && l.push(k));
  for (const [k, n] of want) {
    const g = got.get(k) ?? 0;
    if (g < n) {
      lost += n - g;
      note(samples.lost, k);
    }
    if (g > n) {
      duplicated += g - n;
      note(samples.duplicated, k);
    }
  }
  for (const [k, g] of got) {
    if (want.has(k)) continue;
    unknown += g;
    note(samples.unknown, k);
  }
  const sent = [...want.values()].reduce((a, b) => a + b, 0);
  return { sent, stored: stored.length, lost, duplicated, unknown, referenceDropped: ref.kernelDropped, samples };
}

/** Registers an agent process on the center (POST /api/agents). */
export async function register(api: Api, a: AgentProcess, tags: string[] = []): Promise<number> {
  const r = await api.req('POST', '/api/agents', { name: a.name, url: a.url, token: a.token, tags });
  if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/agents ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json.id as number;
}

/** Waits until the session's event count reaches `n` (or `ms` pass), then a little longer. */
export async function settleCount(api: Api, id: string, n: number, ms: number): Promise<void> {
  await waitFor(`${n} events in ${id}`, async () => ((await api.detail(id).catch(() => null))?.event_count ?? 0) >= n, ms, 250).catch(() => undefined);
  await sleep(1500);
}

export const spoolFiles = (dir: string): number =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.jsonl') && fs.statSync(path.join(dir, String(f))).size > 0).length
    : 0;

export const report = (scenario: string, t: Tally, extra = ''): void => {
  console.log(`[faults] ${scenario}: sent ${t.sent}, stored ${t.stored}, lost ${t.lost}, duplicated ${t.duplicated}${t.unknown ? `, unknown ${t.unknown}` : ''}${t.referenceDropped ? ` (the reference tcpdump dropped ${t.referenceDropped})` : ''}${extra ? `; ${extra}` : ''}`);
  if (t.lost || t.duplicated || t.unknown) console.log(`[faults] ${scenario}: examples ${JSON.stringify(t.samples)}`);
};
