// Short fuzz pass (npm test): ~20k seeded mutations over every packet of every shared capture through
// reader → dissector → parseSip / decodeHep. Nothing may throw past a module boundary and the
// dissector's buffered bytes must stay under its bounds. `npm run fuzz` runs the long pass (≥1 M).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFuzz } from './testing/fuzz-engine.js';
import type { FuzzInput } from './testing/fuzz-engine.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');

function inputs(): FuzzInput[] {
  const lines = readFileSync(path.join(PCAPS, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => l.split('\t')[0]).map((name) => ({ name, file: readFileSync(path.join(PCAPS, name)) }));
}

describe('fuzz (short pass)', () => {
  it('20k mutations: nothing throws, memory stays bounded', () => {
    const all = inputs();
    expect(all.length).toBeGreaterThanOrEqual(19);
    const s = runFuzz(all, { seed: 0x7a11, mutations: 20_000, fileMutationEvery: 400 });
    expect(s.failures).toEqual([]);
    expect(s.failureCount).toBe(0);
    expect(s.maxBufferedBytes).toBeLessThanOrEqual(s.bufferBound);
    // the mutations reach the code they are meant for
    expect(s.records).toBeGreaterThan(15_000);
    expect(s.sipParsed).toBeGreaterThan(100);
    expect(s.sipRejected).toBeGreaterThan(10);
    expect(s.hepParsed).toBeGreaterThan(0);
    expect(Object.keys(s.malformedByReason).length).toBeGreaterThan(3);
  }, 120_000);

  it('is deterministic for a seed', () => {
    const few = inputs().filter((i) => i.name.includes('hep3') || i.name.includes('websocket'));
    const a = runFuzz(few, { seed: 42, mutations: 2000 });
    const b = runFuzz(few, { seed: 42, mutations: 2000 });
    expect(a).toEqual(b);
  });
});
