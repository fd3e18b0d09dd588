// The frames-only upload path (core/schema/frames.ts): original frames for the center's per-agent
// PCAP that travel without an event (every RTP/RTCP packet of a capture_pcap + capture_rtp session,
// the earlier frames of a SIP message split over TCP segments or IP fragments). Separate from the
// event uploader (upload.ts) on purpose: frames are bulk, need no low latency, no spool and no seq
// shared with events; they must not slow events down nor share their queue.
//
// Per session ("lane"): frames are encoded once into their wire records and queued in memory;
// one request at a time per lane, so frames reach the center in capture order. A batch leaves when
// `batchMaxBytes` is queued or `lingerMs` after its first frame (200 ms: ~10 RTP packets per
// stream per request instead of one request each). A batch that fails for a transient reason
// (network, 5xx, 401, 408, 429) is re-sent as it was, same numbers: the center stores nothing twice.
//
// Numbering: frame numbers start at the lane's creation time in µs since the epoch and grow by one a
// frame, so they never repeat across an agent restart (unless it sent more than a million frames a
// second, which a capture does not) and need no state on disk.
//
// Bounded: `queueMaxBytes` across lanes (a lane may hold at most its fair share); a frame that does
// not fit is dropped and counted (`frames_queue_full`), as are frames the center refused
// (`frames_<reason>`: session_capped, no_pcap, session_closed…) or a batch refused for good
// (`frames_http_<status>`). Every drop goes to `onDrop`, which the capture manager adds to the
// session's counters (agent status, the session page, /metrics).
import http from 'node:http';
import https from 'node:https';
import { encodeFrame, FRAMES_CONTENT_TYPE, FRAMES_MAX_PER_BATCH } from '../core/schema/index.js';
import type { FramesResult, WireFrame } from '../core/schema/index.js';

export interface FrameUploaderOptions {
  /** the agent token, sent as `Authorization: Bearer` */
  token: string;
  /** called for every frame lost, with the reason (frames_queue_full, frames_session_capped…) */
  onDrop: (sessionId: string, reason: string, n: number) => void;
  lingerMs?: number;
  batchMaxBytes?: number;
  queueMaxBytes?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  /** wall clock in µs, where a lane's frame numbers start (tests may fix it) */
  nowUs?: () => number;
}

export interface FrameLaneStats {
  queued: number;
  uploaded: number;
  duplicates: number;
  rejected: number;
  batches: number;
  failures: number;
  last_error?: string;
}

interface Lane {
  sessionId: string;
  url: string;
  /** number of the first queued frame */
  nextSeq: number;
  queue: Buffer[];
  queueBytes: number;
  /** frames of the queue's head in the request on its way (they stay queued until answered) */
  inflight: number;
  timer: NodeJS.Timeout | undefined;
  attempt: number;
  closing: boolean;
  stats: FrameLaneStats;
}

const MAX_ANSWER = 64 * 1024;

/** The frames URL of an ingest URL: `…/api/ingest` → `…/api/ingest/frames`. */
export const framesUrlOf = (ingestUrl: string): string => `${ingestUrl.replace(/\/+$/, '')}/frames`;

export class FrameUploader {
  private readonly o: Required<Omit<FrameUploaderOptions, 'nowUs'>> & Pick<FrameUploaderOptions, 'nowUs'>;
  private readonly lanes = new Map<string, Lane>();
  private readonly done = new Map<string, FrameLaneStats>();
  private bytes = 0;
  private closed = false;
  private readonly http = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly https = new https.Agent({ keepAlive: true, maxSockets: 8 });

  constructor(opts: FrameUploaderOptions) {
    this.o = {
      lingerMs: 200,
      batchMaxBytes: 1024 * 1024,
      queueMaxBytes: 32 * 1024 * 1024,
      retryBaseMs: 200,
      retryMaxMs: 5_000,
      requestTimeoutMs: 10_000,
      ...opts,
    };
  }

  /** Queues one frame of a session. Never blocks, never throws; false when it was dropped. */
  enqueue(sessionId: string, ingestUrl: string, frame: WireFrame): boolean {
    if (this.closed) return false;
    let lane = this.lanes.get(sessionId);
    if (!lane) {
      const start = Math.trunc(this.o.nowUs ? this.o.nowUs() : Date.now() * 1000);
      lane = {
        sessionId,
        url: framesUrlOf(ingestUrl),
        nextSeq: start,
        queue: [],
        queueBytes: 0,
        inflight: 0,
        timer: undefined,
        attempt: 0,
        closing: false,
        stats: this.done.get(sessionId) ?? { queued: 0, uploaded: 0, duplicates: 0, rejected: 0, batches: 0, failures: 0 },
      };
      this.done.delete(sessionId);
      this.lanes.set(sessionId, lane);
    }
    lane.closing = false;
    const rec = encodeFrame(frame);
    const share = this.o.queueMaxBytes / this.lanes.size;
    if (this.bytes + rec.length > this.o.queueMaxBytes || lane.queueBytes + rec.length > share) {
      this.o.onDrop(sessionId, 'frames_queue_full', 1);
      return false;
    }
    lane.queue.push(rec);
    lane.queueBytes += rec.length;
    lane.stats.queued++;
    this.bytes += rec.length;
    if (lane.inflight === 0 && lane.timer === undefined) this.schedule(lane, lane.queueBytes >= this.o.batchMaxBytes ? 0 : this.o.lingerMs);
    return true;
  }

