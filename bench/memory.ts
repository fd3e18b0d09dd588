// memory benchmark (issue 7 item 7): what the agent and the center cost in memory at scale.
// 1. Agent: a real `tunaio agent` with a HEP UDP listener on 127.0.0.1, sessions created on a real
//    `tunaio center` (capture_rtp, so SDP media is tracked too), then 100 000 concurrent dialogs
//    (INVITE(SDP) → 100 → 180 → 200(SDP) → ACK, no BYE) sent as HEP3 (our src/protocol/hep.ts encoder),
//    paced by the agent's socket receive queue (/proc/net/udp) and a rate cap. VmRSS/VmHWM of the agent
//    at 0, 25 k, 50 k and 100 k dialogs, once the agent has read every packet and uploaded every event.
//    Checked: the agent's engine tracks every dialog (dialogs = 100 000, evicted = 0), no UDP drops,
//    and the center stored every event (5 per dialog). A heap snapshot of the last run's agent
//    (--heapsnapshot-signal) says what the heap holds.
// 2. Center: a real `tunaio center`, one session, SSE clients in steps 0 → 100 → 500 → 1 000 on
//    /api/sessions/{id}/stream from a child process (bench/lib/mem-sse-clients.ts) while events are
//    ingested through POST /api/ingest at 50/s; each client's count checked; center VmRSS per step.
// The agent table limit: the agent's engine keeps at most 10 000 dialogs per session (not settable
// from `tunaio agent`), so the 100 000 dialogs are spread over 10 sessions of 10 000 each (one From
// number per session); the global limit (100 000) is the engine default.
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './corpus/corpora.js';
import type { BenchResult, SystemBenchmark } from './lib/bench.js';
import { cmdLine } from './lib/bench.js';
import { summarizeHeap } from './lib/heap-summary.js';
import type { HeapSummary } from './lib/heap-summary.js';
import { Api, Children, memOf, OPERATOR_TOKEN, sleep, startAgent, startCenter, until } from './lib/mem-procs.js';
import type { StepResult } from './lib/mem-sse-clients.js';
import { run as runProc } from './lib/proc.js';
import { median } from './lib/report.js';
import { encodeHep3, HEP_PROTO_TYPE } from '../src/protocol/hep.js';

// ports (this benchmark's range: 5400–5409)
const P_CENTER = 5400;
const P_AGENT_API = 5401;
const P_HEP = 5402;
const P_SSE_CENTER = 5403;
const P_NOBODY = 5404; // the SSE run's agent URL: nothing listens there

// BENCH_MEMORY_DIALOGS: a smaller count while developing (the figures of record use 100 000)
const DIALOGS = Number(process.env.BENCH_MEMORY_DIALOGS ?? 100_000);
const CHECKPOINTS = [DIALOGS / 4, DIALOGS / 2, DIALOGS].map(Math.round);
export const SESSIONS = 10; // the agent's default --max-dialogs-per-session is 10 000
const MSGS_PER_DIALOG = 5;
const RATE_PPS = 12_000; // HEP packets/s cap
const RXQ_MAX = 1 << 20; // bytes waiting in the agent's socket before we pause
const SSE_STEPS = [0, 100, 500, 1000];
const SSE_EVENTS = 200;
const SSE_RATE = 50;
const HEAP_CLASSES = ['CaptureManager', 'MatchEngine', 'Dialog', 'DialogMedia', 'Uploader'];
const AGENT_TOKEN = 'bench-memory-agent-token-0123456789abcdef';

export const sessionNumber = (k: number): string => `4930155500${k}`;

// ---- HEP traffic -------------------------------------------------------------------------------

