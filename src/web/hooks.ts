// Small shared hooks: a ticking clock for countdowns, polling a loader, and the session's live event
// stream over SSE.
import { useCallback, useEffect, useRef, useState } from 'react';
import { EVENT_KINDS } from '../core/schema/event.js';
import type { Event } from '../core/schema/event.js';

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

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'error';

/**
 * Every event of a session, history then live, from `<base>/stream`. EventSource reconnects by itself
 * with Last-Event-ID; when it gives up (HTTP error) we reopen with ?after=<last id>. Ids are
 * checked, so nothing is shown twice and nothing is skipped. Updates are batched (100 ms) so a burst
 * of thousands of events renders a few times, not thousands.
 */
export function useEventStream(streamUrl: string | null, onStatus?: () => void): { events: Event[]; state: StreamState } {
  const [events, setEvents] = useState<Event[]>([]);
  const [state, setState] = useState<StreamState>('connecting');
  const onStatusRef = useRef(onStatus);
  onStatusRef.current = onStatus;
  useEffect(() => {
    if (streamUrl === null) return;
    setEvents([]);
    setState('connecting');
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
      const url = last > 0 ? `${streamUrl}${streamUrl.includes('?') ? '&' : '?'}after=${last}` : streamUrl;
      const src = new EventSource(url, { withCredentials: true });
      es = src;
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
    open();
    return () => {
      ended = true;
      es?.close();
      clearTimeout(flushTimer);
      clearTimeout(retryTimer);
    };
  }, [streamUrl]);
  return { events, state };
}
