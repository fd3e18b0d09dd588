// dialog.pcap: one call's packets only, from the session's pcap files, in time order; the same through
// a share link; bounded answers for a missing call, a session without packets, and a bad query.
import { afterEach, describe, expect, it } from 'vitest';
import { op, sipEvent, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';
import { PCAP_GLOBAL_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES } from '../../../protocol/pcap-writer.js';
import { dialogPcapName } from './dialog-pcap.js';

let c: TestCenter;
afterEach(async () => {
  await c.close();
});

/** the records of a classic pcap: time (µs) and frame */
function records(b: Buffer): { tsUs: number; frame: Buffer }[] {
  expect(b.readUInt32LE(0)).toBe(0xa1b2c3d4);
  const out: { tsUs: number; frame: Buffer }[] = [];
  let off = PCAP_GLOBAL_HEADER_BYTES;
  while (off < b.length) {
    const caplen = b.readUInt32LE(off + 8);
    out.push({ tsUs: b.readUInt32LE(off) * 1_000_000 + b.readUInt32LE(off + 4), frame: b.subarray(off + PCAP_RECORD_HEADER_BYTES, off + PCAP_RECORD_HEADER_BYTES + caplen) });
    off += PCAP_RECORD_HEADER_BYTES + caplen;
  }
  expect(off).toBe(b.length);
  return out;
}

const frame = (tag: string) => ({ link_type: 1, data: Buffer.from(tag.padEnd(60, '.')).toString('base64'), orig_len: 60 });

describe('dialog.pcap', () => {
  it("holds the call's packets only, from every agent, in time order; the share link serves the same", async () => {
    c = await testCenter();
    const a = await c.addAgent('edge-1');
    const b = await c.addAgent('edge-2');
    const id = await c.newSession({ label: 'ticket 4711', criteria: { from: '15554430191' }, agent_ids: [a.id, b.id], capture_pcap: true });
    // two calls interleaved in time; agent b sees call one's 200 OK before a's ACK
    const T = 1_780_000_000_000_000;
    const ev = (seq: number, call: string, ts: number) => sipEvent(id, seq, { call_id: call, ts, frame: frame(`${call} ${seq}`) });
    expect((await c.ingest(a.token, [ev(1, 'one@x', T + 10), ev(2, 'two@x', T + 20), ev(3, 'one@x', T + 40), ev(4, 'two@x', T + 50)])).body.accepted).toBe(4);
    expect((await c.ingest(b.token, [ev(1, 'one@x', T + 30), ev(2, 'two@x', T + 35)])).body.accepted).toBe(2);
    // call two's packet in the same microsecond as call one's, on the same agent: told apart by its Call-ID
    expect((await c.ingest(a.token, [ev(5, 'two@x', T + 40)])).body.accepted).toBe(1);

    const r = await c.app.inject({ url: `/api/sessions/${id}/dialog.pcap?call_id=one%40x`, headers: op });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.tcpdump.pcap');
    expect(r.headers['content-disposition']).toBe(`attachment; filename="ticket_4711-one_x-${id}.pcap"`);
    expect(r.headers['x-tunaio-packets']).toBe('3');
    const got = records(r.rawPayload);
    expect(got.map((x) => x.tsUs - T)).toEqual([10, 30, 40]);
    expect(got.map((x) => x.frame.toString('latin1').replace(/\.+$/, ''))).toEqual(['one@x 1', 'one@x 1', 'one@x 3']);

    // a call's legs, comma-separated: both calls
    const both = await c.app.inject({ url: `/api/sessions/${id}/dialog.pcap?call_id=one%40x,two%40x`, headers: op });
    expect(records(both.rawPayload).map((x) => x.tsUs - T)).toEqual([10, 20, 30, 35, 40, 40, 50]);

    const token = (await c.app.inject({ method: 'POST', url: `/api/sessions/${id}/share`, headers: op })).json().token as string;
    const shared = await c.app.inject({ url: `/api/share/${token}/dialog.pcap?call_id=one%40x` });
    expect(shared.statusCode).toBe(200);
    expect(shared.rawPayload.equals(r.rawPayload)).toBe(true);

    const missing = await c.app.inject({ url: `/api/sessions/${id}/dialog.pcap?call_id=nope`, headers: op });
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'not_found']);
    expect((await c.app.inject({ url: `/api/sessions/${id}/dialog.pcap`, headers: op })).statusCode).toBe(400);
    expect((await c.app.inject({ url: `/api/sessions/${id}/dialog.pcap?call_id=one%40x&x=1`, headers: op })).statusCode).toBe(400);
  });

  it('a session without capture_pcap has no packets to give (404 no_packets)', async () => {
    c = await testCenter();
    const a = await c.addAgent('edge-1');
    const id = await c.newSession({ criteria: { from: '15554430191' }, agent_ids: [a.id] });
    await c.ingest(a.token, [sipEvent(id, 1, { call_id: 'one@x' })]);
    const r = await c.app.inject({ url: `/api/sessions/${id}/dialog.pcap?call_id=one%40x`, headers: op });
    expect([r.statusCode, r.json().error.code]).toEqual([404, 'no_packets']);
  });

  it('names the file after the session label and the Call-ID, made safe', () => {
    const s = { id: '0123456789abcdef0123', label: ' Ticket #12/ä ' } as Parameters<typeof dialogPcapName>[0];
    expect(dialogPcapName(s, 'a84b4c76e66710@pc33.example.com')).toBe('Ticket_12-a84b4c76e66710_pc33.example.com-0123456789abcdef0123.pcap');
    expect(dialogPcapName({ ...s, label: '' }, '"quoted"')).toBe('session-quoted-0123456789abcdef0123.pcap');
  });
});
