// Display helpers: countdowns, dates, status colours, file names.
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

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** `<label>-<id>.png`, with the label made safe as a file name. */
export function pngName(label: string, id: string): string {
  const safe = label.trim().replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 80);
  return `${safe === '' ? 'session' : safe}-${id}.png`;
}
