// Contract of the ingest fast path: on every input, `fastIngestEvent` either says "ask zod"
// (undefined) or gives exactly what `ingestEventSchema` gives (same value, same key order), and it
// never accepts what zod rejects. Valid events of every kind must take the fast path.
import { describe, expect, it } from 'vitest';
import { ingestEventSchema } from './event.js';
import { fastEventJsonWithoutFrame, fastIngestEvent, frameBytes } from './event-fast.js';

const SID = 'd8e3a6b8f0c24c7a93fb';
const FRAME = { link_type: 1, data: Buffer.from('a frame of some bytes!').toString('base64'), orig_len: 22 };

const VALID: Record<string, unknown>[] = [
  {
    session_id: SID, seq: 0, ts: 1_764_000_000_000_000, kind: 'sip', transport: 'udp',
    src: { ip: '10.0.0.1', port: 5060 }, dst: { ip: '192.168.255.254', port: 5080 }, call_id: 'abc@host',
    sip: { method: 'INVITE', cseq_seq: 1, cseq_method: 'INVITE', from_user: '15554430191', to_user: 'bob', has_sdp: true },
    payload: 'INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: abc@host\r\n\r\n', rtp: null, rtcp: null, stats: null, log: null, frame: FRAME,
  },
  {
    session_id: SID, seq: 1, ts: 5, kind: 'sip', transport: 'tcp', src: { ip: '10.0.0.2', port: 5060 }, dst: { ip: '10.0.0.1', port: 0 },
    call_id: 'abc@host', sip: { status: 200, reason: 'OK', cseq_seq: 4_294_967_295, cseq_method: 'INVITE', has_sdp: false }, payload: 'SIP/2.0 200 OK\r\n\r\n',
  },
  { session_id: SID, seq: 2, ts: 0, kind: 'log', payload: 'a log line', log: { source: '/var/log/x.log' } },
  { session_id: SID, seq: 3, ts: 0, kind: 'log', log: {} },
  { session_id: SID, seq: Number.MAX_SAFE_INTEGER, ts: Number.MAX_SAFE_INTEGER, kind: 'webrtc' },
  {
    session_id: SID, seq: 4, ts: 9, kind: 'rtp', transport: 'udp', src: { ip: '10.0.0.1', port: 6000 }, dst: { ip: '10.0.0.2', port: 65_535 },
    call_id: 'c', rtp: { ssrc: 4_294_967_295, pt: 127, seq: 65_535, ts: 0, marker: true, codec: 'PCMU' }, frame: { link_type: 101, data: '', orig_len: 0 },
  },
  { session_id: SID, seq: 5, ts: 9, kind: 'rtp', rtp: { ssrc: 0, pt: 0, seq: 0, ts: 4_294_967_295, marker: false } },
  {
    session_id: SID, seq: 6, ts: 9, kind: 'rtcp', rtcp: { type: 200, ssrc: 7, fields: { packets: 2, name: 'x', ok: true, nil: null, neg: -1.5, '10': 1, [`k${'x'.repeat(63)}`]: 'v'.repeat(256) } },
    frame: { link_type: 276, data: 'AAA=', orig_len: 3 },
  },
  { session_id: SID, seq: 7, ts: 9, kind: 'rtcp', rtcp: { type: 0 } },
  {
    session_id: SID, seq: 8, ts: 9, kind: 'rtp',
    stats: { ssrc: 1, packets: 104, expected: 101, lost: -3, jitter_ms: 0.5, max_delta_ms: 20, duplicates: 3, out_of_order: 1, mean_jitter_ms: 0.7, max_jitter_ms: 1.2, duration_ms: 2000, mos: 4.4, codec: 'PCMA', final: true },
  },
  { session_id: SID, seq: 9, ts: 9, kind: 'rtp', stats: { ssrc: 1, packets: 0, expected: 0, lost: 0, jitter_ms: 0, max_delta_ms: 0, mos: null, codec: null, final: false } },
  { session_id: SID, seq: 10, ts: 9, kind: 'sip', transport: null, src: null, dst: null, call_id: null, sip: null, payload: null, rtp: null, rtcp: null, stats: null, log: null, frame: null },
  { session_id: SID, seq: 11, ts: 9, kind: 'sip', transport: 'wss', sip: { has_sdp: false }, frame: { link_type: 65_535, data: 'AA==', orig_len: 0x7fffffff } },
  {
    session_id: SID, seq: 12, ts: 9, kind: 'callstate', call_id: 'c',
    callstate: { platform: 'freeswitch', state: 'hangup', cause: 'NORMAL_CLEARING', q850: 16, source: 'esl:x', fields: { 'Unique-ID': 'u', n: 1.5, b: false, z: null, [`k${'x'.repeat(63)}`]: 'v'.repeat(1024) } },
  },
  { session_id: SID, seq: 13, ts: 9, kind: 'callstate', callstate: { platform: 'a', state: 'b', q850: 0, fields: {} } },
  { session_id: SID, seq: 14, ts: 9, kind: 'route', call_id: 'c', payload: 'line', route: { route: 'RELAY', destination: 'sip:gw@10.0.0.1', source: 'log:/x', fields: { level: 'NOTICE' } } },
  { session_id: SID, seq: 15, ts: 9, kind: 'route', route: {}, callstate: null },
];

