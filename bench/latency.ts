// latency benchmark (issue 7 item 6): wire to browser. A UDP sender in this process puts SIP on lo
// (127.0.0.1:5308 → :5309, a sequence number in an X-Bench-Seq header, the send time kept here); the
// real `tunaio agent` captures it with its tcpdump and uploads it; the real `tunaio center` stores it
// and pushes it to an SSE client (`GET /api/sessions/{id}/stream` over real HTTP, in this process),
// which reads the number back from the event's payload. Latency = SSE arrival − send, same clock.
// At 100 and 5 000 events/s, 10 s each, p50/p99/max. A second system whose agent uploads through a
// timing proxy in front of the center's ingest splits the path: wire → agent POST at the proxy
// (tcpdump + agent decode/match + batching + HTTP), the ingest request itself, center answer → SSE.
import dgram from 'node:dgram';
import http from 'node:http';
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import type { BenchArgs, BenchResult, SystemBenchmark } from './lib/bench.js';
import { median } from './lib/report.js';
import { NUMBER, OPERATOR_TOKEN, freePort, sleep, startSession, startSystem } from './live.js';
import type { System } from './live.js';

const SRC_PORT = 5308;
const DST_PORT = 5309;
const SECONDS = 10;
const RATES = [100, 5000];
const now = (): number => performance.now();

function sipMessage(seq: number, rate: number, run: string): Buffer {
  const callId = `lat-${run}-${rate}-${Math.floor(seq / 100)}@bench`;
  return Buffer.from(
    `OPTIONS sip:probe@127.0.0.1:${DST_PORT} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:${SRC_PORT};branch=z9hG4bK-${run}-${rate}-${seq}\r\n` +
      `From: <sip:${NUMBER}@127.0.0.1>;tag=lat${run}\r\n` +
      `To: <sip:probe@127.0.0.1>\r\n` +
      `Call-ID: ${callId}\r\n` +
      `CSeq: ${seq + 1} OPTIONS\r\n` +
      `X-Bench-Seq: ${seq}\r\n` +
      `Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
  );
}

const SEQ_RE = /X-Bench-Seq: (\d+)/;

interface Pass {
  rate: number;
  sent: number;
  got: number;
  lat: number[];
  /** capture time (event ts) − send time, ms */
  capture: number[];
}

/** An SSE client of the session: calls `on(event, arrival)` for each event; close() ends it. */
function sseClient(base: string, sessionId: string, on: (e: { payload: string | null; ts: number }, at: number) => void): { close: () => void; ready: Promise<void> } {
  let req: http.ClientRequest | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    req = http.get(`${base}/api/sessions/${sessionId}/stream`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE ${res.statusCode}`));
      resolve();
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (d: string) => {
        const at = now();
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data === undefined || !/^event: sip$/m.test(block)) continue;
          on(JSON.parse(data.slice(6)) as { payload: string | null; ts: number }, at);
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', reject);
  });
  return { ready, close: () => req?.destroy() };
}

