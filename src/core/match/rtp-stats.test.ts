import { describe, expect, it } from 'vitest';
import { RtpStream } from './rtp-stats.js';
import { estimateMos, mosFromR, rFactor } from './mos.js';

const feed = (seqs: number[], dtUs = 20_000, pt = 0): RtpStream => {
  const s = new RtpStream(1, 'a', 1, 'b', 2);
  seqs.forEach((q, i) => s.update(q & 0xffff, (q * 160) >>> 0, pt, 1_000_000 + i * dtUs));
  return s;
};

describe('RtpStream', () => {
  it('counts across the 16-bit sequence wrap', () => {
    const s = feed(Array.from({ length: 100 }, (_, i) => 65500 + i));
    expect(s.snapshot()).toMatchObject({ packets: 100, expected: 100, lost: 0, duplicates: 0, reordered: 0 });
  });
  it('loss, duplicates, reordering: lost = expected − received (RFC 3550 §6.4.1), duplicates counted as received', () => {
    const s = feed([10, 11, 13, 12, 12, 16, 17]);
    // 14 and 15 are missing, 12 came twice: 8 expected, 7 received
    expect(s.snapshot()).toMatchObject({ packets: 7, expected: 8, lost: 1, duplicates: 1, reordered: 1 });
  });
  it('more duplicates than losses: lost is negative, as tshark shows it', () => {
    const s = feed([1, 2, 2, 3, 3, 4]);
    expect(s.snapshot()).toMatchObject({ packets: 6, expected: 4, lost: -2, duplicates: 2 });
  });
  it('duration is the span of arrival times', () => {
    expect(feed([1, 2, 3, 4], 20_000).snapshot().durationMs).toBe(60);
  });
  it('no MOS for a telephone-event (RFC 4733) stream; audio gets one', () => {
    const s = new RtpStream(1, 'a', 1, 'b', 2);
    for (let i = 0; i < 5; i++) s.update(i, 800, 101, i * 50_000, { codec: 'telephone-event', clockRate: 8000 });
    expect(s.snapshot()).toMatchObject({ codec: 'telephone-event', mos: undefined });
    expect(feed([1, 2, 3]).snapshot().mos).toBeGreaterThan(4);
  });
  it('late packets before the first one move the base', () => {
    const s = feed([5, 3, 4, 6]);
    expect(s.snapshot()).toMatchObject({ expected: 4, lost: 0 });
  });
  it('jitter 0 for a perfect 8 kHz stream; G.722 clock is 8000', () => {
    const s = feed([1, 2, 3, 4, 5], 20_000, 9);
    const st = s.snapshot();
    expect(st).toMatchObject({ codec: 'G722', clockRate: 8000, jitterMs: 0, maxDeltaMs: 20 });
  });
  it('jitter follows RFC 3550 A.8 (J += (|D| − J)/16)', () => {
    const s = new RtpStream(1, 'a', 1, 'b', 2);
    s.update(1, 0, 0, 0);
    s.update(2, 160, 0, 30_000); // 10 ms late: D = 80 units
    expect(s.snapshot().jitterMs).toBeCloseTo(10 / 16, 6);
  });
  it('unknown dynamic PT without rtpmap: no jitter, no MOS', () => {
    const s = feed([1, 2, 3], 20_000, 96);
    expect(s.snapshot()).toMatchObject({ clockRate: undefined, jitterMs: 0, mos: undefined });
  });
});

describe('MOS (simplified E-model)', () => {
  it('G.711 without loss ≈ 4.4; loss and jitter lower it; G.729 is lower than G.711', () => {
    expect(estimateMos({ codec: 'PCMU', lossRatio: 0, jitterMs: 0 })).toBeCloseTo(4.4, 1);
    expect(estimateMos({ codec: 'PCMU', lossRatio: 0.05, jitterMs: 0 })).toBeLessThan(4);
    expect(estimateMos({ codec: 'PCMU', lossRatio: 0, jitterMs: 100 })).toBeLessThan(estimateMos({ codec: 'PCMU', lossRatio: 0, jitterMs: 0 }));
    expect(estimateMos({ codec: 'G729', lossRatio: 0, jitterMs: 0 })).toBeLessThan(estimateMos({ codec: 'PCMA', lossRatio: 0, jitterMs: 0 }));
    expect(mosFromR(-5)).toBe(1);
    expect(mosFromR(120)).toBe(4.5);
    expect(mosFromR(rFactor({ lossRatio: 1, jitterMs: 0 }))).toBeLessThan(1.6);
  });
});