// zod accepts these; the fast path may leave them to zod
const VALID_SLOW: Record<string, unknown>[] = [
  { session_id: SID, seq: 1, ts: 1, kind: 'sip', src: { ip: '2001:db8::1', port: 5060 } },
  { session_id: SID, seq: 1, ts: 1, kind: 'sip', dst: { ip: '::ffff:192.0.2.1', port: 5060 } },
];

const BAD_VALUES: unknown[] = [
  undefined, null, true, false, 0, -0, -1, 1.5, 0.1, 256, 65_536, 4_294_967_296, Number.MAX_SAFE_INTEGER + 1, -Number.MAX_SAFE_INTEGER - 2,
  Number.NaN, Infinity, -Infinity, 1e300, '', 'x', '5', 'a'.repeat(33), 'a'.repeat(257), 'a'.repeat(1025), 'udp', 'UDP', 'sip', 'INVITE',
  [], [1], {}, { ip: '10.0.0.1' }, { ip: '10.0.0.1', port: 1, x: 1 }, { ip: '1.2.3', port: 1 }, { ip: '01.2.3.4', port: 1 },
  { ip: ' 10.0.0.1', port: 1 }, { ip: '10.0.0.1\n', port: 1 }, { ip: ':::', port: 1 }, { ip: '::1', port: 1 }, { ip: '::@1\\', port: 1 },
  { has_sdp: 'yes' }, { has_sdp: true, status: 99 }, { has_sdp: true, status: 700 }, { has_sdp: true, method: null },
  { has_sdp: true, extra: 1 }, { link_type: 1, data: 'A', orig_len: 1 }, { link_type: 1, data: 'A===', orig_len: 1 },
  { link_type: 1, data: 'AA=A', orig_len: 1 }, { link_type: 1, data: 'AA A', orig_len: 1 }, { link_type: 1, data: 'AA\nA', orig_len: 1 },
  { link_type: 1, data: 'AA-_', orig_len: 1 }, { link_type: 1, data: '====', orig_len: 1 }, { link_type: 1, data: 'AAAAA=', orig_len: 1 },
  { link_type: 1, data: 'AB==AB==', orig_len: 1 }, { link_type: 1, data: '=AAA', orig_len: 1 }, { link_type: 1, data: 'AAA\u00e9', orig_len: 1 },
  { link_type: 1, data: 'AAAA\u0000AA=', orig_len: 1 }, { link_type: 1, data: 'AAAA====', orig_len: 1 }, { link_type: 1, data: 'AA.A', orig_len: 1 },
  { link_type: 1, data: 'AAA-AAA=', orig_len: 1 }, { link_type: 1, data: 'AAA=AAAA', orig_len: 1 }, { link_type: 1, data: 'AAAAAAA\t', orig_len: 1 },
  { link_type: 1, data: 'A'.repeat(87_388), orig_len: 1 }, { link_type: 1, data: 'A'.repeat(87_392), orig_len: 1 },
  { link_type: -1, data: '', orig_len: 1 }, { link_type: 1, data: '', orig_len: -1 }, { link_type: 1, data: '' },
  { type: 200, fields: { k: [] } }, { type: 200, fields: { k: {} } }, { type: 200, fields: { [`k${'x'.repeat(64)}`]: 1 } },
  { type: 200, fields: { k: 'v'.repeat(257) } }, { type: 200, fields: null }, { type: 200, fields: [] }, { type: 256 }, { type: 1, ssrc: -1 },
  { ssrc: 1, pt: 128, seq: 0, ts: 0, marker: false }, { ssrc: 1, pt: 0, seq: 0, ts: 0, marker: 0 }, { ssrc: 1, pt: 0, seq: 0, ts: 0, marker: false, codec: null },
  { ssrc: 1, packets: 0, expected: 0, lost: 0, jitter_ms: 0, max_delta_ms: 0, mos: 0.5, codec: null, final: false },
  { ssrc: 1, packets: 0, expected: 0, lost: 0, jitter_ms: -1, max_delta_ms: 0, mos: null, codec: null, final: false },
  { ssrc: 1, packets: 0, expected: 0, lost: 0, jitter_ms: 0, max_delta_ms: 0, codec: null, final: false },
  { platform: '', state: 's' }, { platform: 'x'.repeat(33), state: 's' }, { platform: 'p', state: 'x'.repeat(65) }, { platform: 'p' },
  { platform: 'p', state: 's', q850: 128 }, { platform: 'p', state: 's', cause: 'c'.repeat(65) }, { platform: 'p', state: 's', fields: [] },
  { '': 1 }, { k: 'v'.repeat(1025) }, { k: [1] }, { k: { a: 1 } }, Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])),
  { route: 'r'.repeat(129) }, { destination: 'd'.repeat(513) }, { route: 1 }, { route: 'r', fields: null },
  { source: 'x'.repeat(513) }, { source: null }, new Date(0), Object.create(null), Object.create({ inherited: 1 }),
  'd8e3a6b8f0c24c7a93fB', 'd8e3a6b8f0c24c7a93f', 'x'.repeat(65_537),
];

