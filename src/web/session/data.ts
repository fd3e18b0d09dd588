// What the session page reads, in bounded pieces (issue 14): the call list page by page from
// `<base>/dialogs` (the next page when the list is scrolled to its end), the ladder's events per call
// (`/events?call_id=`) or, for "All", per page of the session, and the live tail over SSE from the
// session's last event id — never the whole session at once.
import { useCallback, useEffect, useRef, useState } from 'react';
import { EVENT_KINDS } from '../../core/schema/event.js';
import type { Event, EventPage } from '../../core/schema/event.js';
import type { Dialog, DialogPage } from '../../core/schema/dialog.js';
import { api } from '../api.js';
import type { StreamState } from '../hooks.js';

const DIALOG_PAGE = 200;
const EVENT_PAGE = 1000;
/** pages of one call read at once; a call with more events offers "load more" */
const CALL_PAGES = 10;
/** calls shown on the "All" ladder of a search, per step */
export const ALL_CALLS_STEP = 20;

export interface DialogList {
  rows: Dialog[];
  /** more rows after the last one loaded */
  more: boolean;
  loading: boolean;
  error: string | null;
  /** the session's last event id when the list was first read: where the live tail starts */
  lastEventId: number | null;
  loadMore(): void;
  /** new and changed rows since the highest version held (live sessions) */
  refresh(): void;
}

const byStart = (a: Dialog, b: Dialog): number => (a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : a.id - b.id);

export function useDialogs(base: string, q: string, state: string): DialogList {
  const [rows, setRows] = useState<Dialog[]>([]);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [lastEventId, setLastEventId] = useState<number | null>(null);
  const ref = useRef({ rows: [] as Dialog[], more: false, busy: false, gen: 0, version: 0, refreshQueued: false });

  const filter = `${q !== '' ? `&q=${encodeURIComponent(q)}` : ''}${state !== '' ? `&state=${encodeURIComponent(state)}` : ''}`;
  const publish = (): void => {
    setRows(ref.current.rows);
    setMore(ref.current.more);
  };
  const take = (page: DialogPage): void => {
    for (const d of page.dialogs) if (d.version > ref.current.version) ref.current.version = d.version;
  };

  useEffect(() => {
    const gen = ++ref.current.gen;
    ref.current.rows = [];
    ref.current.more = false;
    ref.current.version = 0;
    setLoading(true);
    setError(null);
    void (async () => {
      try {
        const page = await api<DialogPage>(`${base}/dialogs?limit=${DIALOG_PAGE}${filter}`, { quiet401: true });
        if (gen !== ref.current.gen) return;
        ref.current.rows = page.dialogs;
        ref.current.more = page.more;
        take(page);
        setLastEventId((cur) => cur ?? page.last_event_id);
        publish();
      } catch (e) {
        if (gen === ref.current.gen) setError(e instanceof Error ? e.message : String(e));
      } finally {
        if (gen === ref.current.gen) setLoading(false);
      }
    })();
  }, [base, filter]);

  const loadMore = useCallback(() => {
    const r = ref.current;
    if (!r.more || r.busy || r.rows.length === 0) return;
    r.busy = true;
    const gen = r.gen;
    void api<DialogPage>(`${base}/dialogs?limit=${DIALOG_PAGE}&after=${r.rows[r.rows.length - 1].id}${filter}`, { quiet401: true })
      .then((page) => {
        if (gen !== r.gen) return;
        const have = new Set(r.rows.map((d) => d.id));
        r.rows = r.rows.concat(page.dialogs.filter((d) => !have.has(d.id)));
        r.more = page.more;
        take(page);
        publish();
      })
      .catch(() => undefined)
      .finally(() => {
        r.busy = false;
      });
  }, [base, filter]);

  const refresh = useCallback(() => {
    const r = ref.current;
    if (r.busy) {
      r.refreshQueued = true;
      return;
    }
    r.busy = true;
    const gen = r.gen;
    void (async () => {
      try {
        for (let i = 0; i < 20; i++) {
          const page = await api<DialogPage>(`${base}/dialogs?limit=500&changed_after=${r.version}${filter}`, { quiet401: true });
          if (gen !== r.gen) return;
          take(page);
          const index = new Map(r.rows.map((d, n) => [d.id, n]));
          let rows = r.rows;
          let added = false;
          for (const d of page.dialogs) {
            const at = index.get(d.id);
            if (at !== undefined) {
              if (rows === r.rows) rows = rows.slice();
              rows[at] = d;
            } else if (!r.more) {
              // a new call: kept in start order; while pages remain unread it comes with its page
              if (rows === r.rows) rows = rows.slice();
              rows.push(d);
              added = true;
            }
          }
          // a row that became a later leg of another call (its earlier leg arrived) leaves the list
          const absorbed = new Set(page.dialogs.flatMap((d) => d.legs.slice(1)));
          if (absorbed.size > 0 && rows.some((d) => absorbed.has(d.call_id))) rows = rows.filter((d) => !absorbed.has(d.call_id));
          if (added) rows.sort(byStart);
          r.rows = rows;
          publish();
          if (!page.more) break;
        }
      } catch {
        // the next live batch asks again
      } finally {
        r.busy = false;
        if (r.refreshQueued) {
          r.refreshQueued = false;
          setTimeout(() => refresh(), 500);
        }
      }
    })();
  }, [base, filter]);

  return { rows, more, loading, error, lastEventId, loadMore, refresh };
}

