// Retention: history and PCAP retention periods enforced by the periodic job, with the clock moved.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { op, sipEvent, testCenter } from '../testing.js';
import type { TestCenter } from '../testing.js';

let c: TestCenter;
afterEach(async () => {
  await c.close();
});
const HOUR = 3_600_000;

describe('retention job', () => {
  it('deletes PCAP data after pcap retention and event history after event retention, keeping the session visible', async () => {
    let now = Date.now();
    c = await testCenter({ now: () => now, eventRetentionHours: 48, pcapRetentionHours: 24 });
    const a = await c.addAgent('a');
    const old = await c.newSession({ criteria: { from: '1' }, agent_ids: [1], capture_pcap: true });
    const live = await c.newSession({ criteria: { from: '2' }, agent_ids: [1], capture_pcap: true });
    const frame = { link_type: 1, data: 'AAAA', orig_len: 3 };
    await c.ingest(a.token, [sipEvent(old, 0, { frame }), sipEvent(live, 0, { frame })]);
    fs.writeFileSync(path.join(c.dataDir, 'pcap', old, 'a.pcap'), Buffer.alloc(24));
    await c.app.inject({ method: 'DELETE', url: `/api/sessions/${old}`, headers: op });
    const get = async (id: string) => (await c.app.inject({ url: `/api/sessions/${id}`, headers: op })).json();

    now += 23 * HOUR;
    await c.runRetention();
    expect(await get(old)).toMatchObject({ pcap_available: true, event_count: 1 });

    now += 2 * HOUR;
    const r1 = await c.runRetention();
    expect(r1.pcap).toEqual([old]);
    expect(await get(old)).toMatchObject({ pcap_available: false, event_count: 1, history_deleted_at: null });
    expect(fs.existsSync(path.join(c.dataDir, 'pcap', old))).toBe(false);

    now += 24 * HOUR;
    const r2 = await c.runRetention();
    expect(r2.history).toEqual([old]);
    const d = await get(old);
    expect(d).toMatchObject({ status: 'stopped', event_count: 0 });
    expect(d.history_deleted_at).not.toBeNull();
    expect((await c.app.inject({ url: `/api/sessions/${old}/events`, headers: op })).json().events).toEqual([]);

    // the running session is never touched by retention (its expiry is the lifecycle's job)
    expect((await c.app.inject({ url: `/api/sessions/${live}/events`, headers: op })).json().events.length).toBe(1);
    expect(fs.existsSync(path.join(c.dataDir, 'pcap', live))).toBe(true);
  });
});