const FIELDS = ['session_id', 'seq', 'ts', 'kind', 'transport', 'src', 'dst', 'call_id', 'sip', 'payload', 'rtp', 'rtcp', 'stats', 'log', 'callstate', 'route', 'frame'];

/** sets `path` (a.b.c) in a deep copy; `undefined` deletes the key */
function mutate(e: Record<string, unknown>, path: string[], v: unknown): Record<string, unknown> {
  const copy = structuredClone(e);
  let o = copy as Record<string, unknown>;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (v === undefined) delete o[last];
  else o[last] = v;
  return copy;
}

/** every path to a leaf or object of a valid event */
function paths(o: unknown, pre: string[] = []): string[][] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return [pre];
  const out: string[][] = pre.length > 0 ? [pre] : [];
  for (const [k, v] of Object.entries(o)) out.push(...paths(v, [...pre, k]));
  return out;
}

function agree(input: unknown): 'fast' | 'slow' {
  const z = ingestEventSchema.safeParse(input);
  const f = fastIngestEvent(input);
  if (f === undefined) return 'slow';
  if (!z.success) throw new Error(`fast path accepted what zod rejects: ${JSON.stringify(input)?.slice(0, 300)}: ${z.error.message.slice(0, 300)}`);
  expect(f).toStrictEqual(z.data);
  expect(JSON.stringify(f)).toBe(JSON.stringify(z.data));
  const { frame: _frame, ...rest } = f;
  expect(fastEventJsonWithoutFrame(f)).toBe(JSON.stringify(rest));
  return 'fast';
}

