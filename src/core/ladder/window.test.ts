// Bounded pictures of a ladder: lanes folded past the limit, rows cut to the side and pixel budget,
// and the caption that says so.
import { describe, expect, it } from 'vitest';
import { buildLadder } from './build.js';
import { ladderGeometry } from './svg.js';
import type { LadderEvent } from './types.js';
import { PICTURE_LIMITS, foldLanes, pictureCaption, pictureScale, pictureWindow } from './window.js';

/** `n` endpoints, each sending one INVITE to a proxy: n + 1 lanes, n rows. */
function spray(n: number): LadderEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    agent_id: 1,
    ts: 1_780_000_000_000_000 + i * 1000,
    kind: 'sip' as const,
    src: { ip: `10.0.${i >> 8}.${i & 255}`, port: 5060 },
    dst: { ip: '192.0.2.1', port: 5060 },
    call_id: `c${i}`,
    sip: { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', has_sdp: false },
    payload: `INVITE sip:x@y SIP/2.0\r\nCall-ID: c${i}\r\nCSeq: 1 INVITE\r\n\r\n`,
  }));
}

describe('foldLanes', () => {
  it('keeps a ladder within the limit as is', () => {
    const l = buildLadder(spray(5));
    expect(foldLanes(l, 24)).toEqual({ ladder: l, folded: 0 });
  });

  it('keeps the first max-1 lanes and folds every later endpoint into the last one; every arrow stays', () => {
    const l = buildLadder(spray(200));
    expect(l.lanes).toHaveLength(201);
    const { ladder, folded } = foldLanes(l, 24);
    expect(folded).toBe(201 - 23);
    expect(ladder.lanes).toHaveLength(24);
    expect(ladder.lanes.slice(0, 23)).toEqual(l.lanes.slice(0, 23));
    expect(ladder.lanes[23]).toMatchObject({ index: 23, name: '178 more endpoints', port: null });
    expect(ladder.arrows).toHaveLength(l.arrows.length);
    expect(ladder.arrows.every((a) => a.from < 24 && a.to < 24)).toBe(true);
    // an arrow between two kept lanes is untouched; one from a folded endpoint starts at the last lane
    expect(ladder.arrows[0]).toEqual(l.arrows[0]);
    expect(ladder.arrows[199]).toMatchObject({ from: 23, to: l.arrows[199].to });
  });
});

describe('pictureWindow / pictureScale / pictureCaption', () => {
  it('a 200-endpoint ladder: 24 lanes, the rows that fit 16 M pixels, said in the caption', () => {
    const l = buildLadder(spray(200));
    const p = pictureWindow(l);
    const width = ladderGeometry(p.ladder).width;
    expect(width).toBe(178 + 24 * 200 + 16);
    const rows = p.window.end - p.window.first;
    expect((rows * 32 + 28 + 58 + 16) * width).toBeLessThanOrEqual(PICTURE_LIMITS.pixels);
    expect(((rows + 2) * 32 + 28 + 58 + 16) * width).toBeGreaterThan(PICTURE_LIMITS.pixels);
    expect(pictureCaption('t', p, l.lanes.length)).toBe(`t (rows 1–${rows} of 200) (lanes 1–23 of 201 endpoints; 178 more share the last lane)`);
  });

  it('a ladder within every limit is drawn whole, under its title alone', () => {
    const l = buildLadder(spray(1));
    expect(pictureWindow(l).window).toEqual({ first: 0, end: 1 });
    expect(pictureCaption('t', pictureWindow(l), l.lanes.length)).toBe('t');
  });

  it('pictureScale: 2 for small pictures, within 16 000 px a side and 16 M pixels for large ones', () => {
    expect(pictureScale(800, 600)).toBe(2);
    for (const [w, h] of [[40_394, 6_502], [4_994, 3_350], [994, 15_990], [16_000, 16_000]]) {
      const s = pictureScale(w, h);
      expect(Math.ceil(w * s) * Math.ceil(h * s)).toBeLessThanOrEqual(PICTURE_LIMITS.pixels);
      expect(Math.max(w, h) * s).toBeLessThanOrEqual(PICTURE_LIMITS.side);
    }
  });
});
