// One SSE client of a session (DESIGN §3): `id:` = event id, `event:` = kind, `data:` = the event
// JSON; a comment heartbeat; a final `status` event (no id, so a reconnect resumes after the last
// real event) when the session stops or expires, then the stream closes.
//
// Joining mid-session without a gap or a duplicate, even while ingest runs:
//   1. subscribe to the hub first and buffer what it publishes;
//   2. page the history from storage after the client's last id until no page is left;
//   3. flush the buffer, skipping ids already sent, then forward live events.
// Every event committed after the last history page is published after it (the feed, sse/feed.ts:
// one center publishes in its serial ingest step; several follow the database from a cursor set
// before the history read), so it is in the buffer.
import { INERT_CSP } from '../http/hardening.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Event } from '../../core/schema/index.js';
import { isoTime } from '../../core/schema/index.js';
import type { CenterContext } from '../context.js';
import { presentEvent } from '../routes/sessions/present.js';
import type { SessionEnd, Subscriber } from './hub.js';

const PAGE = 1000;
/** a client that lets this much pile up is dropped; it reconnects with Last-Event-ID and misses nothing */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
const MAX_HISTORY_PAGES = 1_000_000;

/** an event's SSE text, made once however many clients receive it (the hub hands every subscriber the same objects) */
const formatted = new WeakMap<Event, string>();
export function formatEvent(e: Event): string {
  let text = formatted.get(e);
  if (text === undefined) {
    text = `id: ${e.id}\nevent: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`;
    formatted.set(e, text);
  }
  return text;
}

export async function serveStream(
  ctx: CenterContext,
  req: FastifyRequest,
  reply: FastifyReply,
  sessionId: string,
  after: number,
  /**
   * The capability that opened this client (a share link): its hub tag, so revoking it closes the
   * stream (feed.abortTagged), and a check that it still holds, made once the client is subscribed —
   * a revocation that lands between the route's check and the subscription reaches no subscriber.
   */
  capability?: { tag: string; valid: () => Promise<boolean> },
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    // hijacked: Fastify's onSend hooks do not run, so the hardening headers are set here (http/hardening.ts)
    'x-content-type-options': 'nosniff',
    'content-security-policy': INERT_CSP,
  });
  res.write('retry: 2000\n\n');

  let lastSent = after;
  let phase: 'history' | 'live' = 'history';
  let closed = false;
  let pendingEnd: SessionEnd | null = null;
  const buffer: Event[] = [];

  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    ctx.metrics.sseClients.inc({}, -1);
  };
  const write = (chunk: string): void => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > MAX_PENDING_BYTES) {
      req.log.warn({ sessionId }, 'SSE client too slow; dropping it');
      cleanup();
      res.destroy();
    }
  };
  // One write per published batch (not per event): at thousands of events/s a write per event is a
  // syscall and a TCP segment each; the batch leaves at once all the same (no timer, no Nagle).
  const send = (evs: Event[]): void => {
    let chunk = '';
    for (const e of evs) {
      if (e.id <= lastSent) continue;
      chunk += formatEvent(e);
      lastSent = e.id;
    }
    if (chunk !== '') write(chunk);
  };
  const finish = (info: SessionEnd): void => {
    if (closed) return;
    write(`event: status\ndata: ${JSON.stringify({ session_id: sessionId, ...info })}\n\n`);
    cleanup();
    res.end();
  };

  const sub: Subscriber = {
    events(evs) {
      if (phase === 'history') buffer.push(...evs);
      else send(evs);
    },
    end(info) {
      if (phase === 'history') pendingEnd = info;
      else finish(info);
    },
    abort() {
      cleanup();
      res.end();
    },
  };
  const unsubscribe = ctx.hub.subscribe(sessionId, sub, capability?.tag);
  ctx.metrics.sseClients.inc({}, 1);
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), ctx.config.heartbeatSeconds * 1000);
  heartbeat.unref();
  res.on('close', cleanup);

  try {
    if (capability && !(await capability.valid())) {
      cleanup();
      res.end();
      return;
    }
    // from here on the feed publishes every event the history below does not return (sse/feed.ts)
    await ctx.feed.ready(sessionId);
    for (let page = 0; page < MAX_HISTORY_PAGES && !closed; page++) {
      const { events, more } = await ctx.storage.listEvents(sessionId, lastSent, PAGE);
      send(events.map(presentEvent));
      if (!more) break;
    }
    if (closed) return;
    phase = 'live';
    send(buffer.sort((a, b) => a.id - b.id));
    buffer.length = 0;
    if (pendingEnd) return finish(pendingEnd);
    const s = await ctx.storage.getSession(sessionId);
    if (!s) return finish({ status: 'stopped', stopped_at: null });
    if (s.status !== 'running') {
      finish({ status: s.status, stopped_at: s.stopped_at === null ? null : isoTime(s.stopped_at) });
    }
  } catch (err) {
    req.log.error({ err }, 'SSE stream failed');
    cleanup();
    res.destroy();
  }
}
