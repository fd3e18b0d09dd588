// Fault: the center goes away in the middle of a 200-call sipp run captured live on lo, and comes
// back. With a spool, every matched message arrives exactly once, in seq order (ports 5094-5095
// belong to this file). The cross-component version with the real center lives in test/e2e.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import { IngestServer, waitFor } from './testing/ingest-server.js';

const TOKEN = 'outage-test-token-0123456789';
const UAS = 5094;
const UAC = 5095;
const SID = 'd0000000000000000001';
const CALLS = 200;

let dir: string;
let center: IngestServer;
let agent: Agent;
let uasPid: number | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-outage-'));
  center = new IngestServer(TOKEN);
  await center.start(0);
  agent = new Agent({
    name: 'outage',
    token: TOKEN,
    listen: { host: '127.0.0.1', port: 0 },
    interfaces: ['lo'],
    bpf: `udp portrange ${UAS}-${UAC}`,
    snaplen: 4096,
    spoolDir: join(dir, 'spool'),
  });
  await agent.start();
  const res = await fetch(`http://127.0.0.1:${agent.port}/v1/captures/${SID}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ criteria: { from: 'sipp' }, capture_rtp: false, capture_pcap: false, expires_at: new Date(Date.now() + 120_000).toISOString(), ingest_url: center.url }),
  });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  if (uasPid) {
    try {
      process.kill(uasPid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await agent?.stop();
  await center?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** An independent tcpdump writing a file: tshark reads it afterwards as the oracle. */
async function oracleCapture(file: string): Promise<ChildProcess> {
  const c = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '8192', '-B', '8192', '-Z', 'root', '-w', file, `udp portrange ${UAS}-${UAC}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  expect(await waitFor(() => /listening on/.test(err), 10_000)).toBe(true);
  return c;
}

describe('center outage during a 200-call run', () => {
  it('spools while the center is down and delivers every message exactly once when it is back', async () => {
    const oracleFile = join(dir, 'oracle.pcap');
    const oracle = await oracleCapture(oracleFile);
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    uasPid = Number(/PID=\[(\d+)\]/.exec(uas.stdout)?.[1]);
    const uac = spawn('sipp', ['-sn', 'uac', `127.0.0.1:${UAS}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', String(CALLS), '-r', '25', '-nostdin', '-timeout', '40s', '-cid_str', 'out-%u@tunaio'], {
      cwd: dir,
      stdio: 'ignore',
    });
    const uacDone = new Promise<number | null>((r) => uac.once('close', (code) => r(code)));

    // Let some calls through, then take the center away while calls keep coming.
    expect(await waitFor(() => center.of(SID).length > 60, 10_000)).toBe(true);
    const port = center.port;
    await center.stop();
    const before = center.of(SID).length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(agent.uploader.centerReachable).toBe(false);
    expect(agent.spool!.size).toBeGreaterThan(0);
    expect(center.of(SID).length).toBe(before);
    await center.start(port);

    // sipp's own verdict is not the point (a loaded CI box may time a call out); the wire is the truth.
    await uacDone;
    await new Promise((r) => setTimeout(r, 300));
    oracle.kill('SIGINT');
    await new Promise((r) => oracle.once('close', r));
    const wire = spawnSync('tshark', ['-r', oracleFile, '-d', `udp.port==${UAS},sip`, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n');
    const expected = new Map<string, number>();
    for (const cid of wire) expected.set(cid, (expected.get(cid) ?? 0) + 1);
    expect(expected.size).toBe(CALLS);

    const arrived = await waitFor(() => center.of(SID).length >= wire.length, 20_000);
    expect(arrived, JSON.stringify({ wire: wire.length, got: center.of(SID).length, view: agent.manager.view(SID) })).toBe(true);
    await new Promise((r) => setTimeout(r, 500));

    const events = center.of(SID);
    expect(events).toHaveLength(wire.length);
    const perCall = new Map<string, number>();
    for (const e of events) perCall.set(e.call_id!, (perCall.get(e.call_id!) ?? 0) + 1);
    expect(perCall).toEqual(expected);
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBeGreaterThan(events[i - 1].seq);
    expect(await waitFor(() => agent.spool!.size === 0, 5000)).toBe(true);
    const view = agent.manager.view(SID)!;
    expect(view.counters.dropped).toEqual({});
    expect(view.counters.events_spooled).toBeGreaterThan(0);
    expect(agent.sources[0].status().counters.kernel_dropped).toBe(0);
  }, 90_000);
});
