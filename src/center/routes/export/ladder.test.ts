// Bounded ladder pictures (issue 16). The render gate: a burst draws LADDER_RENDERS_AT_ONCE at a time,
// queues up to LADDER_RENDERS_WAITING, answers the rest 503 at once, and serves again once drained.
// The size bound: a shared session with 200 endpoints (once 40 394 × 6 502 px and 2.6 GB through an
// anonymous share link) is drawn with LADDER_MAX_LANES lanes and within MAX_PICTURE_PIXELS, saying so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TunaError } from '../../../core/errors.js';
import { op, sipEvent, testCenter } from '../../testing.js';
import type { TestCenter } from '../../testing.js';
import { PICTURE_LIMITS, pictureScale } from '../../../core/ladder/index.js';
import { LADDER_RENDERS_AT_ONCE, LADDER_RENDERS_WAITING, inLadderTurn, ladderPng } from './ladder.js';

const LADDER_MAX_LANES = PICTURE_LIMITS.lanes;
const MAX_PICTURE_PIXELS = PICTURE_LIMITS.pixels;
const MAX_PICTURE_PX = PICTURE_LIMITS.side;

const picture = {
  svg: '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80"><text x="10" y="40" font-family="DejaVu Sans">INVITE</text></svg>',
  width: 200,
  height: 80,
};
const isPng = (b: Buffer): boolean => b.subarray(1, 4).toString('latin1') === 'PNG';
/** width and height from the PNG's IHDR chunk */
const pngSize = (b: Buffer): { width: number; height: number } => ({ width: b.readUInt32BE(16), height: b.readUInt32BE(20) });

describe('ladder render gate', () => {
  it('draws a bounded number at once, queues a bounded number, refuses the rest with 503, then recovers', async () => {
    const draw = () => inLadderTurn(() => ladderPng(picture));
    const burst = LADDER_RENDERS_AT_ONCE + LADDER_RENDERS_WAITING + 3;
    const results = await Promise.allSettled(Array.from({ length: burst }, draw));
    const drawn = results.filter((r) => r.status === 'fulfilled' && isPng(r.value));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(drawn).toHaveLength(LADDER_RENDERS_AT_ONCE + LADDER_RENDERS_WAITING);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      const e = (r as PromiseRejectedResult).reason as TunaError;
      expect(e).toBeInstanceOf(TunaError);
      expect(e.status).toBe(503);
      expect(e.message).toMatch(/ladder pictures are being drawn or waiting/);
    }
    // the gate is free again: a full second burst of the admitted size is drawn whole
    const again = await Promise.all(Array.from({ length: LADDER_RENDERS_AT_ONCE + LADDER_RENDERS_WAITING }, draw));
    expect(again.every(isPng)).toBe(true);
  });

  it('pictureScale keeps every picture within the side and pixel budgets, and draws small ones at twice the size', () => {
    expect(pictureScale(1000, 800)).toBe(2);
    for (const [w, h] of [[40_394, 6_502], [6_594, 4_800], [994, 15_990], [16_000, 16_000], [5_000, 5_000]]) {
      const s = pictureScale(w, h);
      expect(Math.ceil(w * s) * Math.ceil(h * s)).toBeLessThanOrEqual(MAX_PICTURE_PIXELS);
      expect(Math.max(w, h) * s).toBeLessThanOrEqual(MAX_PICTURE_PX);
    }
  });
});

