// The PNG render gate: a burst of ladder.png requests draws PNG_RENDERS_AT_ONCE at a time, queues up to
// PNG_RENDERS_WAITING, answers the rest 503 at once, and serves again once the burst has drained.
import { describe, expect, it } from 'vitest';
import { TunaError } from '../../../core/errors.js';
import { PNG_RENDERS_AT_ONCE, PNG_RENDERS_WAITING, ladderPng } from './ladder.js';

const picture = {
  svg: '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80"><text x="10" y="40" font-family="DejaVu Sans">INVITE</text></svg>',
  width: 200,
  height: 80,
};
const isPng = (b: Buffer): boolean => b.subarray(1, 4).toString('latin1') === 'PNG';

describe('ladder.png render gate', () => {
  it('draws a bounded number at once, queues a bounded number, refuses the rest with 503, then recovers', async () => {
    const burst = PNG_RENDERS_AT_ONCE + PNG_RENDERS_WAITING + 3;
    const results = await Promise.allSettled(Array.from({ length: burst }, () => ladderPng(picture)));
    const drawn = results.filter((r) => r.status === 'fulfilled' && isPng(r.value));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(drawn).toHaveLength(PNG_RENDERS_AT_ONCE + PNG_RENDERS_WAITING);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      const e = (r as PromiseRejectedResult).reason as TunaError;
      expect(e).toBeInstanceOf(TunaError);
      expect(e.status).toBe(503);
      expect(e.message).toMatch(/ladder pictures are being drawn or waiting/);
    }
    // the gate is free again: a full second burst of the admitted size is drawn whole
    const again = await Promise.all(Array.from({ length: PNG_RENDERS_AT_ONCE + PNG_RENDERS_WAITING }, () => ladderPng(picture)));
    expect(again.every(isPng)).toBe(true);
  });
});
