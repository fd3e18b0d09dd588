import { describe, expect, it } from 'vitest';
import type { Event } from '../schema/event.js';
import { CHART_STREAMS_MAX, qualitySeries } from './quality.js';

const report = (ts: number, expected: number, lost: number, jitter: number, ssrc = 0x1234, port = 4000): Event =>
  ({
    id: ts,
    ts: ts * 1_000_000,
    kind: 'rtp',
    src: { ip: '192.0.2.1', port },
    dst: { ip: '192.0.2.2', port: 5000 },
    stats: { ssrc, packets: expected - lost, expected, lost, jitter_ms: jitter, max_delta_ms: 20, mos: null, codec: 'PCMA', final: false },
  }) as unknown as Event;

describe('qualitySeries', () => {
  it('turns cumulative reports into per-interval loss and the reported jitter, in time order', () => {
    // reports out of order; 250 packets per 5 s, 25 lost in the second interval, none after
    const [s] = qualitySeries([report(15, 750, 25, 1.5), report(5, 250, 0, 0.5), report(10, 500, 25, 9.2)]);
    expect(s.t).toEqual([5, 10, 15]);
    expect(s.lossPct).toEqual([0, 10, 0]);
    expect(s.jitterMs).toEqual([0.5, 9.2, 1.5]);
    expect(s.label).toBe('192.0.2.1:4000 → 192.0.2.2:5000 0x1234');
  });

  it('keeps streams apart, ignores events without a report, and draws at most CHART_STREAMS_MAX streams', () => {
    const evs = Array.from({ length: CHART_STREAMS_MAX + 3 }, (_, i) => report(5, 100, 1, 1, i, 4000 + i));
    evs.push({ id: 99, ts: 1, kind: 'sip', src: { ip: '192.0.2.1', port: 5060 }, dst: { ip: '192.0.2.2', port: 5060 }, stats: null } as unknown as Event);
    const all = qualitySeries(evs);
    expect(all).toHaveLength(CHART_STREAMS_MAX);
    expect(all.every((s) => s.lossPct[0] === 1)).toBe(true);
  });
});
