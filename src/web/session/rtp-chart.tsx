// RTP quality over time, drawn with uPlot from core/ladder/quality.ts's series: loss % and jitter per stream.
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Event } from '../../core/schema/event.js';
import { qualitySeries } from '../../core/ladder/quality.js';
import type { QualitySeries } from '../../core/ladder/quality.js';
import { formatTime } from '../format.js';
import type { TimeZoneMode } from '../format.js';

function Chart({ s, tz }: { s: QualitySeries; tz: TimeZoneMode }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const plot = new uPlot(
      {
        width: Math.max(320, Math.min(900, el.current.clientWidth || 640)),
        height: 180,
        tzDate: (ts) => (tz === 'utc' ? uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') : new Date(ts * 1e3)),
        series: [
          { value: (_u, v) => (v === null ? '—' : formatTime(Math.round(v * 1000), tz)) },
          { label: 'loss %', stroke: '#c0392b', scale: '%', value: (_u, v) => (v === null ? '—' : v.toFixed(1)) },
          { label: 'jitter ms', stroke: '#1f6fd1', scale: 'ms', value: (_u, v) => (v === null ? '—' : v.toFixed(1)) },
        ],
        axes: [{}, { scale: '%', label: 'loss %' }, { scale: 'ms', side: 1, label: 'jitter ms', grid: { show: false } }],
        scales: { x: { time: true }, '%': { range: (_u, _min, max) => [0, Math.max(5, max)] } },
      },
      [s.t, s.lossPct, s.jitterMs],
      el.current,
    );
    return () => plot.destroy();
  }, [s, tz]);
  return (
    <figure className="rtp-chart" data-testid="rtp-chart" data-points={s.t.length}>
      <figcaption className="mono small">{s.label}</figcaption>
      <div ref={el} />
    </figure>
  );
}

export function RtpQuality({ events, tz }: { events: readonly Event[]; tz: TimeZoneMode }) {
  const series = useMemo(() => qualitySeries(events), [events]);
  if (series.length === 0) return null;
  return (
    <div className="rtp-charts">
      <p className="muted small">Loss and jitter per interval between the agent&apos;s stream reports.</p>
      {series.map((s) => (
        <Chart key={s.key} s={s} tz={tz} />
      ))}
    </div>
  );
}