describe('frameBytes', () => {
  it('gives the bytes of a frame the fast path checked, and decodes any other frame', () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
    for (const n of [0, 1, 2, 3, 299, 300]) {
      const data = bytes.subarray(0, n).toString('base64');
      const e = fastIngestEvent({ session_id: SID, seq: 1, ts: 1, kind: 'sip', frame: { link_type: 1, data, orig_len: n } });
      expect(e?.frame).toBeTruthy();
      expect(frameBytes(e!.frame!).equals(bytes.subarray(0, n))).toBe(true);
      expect(frameBytes({ link_type: 1, data, orig_len: n }).equals(bytes.subarray(0, n))).toBe(true);
    }
  });
});

describe('fastIngestEvent agrees with ingestEventSchema', () => {
  it.each(VALID.map((e, i) => [i, e] as const))('valid event %i takes the fast path with the same result', (_i, e) => {
    expect(ingestEventSchema.safeParse(e).success).toBe(true);
    expect(agree(e)).toBe('fast');
  });

  it('leaves IPv6 addresses to zod (which accepts them)', () => {
    for (const e of VALID_SLOW) {
      expect(ingestEventSchema.safeParse(e).success).toBe(true);
      expect(agree(e)).toBe('slow');
    }
  });

  it('never accepts a mutation zod rejects: every field and nested field set to many bad values, deleted, or joined by an unknown key', () => {
    let n = 0;
    let rejectedByZod = 0;
    for (const base of VALID) {
      const targets = [...paths(base), ...FIELDS.map((f) => [f])];
      for (const p of targets) {
        for (const v of [...BAD_VALUES, undefined]) {
          const m = mutate(base, p, v);
          if (!ingestEventSchema.safeParse(m).success) rejectedByZod++;
          agree(m);
          n++;
        }
        agree(mutate(base, [...p.slice(0, -1), 'unknown_key'], 1));
        n++;
      }
    }
    expect(n).toBeGreaterThan(5000);
    expect(rejectedByZod).toBeGreaterThan(n / 2);
  });

  it('agrees on random combinations of mutations (seeded)', () => {
    let seed = 12_345;
    const rnd = (k: number): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % k;
    };
    let fast = 0;
    for (let i = 0; i < 4000; i++) {
      let e = VALID[rnd(VALID.length)];
      const ps = paths(e);
      const k = 1 + rnd(3);
      for (let j = 0; j < k; j++) {
        const p = ps[rnd(ps.length)];
        const pool = [...BAD_VALUES, ...VALID.map((x) => x.sip), ...VALID.map((x) => x.frame), ...VALID.map((x) => x.rtcp), ...VALID.map((x) => x.callstate), ...VALID.map((x) => x.route), 'tls', 'sctp', 'ws', 'rtp'];
        e = mutate(e, p, pool[rnd(pool.length)]);
      }
      if (agree(e) === 'fast') fast++;
    }
    expect(fast).toBeGreaterThan(0);
  });

  it('refuses non-objects and odd objects', () => {
    for (const v of [null, undefined, 1, 'x', [], [VALID[0]], new Map(), Object.assign(Object.create(null), VALID[0])]) {
      expect(fastIngestEvent(v)).toBeUndefined();
    }
    const proto = JSON.parse(`{"session_id":"${SID}","seq":1,"ts":1,"kind":"log","__proto__":{"x":1}}`) as unknown;
    expect(agree(proto)).toBe('slow');
    const fieldsProto = JSON.parse(`{"session_id":"${SID}","seq":1,"ts":1,"kind":"rtcp","rtcp":{"type":1,"fields":{"__proto__":1}}}`) as unknown;
    expect(agree(fieldsProto)).toBe('slow');
    const callProto = JSON.parse(`{"session_id":"${SID}","seq":1,"ts":1,"kind":"callstate","callstate":{"platform":"p","state":"s","fields":{"__proto__":1}}}`) as unknown;
    expect(agree(callProto)).toBe('slow');
  });
});
