import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool } from './spool.js';
import { Uploader, type OutgoingEvent } from './upload.js';

const SESSION = 'aaaaaaaaaaaaaaaaaaaa';
const TOKEN = 'agent-token-0123456789abcdef';

/** A tiny stand-in for the center's ingest: dedupes on seq like the real one, can be taken down. */
class FakeCenter {
  server: Server | undefined;
  port = 0;
  seqs: number[] = [];
  texts: string[] = [];
  batches: number[] = [];
  counters: unknown[] = [];
  duplicates = 0;
  status = 200;
  /** answer each request this much later (a busy center) */
  delayMs = 0;
  private seen = new Set<string>();

  async start(port = this.port): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => setTimeout(() => answer(), this.delayMs));
      const answer = (): void => {
        if (req.headers.authorization !== `Bearer ${TOKEN}`) {
          res.writeHead(401).end('{}');
          return;
        }
        if (this.status !== 200) {
          res.writeHead(this.status).end('{"error":{"code":"x","message":"refused"}}');
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          events: { session_id: string; seq: number; payload: string }[];
          counters?: unknown[];
        };
        let accepted = 0;
        let duplicates = 0;
        for (const e of body.events) {
          if (this.seen.has(`${e.session_id}|${e.seq}`)) {
            duplicates++;
            continue;
          }
          this.seen.add(`${e.session_id}|${e.seq}`);
          this.seqs.push(e.seq);
          this.texts.push(e.payload);
          accepted++;
        }
        this.duplicates += duplicates;
        this.batches.push(body.events.length);
        if (body.counters) this.counters.push(...body.counters);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted, duplicates, rejected: [] }));
      };
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/api/ingest`;
  }
}

const ev = (i: number): OutgoingEvent => ({
  session_id: SESSION,
  ts: 1_700_000_000_000_000 + i,
  kind: 'log',
  transport: null,
  src: null,
  dst: null,
  call_id: null,
  sip: null,
  payload: `line ${i}`,
  rtp: null,
  rtcp: null,
  stats: null,
  log: null,
  callstate: null,
  route: null,
  frame: null,
});

const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  for (let t = 0; t < ms / 20 && !cond(); t++) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
};

let dir: string;
let center: FakeCenter;
const uploaders: Uploader[] = [];
const make = (o: Partial<ConstructorParameters<typeof Uploader>[0]> = {}): Uploader => {
  const u = new Uploader({ token: TOKEN, retryBaseMs: 20, retryMaxMs: 200, ...o });
  uploaders.push(u);
  return u;
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-spool-'));
  center = new FakeCenter();
  await center.start(0);
});
afterEach(async () => {
  for (const u of uploaders.splice(0)) await u.close();
  await center.stop();
  rmSync(dir, { recursive: true, force: true });
});

const expectInOrderOnce = (n: number): void => {
  expect(center.texts).toEqual(Array.from({ length: n }, (_, i) => `line ${i}`));
  for (let i = 1; i < center.seqs.length; i++) expect(center.seqs[i]).toBeGreaterThan(center.seqs[i - 1]);
};

describe('Uploader', () => {
  it('batches at most 1000 events (the center\'s limit per ingest), with strictly increasing seqs, and sends counters along', async () => {
    const u = make({
      countersFor: (s) => ({ session_id: s, packets_seen: 7, packets_matched: 3, dropped: { parse_error: 1 } }),
    });
    for (let i = 0; i < 2500; i++) u.enqueue(SESSION, center.url, ev(i));
    await until(() => center.texts.length === 2500 && u.stats(SESSION)!.uploaded === 2500);
    expectInOrderOnce(2500);
    expect(Math.max(...center.batches)).toBe(1000);
    expect(u.stats(SESSION)).toMatchObject({ uploaded: 2500, queued: 0, dropped: {} });
    expect(center.counters[0]).toMatchObject({ session_id: SESSION, packets_seen: 7, dropped: { parse_error: 1 } });
  });

  it('sends at once when no request is in flight, and batches what comes while one is (Nagle-like)', async () => {
    center.delayMs = 300;
    const u = make();
    u.enqueue(SESSION, center.url, ev(0));
    // the first event is on its way alone (no batching timer); these 50 come while it is in flight
    await until(() => u.stats(SESSION)!.queued === 1 && center.batches.length === 0, 2_000);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 1; i <= 50; i++) u.enqueue(SESSION, center.url, ev(i));
    await until(() => center.texts.length === 51);
    expectInOrderOnce(51);
    expect(center.batches).toEqual([1, 50]);
  });

  it('sends a lone event within the batch interval', async () => {
    const u = make({ batchMs: 50 });
    u.enqueue(SESSION, center.url, ev(0));
    await until(() => center.texts.length === 1, 2_000);
  });

  it('spools while the center is down and flushes in order, exactly once, when it returns', async () => {
    const spool = new Spool(dir, 64 * 1024 * 1024, 16 * 1024);
    const u = make({ spool });
    for (let i = 0; i < 300; i++) u.enqueue(SESSION, center.url, ev(i));
    await until(() => center.texts.length === 300);
    const port = center.port;
    await center.stop();
    for (let i = 300; i < 1500; i++) {
      u.enqueue(SESSION, center.url, ev(i));
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => spool.size > 0 && !u.centerReachable);
    expect(u.stats(SESSION)!.spooled).toBeGreaterThan(0);
    await center.start(port);
    await until(() => center.texts.length === 1500);
    expectInOrderOnce(1500);
    await until(() => spool.size === 0);
    expect(u.stats(SESSION)!.dropped).toEqual({});
  });

  it('survives a restart: spooled events are sent by the next process, and new seqs are never reused', async () => {
    const port = center.port;
    await center.stop();
    const spool1 = new Spool(dir, 64 * 1024 * 1024);
    const u1 = make({ spool: spool1 });
    for (let i = 0; i < 700; i++) u1.enqueue(SESSION, `http://127.0.0.1:${port}/api/ingest`, ev(i));
    await u1.close(); // what was in memory goes to the spool
    expect(spool1.size).toBeGreaterThan(0);

    await center.start(port);
    const spool2 = new Spool(dir, 64 * 1024 * 1024);
    const u2 = make({ spool: spool2 });
    await until(() => center.texts.length === 700);
    for (let i = 700; i < 710; i++) u2.enqueue(SESSION, center.url, ev(i));
    await until(() => center.texts.length === 710);
    expectInOrderOnce(710);
    expect(center.duplicates).toBe(0);
  });

  it('counts what does not fit the spool limit, and delivers what fit', async () => {
    const port = center.port;
    await center.stop();
    const spool = new Spool(dir, 20 * 1024, 4 * 1024);
    const u = make({ spool, retryBaseMs: 50 });
    for (let i = 0; i < 2000; i++) u.enqueue(SESSION, `http://127.0.0.1:${port}/api/ingest`, ev(i));
    await until(() => (u.stats(SESSION)?.dropped.spool_full ?? 0) > 0);
    expect(spool.size).toBeLessThanOrEqual(20 * 1024);
    await center.start(port);
    await until(() => spool.size === 0 && center.texts.length > 0);
    const s = u.stats(SESSION)!;
    expect(center.texts.length + s.dropped.spool_full).toBe(2000);
    for (let i = 1; i < center.seqs.length; i++) expect(center.seqs[i]).toBeGreaterThan(center.seqs[i - 1]);
  });

  it('without a spool, bounds the memory queue in bytes and counts the overflow', async () => {
    await center.stop();
    const size = Buffer.byteLength(JSON.stringify({ ...ev(100), seq: Date.now() * 1000 }));
    const u = make({ queueMaxBytes: 100 * size });
    let ok = 0;
    for (let i = 100; i < 350; i++) if (u.enqueue(SESSION, 'http://127.0.0.1:9/api/ingest', ev(i))) ok++;
    expect(ok).toBeGreaterThanOrEqual(95);
    expect(ok).toBeLessThanOrEqual(100);
    expect(u.stats(SESSION)!.dropped.queue_full).toBe(250 - ok);
    expect(u.memory.bytes).toBeLessThanOrEqual(100 * size);
  });

  it('gives each session a fair share: a flooding session loses its own overflow, a quiet one loses nothing', async () => {
    const QUIET = 'bbbbbbbbbbbbbbbbbbbb';
    center.delayMs = 200; // a busy center: the busy session piles up while its batch is on its way
    const u = make({ queueMaxBytes: 64 * 1024 });
    for (let i = 0; i < 5000; i++) {
      u.enqueue(SESSION, center.url, ev(i));
      if (i % 50 === 0) expect(u.enqueue(QUIET, center.url, { ...ev(i), session_id: QUIET })).toBe(true);
    }
    expect(u.stats(SESSION)!.dropped.queue_full).toBeGreaterThan(0);
    expect(u.stats(QUIET)!.dropped).toEqual({});
    await until(() => u.stats(QUIET)!.uploaded === 100);
  });

  it('with a spool, a full memory queue spills instead of dropping: every event arrives once', async () => {
    center.delayMs = 100;
    const spool = new Spool(dir, 64 * 1024 * 1024, 16 * 1024);
    const u = make({ spool, queueMaxBytes: 16 * 1024 });
    for (let i = 0; i < 3000; i++) expect(u.enqueue(SESSION, center.url, ev(i))).toBe(true);
    expect(u.memory.bytes).toBeLessThanOrEqual(16 * 1024);
    expect(u.stats(SESSION)!.spooled).toBeGreaterThan(0);
    await until(() => center.texts.length === 3000 && spool.size === 0);
    expectInOrderOnce(3000);
    expect(center.duplicates).toBe(0);
    expect(u.stats(SESSION)!.dropped).toEqual({});
  });

  it('with a spool, events the center does not acknowledge reach the disk within spillAfterMs, even while their batch is on its way', async () => {
    center.delayMs = 1500; // the center takes the batch but answers late
    const spool = new Spool(dir, 64 * 1024 * 1024);
    const u = make({ spool });
    for (let i = 0; i < 20; i++) u.enqueue(SESSION, center.url, ev(i));
    expect(spool.size).toBe(0);
    // 100 ms by default; the check waits longer so that a loaded machine does not fail it
    await until(() => u.stats(SESSION)!.spooled === 20, 1000);
    expect(u.stats(SESSION)!.queued).toBe(0);
    // a second spool over the same folder (what a restart after kill -9 would read) holds them all
    const after = new Spool(dir, 64 * 1024 * 1024);
    expect(after.peek(SESSION, 100)).toHaveLength(20);
    // the late answer acknowledges them on disk: nothing sent twice
    await until(() => center.texts.length === 20 && spool.size === 0, 5000);
    expectInOrderOnce(20);
    expect(center.duplicates).toBe(0);
    expect(u.stats(SESSION)!.uploaded).toBe(20);
  });

  it('keeps its per-session counters across a restart (state file next to the spool)', async () => {
    const spool1 = new Spool(dir, 64 * 1024 * 1024);
    const u1 = make({ spool: spool1 });
    for (let i = 0; i < 30; i++) u1.enqueue(SESSION, center.url, ev(i));
    await until(() => u1.stats(SESSION)!.uploaded === 30);
    await u1.close();
    const u2 = make({ spool: new Spool(dir, 64 * 1024 * 1024) });
    expect(u2.stats(SESSION)).toMatchObject({ uploaded: 30 });
    for (let i = 30; i < 40; i++) u2.enqueue(SESSION, center.url, ev(i));
    await until(() => u2.stats(SESSION)!.uploaded === 40);
  });

  it('creates the spool, its segments and its state files readable by the agent\'s user only (0700 / 0600)', async () => {
    await center.stop();
    const spool = new Spool(join(dir, 'spool'), 64 * 1024 * 1024);
    const u = make({ spool });
    for (let i = 0; i < 20; i++) u.enqueue(SESSION, 'http://127.0.0.1:9/api/ingest', ev(i));
    await until(() => spool.size > 0);
    await u.close();
    const modes: string[] = [];
    const walk = (d: string): void => {
      modes.push(`${(statSync(d).mode & 0o777).toString(8)} ${d.slice(dir.length)}`);
      for (const f of readdirSync(d, { withFileTypes: true })) {
        if (f.isDirectory()) walk(join(d, f.name));
        else modes.push(`${(statSync(join(d, f.name)).mode & 0o777).toString(8)} ${join(d, f.name).slice(dir.length)}`);
      }
    };
    walk(join(dir, 'spool'));
    expect(modes.some((m) => m.endsWith('.jsonl')) && modes.some((m) => m.endsWith('upload-counters.json'))).toBe(true);
    for (const m of modes) expect(m, m).toMatch(/^(700|600) /);
  });

  it('drops and counts batches the center refuses for good (404: session unknown)', async () => {
    center.status = 404;
    const u = make();
    for (let i = 0; i < 10; i++) u.enqueue(SESSION, center.url, ev(i));
    await until(() => (u.stats(SESSION)?.dropped.http_404 ?? 0) === 10);
    expect(u.stats(SESSION)!.last_error).toMatch(/404/);
  });

  it('keeps retrying on 503 and delivers once the center recovers', async () => {
    center.status = 503;
    const u = make();
    for (let i = 0; i < 20; i++) u.enqueue(SESSION, center.url, ev(i));
    await until(() => (u.stats(SESSION)?.failures ?? 0) >= 2);
    center.status = 200;
    await until(() => center.texts.length === 20);
    expectInOrderOnce(20);
  });

  it('sends counters alone as a heartbeat, and events queued meanwhile still go out', async () => {
    const u = make({ countersFor: (s) => ({ session_id: s, packets_seen: 42, packets_matched: 0 }) });
    u.heartbeat(SESSION, center.url);
    u.enqueue(SESSION, center.url, ev(0)); // while the heartbeat is in flight
    await until(() => center.texts.length === 1);
    expect(center.batches[0]).toBe(0);
    expect(center.counters[0]).toMatchObject({ session_id: SESSION, packets_seen: 42 });
  });
});
