// GET /api/sessions/{id}/dialogs and /api/share/{token}/dialogs against real call flows: sipp calls on
// loopback captured by tcpdump (answered, 486 busy, forked) and the shared real captures (cancelled
// with 487, REGISTER challenged with 401 then accepted, REGISTER left at 401, a G.711 call with RTP).
// Events are decoded from the packets as an agent would post them, and posted to /api/ingest.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { op, testCenter } from '../../src/center/testing.js';
import type { TestCenter } from '../../src/center/testing.js';
import type { Dialog } from '../../src/core/schema/index.js';
import { decodeCapture, forSession, sippCall } from '../web/harness.js';
import type { WireEvent } from '../web/harness.js';

const PCAPS = '/work/shared/pcaps';
const FIX = path.resolve('test/e2e/fixtures');
const capture = (f: string): WireEvent[] => decodeCapture(fs.readFileSync(path.join(PCAPS, f)));

let c: TestCenter;
let sid: string;
let token: string;
let flows: Record<string, WireEvent[]>;

const get = async (url: string, headers: Record<string, string> = op) => {
  const r = await c.app.inject({ method: 'GET', url, headers });
  return { status: r.statusCode, json: r.json() };
};
const callOf = (evs: WireEvent[]): string => evs.find((e) => e.kind === 'sip')!.call_id as string;
const rows = async (query = ''): Promise<Dialog[]> => {
  const r = await get(`/api/sessions/${sid}/dialogs${query}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json.dialogs as Dialog[];
};
const row = async (callId: string): Promise<Dialog> => (await rows()).find((d) => d.call_id === callId)!;

beforeAll(async () => {
  const [answered, busy, forked] = await Promise.all([
    sippCall(),
    sippCall(false, { uas: path.join(FIX, 'uas-busy.xml'), uac: path.join(FIX, 'uac-invite-fail.xml') }),
    sippCall(false, { uas: path.join(FIX, 'uas-fork.xml'), uac: path.join(FIX, 'uac-fork.xml') }),
  ]);
  flows = {
    answered,
    busy,
    forked,
    aaa: capture('sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap'),
    register401: capture('sip_udp_asterisk_zrtp_reinvite_register-401__wireshark.pcap'),
    g711: capture('sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap'),
    scanner: capture('sip_udp_rawip-linktype_scanner-register-invite__heplify.pcap'),
  };
  c = await testCenter();
  const a = await c.addAgent('edge');
  sid = await c.newSession({ label: 'flows', criteria: { text: 'INVITE' }, agent_ids: [a.id], duration_seconds: 600 });
  for (const evs of Object.values(flows)) {
    const batch = forSession(sid, evs);
    for (let i = 0; i < batch.length; i += 500) {
      const r = await c.ingest(a.token, batch.slice(i, i + 500));
      expect(r.body.rejected).toEqual([]);
    }
  }
  token = (await c.app.inject({ method: 'POST', url: `/api/sessions/${sid}/share`, headers: op })).json().token;
}, 120_000);
afterAll(async () => {
  await c?.close();
});

describe('GET /api/sessions/{id}/dialogs on real call flows', () => {
  it('answered call (sipp): completed after its BYE, 200 OK, times in order, one agent, no retransmission', async () => {
    const d = await row(callOf(flows.answered));
    expect(d).toMatchObject({ method: 'INVITE', state: 'completed', final_status: { code: 200, reason: 'OK' }, from: 'sipp', to: 'service', retransmissions: 0, has_rtp: false });
    expect(d.messages).toBe(flows.answered.filter((e) => e.kind === 'sip').length);
    expect(Date.parse(d.started_at)).toBeLessThanOrEqual(Date.parse(d.answered_at!));
    expect(Date.parse(d.answered_at!)).toBeLessThanOrEqual(Date.parse(d.ended_at!));
    expect(d.duration_ms).toBe(Date.parse(d.ended_at!) - Date.parse(d.started_at));
  });

  it('busy (sipp, 486 Busy Here): failed with the final status, ended, never answered', async () => {
    const d = await row(callOf(flows.busy));
    expect(d).toMatchObject({ method: 'INVITE', state: 'failed', final_status: { code: 486, reason: 'Busy Here' }, answered_at: null });
    expect(d.ended_at).not.toBeNull();
    expect(d.user_agents).toEqual(expect.arrayContaining(['fail-uac/1.0', 'busy-uas/1.0']));
  });

  it('forked (sipp: two branches ring with different To-tags, one answers): one row, answered then completed', async () => {
    const d = await row(callOf(flows.forked));
    expect(d).toMatchObject({ method: 'INVITE', state: 'completed', final_status: { code: 200, reason: 'OK' } });
    expect(d.answered_at).not.toBeNull();
    expect((await rows()).filter((x) => x.call_id === d.call_id)).toHaveLength(1);
  });

  it('cancelled (aaa.pcap: INVITE, CANCEL, 487): cancelled', async () => {
    const d = await row('105090259-446faf7a@192.168.1.2');
    expect(d).toMatchObject({ method: 'INVITE', state: 'cancelled', from: '816666', to: '97239287044', answered_at: null });
    // the capture holds the 487 then a late 408 for the same INVITE; either is a failure of a cancelled call
    expect([487, 408]).toContain(d.final_status?.code);
  });

  it('REGISTER challenged with 401 then accepted is registered; one left at 401 is failed', async () => {
    const reg = (await rows('?state=registered')).map((d) => [d.method, d.final_status?.code]);
    expect(reg).toContainEqual(['REGISTER', 200]);
    const zrtp = (await rows()).find((d) => d.from === '10009' && d.method === 'REGISTER')!;
    const raw = flows.register401.filter((e) => e.call_id === zrtp.call_id && e.kind === 'sip').map((e) => (e.sip as { status?: number }).status);
    expect(raw).toContain(401); // the capture really is challenged first
    expect(zrtp).toMatchObject({ state: 'registered', final_status: { code: 200 } });
    const scanner = (await rows()).find((d) => d.from === '1154')!;
    expect(scanner).toMatchObject({ method: 'REGISTER', state: 'failed', final_status: { code: 401, reason: 'Unauthorized' } });
  });

  it('a G.711 call with RTP: has_rtp and the worst MOS of its streams', async () => {
    const d = await row('12013223@200.57.7.195');
    expect(d).toMatchObject({ state: 'answered', has_rtp: true });
    const mos = flows.g711.filter((e) => e.call_id === d.call_id && e.stats).map((e) => (e.stats as { mos: number | null }).mos ?? 5);
    expect(d.mos).toBe(Math.min(...mos));
  });

  it('start-time order, paging by next_after gives every row once, state and q filters, 400s', async () => {
    const all = await rows('?limit=500');
    const starts = all.map((d) => Date.parse(d.started_at));
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    const seen: string[] = [];
    let after = 0;
    for (let i = 0; i < 100; i++) {
      const r = await get(`/api/sessions/${sid}/dialogs?limit=3&after=${after}`);
      seen.push(...r.json.dialogs.map((d: Dialog) => d.call_id));
      after = r.json.next_after;
      if (!r.json.more) break;
    }
    expect(seen).toEqual(all.map((d) => d.call_id));
    expect((await rows('?state=failed,cancelled')).every((d) => d.state === 'failed' || d.state === 'cancelled')).toBe(true);
    // search: the one busy call among all, by its Call-ID, by a user agent, by text in a message
    const busyId = callOf(flows.busy);
    expect((await rows(`?q=${encodeURIComponent(busyId)}`)).map((d) => d.call_id)).toEqual([busyId]);
    expect((await rows('?q=BUSY-UAS')).map((d) => d.call_id)).toEqual([busyId]);
    expect((await rows('?q=97239287044')).map((d) => d.call_id)).toContain('105090259-446faf7a@192.168.1.2');
    for (const bad of ['?state=ringing,nope', '?limit=501', '?after=-1', '?after=999999', '?q=' + 'x'.repeat(201), '?bogus=1']) {
      const r = await get(`/api/sessions/${sid}/dialogs${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.error.code).toMatch(/^(validation_failed|bad_request)$/);
    }
    expect((await get('/api/sessions/ffffffffffffffffffff/dialogs')).status).toBe(404);
  });

  it('events of one call by ?call_id=, paged; the share link lists the same calls', async () => {
    const busyId = callOf(flows.busy);
    const r = await get(`/api/sessions/${sid}/events?call_id=${encodeURIComponent(busyId)}&limit=2`);
    expect(r.json.more).toBe(true);
    expect(r.json.events.every((e: { call_id: string }) => e.call_id === busyId)).toBe(true);
    const shared = await get(`/api/share/${token}/dialogs?limit=500`, {});
    expect(shared.status).toBe(200);
    expect(shared.json.dialogs).toEqual(await rows('?limit=500'));
    expect((await get(`/api/share/${token}/events?call_id=${encodeURIComponent(busyId)}`, {})).json.events.length).toBe(
      flows.busy.filter((e) => e.call_id === busyId).length,
    );
    expect((await get('/api/share/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/dialogs', {})).status).toBe(404);
  });
});
