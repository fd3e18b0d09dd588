// live benchmark (issue 7 item 4): a real center (`tunaio center`) and a real `tunaio agent` capturing
// on `lo` with its own tcpdump, one session whose criterion (--from) matches 1 call in 10, and sipp
// uac → sipp uas pairs on 127.0.0.1 ports 5300–5309 at rising call rates. For each rate step: a
// reference `tcpdump -w` on the same ports gives the SIP packet rate on the wire and the matched
// messages expected (the messages whose From carries the number, read with our decoder); the center's
// API gives what it received; sipp's -trace_stat gives successful/failed calls and retransmissions;
// /proc gives the agent's CPU (node, and its tcpdump child apart) and peak RSS; the agent's status
// gives kernel drops, frames read, decode/queue drops. Also exports the process helpers the latency
// benchmark shares (center + agent start-up, /proc readings).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { cmdLine } from './lib/bench.js';
import type { BenchArgs, BenchResult, SystemBenchmark } from './lib/bench.js';
import { run, stop, waitFor } from './lib/proc.js';
import { fmtRate, median } from './lib/report.js';
import { TUNAIO } from './decode.js';
import { REPO } from './corpus/corpora.js';
import { PacketPipeline } from '../src/agent/sources/pipeline.js';

export const OPERATOR_TOKEN = 'bench-operator-token-0123456789abcdefghijklmnop';
export const AGENT_TOKEN = 'bench-agent-token-0123456789abcdefghijklmnop';
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (center and agent API ports; never in the test ranges by luck: checked). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const testPort = (port >= 5060 && port <= 5099) || (port >= 16000 && port <= 16110) || (port >= 5220 && port <= 5222) || (port >= 5300 && port <= 5319);
    if (!testPort) return port;
  }
  throw new Error('no free port');
}

