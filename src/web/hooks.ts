// Small shared hooks: a ticking clock for countdowns, polling a loader, and the session's live event
// stream over SSE.
import { useCallback, useEffect, useRef, useState } from 'react';
import { EVENT_KINDS } from '../core/schema/event.js';
import type { Event, EventPage } from '../core/schema/event.js';
import { api } from './api.js';

export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}

export interface Loaded<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  reload(): void;
}

/** Loads now and every `everyMs` (0 = once) while mounted; keeps the last good data on errors. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (): Promise<void> => {
      try {
        const d = await loadRef.current();
        if (!alive) return;
        setData(d);
        setError(null);
      } catch (e) {
        if (alive) setError(e as Error);
      } finally {
        if (alive) {
          setLoading(false);
          if (everyMs > 0) timer = setTimeout(() => void run(), everyMs);
        }
      }
    };
    void run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [...deps, everyMs, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export type StreamState = 'loading' | 'connecting' | 'live' | 'reconnecting' | 'ended' | 'error';

const PAGE = 1000;
const MAX_PAGES = 10_000;

/**
 * Every event of a session, history then live. The history is read in pages from `<base>/events`
 * (one render for thousands of events), then `<base>/stream?after=<last id>` carries what follows.
 * EventSource reconnects by itself with Last-Event-ID; when it gives up (HTTP error) we reopen with
 * ?after=<last id>. Ids are checked, so nothing is shown twice and nothing is skipped. Live updates
 * are batched (100 ms) so a burst renders a few times, not once per event.
 */
export function useEventStream(base: string | null, onStatus?: () => void): { events: Event[]; state: StreamState; loaded: number } {
  const [events, setEvents] = useState<Event[]>([]);
  const [state, setState] = useState<StreamState>('loading');
  const [loaded, setLoaded] = useState(0);
  const onStatusRef = useRef(onStatus);
  onStatusRef.current = onStatus;
  useEffect(() => {
    if (base === null) return;
    setEvents([]);
    setState('loading');
    let last = 0;
    let es: EventSource | null = null;
    let ended = false;
    const pending: Event[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    const flush = (): void => {
      flushTimer = undefined;
      if (pending.length === 0) return;
      const batch = pending.splice(0);
      setEvents((prev) => prev.concat(batch));
    };
    const onEvent = (m: MessageEvent<string>): void => {
      let e: Event;
      try {
        e = JSON.parse(m.data) as Event;
      } catch {
        return;
      }
      if (typeof e.id !== 'number' || e.id <= last) return;
      last = e.id;
      pending.push(e);
      flushTimer ??= setTimeout(flush, 100);
    };
    const open = (): void => {
      if (ended) return;
      const url = `${base}/stream${last > 0 ? `?after=${last}` : ''}`;
      const src = new EventSource(url, { withCredentials: true });
      es = src;
      setState((s) => (s === 'loading' ? 'connecting' : s));
      for (const k of EVENT_KINDS) src.addEventListener(k, onEvent as EventListener);
      src.addEventListener('status', () => {
        ended = true;
        src.close();
        clearTimeout(flushTimer);
        flush();
        setState('ended');
        onStatusRef.current?.();
      });
      src.onopen = () => setState('live');
      src.onerror = () => {
        if (ended) return;
        if (src.readyState === EventSource.CLOSED) {
          setState('error');
          retryTimer = setTimeout(open, 3000);
        } else setState('reconnecting');
      };
    };
    const history = async (): Promise<void> => {
      const all: Event[] = [];
      try {
        for (let i = 0; i < MAX_PAGES && !ended; i++) {
          const page = await api<EventPage>(`${base}/events?after=${last}&limit=${PAGE}`, { quiet401: true });
          for (const e of page.events) if (e.id > last) all.push(e);
          last = Math.max(last, page.next_after);
          setLoaded(all.length);
          if (!page.more) break;
        }
      } catch {
        // no events API here (or it failed): the stream replays the history from `last` instead
      }
      if (ended) return;
      setEvents(all);
      open();
    };
    void history();
    return () => {
      ended = true;
      es?.close();
      clearTimeout(flushTimer);
      clearTimeout(retryTimer);
    };
  }, [base]);
  return { events, state, loaded };
}
