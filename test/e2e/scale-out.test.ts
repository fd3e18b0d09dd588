// Several centers behind haproxy, as docs/scale-out.md deploys them (issue 11 "Tests"), with real
// processes only: a throwaway PostgreSQL 15, two `tunaio center --database … --public-url <haproxy>`,
// haproxy (test/support/haproxy.ts, the config the docs show), one `tunaio agent` capturing sipp on lo
// and uploading through haproxy (its ingest_url is the public URL), and an independent tcpdump as the
// reference. Every count is against that reference (tshark reads it), never against what the agent
// says it sent.
// 1. Create on A, list and stream on B, stop on B: every SIP message exactly once and in id order for
//    a reader of /events and for an SSE client on each center; the stop reaches the agent (through
//    the reconciling center); share link and export.tar from the other center hold every packet.
// 2. kill -9 of the center that runs the reconciler (and, round robin, takes half the uploads)
//    mid-capture: nothing lost, nothing twice, an SSE client of the dead center resumes through
//    haproxy on the other with Last-Event-ID and misses nothing, and the other center runs the
//    reconciler again within 15 s (measured: the kill → its tunaio_reconciler_leader gauge is 1).
// Everything runs on free loopback ports; only the processes started here are stopped.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { untar } from '../support/tar.js';
import { openSse } from '../../src/center/testing.js';
import type { SseClient } from '../../src/center/testing.js';
import { startPostgres } from '../support/postgres.js';
import type { TestPostgres } from '../support/postgres.js';
import { Haproxy } from '../support/haproxy.js';
import { AgentProcess, CenterProcess, Reference, register, settleCount, sipKeys, tally } from './fault-harness.js';
import { Api, OPERATOR_TOKEN, freePort, killPid, sipp, sippBg, sleep, tempDir, waitFor } from './harness.js';

const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };
let pgServer: TestPostgres;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);
afterAll(async () => pgServer?.stop());

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
});

interface Cluster {
  a: CenterProcess;
  b: CenterProcess;
  lb: Haproxy;
  agent: AgentProcess;
  agentId: number;
  api: { a: Api; b: Api; lb: Api };
  uas: number;
  uac: number;
  dir: string;
}

/** PostgreSQL database, two centers, haproxy in front, one capturing agent registered through haproxy. */
async function cluster(name: string, centerArgs: string[] = []): Promise<Cluster> {
  const database = await pgServer.createDatabase();
  const dir = tempDir(`scale-${name}`);
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [lbPort, pa, pb, uas, uac, agentPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const lb = new Haproxy([{ name: 'a', port: pa }, { name: 'b', port: pb }], lbPort);
  const args = ['--database', database, '--public-url', lb.url, ...centerArgs];
  const a = new CenterProcess(pa, path.join(dir, 'a'), args);
  const b = new CenterProcess(pb, path.join(dir, 'b'), args);
  // A first (it makes the schema and, starting its reconciler first, usually takes the lock), then B
  await a.start();
  cleanup.push(() => a.stop());
  await b.start();
  cleanup.push(() => b.stop());
  await lb.start();
  cleanup.push(() => lb.stop());
  const agent = new AgentProcess(name, agentPort, ['--interface', 'lo', '--bpf', `udp port ${uas} or udp port ${uac}`, '--snaplen', '4096', '--spool', path.join(dir, 'spool')]);
  await agent.start();
  cleanup.push(() => agent.stop());
  const api = { a: new Api(a.url), b: new Api(b.url), lb: new Api(lb.url) };
  const agentId = await register(api.lb, agent);
  return { a, b, lb, agent, agentId, api, uas, uac, dir };
}

/** Starts the reference capture and sipp's UAS; returns the call runner. */
async function traffic(c: Cluster): Promise<{ ref: Reference; calls: (n: number, rate: number, tag: string) => Promise<void> }> {
  const ref = new Reference(path.join(c.dir, 'ref.pcap'), `udp port ${c.uas} or udp port ${c.uac}`);
  await ref.start();
  cleanup.push(async () => void (await ref.stop().catch(() => undefined)));
  const uasPid = await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(c.uas), '-mp', String(await freePort())], c.dir);
  cleanup.push(() => killPid(uasPid));
  const calls = async (n: number, rate: number, tag: string): Promise<void> => {
    const r = await sipp(
      ['-sn', 'uac', `127.0.0.1:${c.uas}`, '-i', '127.0.0.1', '-p', String(c.uac), '-mp', String(await freePort()), '-m', String(n), '-r', String(rate),
        '-cid_str', `${tag}-%u@scale`, '-nostdin', '-timeout', `${Math.ceil(n / rate) + 60}s`],
      c.dir,
      (n / rate + 90) * 1000,
    );
    expect(r.code, r.stderr).toBe(0);
  };
  return { ref, calls };
}

async function captureRunning(c: Cluster, api: Api, id: string): Promise<void> {
  await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing', 30_000);
  await waitFor('tcpdump listening', async () => (await c.agent.status())?.sources.every((s: { state: string }) => s.state === 'running'), 15_000);
}