/** Operator API of the center under test. */
export class CenterApi {
  constructor(readonly base: string) {}

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field
  async req(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
    const r = await fetch(`${this.base}${p}`, {
      method,
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are read field by field
  async must(method: string, p: string, body?: unknown): Promise<any> {
    const r = await this.req(method, p, body);
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }
}

/** Polls `fn` until truthy or `ms` pass (bounded). */
export async function until<T>(what: string, fn: () => Promise<T> | T, ms = 15_000, every = 200): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}

export interface System {
  center: ChildProcess;
  agent: ChildProcess;
  api: CenterApi;
  agentId: number;
  agentUrl: string;
  /** stops both (by pid), always */
  close(): Promise<void>;
  /** GET /v1/status of the agent */
  agentStatus(): Promise<AgentStatus>;
}

export interface AgentStatus {
  sources: { name: string; state: string; counters: Record<string, number> }[];
  captures: { session_id: string; counters: { packets_seen: number; packets_matched: number; events: number; events_uploaded: number; events_queued: number; dropped: Record<string, number> } }[];
  counters: Record<string, number>;
}

/**
 * `tunaio center` and `tunaio agent --interface lo --bpf BPF` from dist/, the agent registered on the
 * center. Tokens go by environment, never argv. `agentNodeArgs` go to the agent's node (--cpu-prof:
 * Node 20 refuses it in NODE_OPTIONS).
 */
export async function startSystem(work: string, tag: string, bpf: string, agentNodeArgs: string[] = []): Promise<System> {
  const dir = join(work, tag);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cport = await freePort();
  const aport = await freePort();
  const children: ChildProcess[] = [];
  const close = async (): Promise<void> => {
    for (const c of children.reverse()) await stop(c, 'SIGTERM');
  };
  try {
    const center = spawn('node', [TUNAIO, 'center', '--port', String(cport), '--host', '127.0.0.1', '--data', join(dir, 'data'), '--reconcile-seconds', '1'], {
      env: { ...process.env, TUNAIO_ADMIN_TOKEN: OPERATOR_TOKEN, TUNAIO_ADMIN_PASSWORD: 'bench admin password', TUNAIO_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(center);
    center.stderr!.on('data', (d: Buffer) => appendLog(join(dir, 'center.err'), d));
    await waitFor(center, /listening on/, 30);
    const agent = spawn('node', [...agentNodeArgs, TUNAIO, 'agent', '--name', `bench-${tag}`, '--listen', `127.0.0.1:${aport}`, '--interface', 'lo', '--bpf', bpf], {
      env: { ...process.env, TUNAIO_TOKEN: AGENT_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
    });
    children.push(agent);
    agent.stderr!.on('data', (d: Buffer) => appendLog(join(dir, 'agent.err'), d));
    await waitFor(agent, /source live:lo: running/, 30);
    const api = new CenterApi(`http://127.0.0.1:${cport}`);
    const agentUrl = `http://127.0.0.1:${aport}`;
    const reg = await api.must('POST', '/api/agents', { name: `bench-${tag}`, url: agentUrl, token: AGENT_TOKEN, enabled: true });
    const agentStatus = async (): Promise<AgentStatus> => {
      const r = await fetch(`${agentUrl}/v1/status`, { headers: { authorization: `Bearer ${AGENT_TOKEN}` }, signal: AbortSignal.timeout(10_000) });
      if (!r.ok) throw new Error(`agent status ${r.status}`);
      return (await r.json()) as AgentStatus;
    };
    return { center, agent, api, agentId: (reg.agent?.id ?? reg.id) as number, agentUrl, close, agentStatus };
  } catch (e) {
    await close();
    throw e;
  }
}

function appendLog(file: string, d: Buffer): void {
  try {
    writeFileSync(file, d, { flag: 'a' });
  } catch {
    // a log we cannot write is not a reason to stop
  }
}

/** Starts a capture session on the agent and waits until the agent captures for it. */
export async function startSession(sys: System, label: string, criteria: Record<string, string>): Promise<string> {
  const s = await sys.api.must('POST', '/api/sessions', { label, criteria, agent_ids: [sys.agentId], duration_seconds: 3600 });
  const id = s.id as string;
  await until('capture running on the agent', async () => (await sys.agentStatus()).captures.some((c) => c.session_id === id), 20_000);
  return id;
}

// ---- /proc

/** utime + stime of a process in seconds (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** VmHWM / VmRSS of a process in MB. */
export function memMb(pid: number): { hwm: number; rss: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
  } catch {
    return { hwm: 0, rss: 0 };
  }
}

/** Children of `ppid` whose command is `comm`. */
export function childrenNamed(ppid: number, comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === ppid && name === comm) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// ---- reference capture

/** A reference `tcpdump -w` (immediate mode, big buffer); stop() returns its kernel drop count. */
export async function referenceCapture(file: string, bpf: string): Promise<{ stop: () => Promise<{ dropped: number; captured: number }> }> {
  const c = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-n', '-s', '8192', '-B', '65536', '-Z', 'root', '-w', file, bpf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor(c, /listening on/, 10);
  return {
    async stop() {
      await stop(c, 'SIGINT');
      return { dropped: Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? NaN), captured: Number(/(\d+) packets? captured/.exec(err)?.[1] ?? NaN) };
    },
  };
}

/**
 * SIP packets in a pcap, the ones whose From carries `number`, and the sustained SIP packet rate:
 * the median of the 1-second bins that hold at least half as many packets as the busiest one (sipp's
 * retransmissions of failed calls trail on for many seconds and would dilute a first-to-last rate).
 */
export function readReference(file: string, number: string): { sip: number; matched: number; packets: number; pps: number } {
  let sip = 0;
  let matched = 0;
  const bins = new Map<number, number>();
  const fromRe = new RegExp(`\\r\\n(From|f):[^\\r\\n]*${number}`, 'i');
  const p = new PacketPipeline((pk) => {
    const head = pk.payload.toString('latin1', 0, Math.min(pk.payload.length, 2048));
    if (!/^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/.test(head)) return;
    sip++;
    const sec = Math.floor(pk.tsUs / 1e6);
    bins.set(sec, (bins.get(sec) ?? 0) + 1);
    if (fromRe.test(head)) matched++;
  });
  const err = p.push(readFileSync(file));
  if (err !== null) throw new Error(`reference capture ${file}: ${err}`);
  p.end();
  const counts = [...bins.values()];
  const peak = counts.length > 0 ? Math.max(...counts) : 0;
  const busy = counts.filter((c) => c >= peak / 2);
  return { sip, matched, packets: p.counters.frames, pps: busy.length > 0 ? median(busy) : 0 };
}

// ---- sipp

const PORT_BASE = 5300;
const MAX_PAIRS = 5; // uas 5300–5304, uac 5305–5309
const CPS_PER_PAIR = 1000;
export const NUMBER = '19995550123';

const UAC_XML = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- live benchmark: INVITE/180/200/ACK/BYE/200, caller from the injection file (field0) -->
<scenario name="bench live uac">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <send retrans="500"><![CDATA[

      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200" crlf="true"/>
</scenario>
`;

interface SippCounts {
  ok: number;
  failed: number;
  retrans: number;
}

/** Last line of a sipp -trace_stat file → cumulative successful/failed calls and retransmissions. */
function sippStat(file: string): SippCounts {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const col = (name: string): number => Number(last[head.indexOf(name)] ?? NaN);
  return { ok: col('SuccessfulCall(C)'), failed: col('FailedCall(C)'), retrans: col('Retransmissions(C)') };
}

async function sippUas(port: number, cwd: string): Promise<number> {
  const r = await run('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(port), '-bg'], { cwd, timeoutS: 15 });
  const m = /PID=\[(\d+)\]/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`sipp uas did not start: ${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

const killPid = (pid: number): void => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
};

interface StepResult {
  cps: number;
  pairs: number;
  sipp: SippCounts;
  wirePps: number;
  sipPackets: number;
  expected: number;
  received: number;
  refDropped: number;
  agentFrames: number;
  refPackets: number;
  kernelDropped: number;
  otherDrops: Record<string, number>;
  agentCpu: number;
  tcpdumpCpu: number;
  peakCpu: number;
  peakTcpdump: number;
  hwmMb: number;
  seconds: number;
}

const STEP_SECONDS = 5;
const MAX_CALLS = 60_000;

/** What drives a step's traffic: sipp pairs, or the UDP replay. Runs to completion, bounded. */
type Drive = (dir: string) => Promise<{ sipp: SippCounts; cleanup?: () => void }>;

/**
 * One step: a new session, a reference capture, the traffic, then what the center received against
 * what the reference capture says it should have, with the agent's counters, CPU and memory.
 */
async function measureStep(sys: System, dir: string, label: string, drive: Drive): Promise<Omit<StepResult, 'cps' | 'pairs'>> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const id = await startSession(sys, label, { from: NUMBER });
  const ref = await referenceCapture(join(dir, 'ref.pcap'), `udp portrange ${PORT_BASE}-${PORT_BASE + 9}`);
  let refStopped = false;
  let cleanup: (() => void) | undefined;
  try {
    const agentPid = sys.agent.pid!;
    const tcpdumpPid = childrenNamed(agentPid, 'tcpdump')[0] ?? 0;
    const before = await sys.agentStatus();
    const cpu0 = cpuSeconds(agentPid);
    const tcpu0 = tcpdumpPid ? cpuSeconds(tcpdumpPid) : 0;
    const t0 = process.hrtime.bigint();
    // CPU sampled each second while the traffic runs: the busiest second is the figure (a failed
    // call's retransmissions can keep sipp alive long after the traffic, which would dilute an average).
    let peakCpu = 0;
    let peakTcpdump = 0;
    let last = { a: cpu0, t: tcpu0, at: Date.now() };
    const sampler = setInterval(() => {
      const cur = { a: cpuSeconds(agentPid), t: tcpdumpPid ? cpuSeconds(tcpdumpPid) : 0, at: Date.now() };
      const dt = (cur.at - last.at) / 1000;
      if (dt > 0.5) {
        peakCpu = Math.max(peakCpu, ((cur.a - last.a) / dt) * 100);
        peakTcpdump = Math.max(peakTcpdump, ((cur.t - last.t) / dt) * 100);
        last = cur;
      }
    }, 1000);
    let sipp: SippCounts;
    try {
      const d = await drive(dir);
      sipp = d.sipp;
      cleanup = d.cleanup;
    } finally {
      clearInterval(sampler);
    }
    await sleep(300); // the last responses reach both captures
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = cpuSeconds(agentPid);
    const tcpu1 = tcpdumpPid ? cpuSeconds(tcpdumpPid) : 0;
    const refStat = await ref.stop();
    refStopped = true;
    cleanup?.();
    cleanup = undefined;
    const refd = readReference(join(dir, 'ref.pcap'), NUMBER);
    // What the center received: wait until it reaches the expectation or stops growing (bounded).
    let received = 0;
    let same = 0;
    for (let i = 0; i < 120 && received < refd.matched && same < 8; i++) {
      await sleep(250);
      const n = (await sys.api.must('GET', `/api/sessions/${id}`)).event_count as number;
      same = n === received ? same + 1 : 0;
      received = n;
    }
    // fresh kernel counters from the agent's tcpdump (SIGUSR1 makes it print them and go on)
    if (tcpdumpPid) {
      try {
        process.kill(tcpdumpPid, 'SIGUSR1');
      } catch {
        // gone
      }
      await sleep(400);
    }
    const after = await sys.agentStatus();
    const src0 = before.sources.find((s) => s.name === 'live:lo')!.counters;
    const src1 = after.sources.find((s) => s.name === 'live:lo')!.counters;
    const cap = after.captures.find((c) => c.session_id === id);
    const otherDrops: Record<string, number> = { ...(cap?.counters.dropped ?? {}) };
    delete otherDrops.kernel_dropped;
    for (const [k, v] of Object.entries(src1)) if (k.startsWith('malformed_') || k === 'stream_errors') if (v - (src0[k] ?? 0) > 0) otherDrops[k] = v - (src0[k] ?? 0);
    for (const k of ['internal_errors', 'sip_parse_errors']) if ((after.counters[k] ?? 0) > (before.counters[k] ?? 0)) otherDrops[k] = after.counters[k] - before.counters[k];
    await sys.api.req('DELETE', `/api/sessions/${id}`);
    return {
      sipp,
      wirePps: refd.pps,
      sipPackets: refd.sip,
      expected: refd.matched,
      received,
      refDropped: refStat.dropped,
      refPackets: refd.packets,
      agentFrames: src1.frames - src0.frames,
      kernelDropped: src1.kernel_dropped - src0.kernel_dropped,
      otherDrops,
      agentCpu: ((cpu1 - cpu0) / seconds) * 100,
      tcpdumpCpu: ((tcpu1 - tcpu0) / seconds) * 100,
      peakCpu,
      peakTcpdump,
      hwmMb: memMb(agentPid).hwm,
      seconds,
    };
  } finally {
    cleanup?.();
    if (!refStopped) await ref.stop().catch(() => undefined);
  }
}

/** The Call-ID prefix of a sipp step's calls (`-cid_str`), which the replay rewrites per pass. */
const callIdPrefix = (runNo: number, cps: number): string => `b${runNo}-${cps}-`;

async function runStep(sys: System, work: string, cps: number, runNo: number): Promise<StepResult> {
  const pairs = Math.min(MAX_PAIRS, Math.max(1, Math.ceil(cps / CPS_PER_PAIR)));
  const calls = Math.min(MAX_CALLS, cps * STEP_SECONDS);
  const perPair = Math.ceil(calls / pairs);
  const ratePer = cps / pairs;
  const r = await measureStep(sys, join(work, `step-${runNo}-${cps}`), `live ${cps} cps run ${runNo}`, async (dir) => {
    writeFileSync(join(dir, 'uac.xml'), UAC_XML);
    // One call in ten carries the number (sequential rows: row 1 of every 10).
    writeFileSync(join(dir, 'callers.csv'), ['SEQUENTIAL', NUMBER, ...Array.from({ length: 9 }, (_, i) => `1555000000${i + 1}`)].join('\n') + '\n');
    const uas: number[] = [];
    const cleanup = (): void => {
      for (const p of uas.splice(0)) killPid(p);
    };
    try {
      for (let i = 0; i < pairs; i++) uas.push(await sippUas(PORT_BASE + i, dir));
      const limitS = perPair / ratePer + 30;
      const uacs = await Promise.all(
        Array.from({ length: pairs }, (_, i) =>
          run(
            'sipp',
            [`127.0.0.1:${PORT_BASE + i}`, '-sf', 'uac.xml', '-inf', 'callers.csv', '-i', '127.0.0.1', '-p', String(PORT_BASE + MAX_PAIRS + i),
              '-m', String(perPair), '-r', String(ratePer), '-nostdin', '-timeout', `${Math.ceil(limitS)}s`,
              '-trace_stat', '-stf', `stat-${i}.csv`, '-fd', '1', '-cid_str', `${callIdPrefix(runNo, cps)}${i}-%u@bench`],
            { cwd: dir, timeoutS: limitS + 5 },
          ),
        ),
      );
      const sipp = { ok: 0, failed: 0, retrans: 0 };
      for (let i = 0; i < pairs; i++) {
        const f = join(dir, `stat-${i}.csv`);
        if (!existsSync(f)) throw new Error(`sipp uac ${i} wrote no statistics (exit ${uacs[i].code}): ${uacs[i].stderr.slice(-400)}`);
        const st = sippStat(f);
        sipp.ok += st.ok;
        sipp.failed += st.failed;
        sipp.retrans += st.retrans;
      }
      return { sipp, cleanup };
    } catch (e) {
      cleanup();
      throw e;
    }
  });
  return { cps, pairs, ...r };
}

const REPLAY = join(REPO, 'bench/lib/udp-replay.ts');

/**
 * A replay step: the SIP datagrams of an earlier sipp step's reference capture sent again by
 * bench/lib/udp-replay.ts at `pps` for REPLAY_SECONDS, with new Call-IDs on every pass.
 */
async function runReplayStep(sys: System, work: string, source: { pcap: string; prefix: string }, pps: number, runNo: number, stepNo: number): Promise<StepResult> {
  const r = await measureStep(sys, join(work, `replay-${runNo}-${pps}`), `live replay ${pps} pps run ${runNo}`, async () => {
    const code = `z${runNo.toString(36)}${stepNo.toString(36)}`;
    const out = await run(process.execPath, ['--import', 'tsx', REPLAY, source.pcap, source.prefix, code, String(pps), String(REPLAY_SECONDS)], {
      cwd: REPO,
      timeoutS: REPLAY_SECONDS + 60,
    });
    if (out.code !== 0) throw new Error(`udp-replay exited ${out.code}: ${out.stderr.slice(-600)}`);
    const res = JSON.parse(out.stdout.trim().split('\n').pop()!) as { sent: number; sendErrors: number };
    // the replay's own count in the sipp columns: sent / send errors / —
    return { sipp: { ok: res.sent, failed: res.sendErrors, retrans: 0 } };
  });
  return { cps: 0, pairs: 0, ...r };
}

export const RATES = [100, 300, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000];
/** packets/s of the replay steps, past sipp's reach */
export const REPLAY_RATES = [10_000, 25_000, 50_000, 75_000];
const REPLAY_SECONDS = 5;
/** the sipp step whose reference capture the replay sends again (its calls, 1 in 10 matching) */
const REPLAY_SOURCE_CPS = 1000;

export const liveBench: SystemBenchmark = {
  name: 'live',
  corpora: null,
  async run(a: Omit<BenchArgs, 'corpus'>): Promise<BenchResult> {
    const work = join(a.work, 'live');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const rates = process.env.BENCH_LIVE_RATES ? process.env.BENCH_LIVE_RATES.split(',').map(Number) : RATES;
    const profDir = process.env.BENCH_PROFILE ? join(work, 'prof') : undefined;
    const sys = await startSystem(work, 'sys', `udp portrange ${PORT_BASE}-${PORT_BASE + 9}`, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
    const results: StepResult[][] = rates.map(() => []);
    const replays: StepResult[][] = REPLAY_RATES.map(() => []);
    const t0 = Date.now();
    let runsDone = 0;
    const report = (r: number, what: string, s: StepResult): void => {
      process.stderr.write(
        `live run ${r + 1} ${what}: ${fmtRate(s.wirePps)} SIP on the wire, expected ${s.expected}, received ${s.received}, sipp ok ${s.sipp.ok} failed ${s.sipp.failed} retrans ${s.sipp.retrans}, kernel drops agent ${s.kernelDropped} ref ${s.refDropped}, agent frames ${s.agentFrames}/${s.refPackets}, CPU agent ${s.agentCpu.toFixed(0)} % (peak ${s.peakCpu.toFixed(0)}) tcpdump ${s.tcpdumpCpu.toFixed(0)} % (peak ${s.peakTcpdump.toFixed(0)}), drops ${JSON.stringify(s.otherDrops)}\n`,
      );
    };
    try {
      for (let r = 0; r < a.runs; r++) {
        let source: { pcap: string; prefix: string } | undefined;
        for (let i = 0; i < rates.length; i++) {
          const s = await runStep(sys, work, rates[i], r);
          results[i].push(s);
          report(r, `${rates[i]} cps`, s);
          if (rates[i] === REPLAY_SOURCE_CPS && s.sipp.ok > 0) source = { pcap: join(work, `step-${r}-${rates[i]}`, 'ref.pcap'), prefix: callIdPrefix(r, rates[i]) };
          // a step where sipp itself fails a tenth of its calls is past what sipp can drive: stop the ramp
          if (s.sipp.failed > 0.1 * (s.sipp.ok + s.sipp.failed)) break;
        }
        if (source !== undefined) {
          for (let i = 0; i < REPLAY_RATES.length; i++) {
            const s = await runReplayStep(sys, work, source, REPLAY_RATES[i], r, i);
            replays[i].push(s);
            report(r, `replay ${fmtRate(REPLAY_RATES[i])}`, s);
          }
        }
        runsDone++;
        if ((Date.now() - t0) / 1000 > Math.max(a.budgetS * 3, 300)) break;
      }
    } finally {
      await sys.close();
    }
    const rows: string[][] = [];
    const bestOf = (sets: StepResult[][]): number => {
      let best = 0;
      for (const rs of sets) if (rs.length > 0 && rs.every((x) => x.expected === x.received)) best = Math.max(best, median(rs.map((x) => x.wirePps)));
      return best;
    };
    const row = (first: string, pairs: string, rs: StepResult[], driver: string): string[] => {
      const sum = (f: (s: StepResult) => number): number => rs.reduce((x, s) => x + f(s), 0);
      const drops: Record<string, number> = {};
      for (const s of rs) for (const [k, v] of Object.entries(s.otherDrops)) drops[k] = (drops[k] ?? 0) + v;
      return [
        first,
        pairs,
        `${rs.length}`,
        driver,
        fmtRate(median(rs.map((s) => s.wirePps))),
        `${sum((s) => s.expected)}`,
        `${sum((s) => s.received)}`,
        `${sum((s) => s.expected - s.received)}`,
        `${sum((s) => s.kernelDropped)} / ${sum((s) => s.refDropped)}`,
        `${sum((s) => s.agentFrames)} / ${sum((s) => s.refPackets)}`,
        Object.keys(drops).length === 0 ? '0' : Object.entries(drops).map(([k, v]) => `${k} ${v}`).join(', '),
        `${median(rs.map((s) => s.agentCpu)).toFixed(0)} / ${median(rs.map((s) => s.peakCpu)).toFixed(0)} %`,
        `${median(rs.map((s) => s.tcpdumpCpu)).toFixed(0)} / ${median(rs.map((s) => s.peakTcpdump)).toFixed(0)} %`,
        `${Math.max(...rs.map((s) => s.hwmMb)).toFixed(0)}`,
      ];
    };
    for (let i = 0; i < rates.length; i++) {
      const rs = results[i];
      if (rs.length === 0) continue;
      const sum = (f: (s: StepResult) => number): number => rs.reduce((x, s) => x + f(s), 0);
      rows.push(row(`${rates[i]} calls/s`, `${rs[0].pairs}`, rs, `${sum((s) => s.sipp.ok)} / ${sum((s) => s.sipp.failed)} / ${sum((s) => s.sipp.retrans)}`));
    }
    for (let i = 0; i < REPLAY_RATES.length; i++) {
      const rs = replays[i];
      if (rs.length === 0) continue;
      const sent = rs.reduce((x, s) => x + s.sipp.ok, 0);
      const errors = rs.reduce((x, s) => x + s.sipp.failed, 0);
      rows.push(row(`replay ${fmtRate(REPLAY_RATES[i])}`, 'replay', rs, `sent ${sent}${errors > 0 ? `, ${errors} send errors` : ''}`));
    }
    const best = bestOf(results);
    const bestReplay = bestOf(replays);
    const notes = [
      `Highest SIP packet rate on the wire with 0 matched messages lost in every run: **${best > 0 ? fmtRate(best) : 'none'}** driven by sipp, **${bestReplay > 0 ? fmtRate(bestReplay) : 'none'}** driven by the replay (target: 0 loss at 50 k/s).`,
      `Replay rows: past what sipp can drive here, the SIP datagrams of the run's ${REPLAY_SOURCE_CPS} calls/s step (its reference capture: real sipp traffic, 1 call in 10 matching) are sent again over 127.0.0.1 from and to their original ports by \`bench/lib/udp-replay.ts\` (its own process) at a fixed packet rate for ${REPLAY_SECONDS} s, with new Call-IDs on every pass over the capture; "sent" is its count. Checked exactly as the sipp steps (reference capture, center's count, agent counters).`,
      `Each step: ${STEP_SECONDS} s of calls (≤ ${MAX_CALLS}) split over N sipp uac → uas pairs (uas on 5300–5304, uac on 5305–5309, 1 000 calls/s per pair at most), 6 SIP messages per call; 1 call in 10 carries From ${NUMBER} (sipp -inf, sequential), the session's criterion (--from). A new session per step.`,
      'Checked per step: expected = messages in the reference tcpdump whose From carries the number (read with our pcap reader and dissector); received = the session\'s event_count on the center (polled until it reaches the expectation or stops growing); the agent\'s frames read against the reference capture\'s packets, kernel drops of the agent\'s tcpdump (fresh via SIGUSR1) and of the reference, and the agent\'s malformed/stream/queue drops ("other drops").',
      'CPU: utime+stime from /proc, the agent (node) and its tcpdump child apart; 100 % = one core; avg = over the step (sipp start to 0.3 s after the last sipp exits, which a failed call\'s retransmissions can stretch), peak = the busiest 1 s sample. RSS: the agent\'s VmHWM (peak) after the step.',
      'SIP pkts/s on wire: from the reference capture, the median of the 1 s bins holding at least half the busiest bin\'s packets (the sustained rate, not diluted by retransmission tails).',
      `Runs: ${runsDone} ramp(s) (one ramp is long: up to ${rates.length} steps, each with its own session and sipp set-up); the packet rate is the median over runs, counts are sums over runs. A ramp stops at a step where sipp itself fails more than 10 % of its calls.`,
    ];
    return {
      table: {
        headers: ['step', 'pairs', 'runs', 'sipp ok / failed / retrans (replay: sent)', 'SIP pkts/s on wire', 'matched expected', 'received', 'lost', 'kernel drops agent / ref', 'frames agent / ref', 'other drops', 'agent CPU avg / peak', 'its tcpdump CPU avg / peak', 'agent RSS peak MB'],
        rows,
      },
      commands: [
        'node bin/tunaio.js center --port P --data DIR (TUNAIO_ADMIN_TOKEN in env)',
        `node bin/tunaio.js agent --name bench-sys --listen 127.0.0.1:P --interface lo --bpf 'udp portrange 5300-5309' (TUNAIO_TOKEN in env)`,
        cmdLine('sipp', ['127.0.0.1:5300', '-sf', 'uac.xml', '-inf', 'callers.csv', '-i', '127.0.0.1', '-p', '5305', '-m', 'N', '-r', 'R', '-nostdin', '-trace_stat']),
        cmdLine('tcpdump', ['-i', 'lo', '--immediate-mode', '-s', '8192', '-B', '65536', '-w', 'ref.pcap', 'udp portrange 5300-5309']),
      ],
      notes,
    };
  },
};