  /** No more frames for this session: what is queued is still sent, then the lane goes. */
  closeSession(sessionId: string): void {
    const lane = this.lanes.get(sessionId);
    if (!lane) return;
    lane.closing = true;
    if (lane.queue.length === 0 && lane.inflight === 0) this.retire(lane);
    else if (lane.inflight === 0) this.schedule(lane, 0);
  }

  stats(sessionId: string): FrameLaneStats | undefined {
    const l = this.lanes.get(sessionId);
    return l ? { ...l.stats, queued: l.queue.length } : this.done.get(sessionId);
  }

  /** Sends everything queued now (tests, shutdown); gives up after `maxMs`. */
  async flush(maxMs = 10_000): Promise<void> {
    const until = Date.now() + maxMs;
    for (const l of this.lanes.values()) if (l.inflight === 0 && l.queue.length > 0) this.schedule(l, 0);
    while ([...this.lanes.values()].some((l) => l.queue.length > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  async close(): Promise<void> {
    await this.flush(2_000);
    this.closed = true;
    for (const l of this.lanes.values()) {
      if (l.timer) clearTimeout(l.timer);
      if (l.queue.length > 0) this.o.onDrop(l.sessionId, 'frames_shutdown', l.queue.length);
    }
    this.lanes.clear();
    this.http.destroy();
    this.https.destroy();
  }

  private schedule(lane: Lane, ms: number): void {
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      void this.sendBatch(lane);
    }, ms);
    lane.timer.unref();
  }

  private retire(lane: Lane): void {
    if (lane.timer) clearTimeout(lane.timer);
    this.lanes.delete(lane.sessionId);
    this.done.set(lane.sessionId, lane.stats);
    if (this.done.size > 1000) this.done.delete(this.done.keys().next().value as string);
  }

  private async sendBatch(lane: Lane): Promise<void> {
    if (this.closed || lane.inflight > 0 || lane.queue.length === 0) return;
    let n = 0;
    let size = 0;
    while (n < lane.queue.length && n < FRAMES_MAX_PER_BATCH && (n === 0 || size + lane.queue[n].length <= this.o.batchMaxBytes)) size += lane.queue[n++].length;
    lane.inflight = n;
    const firstSeq = lane.nextSeq;
    const body = Buffer.concat(lane.queue.slice(0, n), size);
    const url = `${lane.url}?session_id=${lane.sessionId}&first_seq=${firstSeq}`;
    let outcome: { result?: FramesResult; permanent?: string; error?: string };
    try {
      const res = await this.post(url, body);
      if (res.status >= 200 && res.status < 300) {
        const r = JSON.parse(res.text) as FramesResult;
        outcome = typeof r.accepted === 'number' ? { result: r } : { error: `POST ${lane.url}: unreadable answer` };
      } else {
        const transient = res.status >= 500 || res.status === 401 || res.status === 408 || res.status === 429;
        const error = `POST ${lane.url}: ${res.status} ${res.text.slice(0, 200)}`;
        outcome = transient ? { error } : { permanent: `frames_http_${res.status}`, error };
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      outcome = { error: `POST ${lane.url}: ${err.code ?? err.message}` };
    }
    lane.inflight = 0;
    if (this.closed) return;
    lane.stats.batches++;
    if (outcome.result || outcome.permanent) {
      // answered (or refused for good): these frames are done
      const r = outcome.result;
      if (r) {
        lane.stats.uploaded += r.accepted;
        lane.stats.duplicates += r.duplicates;
        lane.stats.rejected += r.rejected;
        if (r.rejected > 0) this.o.onDrop(lane.sessionId, `frames_${r.reason ?? 'rejected'}`, r.rejected);
      } else {
        lane.stats.rejected += n;
        lane.stats.last_error = outcome.error;
        this.o.onDrop(lane.sessionId, outcome.permanent!, n);
      }
      lane.queue.splice(0, n);
      lane.queueBytes -= size;
      this.bytes -= size;
      lane.nextSeq = firstSeq + n;
      lane.attempt = 0;
      if (lane.queue.length > 0) this.schedule(lane, lane.queueBytes >= this.o.batchMaxBytes || lane.closing ? 0 : this.o.lingerMs);
      else if (lane.closing) this.retire(lane);
      return;
    }
    // transient: the same frames, same numbers, after a bounded exponential backoff
    lane.stats.failures++;
    lane.stats.last_error = outcome.error;
    const wait = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** lane.attempt++);
    this.schedule(lane, wait);
  }

  private post(url: string, body: Buffer): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const tls = u.protocol === 'https:';
      const req = (tls ? https : http).request(u, {
        method: 'POST',
        agent: tls ? this.https : this.http,
        headers: { 'content-type': FRAMES_CONTENT_TYPE, 'content-length': body.length, authorization: `Bearer ${this.o.token}` },
      });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer in ${this.o.requestTimeoutMs} ms`), { code: 'ETIMEDOUT' })), this.o.requestTimeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let len = 0;
        res.on('data', (c: Buffer) => {
          if (len < MAX_ANSWER) chunks.push(c);
          len += c.length;
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).subarray(0, MAX_ANSWER).toString('utf8') });
        });
      });
      req.end(body);
    });
  }
}