async function pass(sys: System, rate: number, run: string, parts?: Map<number, { in: number; out: number }>): Promise<Pass & { parts?: { toProxy: number[]; ingest: number[]; toSse: number[] } }> {
  const id = await startSession(sys, `latency ${rate}/s ${run}`, { from: NUMBER });
  const total = rate * SECONDS;
  const sentAt = new Float64Array(total).fill(NaN);
  const arrived = new Float64Array(total).fill(NaN);
  const capture: number[] = [];
  const epochMs = performance.timeOrigin;
  const sse = sseClient(sys.api.base, id, (e, at) => {
    const m = e.payload === null ? null : SEQ_RE.exec(e.payload);
    if (!m) return;
    const seq = Number(m[1]);
    if (seq >= total || !Number.isNaN(arrived[seq])) return;
    arrived[seq] = at;
    capture.push(e.ts / 1000 - (epochMs + sentAt[seq]));
  });
  const sink = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  try {
    await sse.ready;
    await new Promise<void>((r) => sink.bind(DST_PORT, '127.0.0.1', () => r()));
    await new Promise<void>((r) => tx.bind(SRC_PORT, '127.0.0.1', () => r()));
    const t0 = now();
    let sent = 0;
    // Paced in 2 ms ticks: what is due by now goes out (bounded by total and by time).
    while (sent < total && now() - t0 < SECONDS * 1000 + 5000) {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate) + 1);
      for (; sent < due; sent++) {
        const msg = sipMessage(sent, rate, run);
        sentAt[sent] = now();
        tx.send(msg, DST_PORT, '127.0.0.1');
      }
      await sleep(2);
    }
    // the last events arrive (bounded)
    for (let i = 0; i < 100; i++) {
      let got = 0;
      for (let s = 0; s < sent; s++) if (!Number.isNaN(arrived[s])) got++;
      if (got >= sent) break;
      await sleep(100);
    }
    const lat: number[] = [];
    for (let s = 0; s < sent; s++) if (!Number.isNaN(arrived[s])) lat.push(arrived[s] - sentAt[s]);
    let p: { toProxy: number[]; ingest: number[]; toSse: number[] } | undefined;
    if (parts) {
      p = { toProxy: [], ingest: [], toSse: [] };
      for (let s = 0; s < sent; s++) {
        const x = parts.get(s);
        if (!x || Number.isNaN(arrived[s])) continue;
        p.toProxy.push(x.in - sentAt[s]);
        p.ingest.push(x.out - x.in);
        p.toSse.push(arrived[s] - x.out);
      }
    }
    return { rate, sent, got: lat.length, lat, capture, ...(p ? { parts: p } : {}) };
  } finally {
    sse.close();
    tx.close();
    sink.close();
    await sys.api.req('DELETE', `/api/sessions/${id}`).catch(() => undefined);
  }
}

/**
 * A pass-through HTTP proxy in front of the center that notes, for each X-Bench-Seq in an ingest
 * batch, when the agent's POST arrived and when the center answered it.
 */
