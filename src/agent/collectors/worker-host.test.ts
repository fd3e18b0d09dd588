// A user module in its worker thread (worker-host.ts): what it emits arrives through the host's fence
// with nothing lost, and whatever it does wrong — a throw from its own timer, a rejected promise, a
// busy loop, a throwing start() or createCollector() — ends its thread, is counted and said in its
// status, and (for crashes and stalls) restarts it, while this process carries on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/ingest-server.js';
import { recordingHost } from './testing/recording-sink.js';
import { ModuleWorker, type ModuleWorkerOptions } from './worker-host.js';

let dir: string;
const modules: Record<string, string> = {
  'emits.mjs': `export function createCollector(ctx) {
    return {
      name: 'emits',
      start() {
        setTimeout(() => {
          for (let i = 0; i < 3000; i++) ctx.emitCallState({ ts_us: i, call_id: 'c' + i, platform: 'p', state: 's' + i, fields: { i } });
          ctx.emitSip({ ts_us: 1, transport: 'udp', src: { ip: '10.0.0.1', port: 5060 }, dst: { ip: '10.0.0.2', port: 5062 }, payload: 'OPTIONS sip:x SIP/2.0\\r\\n\\r\\n' });
          ctx.emitSip({ ts_us: 2, transport: 'tcp', src: { ip: '10.0.0.2', port: 5062 }, dst: { ip: '10.0.0.1', port: 5060 }, payload: Buffer.from('SIP/2.0 200 OK\\r\\n\\r\\n') });
          ctx.emitLog({ ts_us: 3, line: 'hello', call_id: 'c1' });
          ctx.emitRoute({ ts_us: 4, call_id: 'c1', route: 'R', destination: 'sip:gw' });
          ctx.linkCallIds('c1', 'c2');
          ctx.emitCallState({ call_id: '', platform: 'p', state: 's' }); // invalid: counted there
          ctx.log('sent');
        }, 10);
      },
      stop() {},
      status() { return { counters: { mine: 7 } }; },
    };
  }`,
  'timer-throws.mjs': `export function createCollector() {
    return { name: 'timer-throws', start() { setTimeout(() => { throw new TypeError('boom from a timer'); }, 20); }, stop() {}, status() { return {}; } };
  }`,
  'rejects.mjs': `export function createCollector() {
    return { name: 'rejects', start() { setTimeout(() => { Promise.reject(new Error('nobody catches me')); }, 20); }, stop() {}, status() { return {}; } };
  }`,
  'busy.mjs': `export function createCollector() {
    return { name: 'busy', start() { setTimeout(() => { for (;;) {} }, 20); }, stop() {}, status() { return {}; } };
  }`,
  'start-throws.mjs': `export function createCollector() {
    return { name: 'start-throws', start() { throw new Error('cannot reach the PBX API'); }, stop() {}, status() { return {}; } };
  }`,
  'create-throws.mjs': `export function createCollector() { throw new Error('no config'); }`,
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-worker-host-'));
  for (const [f, src] of Object.entries(modules)) writeFileSync(join(dir, f), src);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FAST: Partial<ModuleWorkerOptions> = { stallMs: 1000, restartBaseMs: 100, restartMaxMs: 200, maxCrashes: 3 };

async function hosted(file: string, o: Partial<ModuleWorkerOptions> = {}) {
  const r = recordingHost();
  const w = await ModuleWorker.open({ path: join(dir, file), rate: 100_000, log: (m) => r.log.push(m), ...FAST, ...o });
  r.host.add((ctx) => w.attach(ctx), { name: w.name, maxEventsPerSecond: Infinity, fenced: true });
  await r.host.start();
  return { ...r, w, status: () => r.host.statuses()[0] };
}

describe('ModuleWorker', () => {
  it("carries every accepted emit of the module's thread to the sink, in order, with its counts", async () => {
    const { host, got, status, log } = await hosted('emits.mjs');
    expect(await waitFor(() => got.links.length === 1 && status().counters.dropped_invalid === 1, 20_000)).toBe(true);
    expect(got.states).toHaveLength(3000);
    expect(got.states.map((s) => s.state)).toEqual(Array.from({ length: 3000 }, (_, i) => `s${i}`));
    expect(got.states[5]).toEqual({ ts_us: 5, call_id: 'c5', platform: 'p', state: 's5', fields: { i: 5 }, source: 'emits' });
    expect(got.packets.map((p) => [p.transport, p.src, p.dst, p.payload.toString()])).toEqual([
      ['udp', { ip: '10.0.0.1', port: 5060 }, { ip: '10.0.0.2', port: 5062 }, 'OPTIONS sip:x SIP/2.0\r\n\r\n'],
      ['tcp', { ip: '10.0.0.2', port: 5062 }, { ip: '10.0.0.1', port: 5060 }, 'SIP/2.0 200 OK\r\n\r\n'],
    ]);
    expect(Buffer.isBuffer(got.packets[0].payload)).toBe(true);
    expect(got.logs).toEqual([{ line: 'hello', tsUs: 3, source: 'emits', callId: 'c1' }]);
    expect(got.routes).toEqual([{ ts_us: 4, call_id: 'c1', route: 'R', destination: 'sip:gw', source: 'emits' }]);
    expect(got.links).toEqual([['c1', 'c2']]);
    expect(log).toContain('emits: sent');
    expect(status()).toMatchObject({ name: 'emits', kind: 'collector', state: 'running', counters: { events: 3004, dropped_invalid: 1, links: 1, mine: 7 } });
    await host.stop();
    expect(status().state).toBe('stopped');
  }, 30_000);

  for (const [file, why] of [
    ['timer-throws.mjs', /^crashed: TypeError: boom from a timer/],
    ['rejects.mjs', /^crashed: Error: nobody catches me/],
    ['busy.mjs', /^stalled: no heartbeat for 1 s \(a busy loop or a blocking call\); its thread was terminated/],
  ] as const) {
    it(`${file}: the thread ends, is restarted with backoff, then left failed after 3 in a row`, async () => {
      const { host, status, log } = await hosted(file);
      expect(await waitFor(() => status().state === 'restarting' || (status().counters.restarts ?? 0) > 0, 20_000)).toBe(true);
      expect(status().error).toMatch(why);
      expect(await waitFor(() => status().state === 'failed', 30_000)).toBe(true);
      const st = status();
      expect(st.error).toMatch(why);
      expect(st.error).toMatch(/\(3 times in a row: not restarted\)$/);
      expect(st.counters.restarts).toBe(2);
      expect(st.counters[file === 'busy.mjs' ? 'stalls' : 'crashes']).toBe(3);
      expect(log.some((l) => /restarting in 0\.1 s/.test(l))).toBe(true);
      await host.stop();
    }, 60_000);
  }

  it('a throwing start() or createCollector() is failed at once, not restarted', async () => {
    for (const [file, error] of [
      ['start-throws.mjs', 'start() failed: cannot reach the PBX API'],
      ['create-throws.mjs', 'createCollector failed: no config'],
    ]) {
      const { host, status } = await hosted(file);
      expect(status()).toMatchObject({ state: 'failed', error });
      await new Promise((r) => setTimeout(r, 300));
      expect(status().counters.restarts).toBeUndefined();
      await host.stop();
    }
  }, 30_000);

  it('a module that cannot be loaded is failed with the reason', async () => {
    const { host, status } = await hosted('missing.mjs');
    expect(status()).toMatchObject({ name: 'collector:missing.mjs', state: 'failed', error: expect.stringMatching(/^createCollector failed: cannot load .*missing\.mjs/) });
    await host.stop();
  }, 30_000);
});
