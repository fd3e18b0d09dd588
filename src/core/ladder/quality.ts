// RTP quality over time: per stream, the loss and the jitter of each interval between two of the
// agent's stream reports. Reports are cumulative (RFC 3550 A.3: expected and lost since the first
// packet), so an interval's loss is Δlost / Δexpected; the jitter is the report's (RFC 3550 A.8). The
// resolution is the agent's report interval (the match engine's statsIntervalUs, 5 s by default).
import type { Event } from '../schema/event.js';

export interface QualitySeries {
  key: string;
  label: string;
  /** seconds since the epoch, at each report after the first */
  t: number[];
  lossPct: number[];
  jitterMs: number[];
}

/** streams shown at most (a call has a few; "All" on a big session would have thousands) */
export const CHART_STREAMS_MAX = 8;

export function qualitySeries(events: readonly Event[]): QualitySeries[] {
  const byStream = new Map<string, { label: string; reports: { ts: number; expected: number; lost: number; jitter: number }[] }>();
  for (const e of events) {
    if (!e.stats || !e.src || !e.dst) continue;
    const key = `${e.src.ip}:${e.src.port}>${e.dst.ip}:${e.dst.port}#${e.stats.ssrc}`;
    let s = byStream.get(key);
    if (!s) {
      if (byStream.size >= CHART_STREAMS_MAX) continue;
      s = { label: `${e.src.ip}:${e.src.port} → ${e.dst.ip}:${e.dst.port} 0x${e.stats.ssrc.toString(16)}`, reports: [] };
      byStream.set(key, s);
    }
    s.reports.push({ ts: e.ts, expected: e.stats.expected, lost: e.stats.lost, jitter: e.stats.jitter_ms });
  }
  const out: QualitySeries[] = [];
  for (const [key, s] of byStream) {
    const r = [...s.reports].sort((a, b) => a.ts - b.ts);
    const series: QualitySeries = { key, label: s.label, t: [], lossPct: [], jitterMs: [] };
    // the first report covers the stream's start: its interval begins at zero
    let prev = { expected: 0, lost: 0 };
    for (const x of r) {
      const dExp = x.expected - prev.expected;
      if (dExp < 0) continue; // a report from another agent's view of the stream, older: skip
      series.t.push(x.ts / 1e6);
      series.lossPct.push(dExp > 0 ? Math.max(0, ((x.lost - prev.lost) / dExp) * 100) : 0);
      series.jitterMs.push(x.jitter);
      prev = x;
    }
    if (series.t.length > 0) out.push(series);
  }
  return out;
}