/** the 5 SIP messages of dialog i (caller → callee via 10.0.0.1 → 10.0.0.2), media per dialog unique */
export function dialogMessages(i: number): { req: boolean; text: string }[] {
  const from = sessionNumber(i % SESSIONS);
  const to = `49302${String(i).padStart(6, '0')}`;
  const cid = `mem-${i}-a84b4c76e66710@bench.invalid`;
  const port = 10000 + 2 * ((i >> 2) % 25000);
  const sdp = (ip: string, sess: number): string =>
    `v=0\r\no=- ${sess} 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\n` +
    `a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
  const a = sdp(`10.1.${i % 4}.1`, i);
  const b = sdp(`10.2.${i % 4}.1`, i + 1);
  const via = `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-${i}-1\r\n`;
  const fromH = `From: "Bench" <sip:${from}@10.0.0.1>;tag=f${i}x\r\n`;
  const toH = `To: <sip:${to}@10.0.0.2>`;
  const common = `Call-ID: ${cid}\r\n`;
  const contact = (u: string, h: string): string => `Contact: <sip:${u}@${h}:5060>\r\n`;
  const resp = (code: string, tag: boolean, body = ''): string =>
    `SIP/2.0 ${code}\r\n${via}${fromH}${toH}${tag ? `;tag=t${i}y` : ''}\r\n${common}CSeq: 1 INVITE\r\n` +
    (body ? `${contact(to, '10.0.0.2')}Content-Type: application/sdp\r\n` : '') +
    `Content-Length: ${body.length}\r\n\r\n${body}`;
  return [
    {
      req: true,
      text:
        `INVITE sip:${to}@10.0.0.2:5060 SIP/2.0\r\n${via}Max-Forwards: 70\r\n${fromH}${toH}\r\n${common}CSeq: 1 INVITE\r\n` +
        `${contact(from, '10.0.0.1')}User-Agent: bench-memory\r\nContent-Type: application/sdp\r\nContent-Length: ${a.length}\r\n\r\n${a}`,
    },
    { req: false, text: resp('100 Trying', false) },
    { req: false, text: resp('180 Ringing', true) },
    { req: false, text: resp('200 OK', true, b) },
    {
      req: true,
      text:
        `ACK sip:${to}@10.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-${i}-2\r\nMax-Forwards: 70\r\n` +
        `${fromH}${toH};tag=t${i}y\r\n${common}CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
    },
  ];
}

function hepOf(m: { req: boolean; text: string }, tsUs: number): Buffer {
  return encodeHep3({
    ipFamily: 2,
    ipProto: 17,
    srcIp: m.req ? '10.0.0.1' : '10.0.0.2',
    dstIp: m.req ? '10.0.0.2' : '10.0.0.1',
    srcPort: 5060,
    dstPort: 5060,
    tsSec: Math.floor(tsUs / 1e6),
    tsUsec: tsUs % 1e6,
    protoType: HEP_PROTO_TYPE.SIP,
    captureId: 2001,
    payload: m.text,
  });
}

/** rx_queue (bytes) and drops of the UDP socket bound to 127.0.0.1:port, from /proc/net/udp */
function udpQueue(port: number): { rx: number; drops: number } {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== local) continue;
    return { rx: parseInt(f[4].split(':')[1], 16), drops: Number(f[f.length - 1]) };
  }
  return { rx: 0, drops: 0 };
}

class HepSender {
  private readonly sock: Socket = createSocket('udp4');
  sent = 0;
  private ready: Promise<void>;
  constructor(private readonly port: number) {
    this.ready = new Promise((r) => this.sock.connect(port, '127.0.0.1', () => r()));
  }

  /** sends dialogs [from, to): bounded by `deadline` (ms since epoch) */
  async dialogs(from: number, to: number, deadline: number): Promise<void> {
    await this.ready;
    const t0 = Date.now();
    const sent0 = this.sent;
    const BURST = 10; // dialogs
    for (let i = from; i < to; i += BURST) {
      if (Date.now() > deadline) throw new Error(`HEP sender: time limit reached at dialog ${i}`);
      // rate cap, then the receive queue
      const ahead = (this.sent - sent0) / RATE_PPS - (Date.now() - t0) / 1000;
      if (ahead > 0.002) await sleep(ahead * 1000);
      for (let k = 0; k < 2000 && udpQueue(this.port).rx > RXQ_MAX; k++) await sleep(2);
      const tsUs = Date.now() * 1000;
      const sends: Promise<void>[] = [];
      for (let d = i; d < Math.min(to, i + BURST); d++) {
        for (const m of dialogMessages(d)) {
          const b = hepOf(m, tsUs);
          sends.push(new Promise((r, j) => this.sock.send(b, (e) => (e ? j(e) : r()))));
          this.sent++;
        }
      }
      await Promise.all(sends);
    }
  }

  close(): void {
    this.sock.close();
  }
}

// ---- agent run ---------------------------------------------------------------------------------

interface AgentStatus {
  sources: { kind: string; counters: Record<string, number> }[];
  captures: { session_id: string; counters: { events: number; events_uploaded: number; events_queued: number; events_spooled: number; dialogs: number; dropped: Record<string, number> } }[];
  engine: Record<string, number>;
  counters: Record<string, number>;
}

