// Display helpers: countdowns, dates, status colours, file names.
import { UTC_ZONE, clockZone } from '../core/ladder/svg.js';
import type { ClockZone } from '../core/ladder/svg.js';
export function countdown(untilIso: string, now: number): string {
  const ms = Date.parse(untilIso) - now;
  if (!Number.isFinite(ms)) return '';
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** A date-time of the page outside the session's own switch (lists, headers): the zone the user picked last. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  return formatTime(iso, savedTimeZone());
}

/** Times are shown in UTC or in the browser's zone, always with the date, 24-hour, and the zone named. */
export type TimeZoneMode = 'utc' | 'local';

export const TZ_KEY = 'tunaio.tz';

/** the UTC/local choice the user made on a session page (UTC until then) */
export function savedTimeZone(): TimeZoneMode {
  try {
    return localStorage.getItem(TZ_KEY) === 'local' ? 'local' : 'utc';
  } catch {
    return 'utc';
  }
}

/** The ladder's clock zone: UTC, or the browser's offset at `atUs` (a ladder is drawn in one offset). */
export function ladderZone(tz: TimeZoneMode, atUs: number | null): ClockZone {
  if (tz === 'utc') return UTC_ZONE;
  return clockZone(-new Date(atUs === null ? Date.now() : Math.floor(atUs / 1000)).getTimezoneOffset());
}

const p2 = (n: number): string => String(n).padStart(2, '0');

/** "2026-12-04 16:02:11.201 UTC" / "2026-12-04 17:02:11.201 +01:00" from an ISO string, epoch ms, or µs (`{us}`). */
export function formatTime(t: string | number | { us: number }, tz: TimeZoneMode): string {
  const ms = typeof t === 'string' ? Date.parse(t) : typeof t === 'number' ? t : Math.floor(t.us / 1000);
  if (!Number.isFinite(ms)) return String(t);
  const d = new Date(ms);
  const ms3 = String(d.getUTCMilliseconds()).padStart(3, '0');
  if (tz === 'utc') {
    return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${ms3} UTC`;
  }
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${p2(Math.floor(Math.abs(off) / 60))}:${p2(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${ms3} ${zone}`;
}

/** "850 ms", "12.4 s", "3:05", "1:02:03" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${p2(m)}:${p2(s % 60)}` : `${m}:${p2(s % 60)}`;
}

export { exportName } from '../core/export-name.js';
