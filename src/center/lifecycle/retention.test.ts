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

  it('keeps the audit log bounded: entries older than --audit-retention-days go, then all but the newest --audit-max-entries; counted in /metrics', async () => {
    let now = Date.now();
    c = await testCenter({ now: () => now, auditRetentionDays: 30, auditMaxEntries: 3 });
    const audit = async () => (await c.app.inject({ url: '/api/audit?limit=500', headers: op })).json().entries as { action: string; at: string }[];
    // two orgs made now, then 31 days later one more and two sessions
    for (const name of ['o1', 'o2']) await c.app.inject({ method: 'POST', url: '/api/orgs', headers: op, payload: { name } });
    now += 31 * 24 * HOUR;
    await c.app.inject({ method: 'POST', url: '/api/orgs', headers: op, payload: { name: 'o3' } });
    await c.addAgent('a');
    await c.newSession({ criteria: { from: '1' }, agent_ids: [1] });
    const before = await audit();
    expect(before.filter((e) => e.action === 'org.create')).toHaveLength(3);
    const r = await c.runRetention();
    const after = await audit();
    // the two old ones by age; of the rest only the newest 3 stay
    expect(r.audit).toBe(before.length - 3);
    expect(after).toEqual(before.slice(-3));
    expect(after.every((e) => Date.parse(e.at) >= now - 30 * 24 * HOUR)).toBe(true);
    const metrics = (await c.app.inject({ url: '/metrics', headers: op })).body;
    expect(metrics).toContain(`tunaio_audit_pruned_total ${before.length - 3}`);
  });
});