interface AgentRun {
  mem: { dialogs: number; rssKb: number; hwmKb: number }[];
  checks: string[];
  problems: string[];
  heap: HeapSummary | null;
  heapFileMb: number;
  /** VmRSS once the snapshot (which runs a full GC first) is written */
  rssAfterGcKb: number;
}

async function agentRun(i: number, work: string, snapshot: boolean, limitS: number): Promise<AgentRun> {
  const dir = join(work, `memory-agent-${i}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kids = new Children();
  const sender = new HepSender(P_HEP);
  const deadline = Date.now() + limitS * 1000;
  const problems: string[] = [];
  const checks: string[] = [];
  try {
    await startCenter(kids, REPO, P_CENTER, join(dir, 'center'));
    const api = new Api(`http://127.0.0.1:${P_CENTER}`);
    const agentId = await api.agent('mem-agent', `http://127.0.0.1:${P_AGENT_API}`, AGENT_TOKEN);
    const agent = await startAgent(kids, REPO, { name: 'mem-agent', token: AGENT_TOKEN, apiPort: P_AGENT_API, hepPort: P_HEP, spool: join(dir, 'spool'), cwd: dir });
    const pid = agent.pid!;
    const aapi = new Api(`http://127.0.0.1:${P_AGENT_API}`, AGENT_TOKEN);
    const status = async (): Promise<AgentStatus> => (await aapi.req('GET', '/v1/status')) as AgentStatus;
    const ids: string[] = [];
    for (let k = 0; k < SESSIONS; k++) ids.push(await api.session(`memory ${k}`, { from: sessionNumber(k) }, agentId, true));
    await until('the agent to run every capture', async () => (await status()).captures.length === SESSIONS, 30_000);
    await sleep(2000);
    const mem: AgentRun['mem'] = [{ dialogs: 0, ...memOf(pid) }];
    let done = 0;
    for (const cp of CHECKPOINTS) {
      await sender.dialogs(done, cp, deadline);
      done = cp;
      const want = done * MSGS_PER_DIALOG;
      // the agent read every datagram, and uploaded every event
      await until(
        `the agent to read ${want} HEP packets`,
        async () => {
          const s = await status();
          const got = s.sources.find((x) => x.kind === 'hep')?.counters.packets ?? 0;
          return got >= want || udpQueue(P_HEP).drops > 0 ? s : null;
        },
        Math.max(10_000, deadline - Date.now()),
      );
      await until(
        'the agent to upload every event',
        async () => {
          const s = await status();
          const ev = s.captures.reduce((n, c) => n + c.counters.events, 0);
          const up = s.captures.reduce((n, c) => n + c.counters.events_uploaded, 0);
          return ev >= want && up >= ev && s.captures.every((c) => c.counters.events_queued === 0 && c.counters.events_spooled === 0);
        },
        Math.max(10_000, deadline - Date.now()),
        500,
      ).catch((e: Error) => problems.push(e.message));
      await sleep(2000);
      mem.push({ dialogs: done, ...memOf(pid) });
      process.stderr.write(`memory: run ${i + 1}: ${done} dialogs, agent VmRSS ${(mem[mem.length - 1].rssKb / 1024).toFixed(1)} MB\n`);
    }
    // checks: every dialog tracked, nothing evicted or dropped, every event stored
    const s = await status();
    const tracked = s.engine.dialogs;
    const evicted = s.engine.dialogsEvicted;
    const perSession = s.captures.map((c) => c.counters.dialogs);
    const drops = udpQueue(P_HEP).drops;
    const dropped = s.captures.flatMap((c) => Object.entries(c.counters.dropped).filter(([, v]) => v > 0).map(([k, v]) => `${k}=${v}`));
    let stored = 0;
    for (const id of ids) {
      const d = await api.req('GET', `/api/sessions/${id}`);
      stored += (d.counts as Record<string, number>).sip;
    }
    checks.push(
      `engine dialogs ${tracked}, evicted ${evicted}, per session ${Math.min(...perSession)}–${Math.max(...perSession)}; HEP packets read ${s.sources.find((x) => x.kind === 'hep')?.counters.packets}, UDP drops ${drops}; SIP events stored on the center ${stored} of ${DIALOGS * MSGS_PER_DIALOG}`,
    );
    if (tracked !== DIALOGS) problems.push(`engine tracks ${tracked} dialogs, not ${DIALOGS}`);
    if (evicted !== 0) problems.push(`${evicted} dialogs evicted`);
    if (drops !== 0) problems.push(`${drops} UDP datagrams dropped by the kernel`);
    if (dropped.length > 0) problems.push(`agent dropped: ${dropped.join(', ')}`);
    if (stored !== DIALOGS * MSGS_PER_DIALOG) problems.push(`center stored ${stored} SIP events, expected ${DIALOGS * MSGS_PER_DIALOG}`);
    let heap: HeapSummary | null = null;
    let heapFileMb = 0;
    let rssAfterGcKb = 0;
    if (snapshot) {
      const before = new Set(readdirSync(dir));
      process.kill(pid, 'SIGUSR2');
      // the snapshot is complete when its size stops changing (bounded)
      const file = await until(
        'the heap snapshot',
        () => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)),
        120_000,
        500,
      );
      let size = -1;
      for (let k = 0; k < 240; k++) {
        await sleep(1000);
        const now = statSync(join(dir, file)).size;
        if (now === size && now > 0) break;
        size = now;
      }
      heapFileMb = size / 1e6;
      rssAfterGcKb = memOf(pid).rssKb;
      heap = summarizeHeap(join(dir, file), HEAP_CLASSES);
    }
    return { mem, checks, problems, heap, heapFileMb, rssAfterGcKb };
  } finally {
    sender.close();
    await kids.stopAll();
    if (!process.env.BENCH_MEMORY_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

// ---- center (SSE) run --------------------------------------------------------------------------

async function sseRun(i: number, work: string, limitS: number): Promise<{ steps: StepResult[]; problems: string[] }> {
  const dir = join(work, `memory-sse-${i}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const kids = new Children();
  try {
    const center = await startCenter(kids, REPO, P_SSE_CENTER, join(dir, 'center'));
    const api = new Api(`http://127.0.0.1:${P_SSE_CENTER}`);
    const agentId = await api.agent('sse-agent', `http://127.0.0.1:${P_NOBODY}`, AGENT_TOKEN);
    const sessionId = await api.session('memory sse', { from: '4930155500' }, agentId, false);
    const jobSpec = {
      base: `http://127.0.0.1:${P_SSE_CENTER}`,
      sessionId,
      operatorToken: OPERATOR_TOKEN,
      agentToken: AGENT_TOKEN,
      centerPid: center.pid!,
      steps: SSE_STEPS,
      eventsPerStep: SSE_EVENTS,
      ratePerS: SSE_RATE,
      limitS: Math.min(limitS, 300),
    };
    const r = await runProc(
      'bash',
      ['-c', `ulimit -n 16384 2>/dev/null || ulimit -n 4096; exec "${process.execPath}" --import tsx "$@"`, 'sse', join(REPO, 'bench/lib/mem-sse-clients.ts'), JSON.stringify(jobSpec)],
      { cwd: REPO, timeoutS: jobSpec.limitS + 60 },
    );
    if (r.code !== 0) throw new Error(`SSE clients exited ${r.code ?? r.signal}: ${r.stderr.slice(-1500)}`);
    const steps = JSON.parse(r.stdout.trim().split('\n').pop()!) as StepResult[];
    const problems: string[] = [];
    for (const st of steps) {
      if (st.connected !== st.clients) problems.push(`${st.clients} clients: only ${st.connected} connected`);
      if (st.missing !== 0 || st.complete !== st.connected) problems.push(`${st.clients} clients: ${st.missing} deliveries missing, ${st.complete} complete`);
    }
    return { steps, problems };
  } finally {
    await kids.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the benchmark -----------------------------------------------------------------------------

const mb = (kb: number): string => (kb / 1024).toFixed(1);

export const memoryBench: SystemBenchmark = {
  name: 'memory',
  corpora: null,
  async run({ runs, work, limitS }): Promise<BenchResult> {
    const n = Math.max(1, Math.min(runs, 3));
    if (!existsSync(join(REPO, 'dist/cli/tunaio.js'))) throw new Error('dist/ is missing: build first (npm run bench builds it)');
    const agentRuns: AgentRun[] = [];
    for (let i = 0; i < n; i++) agentRuns.push(await agentRun(i, work, i === n - 1, Math.min(limitS, 600)));
    const sseRuns: { steps: StepResult[]; problems: string[] }[] = [];
    // BENCH_MEMORY_ONLY=agent skips the center part while developing
    for (let i = 0; i < n && process.env.BENCH_MEMORY_ONLY !== 'agent'; i++) sseRuns.push(await sseRun(i, work, limitS));

    const rows: string[][] = [];
    const at = (k: number, f: (m: AgentRun['mem'][number]) => number): number => median(agentRuns.map((r) => f(r.mem[k])));
    const rss0 = at(0, (m) => m.rssKb);
    agentRuns[0].mem.forEach((m, k) => {
      const rss = at(k, (x) => x.rssKb);
      const hwm = at(k, (x) => x.hwmKb);
      rows.push([
        `agent, ${m.dialogs.toLocaleString('en')} dialogs`,
        mb(rss),
        mb(hwm),
        m.dialogs > 0 ? Math.round(((rss - rss0) * 1024) / m.dialogs).toLocaleString('en') : '—',
        k > 0 ? Math.round(((rss - at(k - 1, (x) => x.rssKb)) * 1024) / (m.dialogs - agentRuns[0].mem[k - 1].dialogs)).toLocaleString('en') : '—',
        k === agentRuns[0].mem.length - 1 ? (rss <= 150 * 1024 ? 'yes (≤ 150 MB)' : 'NO (> 150 MB)') : '',
        '',
      ]);
    });
    const st = (k: number, f: (s: StepResult) => number): number => median(sseRuns.map((r) => f(r.steps[k])));
    const c0 = st(0, (s) => s.rssKb);
    if (sseRuns.length > 0) SSE_STEPS.forEach((clients, k) => {
      const rss = st(k, (s) => s.rssKb);
      rows.push([
        `center, ${clients.toLocaleString('en')} SSE clients`,
        mb(rss),
        mb(st(k, (s) => s.hwmKb)),
        clients > 0 ? Math.round(((rss - c0) * 1024) / clients).toLocaleString('en') : '—',
        k > 0 ? Math.round(((rss - st(k - 1, (s) => s.rssKb)) * 1024) / (clients - SSE_STEPS[k - 1])).toLocaleString('en') : '—',
        '',
        clients > 0 ? `${st(k, (s) => s.firstMs).toFixed(1)} / ${st(k, (s) => s.lastMs).toFixed(1)} / ${st(k, (s) => s.lastMaxMs).toFixed(1)}` : '',
      ]);
    });

    const notes: string[] = [];
    notes.push(
      `Agent: ${DIALOGS.toLocaleString('en')} concurrent dialogs (INVITE with SDP → 100 → 180 → 200 with SDP → ACK, no BYE) sent as HEP3 over UDP to the agent's \`--hep udp:127.0.0.1:${P_HEP}\` listener, ` +
        `paced (≤ ${RATE_PPS.toLocaleString('en')} packets/s, and held while the agent's socket queue in /proc/net/udp is above ${RXQ_MAX >> 10} KiB); ` +
        `${SESSIONS} sessions created on a real \`tunaio center\` with \`capture_rtp\` (media endpoints from the SDP tracked), one From number each, 10 000 dialogs each. ` +
        `Figures are taken once the agent has read every packet and uploaded every event (queue and spool empty) plus 2 s; VmRSS is the agent process's resident size then, VmHWM its peak so far (it includes upload bursts). ` +
        `Bytes per dialog = (VmRSS − VmRSS at 0 dialogs) / dialogs, and the same between consecutive rows (the marginal cost, without the warm-up of heap and upload path that the first dialogs pay). Medians of ${n} runs (one run is long: ${DIALOGS.toLocaleString('en')} dialogs, ${(DIALOGS * MSGS_PER_DIALOG).toLocaleString('en')} events into SQLite).`,
    );
    notes.push('');
    notes.push(
      `Why ${SESSIONS} sessions: the agent tracks at most 10 000 dialogs per session and 100 000 in all by default (\`--max-dialogs-per-session\`, \`--max-dialogs\`); ${SESSIONS} sessions of 10 000 measure the default total without changing a limit.`,
    );
    notes.push('');
    notes.push(`Checked (each run): ${agentRuns.map((r) => r.checks.join('; ')).join(' | ')}.`);
    const probs = [...agentRuns.flatMap((r) => r.problems), ...sseRuns.flatMap((r) => r.problems)];
    notes.push('');
    notes.push(probs.length === 0 ? 'Every check passed (all dialogs tracked, 0 evictions, 0 UDP drops, every event stored; every SSE client received every event).' : `**Problems:** ${probs.join('; ')}.`);
    const last = agentRuns[agentRuns.length - 1];
    if (last.heap) {
      const h = last.heap;
      const perDialog = (b: number): string => `${Math.round(b / DIALOGS).toLocaleString('en')} B/dialog`;
      const cls = (name: string): string => {
        const c = h.classes.find((x) => x.name === name);
        if (!c || c.instances === 0) return `${name}: none`;
        const f = c.fields.filter((x) => x.bytes >= 0.005 * c.retained).map((x) => `${x.edge} ${perDialog(x.bytes)}`);
        return `**${name}** ×${c.instances.toLocaleString('en')} retains ${(c.retained / 1e6).toFixed(1)} MB = ${perDialog(c.retained)}${f.length ? ` (${f.join(', ')})` : ''}`;
      };
      notes.push('');
      notes.push(
        `Agent heap at ${DIALOGS.toLocaleString('en')} dialogs (heap snapshot via \`--heapsnapshot-signal\` at the end of the last run, after a full GC: ${(h.totalBytes / 1e6).toFixed(1)} MB live in ${h.nodes.toLocaleString('en')} objects, ` +
          `i.e. ${perDialog(h.totalBytes)} against ${(last.mem[last.mem.length - 1].rssKb / 1024).toFixed(0)} MB VmRSS just before it). ` +
          `Top retainers (dominator tree; a field's figure is what only that field keeps alive; the Dialog objects are reachable both from the Call-ID map and the LRU list, so they count in MatchEngine but in none of its fields): ${HEAP_CLASSES.map(cls).join('; ')}. ` +
          `Whole SIP texts kept alive by substrings sliced out of them (V8 sliced strings, e.g. the Call-ID, a codec name): ${h.slicedParents.count.toLocaleString('en')} strings, ${(h.slicedParents.bytes / 1e6).toFixed(1)} MB = ${perDialog(h.slicedParents.bytes)} (e.g. "${h.slicedParents.sample.replace(/[\r\n]+/g, ' ')}…"). ` +
          `Self sizes by kind: ${h.groups.map((g) => `${g.name} ${(g.bytes / 1e6).toFixed(1)} MB (${g.count.toLocaleString('en')})`).join(', ')}.`,
      );
    }
    notes.push('');
    notes.push(
      `Center: a real \`tunaio center\`, one session; SSE clients on \`GET /api/sessions/{id}/stream?after=<last id>\` (real HTTP on 127.0.0.1, one connection each, from a child process with \`ulimit -n\` raised) in steps ${SSE_STEPS.join(' → ')}; ` +
        `at each step ${SSE_EVENTS} events (a SIP INVITE with SDP each) are ingested one per \`POST /api/ingest\` at ${SSE_RATE}/s and every client's count is checked. ` +
        `VmRSS is taken after the step's events reached every client; bytes per client = (VmRSS − VmRSS at 0 clients) / clients, and between consecutive rows. ` +
        `Fan-out column: ms from the POST's start to the event at the first / the last client (medians over events), and the worst last client. ` +
        `The center applies no cap on SSE clients (src/center/sse: only a 16 MiB per-client write backlog, then the client is dropped); nothing to raise. Medians of ${n} runs.`,
    );
    notes.push('');
    notes.push(
      `SSE steps per run (clients: connected, complete, idle/after RSS MB): ${sseRuns
        .map((r) => r.steps.map((s) => `${s.clients}: ${s.connected}, ${s.complete}, ${mb(s.rssKbIdle)}/${mb(s.rssKb)}`).join('; '))
        .join(' | ')}.`,
    );
    notes.push('');
    if (probs.length > 0) process.stderr.write(`memory: CHECKS FAILED: ${probs.join('; ')}\n`);
    return {
      table: { headers: ['process', 'VmRSS MB', 'VmHWM MB', 'bytes / unit (vs 0)', 'bytes / unit (vs previous row)', 'target', 'fan-out ms first / last / max'], rows },
      commands: [
        cmdLine('node', ['bin/tunaio.js', 'agent', '--name', 'mem-agent', '--listen', `127.0.0.1:${P_AGENT_API}`, '--hep', `udp:127.0.0.1:${P_HEP}`, '--spool', 'DIR']) + ' (TUNAIO_TOKEN in env)',
        cmdLine('node', ['bin/tunaio.js', 'center', '--port', String(P_CENTER), '--data', 'DIR']),
        `${DIALOGS.toLocaleString('en')} dialogs as HEP3/UDP; ${SSE_STEPS[SSE_STEPS.length - 1]} SSE clients (bench/lib/mem-sse-clients.ts)`,
      ],
      notes,
    };
  },
};
