// Child process of the memory benchmark (center side): opens SSE clients on one session's
// `GET /api/sessions/{id}/stream` in steps (e.g. 0, 100, 500, 1000), and at each step ingests events
// one per POST /api/ingest at a modest rate, checks that every client received every event of the
// step (a count per client), times the fan-out of each event (POST start → first and last client)
// and samples the center's VmRSS/VmHWM. Run as its own process (own fd limit, own event loop); argv[2]
// is the JSON job, the last stdout line the JSON result. Every wait is bounded.
import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';

interface Job {
  base: string;
  sessionId: string;
  operatorToken: string;
  agentToken: string;
  centerPid: number;
  steps: number[];
  eventsPerStep: number;
  ratePerS: number;
  limitS: number;
}

export interface StepResult {
  clients: number;
  connected: number;
  rssKbIdle: number;
  rssKb: number;
  hwmKb: number;
  events: number;
  /** clients that received every event of the step */
  complete: number;
  /** deliveries missing in all (expected − received, over clients) */
  missing: number;
  /** per event: POST start → first client, → last client (ms); medians and max */
  firstMs: number;
  lastMs: number;
  lastMaxMs: number;
  spreadMs: number;
}

const job = JSON.parse(process.argv[2]) as Job;
const deadline = Date.now() + job.limitS * 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const url = new URL(job.base);

