// The collector host's fence: what a collector emits reaches the sink checked and bounded, and a
// collector that throws (creating, starting, reporting) or floods is contained and reported.
import { describe, expect, it } from 'vitest';
import type { PacketInput } from '../capture-manager.js';
import type { Collector, CollectorContext } from './collector.js';
import { CollectorHost, cleanFields, type CollectorSink } from './host.js';

function recordingSink() {
  const got = { packets: [] as PacketInput[], logs: [] as unknown[][], states: [] as unknown[][], routes: [] as unknown[][] };
  const sink: CollectorSink = {
    onPacket: (p) => got.packets.push(p),
    onLogLine: (...a) => got.logs.push(a),
    onCallState: (...a) => got.states.push(a),
    onRoute: (...a) => got.routes.push(a),
    onLinkCalls: () => undefined,
  };
  return { sink, got };
}

const idle = (name: string, extra: Partial<Collector> = {}): Collector => ({ name, start: () => undefined, stop: () => undefined, status: () => ({}), ...extra });

describe('CollectorHost', () => {
  it('converts each emit into the sink input, with the collector name as source', async () => {
    const { sink, got } = recordingSink();
    const host = new CollectorHost(sink);
    let ctx!: CollectorContext;
    host.add((c) => ((ctx = c), idle('mine')));
    await host.start();
    expect(ctx.name).toBe('mine');
    const src = { ip: '10.0.0.1', port: 5060 };
    const dst = { ip: '10.0.0.2', port: 5060 };
    expect(ctx.emitSip({ ts_us: 5, transport: 'UDP', src, dst, payload: 'OPTIONS sip:a SIP/2.0\r\n\r\n' })).toBe(true);
    expect(ctx.emitLog({ ts_us: 6, line: 'hello callid=x', call_id: 'x' })).toBe(true);
    expect(ctx.emitCallState({ ts_us: 7, call_id: 'x', platform: 'freeswitch', state: 'hangup', cause: 'NORMAL_CLEARING', q850: 16, fields: { a: 1, b: { no: 1 } as never } })).toBe(true);
    expect(ctx.emitRoute({ ts_us: 8, call_id: 'x', route: 'RELAY', destination: 'sip:gw' })).toBe(true);
    expect(got.packets[0]).toMatchObject({ tsUs: 5, transport: 'udp', src, dst });
    expect(got.packets[0].payload.toString()).toMatch(/^OPTIONS/);
    expect(got.logs[0]).toEqual(['hello callid=x', 6, 'mine', 'x']);
    expect(got.states[0]).toEqual([{ ts_us: 7, call_id: 'x', platform: 'freeswitch', state: 'hangup', cause: 'NORMAL_CLEARING', q850: 16, fields: { a: 1 } }, 'mine']);
    expect(got.routes[0]).toEqual([{ ts_us: 8, call_id: 'x', route: 'RELAY', destination: 'sip:gw' }, 'mine']);
    expect(host.statuses()[0]).toMatchObject({ name: 'mine', kind: 'collector', state: 'running', counters: { events: 4 } });
  });

  it('refuses and counts invalid emits without throwing', async () => {
    const { sink, got } = recordingSink();
    const host = new CollectorHost(sink);
    let ctx!: CollectorContext;
    host.add((c) => ((ctx = c), idle('x')));
    const bad: (() => boolean)[] = [
      () => ctx.emitSip({ transport: 'carrier-pigeon', src: { ip: 'a', port: 1 }, dst: { ip: 'b', port: 1 }, payload: 'x' }),
      () => ctx.emitSip({ transport: 'udp', src: { ip: 'a', port: 70000 }, dst: { ip: 'b', port: 1 }, payload: 'x' }),
      () => ctx.emitSip(null as never),
      () => ctx.emitLog({ line: '' }),
      () => ctx.emitLog({ ts_us: -1, line: 'x' }),
      () => ctx.emitCallState({ call_id: '', platform: 'p', state: 's' }),
      () => ctx.emitCallState({ call_id: 'c', platform: 'p' } as never),
      () => ctx.emitRoute({ call_id: 'c' }),
      () => ctx.emitRoute(undefined as never),
    ];
    for (const f of bad) expect(f()).toBe(false);
    expect(got.packets.length + got.logs.length + got.states.length + got.routes.length).toBe(0);
    expect(host.statuses()[0].counters.dropped_invalid).toBe(bad.length);
  });

  it('bounds a flood: beyond the rate, emits are dropped and counted, and the sink sees only the bound', () => {
    const { sink, got } = recordingSink();
    const host = new CollectorHost(sink);
    let ctx!: CollectorContext;
    host.add((c) => ((ctx = c), idle('flood')), { maxEventsPerSecond: 1000 });
    let accepted = 0;
    for (let i = 0; i < 50_000; i++) if (ctx.emitLog({ ts_us: i, line: `line ${i}` })) accepted++;
    // Within one second of wall time, at most two windows can open.
    expect(accepted).toBeGreaterThanOrEqual(1000);
    expect(accepted).toBeLessThanOrEqual(2000);
    expect(got.logs.length).toBe(accepted);
    const c = host.statuses()[0].counters;
    expect(c.events).toBe(accepted);
    expect(c.dropped_rate_limited).toBe(50_000 - accepted);
  });

  it('contains a collector that throws when created, in start() (sync and async) or in status(), and keeps the others', async () => {
    const { sink } = recordingSink();
    const logs: string[] = [];
    const host = new CollectorHost(sink, (m) => logs.push(m));
    host.add(() => {
      throw new Error('no config');
    }, { name: 'broken-create' });
    host.add(() => idle('sync-start', { start: () => { throw new Error('boom sync'); } }));
    host.add(() => idle('async-start', { start: async () => { await new Promise((r) => setTimeout(r, 5)); throw new Error('boom async'); } }));
    host.add(() => idle('bad-status', { status: () => { throw new Error('status broke'); } }));
    host.add(() => idle('hangs', { start: () => new Promise<void>(() => undefined) }), { startTimeoutMs: 50 });
    host.add(() => idle('fine'));
    host.add(() => 42 as never, { name: 'not-an-object' });
    await host.start();
    const st = Object.fromEntries(host.statuses().map((s) => [s.name, s]));
    expect(st['broken-create']).toMatchObject({ state: 'failed', error: 'createCollector failed: no config' });
    expect(st['sync-start']).toMatchObject({ state: 'failed', error: 'start() failed: boom sync' });
    expect(st['async-start']).toMatchObject({ state: 'failed', error: 'start() failed: boom async' });
    expect(st['bad-status']).toMatchObject({ state: 'failed', error: 'status() failed: status broke' });
    expect(st.hangs).toMatchObject({ state: 'running' });
    expect(st.fine).toMatchObject({ state: 'running' });
    expect(st['not-an-object']).toMatchObject({ state: 'failed', error: expect.stringMatching(/must return/) });
    expect(logs.some((l) => l.includes('boom async'))).toBe(true);
    await host.stop();
  });

  it('keeps at most 64 scalar fields with bounded names and values', () => {
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(cleanFields(many)!)).toHaveLength(64);
    expect(cleanFields({ ['n'.repeat(100)]: 'v'.repeat(2000), o: {}, a: [1], u: undefined, ok: true })).toEqual({ ['n'.repeat(64)]: 'v'.repeat(1024), ok: true });
    expect(cleanFields('x')).toBeUndefined();
  });
});