async function timingProxy(target: () => string): Promise<{ url: string; parts: Map<number, { in: number; out: number }>; close: () => Promise<void> }> {
  const parts = new Map<number, { in: number; out: number }>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const tIn = now();
      const body = Buffer.concat(chunks);
      const up = http.request(`${target()}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        const rc: Buffer[] = [];
        r.on('data', (c: Buffer) => rc.push(c));
        r.on('end', () => {
          const tOut = now();
          if (req.url === '/api/ingest') {
            const re = /X-Bench-Seq: (\d+)/g;
            const text = body.toString('utf8');
            for (let m = re.exec(text); m !== null; m = re.exec(text)) parts.set(Number(m[1]), { in: tIn, out: tOut });
          }
          res.writeHead(r.statusCode ?? 502, r.headers);
          res.end(Buffer.concat(rc));
        });
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    parts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const pct = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const ms = (x: number): string => (Number.isNaN(x) ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));

export const latencyBench: SystemBenchmark = {
  name: 'latency',
  corpora: null,
  async run(a: Omit<BenchArgs, 'corpus'>): Promise<BenchResult> {
    const work = join(a.work, 'latency');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const bpf = `udp port ${DST_PORT}`;
    const results = new Map<number, Pass[]>(RATES.map((r) => [r, []]));
    const sys = await startSystem(work, 'direct', bpf);
    const t0 = Date.now();
    let runs = 0;
    try {
      for (let r = 0; r < a.runs; r++) {
        for (const rate of RATES) {
          const p = await pass(sys, rate, `r${r}`);
          results.get(rate)!.push(p);
          process.stderr.write(`latency run ${r + 1} ${rate}/s: ${p.got}/${p.sent} events, p50 ${ms(pct(p.lat, 0.5))} ms, p99 ${ms(pct(p.lat, 0.99))} ms, max ${ms(Math.max(...p.lat))} ms\n`);
        }
        runs++;
        if ((Date.now() - t0) / 1000 > a.budgetS) break;
      }
    } finally {
      await sys.close();
    }
    // The split: an agent that uploads through the timing proxy (one pass per rate).
    const partRows: string[] = [];
    let centerUrl = '';
    const proxy = await timingProxy(() => centerUrl);
    try {
      const sys2 = await startSystemWithPublicUrl(work, bpf, proxy.url, (u) => (centerUrl = u));
      try {
        for (const rate of RATES) {
          proxy.parts.clear();
          const p = await pass(sys2, rate, 'split', proxy.parts);
          const q = p.parts!;
          partRows.push(
            `- ${rate}/s through the proxy (${p.got}/${p.sent} events, end to end p50 ${ms(pct(p.lat, 0.5))} / p99 ${ms(pct(p.lat, 0.99))} ms): ` +
              `wire → kernel capture stamp p50 ${ms(pct(p.capture, 0.5))} ms; wire → agent's POST at the proxy (tcpdump, agent decode/match, batching, HTTP) p50 ${ms(pct(q.toProxy, 0.5))} / p99 ${ms(pct(q.toProxy, 0.99))} ms; ` +
              `ingest request (center parse, store, answer) p50 ${ms(pct(q.ingest, 0.5))} / p99 ${ms(pct(q.ingest, 0.99))} ms; center's answer → SSE client p50 ${ms(pct(q.toSse, 0.5))} / p99 ${ms(pct(q.toSse, 0.99))} ms (the center pushes to SSE before it answers the ingest request, so this part can be near zero or negative).`,
          );
        }
      } finally {
        await sys2.close();
      }
    } finally {
      await proxy.close();
    }
    const rows = RATES.map((rate) => {
      const ps = results.get(rate)!;
      const sent = ps.reduce((x, p) => x + p.sent, 0);
      const got = ps.reduce((x, p) => x + p.got, 0);
      return [
        `${rate}`,
        `${ps.length}`,
        `${got} / ${sent}`,
        ms(median(ps.map((p) => pct(p.lat, 0.5)))),
        ms(median(ps.map((p) => pct(p.lat, 0.99)))),
        ms(Math.max(...ps.map((p) => Math.max(...p.lat)))),
        rate === 100 ? '≤ 100 / ≤ 250' : '≤ 100 / ≤ 250',
      ];
    });
    return {
      table: { headers: ['events/s', 'runs', 'events received / sent', 'p50 ms', 'p99 ms', 'max ms', 'target p50 / p99 ms'], rows },
      commands: [
        'node bin/tunaio.js center --port P --data DIR (TUNAIO_ADMIN_TOKEN in env)',
        `node bin/tunaio.js agent --name bench-direct --listen 127.0.0.1:P --interface lo --bpf 'udp port ${DST_PORT}' (TUNAIO_TOKEN in env)`,
        `UDP sender 127.0.0.1:${SRC_PORT} → :${DST_PORT} (SIP OPTIONS, From ${NUMBER}, X-Bench-Seq), SSE client GET /api/sessions/{id}/stream, both in the bench process`,
      ],
      notes: [
        `Each pass: ${SECONDS} s of SIP OPTIONS at the rate (paced in 2 ms ticks), each with its own X-Bench-Seq and CSeq, 100 per Call-ID, all matching the session's --from criterion; a new session per pass. Latency = arrival of the event at the SSE client − the send call, both on this process's monotonic clock.`,
        `Runs: ${runs} per rate; p50/p99 are medians over runs of each run's percentile, max is the largest over all runs.`,
        'Path split (a second center + agent whose ingest URL points at a pass-through timing proxy in this process, so these figures include one extra HTTP hop):',
        ...partRows,
      ],
    };
  },
};

/** startSystem, but the center hands agents an ingest URL through `publicUrl` (the timing proxy). */
async function startSystemWithPublicUrl(work: string, bpf: string, publicUrl: string, onCenter: (url: string) => void): Promise<System> {
  const prev = process.env.TUNAIO_PUBLIC_URL;
  process.env.TUNAIO_PUBLIC_URL = publicUrl;
  try {
    const sys = await startSystem(work, 'split', bpf);
    onCenter(sys.api.base);
    return sys;
  } finally {
    if (prev === undefined) delete process.env.TUNAIO_PUBLIC_URL;
    else process.env.TUNAIO_PUBLIC_URL = prev;
  }
}
