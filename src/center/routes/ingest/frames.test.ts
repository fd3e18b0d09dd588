// POST /api/ingest/frames in-process: frames from a real capture land byte for byte in the session's
// per-agent PCAP of export.tar, a re-sent batch is stored once, refusals are whole-batch, and the
// byte cap is shared with events and visible when frames reach it (session, /metrics).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, FRAMES_CONTENT_TYPE, type WireFrame } from '../../../core/schema/index.js';
import { readCaptureFile } from '../../../protocol/capture-file.js';
import { untar } from '../../../../test/support/tar.js';
import { bearer, op, sipEvent, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';

const PCAP = path.resolve(process.cwd(), '../shared/pcaps/sip_udp_isp-cpe_call_183_rtp__wireshark-nb6.pcap');
/** the capture's frames 100-139 (RTP of the call), as an agent would send them */
const FRAMES: WireFrame[] = readCaptureFile(fs.readFileSync(PCAP))
  .records.slice(100, 140)
  .map((r) => ({ linkType: r.linkType, tsUs: r.tsUs, origLen: r.origLen, data: Buffer.from(r.data) }));

let c: TestCenter;
afterEach(async () => {
  await c.close();
});

const post = (token: string, sid: string, first: number, frames: WireFrame[] | Buffer) =>
  c.app.inject({
    method: 'POST',
    url: `/api/ingest/frames?session_id=${sid}&first_seq=${first}`,
    headers: { ...bearer(token), 'content-type': FRAMES_CONTENT_TYPE },
    payload: Buffer.isBuffer(frames) ? frames : Buffer.concat(frames.map(encodeFrame)),
  });

async function exportedRecords(sid: string): Promise<{ tsUs: number; data: Buffer }[]> {
  const res = await c.app.inject({ url: `/api/sessions/${sid}/export.tar`, headers: op });
  expect(res.statusCode).toBe(200);
  const files = await untar(res.rawPayload);
  return readCaptureFile(files.get('edge.pcap')!).records.map((r) => ({ tsUs: r.tsUs, data: Buffer.from(r.data) }));
}

describe('POST /api/ingest/frames', () => {
  it('writes the frames byte for byte into the agent PCAP of export.tar; a re-sent or overlapping batch is stored once', async () => {
    c = await testCenter();
    const a = await c.addAgent('edge');
    const sid = await c.newSession({ criteria: { from: '1' }, agent_ids: [a.id], capture_pcap: true, capture_rtp: true });
    const first = 1_780_000_000_000_000;
    expect((await post(a.token, sid, first, FRAMES.slice(0, 20))).json()).toEqual({ accepted: 20, duplicates: 0, rejected: 0 });
    expect((await post(a.token, sid, first, FRAMES.slice(0, 20))).json()).toEqual({ accepted: 0, duplicates: 20, rejected: 0 });
    // the answer of a batch was lost and the agent's next batch starts inside it
    expect((await post(a.token, sid, first + 10, FRAMES.slice(10, 40))).json()).toEqual({ accepted: 20, duplicates: 10, rejected: 0 });
    const recs = await exportedRecords(sid);
    expect(recs.map((r) => r.tsUs)).toEqual(FRAMES.map((f) => f.tsUs));
    recs.forEach((r, i) => expect(r.data.equals(FRAMES[i].data)).toBe(true));
    const s = (await c.app.inject({ url: `/api/sessions/${sid}`, headers: op })).json();
    expect(s.capped).toBe(false);
    const metrics = (await c.app.inject({ url: '/metrics', headers: op })).body;
    expect(metrics).toContain('tunaio_ingest_frames_total{result="accepted"} 40');
    expect(metrics).toContain('tunaio_ingest_frames_total{result="duplicate"} 30');
  });

  it('refuses a whole batch for a session without capture_pcap, an unknown or unassigned session; a malformed body is a 400', async () => {
    c = await testCenter();
    const a = await c.addAgent('edge');
    const b = await c.addAgent('other');
    const plain = await c.newSession({ criteria: { from: '1' }, agent_ids: [a.id], capture_rtp: true });
    const pcap = await c.newSession({ criteria: { from: '1' }, agent_ids: [a.id], capture_pcap: true });
    expect((await post(a.token, plain, 0, FRAMES.slice(0, 3))).json()).toEqual({ accepted: 0, duplicates: 0, rejected: 3, reason: 'no_pcap' });
    expect((await post(b.token, pcap, 0, FRAMES.slice(0, 3))).json()).toEqual({ accepted: 0, duplicates: 0, rejected: 3, reason: 'not_assigned' });
    expect((await post(a.token, 'ffffffffffffffffffff', 0, FRAMES.slice(0, 3))).json()).toEqual({ accepted: 0, duplicates: 0, rejected: 3, reason: 'unknown_session' });
    const cut = Buffer.concat(FRAMES.slice(0, 2).map(encodeFrame)).subarray(0, -5);
    const bad = await post(a.token, pcap, 0, cut);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/record 1: truncated data/) });
    const noAuth = await c.app.inject({ method: 'POST', url: `/api/ingest/frames?session_id=${pcap}&first_seq=0`, headers: { 'content-type': FRAMES_CONTENT_TYPE }, payload: cut });
    expect(noAuth.statusCode).toBe(401);
    expect((await post(a.token, pcap, -1, FRAMES.slice(0, 1))).statusCode).toBe(400);
    expect((await c.app.inject({ method: 'GET', url: `/api/sessions/${pcap}/export.tar`, headers: op })).statusCode).toBe(404); // nothing written
  });

  it('frames count against the session byte cap: the frame past it caps the session, the rest is refused and counted, events too', async () => {
    const sizes = FRAMES.map((f) => f.data.length);
    const cap = sizes.slice(0, 25).reduce((x, y) => x + y, 0) + 10; // 25 frames fit, the 26th does not
    c = await testCenter({ maxSessionBytes: cap });
    const a = await c.addAgent('edge');
    const sid = await c.newSession({ criteria: { from: '1' }, agent_ids: [a.id], capture_pcap: true, capture_rtp: true });
    expect((await post(a.token, sid, 0, FRAMES.slice(0, 20))).json()).toEqual({ accepted: 20, duplicates: 0, rejected: 0 });
    expect((await post(a.token, sid, 20, FRAMES.slice(20, 40))).json()).toEqual({ accepted: 5, duplicates: 0, rejected: 15, reason: 'session_capped' });
    const s = (await c.app.inject({ url: `/api/sessions/${sid}`, headers: op })).json();
    expect(s).toMatchObject({ capped: true, capped_reason: `max_bytes_per_session (${cap} bytes) reached` });
    expect((await exportedRecords(sid)).length).toBe(25);
    expect((await c.ingest(a.token, [sipEvent(sid, 0)])).body.rejected).toEqual([{ index: 0, reason: 'session_capped' }]);
    const metrics = (await c.app.inject({ url: '/metrics', headers: op })).body;
    expect(metrics).toContain('tunaio_ingest_frames_total{result="session_capped"} 15');
  });
});
