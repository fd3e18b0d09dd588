// Test support: a small real HTTP server that speaks the center's ingest contract (POST
// /api/ingest, Bearer agent token, {events, counters?} → {accepted, duplicates, rejected}), checks
// every event against the core ingest schema, dedupes on (session_id, seq) like the center, takes
// frames-only batches (POST /api/ingest/frames, deduped on the frame number like the center), and
// records what arrived. It can be stopped and started again on the same port to play an outage.
// Not shipped (tsconfig.build excludes src/**/testing/**).
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ingestBodySchema, ingestEventSchema, type AgentCounters, type IngestEvent } from '../../core/schema/event.js';
import { decodeFrames, type WireFrame } from '../../core/schema/frames.js';

export class IngestServer {
  readonly token: string;
  port = 0;
  events: IngestEvent[] = [];
  counters: AgentCounters[] = [];
  invalid: { reason: string; event: unknown }[] = [];
  duplicates = 0;
  requests = 0;
  private server: Server | undefined;
  private readonly seen = new Set<string>();
  /** frames-only uploads by session, in arrival order, with their numbers */
  frames = new Map<string, (WireFrame & { seq: number })[]>();
  frameDuplicates = 0;
  /** answer frames batches with this status instead (an outage of the frames path only) */
  framesStatus = 200;
  private readonly frameNext = new Map<string, number>();

  constructor(token: string) {
    this.token = token;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/api/ingest`;
  }

  async start(port = this.port): Promise<void> {
    const srv = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        if (req.headers.authorization !== `Bearer ${this.token}`) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"unauthorized","message":"bad token"}}');
          return;
        }
        if (req.url?.startsWith('/api/ingest/frames')) {
          this.takeFrames(new URL(req.url, 'http://x').searchParams, Buffer.concat(chunks), res);
          return;
        }
        let body;
        try {
          body = ingestBodySchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'bad_request', message: String(e) } }));
          return;
        }
        let accepted = 0;
        let duplicates = 0;
        const rejected: { index: number; reason: string }[] = [];
        body.events.forEach((raw, index) => {
          const r = ingestEventSchema.safeParse(raw);
          if (!r.success) {
            this.invalid.push({ reason: r.error.message, event: raw });
            rejected.push({ index, reason: 'invalid' });
            return;
          }
          const key = `${r.data.session_id}|${r.data.seq}`;
          if (this.seen.has(key)) {
            duplicates++;
            return;
          }
          this.seen.add(key);
          this.events.push(r.data);
          accepted++;
        });
        this.duplicates += duplicates;
        if (body.counters) this.counters.push(...body.counters);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted, duplicates, rejected }));
      });
    });
    this.server = srv;
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    this.port = (srv.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private takeFrames(q: URLSearchParams, body: Buffer, res: ServerResponse): void {
    const sid = q.get('session_id') ?? '';
    const first = Number(q.get('first_seq'));
    const frames = decodeFrames(body);
    if (this.framesStatus !== 200 || typeof frames === 'string' || !Number.isSafeInteger(first)) {
      const status = this.framesStatus !== 200 ? this.framesStatus : 400;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'bad_request', message: String(frames) } }));
      return;
    }
    const next = this.frameNext.get(sid) ?? 0;
    const dup = Math.min(frames.length, Math.max(0, next - first));
    const list = this.frames.get(sid) ?? [];
    frames.slice(dup).forEach((f, i) => list.push({ ...f, data: Buffer.from(f.data), seq: first + dup + i }));
    this.frames.set(sid, list);
    this.frameNext.set(sid, Math.max(next, first + frames.length));
    this.frameDuplicates += dup;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: frames.length - dup, duplicates: dup, rejected: 0 }));
  }

  framesOf(sessionId: string): (WireFrame & { seq: number })[] {
    return this.frames.get(sessionId) ?? [];
  }

  of(sessionId: string): IngestEvent[] {
    return this.events.filter((e) => e.session_id === sessionId);
  }

  /** Latest counters reported for a session. */
  countersOf(sessionId: string): AgentCounters | undefined {
    for (let i = this.counters.length - 1; i >= 0; i--) if (this.counters[i].session_id === sessionId) return this.counters[i];
    return undefined;
  }
}

/** Polls until cond() is true or the time is up (bounded); returns cond()'s last value. */
export async function waitFor(cond: () => boolean, ms = 10_000, stepMs = 25): Promise<boolean> {
  for (let t = 0; t < ms / stepMs; t++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}