function mem(): { rssKb: number; hwmKb: number } {
  const s = readFileSync(`/proc/${job.centerPid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** arrival time (ms) of each seq at the first and the last client, and deliveries per seq */
const first = new Map<number, number>();
const last = new Map<number, number>();
const deliveries = new Map<number, number>();

class Client {
  req: ClientRequest | null = null;
  res: IncomingMessage | null = null;
  connected = false;
  closed = false;
  seen = new Set<number>();
  private tail = '';

  open(after: number): Promise<void> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `/api/sessions/${job.sessionId}/stream?after=${after}`,
          headers: { authorization: `Bearer ${job.operatorToken}`, accept: 'text/event-stream' },
          agent: false,
        },
        (res) => {
          this.res = res;
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (!this.connected) {
              this.connected = true;
              resolve();
            }
            this.onData(d);
          });
          res.on('close', () => {
            this.closed = true;
            resolve();
          });
        },
      );
      req.on('error', () => {
        this.closed = true;
        resolve();
      });
      req.end();
      this.req = req;
    });
  }

  private onData(d: string): void {
    const t = now();
    const text = this.tail + d;
    const cut = text.lastIndexOf('\n\n');
    if (cut < 0) {
      this.tail = text;
      return;
    }
    this.tail = text.slice(cut + 2);
    const re = /"seq":(\d+)/g;
    const body = text.slice(0, cut);
    for (let m = re.exec(body); m !== null; m = re.exec(body)) {
      const seq = Number(m[1]);
      if (this.seen.has(seq)) continue;
      this.seen.add(seq);
      if (!first.has(seq)) first.set(seq, t);
      last.set(seq, t);
      deliveries.set(seq, (deliveries.get(seq) ?? 0) + 1);
    }
  }

  close(): void {
    this.req?.destroy();
  }
}

function sipText(seq: number): string {
  const sdp = `v=0\r\no=- ${seq} 1 IN IP4 10.9.0.1\r\ns=-\r\nc=IN IP4 10.9.0.1\r\nt=0 0\r\nm=audio ${10000 + (seq % 20000) * 2} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n`;
  return (
    `INVITE sip:4930100${seq}@10.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-sse-${seq}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:4930155500@10.0.0.1>;tag=f${seq}\r\nTo: <sip:4930100${seq}@10.0.0.2>\r\nCall-ID: sse-${seq}@bench\r\nCSeq: 1 INVITE\r\n` +
    `Contact: <sip:4930155500@10.0.0.1:5060>\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`
  );
}

async function ingest(seq: number): Promise<void> {
  const body = JSON.stringify({
    events: [
      {
        session_id: job.sessionId,
        seq,
        ts: Date.now() * 1000,
        kind: 'sip',
        transport: 'udp',
        src: { ip: '10.0.0.1', port: 5060 },
        dst: { ip: '10.0.0.2', port: 5060 },
        call_id: `sse-${seq}@bench`,
        sip: { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: '4930155500', to_user: `4930100${seq}`, has_sdp: true },
        payload: sipText(seq),
      },
    ],
  });
  const r = await fetch(`${job.base}/api/ingest`, {
    method: 'POST',
    headers: { authorization: `Bearer ${job.agentToken}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const j = (await r.json()) as { accepted?: number; rejected?: unknown[] };
  if (r.status !== 200 || j.accepted !== 1) throw new Error(`ingest seq ${seq}: ${r.status} ${JSON.stringify(j).slice(0, 300)}`);
}

/** the session's highest event id so far (so new clients skip the history) */
async function lastId(): Promise<number> {
  let after = 0;
  for (let i = 0; i < 10_000; i++) {
    const r = await fetch(`${job.base}/api/sessions/${job.sessionId}/events?after=${after}&limit=1000`, {
      headers: { authorization: `Bearer ${job.operatorToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    const j = (await r.json()) as { next_after: number; more: boolean };
    after = j.next_after;
    if (!j.more) break;
  }
  return after;
}

async function main(): Promise<void> {
  const clients: Client[] = [];
  const results: StepResult[] = [];
  let seq = 0;
  for (const target of job.steps) {
    const after = await lastId();
    // open up to `target`, 50 at a time
    while (clients.length < target && Date.now() < deadline) {
      const batch: Promise<void>[] = [];
      for (let k = 0; k < 50 && clients.length < target; k++) {
        const c = new Client();
        clients.push(c);
        batch.push(c.open(after));
      }
      await Promise.race([Promise.all(batch), sleep(20_000)]);
    }
    const live = clients.filter((c) => c.connected && !c.closed);
    await sleep(1000);
    const idle = mem();
    const steps: number[] = [];
    const t0 = new Map<number, number>();
    const every = 1000 / job.ratePerS;
    const start = now();
    for (let i = 0; i < job.eventsPerStep && Date.now() < deadline; i++) {
      const wait = start + i * every - now();
      if (wait > 0) await sleep(wait);
      seq++;
      steps.push(seq);
      t0.set(seq, now());
      await ingest(seq);
    }
    // wait (bounded) until every live client has every event of the step
    const want = steps.length;
    const mine = (c: Client): number => steps.reduce((n, s) => n + (c.seen.has(s) ? 1 : 0), 0);
    for (let i = 0; i < 200 && live.some((c) => !c.closed && mine(c) < want); i++) await sleep(50);
    const m = mem();
    const firstMs: number[] = [];
    const lastMs: number[] = [];
    const spread: number[] = [];
    for (const s of steps) {
      const a = first.get(s);
      const b = last.get(s);
      if (a === undefined || b === undefined) continue;
      firstMs.push(a - t0.get(s)!);
      lastMs.push(b - t0.get(s)!);
      spread.push(b - a);
    }
    const counts = live.map(mine);
    results.push({
      clients: target,
      connected: clients.filter((c) => c.connected && !c.closed).length,
      rssKbIdle: idle.rssKb,
      rssKb: m.rssKb,
      hwmKb: m.hwmKb,
      events: want,
      complete: counts.filter((n) => n === want).length,
      missing: live.length * want - counts.reduce((a, b) => a + b, 0),
      firstMs: median(firstMs),
      lastMs: median(lastMs),
      lastMaxMs: lastMs.length ? Math.max(...lastMs) : NaN,
      spreadMs: median(spread),
    });
    process.stderr.write(`sse step ${target}: ${JSON.stringify(results[results.length - 1])}\n`);
  }
  for (const c of clients) c.close();
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

const hard = setTimeout(() => {
  process.stderr.write('mem-sse-clients: hard time limit reached\n');
  process.exit(3);
}, job.limitS * 1000 + 30_000);
hard.unref();
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`mem-sse-clients: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