export interface LadderEvents {
  events: Event[];
  loading: boolean;
  /** more events after the last one loaded */
  more: boolean;
  loadMore(): void;
  /** live events: kept when they belong to what is shown and nothing is left unread before them */
  addLive(evs: Event[]): void;
}

/**
 * The ladder's events: those of `callIds` (one call's legs, or the calls a search keeps) page by page,
 * or, with `callIds` null, the session's events from its first page on ("All").
 */
export function useLadderEvents(base: string, callIds: string[] | null): LadderEvents {
  const [events, setEvents] = useState<Event[]>([]);
  const [loading, setLoading] = useState(true);
  const [more, setMore] = useState(false);
  const key = callIds === null ? null : callIds.join(',');
  const ref = useRef({ gen: 0, last: 0, more: false, busy: false, live: [] as Event[], events: [] as Event[] });

  const url = useCallback(
    (after: number) => `${base}/events?after=${after}&limit=${EVENT_PAGE}${key === null ? '' : `&call_id=${encodeURIComponent(key)}`}`,
    [base, key],
  );
  const fetchPages = useCallback(
    async (gen: number, pages: number): Promise<void> => {
      const r = ref.current;
      const got: Event[] = [];
      for (let i = 0; i < pages; i++) {
        const page = await api<EventPage>(url(r.last), { quiet401: true });
        if (gen !== r.gen) return;
        for (const e of page.events) if (e.id > r.last) got.push(e);
        r.last = Math.max(r.last, page.next_after);
        r.more = page.more;
        if (!page.more) break;
      }
      // live events that came while reading, past what the pages held
      if (!r.more) {
        for (const e of r.live.splice(0)) {
          if (e.id <= r.last) continue;
          got.push(e);
          r.last = e.id;
        }
      }
      r.events = r.events.concat(got);
      setEvents(r.events);
      setMore(r.more);
    },
    [url],
  );

  useEffect(() => {
    if (key === '') {
      ref.current = { ...ref.current, gen: ref.current.gen + 1, events: [], more: false, live: [] };
      setEvents([]);
      setMore(false);
      setLoading(false);
      return;
    }
    const gen = ++ref.current.gen;
    ref.current = { gen, last: 0, more: false, busy: true, live: [], events: [] };
    setEvents([]);
    setLoading(true);
    void fetchPages(gen, key === null ? 1 : CALL_PAGES)
      .catch(() => undefined)
      .finally(() => {
        if (gen !== ref.current.gen) return;
        ref.current.busy = false;
        setLoading(false);
      });
  }, [key, fetchPages]);

  const loadMore = useCallback(() => {
    const r = ref.current;
    if (!r.more || r.busy) return;
    r.busy = true;
    const gen = r.gen;
    void fetchPages(gen, 1)
      .catch(() => undefined)
      .finally(() => {
        if (gen === r.gen) r.busy = false;
      });
  }, [fetchPages]);

  const addLive = useCallback(
    (evs: Event[]) => {
      const r = ref.current;
      const ids = key === null ? null : new Set(key.split(','));
      const mine = evs.filter((e) => ids === null || (e.call_id !== null && ids.has(e.call_id)));
      if (mine.length === 0) return;
      if (r.busy || r.more) {
        // still reading (or pages left before them): they come with the pages, or are added when reading ends
        if (r.busy) r.live.push(...mine);
        return;
      }
      const fresh = mine.filter((e) => e.id > r.last);
      if (fresh.length === 0) return;
      r.last = fresh[fresh.length - 1].id;
      r.events = r.events.concat(fresh);
      setEvents(r.events);
    },
    [key],
  );

  return { events, loading, more, loadMore, addLive };
}

/**
 * The session's live events over SSE from `after` (the list's last_event_id), batched every 100 ms.
 * EventSource resumes with Last-Event-ID by itself; when it gives up, the stream is reopened after
 * the last id seen. `onStatus` runs when the session ends.
 */
export function useLiveTail(base: string, after: number | null, onBatch: (evs: Event[]) => void, onStatus: () => void): StreamState {
  const [state, setState] = useState<StreamState>('loading');
  const cb = useRef({ onBatch, onStatus });
  cb.current = { onBatch, onStatus };
  useEffect(() => {
    if (after === null) return;
    let last = after;
    let es: EventSource | null = null;
    let ended = false;
    const pending: Event[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    const flush = (): void => {
      flushTimer = undefined;
      if (pending.length > 0) cb.current.onBatch(pending.splice(0));
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
      const src = new EventSource(`${base}/stream?after=${last}`, { withCredentials: true });
      es = src;
      setState((s) => (s === 'loading' ? 'connecting' : s));
      for (const k of EVENT_KINDS) src.addEventListener(k, onEvent as EventListener);
      src.addEventListener('status', () => {
        ended = true;
        src.close();
        clearTimeout(flushTimer);
        flush();
        setState('ended');
        cb.current.onStatus();
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
  }, [base, after]);
  return state;
}
