// Scenario "faults" (issue 4, Tests): the center stopped for 10 s in the middle of a 200-call run
// (the agent spools, then flushes: every matched message arrives exactly once), and an agent killed
// with SIGKILL and restarted (the reconciler puts it back in its running captures within 10 s).
// Ports 5070-5073 belong to this file.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { RunningCenter } from '../../src/center/index.js';
import {
  Api,
  CALL_MESSAGES,
  FIXTURES,
  dialogs,
  e2eCenter,
  freePort,
  inProcessAgent,
  killPid,
  label,
  sipp,
  sippBg,
  sleep,
  spawnAgentProcess,
  tempDir,
  waitFor,
} from './harness.js';

const dirs: string[] = [];
const pids: number[] = [];
const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const p of pids) killPid(p);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('center outage during a 200-call run', () => {
  const UAS = 5070;
  const UAC = 5071;

  it('the center stops for 10 s mid-run and starts again: every matched message arrives exactly once', async () => {
    const dir = tempDir('outage');
    dirs.push(dir);
    const data = path.join(dir, 'data');
    let center: RunningCenter = await e2eCenter(data);
    const port = Number(new URL(center.url).port);
    closers.push(() => center.close());
    const a = await inProcessAgent(center, {
      name: 'edge-outage',
      interfaces: ['lo'],
      bpf: `udp portrange ${UAS}-${UAC}`,
      snaplen: 4096,
      spoolDir: path.join(dir, 'spool'),
    });
    closers.push(() => a.agent.stop());
    await waitFor('tcpdump listening', () => a.agent.sources.every((s) => s.status().state === 'running'));
    let api = new Api(center.url);
    const id = await api.newSession('outage', { to: '4420701111' }, [a.id]);
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');

    pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS)], dir));
    // 200 calls at 10/s (~20 s); every other call goes to the DID of the session
    const run = sipp(
      [`127.0.0.1:${UAS}`, '-sf', path.join(FIXTURES, 'uac-injected.xml'), '-inf', path.join(FIXTURES, 'callers-fault.csv'),
        '-i', '127.0.0.1', '-p', String(UAC), '-m', '200', '-r', '10', '-cid_str', 'o-%u@e2e.test', '-nostdin', '-timeout', '90s'],
      dir,
    );
    let runDone = false;
    void run.then(() => (runDone = true));
    await waitFor('the first matched events', async () => (await api.detail(id)).event_count > 0, 10_000);
    await sleep(1000);
    await center.close();
    await sleep(10_000);
    expect(runDone).toBe(false); // the outage lies inside the run
    center = await e2eCenter(data, { port });
    expect(center.url).toBe(`http://127.0.0.1:${port}`);
    api = new Api(center.url);
    const r = await run;
    expect(r.code, r.stdout + r.stderr).toBe(0);

    const expected = 100 * CALL_MESSAGES.length;
    await waitFor(`${expected} events`, async () => (await api.detail(id)).event_count >= expected, 60_000).catch(() => undefined);
    await sleep(2000);
    const events = await api.events(id);
    console.log(`[e2e faults] center outage: expected ${expected} messages, received ${events.length}`);
    const keys = new Set(events.map((e) => `${e.call_id}|${label(e)}|${e.sip?.cseq_seq}|${e.sip?.cseq_method}`));
    expect(keys.size).toBe(events.length); // nothing twice
    expect(events.length).toBe(expected); // nothing lost
    const got = dialogs(events);
    expect(got.size).toBe(100);
    for (const [cid, msgs] of got) expect([...msgs].sort(), cid).toEqual([...CALL_MESSAGES].sort());
    // the matched calls are the odd ones (rows alternate in the injection file)
    expect([...got.keys()].every((cid) => Number(/^o-(\d+)@/.exec(cid)?.[1]) % 2 === 1)).toBe(true);
    const d = await api.detail(id);
    expect(d.agents[0].state).toBe('capturing');
  }, 150_000);
});

describe('agent killed with SIGKILL and restarted', () => {
  const UAS = 5072;
  const UAC = 5073;

  it('the center shows it offline with the reason, then the reconciler puts it back in its running captures within 10 s', async () => {
    const dir = tempDir('kill');
    dirs.push(dir);
    const center = await e2eCenter(path.join(dir, 'data'));
    closers.push(() => center.close());
    const api = new Api(center.url);
    const agentPort = await freePort();
    const token = 'e2e-kill-agent-token-0123456789abcdef';
    const url = `http://127.0.0.1:${agentPort}`;
    // no --spool: the restarted agent cannot resume from its own state file; only the center can bring it back
    const args = ['--name', 'edge-kill', '--listen', `127.0.0.1:${agentPort}`, '--interface', 'lo', '--bpf', `udp portrange ${UAS}-${UAC}`];
    const start = async (): Promise<ChildProcess> => {
      const c = spawnAgentProcess(args, { TUNAIO_TOKEN: token });
      children.push(c);
      await waitFor('agent command API', async () => (await fetch(`${url}/v1/health`).catch(() => null))?.ok === true, 30_000);
      return c;
    };
    const status = async (): Promise<{ captures: { session_id: string }[]; sources: { state: string }[] } | null> => {
      const r = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
      return r?.ok ? ((await r.json()) as { captures: { session_id: string }[]; sources: { state: string }[] }) : null;
    };

    let child = await start();
    const view = await center.ensureAgent({ name: 'edge-kill', url, token, tags: ['kill'] });
    const id = await api.newSession('kill', { from: '+15557770001' }, [], { agent_tags: ['kill'] });
    await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing');
    expect((await status())?.captures.map((c) => c.session_id)).toEqual([id]);

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const off = await waitFor('agent shown offline', async () => {
      const a = (await api.detail(id)).agents[0];
      return a.state === 'offline' ? a : null;
    }, 10_000);
    expect(off.reason).toMatch(/cannot reach .*connection refused/);
    const listed = (await api.req('GET', '/api/agents')).json.agents.find((x: { id: number }) => x.id === view.id);
    expect(listed.status).toBe('offline');

    child = await start();
    const upAt = Date.now();
    await waitFor('the capture back on the restarted agent', async () => (await status())?.captures.some((c) => c.session_id === id), 10_000, 100);
    console.log(`[e2e faults] agent SIGKILL: back in its capture ${Date.now() - upAt} ms after its API answered`);
    await waitFor('agent capturing again', async () => (await api.detail(id)).agents[0].state === 'capturing', 10_000);
    await waitFor('tcpdump listening', async () => (await status())?.sources.every((s) => s.state === 'running'), 10_000);

    // and it captures again: one matched call
    pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS)], dir));
    const r = await sipp(
      [`127.0.0.1:${UAS}`, '-sf', path.join(FIXTURES, 'uac-injected.xml'), '-inf', path.join(FIXTURES, 'callers-fault.csv'),
        '-i', '127.0.0.1', '-p', String(UAC), '-m', '2', '-cid_str', 'k-%u@e2e.test', '-nostdin', '-timeout', '30s'],
      dir,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await waitFor('6 events', async () => (await api.detail(id)).event_count >= 6, 15_000).catch(() => undefined);
    await sleep(1000);
    const events = await api.events(id);
    console.log(`[e2e faults] after restart: expected 6 messages, received ${events.length}`);
    expect([...dialogs(events).entries()]).toEqual([['k-1@e2e.test', expect.any(Array)]]);
    expect(events).toHaveLength(6);

    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
  }, 120_000);
});