const sseIds = (s: SseClient): number[] => s.messages.filter((m) => m.event !== 'status').map((m) => Number(m.id));

/** The leader's gauge on a center (tunaio_reconciler_leader), null when it does not answer. */
async function leads(center: CenterProcess): Promise<boolean | null> {
  const r = await fetch(`${center.url}/metrics`, { headers: op }).catch(() => null);
  if (!r?.ok) return null;
  return /^tunaio_reconciler_leader 1$/m.test(await r.text());
}

/** Ingest batches a center took (tunaio_ingest_batches_total). */
async function ingestBatches(center: CenterProcess): Promise<number> {
  const text = await (await fetch(`${center.url}/metrics`, { headers: op })).text();
  return Number(/^tunaio_ingest_batches_total (\d+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * An SSE client that, when its connection ends without the final status, reconnects to `resumeUrl`
 * (haproxy) with Last-Event-ID, as a browser's EventSource does. Every attempt is bounded.
 */
function resumingSse(firstUrl: string, resumeUrl: string) {
  const got: number[] = [];
  let current: SseClient | undefined;
  let status: string | null = null;
  let closed = false;
  let reconnects = 0;
  const done = (async () => {
    for (let attempt = 0; attempt < 60 && !closed && status === null; attempt++) {
      const headers: Record<string, string> = { ...op };
      if (got.length > 0) headers['last-event-id'] = String(got[got.length - 1]);
      const c = await openSse(attempt === 0 ? firstUrl : resumeUrl, headers).catch(() => null);
      if (!c || c.status !== 200) {
        c?.close();
        await sleep(500);
        continue;
      }
      current = c;
      if (attempt > 0) reconnects++;
      await c.ended;
      current = undefined;
      for (const m of c.messages) {
        if (m.event === 'status') status = (JSON.parse(m.data) as { status: string }).status;
        else got.push(Number(m.id));
      }
      if (status === null) await sleep(200);
    }
  })();
  return {
    ids: (): number[] => [...got, ...(current ? sseIds(current) : [])],
    status: () => status,
    reconnects: () => reconnects,
    done,
    close(): void {
      closed = true;
      current?.close();
    },
  };
}

/** SIP messages tshark finds in the export's pcap files. */
async function sipInExport(c: Cluster, url: string, headers: Record<string, string>): Promise<number> {
  const r = await fetch(url, { headers });
  expect(r.status).toBe(200);
  const files = await untar(Buffer.from(await r.arrayBuffer()));
  let n = 0;
  for (const [name, bytes] of files) {
    if (!name.endsWith('.pcap')) continue;
    const f = path.join(c.dir, `export-${n}-${path.basename(name)}`);
    fs.writeFileSync(f, bytes);
    const t = spawnSync('tshark', ['-r', f, '-d', `udp.port==${c.uas},sip`, '-d', `udp.port==${c.uac},sip`, '-Y', 'sip', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    n += t.stdout.split('\n').filter((l) => l.trim() !== '').length;
  }
  return n;
}

describe('two centers on one PostgreSQL behind haproxy, a real agent uploading through it', () => {
  it('create on A, list and stream on B, stop on B: every message once and in order on /events and on SSE of both centers; share and export.tar from the other center', async () => {
    const c = await cluster('scale');
    const { ref, calls } = await traffic(c);
    const id = await c.api.a.newSession('scale-out', { from: 'sipp' }, [c.agentId], { capture_pcap: true });
    const listed = await c.api.b.req('GET', '/api/sessions');
    expect(listed.json.sessions.map((s: { id: string }) => s.id)).toContain(id);
    await captureRunning(c, c.api.b, id);
    const sseA = await openSse(`${c.a.url}/api/sessions/${id}/stream`, op);
    const sseB = await openSse(`${c.b.url}/api/sessions/${id}/stream`, op);

    await calls(30, 10, 'e2e');
    const wire = await ref.stop();
    await settleCount(c.api.b, id, wire.keys.length, 60_000);
    const events = await c.api.b.events(id);
    const t = tally(wire, sipKeys(events));
    console.log(`[scale-out] e2e: on the wire ${t.sent}, stored ${t.stored}, lost ${t.lost}, duplicated ${t.duplicated}, unknown ${t.unknown}`);
    expect(t.sent).toBeGreaterThanOrEqual(30 * 6);
    expect({ lost: t.lost, duplicated: t.duplicated, unknown: t.unknown }, JSON.stringify(t.samples)).toEqual({ lost: 0, duplicated: 0, unknown: 0 });
    const stored = events.map((e) => e.id);
    expect(stored).toEqual([...stored].sort((x, y) => x - y));
    expect(new Set(stored).size).toBe(stored.length);
    // the agent's uploads went through haproxy, to both centers
    for (const center of [c.a, c.b]) expect(await ingestBatches(center), center.url).toBeGreaterThan(0);
    expect((await c.api.a.detail(id)).event_count).toBe(stored.length);

    // each center's SSE client: every event once, in id order
    for (const s of [sseA, sseB]) await s.waitFor((x) => sseIds(x).length >= stored.length, 30_000);
    expect(sseIds(sseA)).toEqual(stored);
    expect(sseIds(sseB)).toEqual(stored);

    // share link made on A, read and exported on B; the operator's export on B too
    const share = await c.api.a.req('POST', `/api/sessions/${id}/share`);
    expect(share.status).toBe(201);
    expect(share.json.url.startsWith(c.lb.url)).toBe(true);
    const viaShare = (await (await fetch(`${c.b.url}/api/share/${share.json.token}/events?limit=1000`)).json()) as { events: { id: number }[] };
    expect(viaShare.events.map((e) => e.id)).toEqual(stored.slice(0, 1000));
    expect(await sipInExport(c, `${c.b.url}/api/share/${share.json.token}/export.tar`, {})).toBe(wire.keys.length);
    expect(await sipInExport(c, `${c.b.url}/api/sessions/${id}/export.tar`, op)).toBe(wire.keys.length);

    // stop on B: both streams end with the status; the agent drops the capture (told by the reconciling center)
    expect((await c.api.b.req('DELETE', `/api/sessions/${id}`)).status).toBe(200);
    await Promise.all([sseA.ended, sseB.ended]);
    for (const s of [sseA, sseB]) expect(JSON.parse(s.messages[s.messages.length - 1].data)).toMatchObject({ session_id: id, status: 'stopped' });
    await waitFor('capture stopped on the agent', async () => !(await c.agent.status())?.captures.some((x: { session_id: string }) => x.session_id === id), 30_000);
    expect((await c.api.a.detail(id)).status).toBe('stopped');
  }, 300_000);

  it('kill -9 of the reconciling center mid-capture: nothing lost or twice, SSE resumes through haproxy, the other center reconciles within 15 s', async () => {
    // the default reconcile period (5 s): the takeover measured is the one operators get
    const c = await cluster('fault', ['--reconcile-seconds', '5']);
    const leader = await waitFor('one reconciling center', async () => {
      const [la, lb] = [await leads(c.a), await leads(c.b)];
      return la !== lb ? (la ? c.a : c.b) : null;
    }, 30_000, 250);
    const survivor = leader === c.a ? c.b : c.a;
    const { ref, calls } = await traffic(c);
    const id = await c.api.lb.newSession('failover', { from: 'sipp' }, [c.agentId], { capture_pcap: true });
    await captureRunning(c, c.api.lb, id);
    const onSurvivor = await openSse(`${survivor.url}/api/sessions/${id}/stream`, op);
    // a client of the center that dies: its browser reconnects through haproxy with Last-Event-ID
    const resumed = resumingSse(`${leader.url}/api/sessions/${id}/stream`, `${c.lb.url}/api/sessions/${id}/stream`);
    cleanup.push(() => resumed.close());

    const run = calls(80, 10, 'kill');
    await waitFor('events stored before the kill', async () => (await new Api(survivor.url).detail(id)).event_count >= 40, 30_000, 100);
    await leader.kill9();
    const killedAt = Date.now();
    await waitFor('the other center reconciles', async () => (await leads(survivor)) === true, 30_000, 100);
    const takeoverMs = Date.now() - killedAt;
    await run;
    const wire = await ref.stop();
    const api = new Api(survivor.url);
    await settleCount(api, id, wire.keys.length, 90_000);
    const events = await api.events(id);
    const t = tally(wire, sipKeys(events));
    const d = await api.detail(id);
    console.log(
      `[scale-out] kill -9 of the reconciling center: on the wire ${t.sent}, stored ${t.stored}, lost ${t.lost}, duplicated ${t.duplicated}, ` +
        `unknown ${t.unknown}; reconciler back on the other center after ${takeoverMs} ms (reconcile period 5 s); agent dropped ${JSON.stringify(d.agents[0].counters.dropped)}`,
    );
    expect(t.sent).toBeGreaterThanOrEqual(80 * 6);
    expect({ lost: t.lost, duplicated: t.duplicated, unknown: t.unknown }, JSON.stringify(t.samples)).toEqual({ lost: 0, duplicated: 0, unknown: 0 });
    // issue 11 item 4 (a bound, not a benchmark: the period is 5 s)
    expect(takeoverMs).toBeLessThan(15_000);

    const stored = events.map((e) => e.id);
    await onSurvivor.waitFor((x) => sseIds(x).length >= stored.length, 30_000);
    expect(sseIds(onSurvivor)).toEqual(stored);
    await waitFor('resumed client caught up', () => resumed.ids().length >= stored.length, 30_000);
    expect(resumed.reconnects()).toBeGreaterThanOrEqual(1);
    expect(resumed.ids()).toEqual(stored);

    // the survivor now calls the agent: a stop made there reaches it
    expect((await api.req('DELETE', `/api/sessions/${id}`)).status).toBe(200);
    await waitFor('capture stopped on the agent', async () => !(await c.agent.status())?.captures.some((x: { session_id: string }) => x.session_id === id), 30_000);
    await resumed.done;
    expect(resumed.status()).toBe('stopped');
  }, 300_000);
});
