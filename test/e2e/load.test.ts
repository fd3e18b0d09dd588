// Load scenario of issue 16, short (npm test; `npm run soak` runs 1 000 calls/s for 60 s): sipp calls
// captured live by one agent for a session matching every call and one matching 1 call in 100, side
// by side. Neither loses anything; the quiet one is not starved by the busy one. Ports 5066-5067
// belong to this file.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { tempDir } from './harness.js';
import { report } from './fault-harness.js';
import { cleanupRun, loadSideBySide, type Run } from './fault-scenarios.js';

const run: Run = { dir: tempDir('load'), cleanup: [], pids: [] };
afterEach(() => cleanupRun(run));
afterAll(() => fs.rmSync(run.dir, { recursive: true, force: true }));

describe('load: a 100 % and a 1 % session side by side', () => {
  it('300 calls/s for 4 s: nothing lost in either session', async () => {
    const r = await loadSideBySide(run, { uas: 5066, uac: 5067 }, { rate: 300, seconds: 4 });
    report('load 300 calls/s, 100 % session', r.all, `all stored ${r.seconds.toFixed(1)} s after the first call`);
    report('load 300 calls/s, 1 % session', r.one);
    expect(r.kernelDropped).toBe(0);
    for (const t of [r.all, r.one]) {
      expect(t.lost).toBe(0);
      expect(t.duplicated).toBe(0);
      expect(t.unknown).toBeLessThanOrEqual(t.referenceDropped);
    }
    expect(r.all.stored).toBeGreaterThanOrEqual(1200 * 6);
    expect(r.one.stored).toBeGreaterThanOrEqual(12 * 6);
    expect(r.agentDropped).toEqual([{}, {}]);
  }, 240_000);
});