describe('a shared session with 200 endpoints', () => {
  let c: TestCenter;
  let session: string;
  let share: string;
  const ENDPOINTS = 200;

  beforeAll(async () => {
    c = await testCenter();
    const { token } = await c.addAgent('edge');
    session = await c.newSession({ label: 'spray', criteria: { text: 'INVITE' }, agent_ids: [1] });
    // 200 endpoints each sending one INVITE to the proxy, and the proxy answering: 201 lanes, 400 rows
    const events = [];
    for (let i = 0; i < ENDPOINTS; i++) {
      const ip = `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      const callId = `spray-${i}@test`;
      events.push(sipEvent(session, 2 * i, { call_id: callId, ts: 1_780_000_000_000_000 + i * 1000, src: { ip, port: 5060 }, dst: { ip: '192.0.2.1', port: 5060 } }));
      events.push(
        sipEvent(session, 2 * i + 1, {
          call_id: callId,
          ts: 1_780_000_000_000_500 + i * 1000,
          src: { ip: '192.0.2.1', port: 5060 },
          dst: { ip, port: 5060 },
          sip: { status: 404, reason: 'Not Found', cseq_seq: 1, cseq_method: 'INVITE', has_sdp: false },
          payload: `SIP/2.0 404 Not Found\r\nCall-ID: ${callId}\r\n\r\n`,
        }),
      );
    }
    expect((await c.ingest(token, events)).body.accepted).toBe(2 * ENDPOINTS);
    share = (await c.app.inject({ method: 'POST', url: `/api/sessions/${session}/share`, headers: op })).json().token;
  });
  afterAll(async () => {
    await c.close();
  });

  it('ladder.png through the anonymous share link: 24 lanes (the rest folded into one, said in the title and headers), within the pixel budget', async () => {
    const before = process.memoryUsage().rss;
    const r = await c.app.inject({ url: `/api/share/${share}/ladder.png` });
    const after = process.memoryUsage().rss;
    expect(r.statusCode).toBe(200);
    const png = r.rawPayload;
    const { width, height } = pngSize(png);
    console.log(`[ladder bound] ${ENDPOINTS} endpoints: PNG ${width} × ${height} px (${((width * height) / 1e6).toFixed(1)} M pixels), lanes ${String(r.headers['x-ladder-lanes'])}, rows ${String(r.headers['x-ladder-rows'])}; RSS ${(before / 2 ** 20).toFixed(0)} → ${(after / 2 ** 20).toFixed(0)} MiB`);
    expect(width * height).toBeLessThanOrEqual(MAX_PICTURE_PIXELS);
    expect(Math.max(width, height)).toBeLessThanOrEqual(MAX_PICTURE_PX);
    expect(r.headers['x-ladder-lanes']).toBe(`${LADDER_MAX_LANES}/${ENDPOINTS + 1}`);
    // the rows that fit the pixel budget at this width, the first ones
    const width1 = 178 + LADDER_MAX_LANES * 200 + 16;
    const rows = Math.floor((Math.floor(MAX_PICTURE_PIXELS / width1) - 102) / 32);
    expect(r.headers['x-ladder-rows']).toBe(`${rows}/${2 * ENDPOINTS}`);
    const m = (await c.app.inject({ url: '/metrics', headers: op })).body;
    expect(m).toContain('tunaio_ladders_cut_total{format="png"} 1');
  });

  it('ladder.svg says what was folded and cut; every message drawn has its arrow', async () => {
    const r = await c.app.inject({ url: `/api/sessions/${session}/ladder.svg`, headers: op });
    expect(r.statusCode).toBe(200);
    const w = Number(/width="(\d+)"/.exec(r.body)?.[1]);
    expect(w).toBe(178 + LADDER_MAX_LANES * 200 + 16);
    expect(r.body).toContain(`(lanes 1–${LADDER_MAX_LANES - 1} of ${ENDPOINTS + 1} endpoints; ${ENDPOINTS + 1 - (LADDER_MAX_LANES - 1)} more share the last lane)`);
    expect(r.body).toContain(`${ENDPOINTS + 1 - (LADDER_MAX_LANES - 1)} more endpoints`);
    const [drawn, total] = String(r.headers['x-ladder-rows']).split('/').map(Number);
    expect(drawn).toBeLessThan(total);
    expect(r.body).toContain(`(rows 1–${drawn} of ${total})`);
    expect((r.body.match(/>INVITE</g)?.length ?? 0) + (r.body.match(/>404 Not Found</g)?.length ?? 0)).toBe(drawn);
  });
});
