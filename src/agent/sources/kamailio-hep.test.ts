// HEP and logs from a real Kamailio (ports 5096-5098 belong to this file): Kamailio proxies sipp
// UAC → UAS, mirrors every message as HEP3 (siptrace) to the agent, and writes an xlog line with the
// Call-ID for each request to stderr, which the agent tails. tcpdump + tshark are the oracle for
// which messages went over the wire.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import { Agent } from '../agent.js';
import { IngestServer, waitFor } from '../testing/ingest-server.js';
import type { HepSource } from './hep.js';
import { kamailioTraceConfig } from '../../../test/support/kamailio.js';

const TOKEN = 'kamailio-test-token-012345';
const PROXY = 5096;
const UAS = 5097;
const UAC = 5098;
const SID = 'c0000000000000000001';
const CALL = 'kam-2@tunaio';

let dir: string;
let center: IngestServer;
let agent: Agent;
const children: ChildProcess[] = [];
let uasPid: number | undefined;

const kamailioCfg = (hepPort: number): string => kamailioTraceConfig({ listenPort: PROXY, hepPort: hepPort, nextHopPort: UAS });

/** Spawns a child and waits (bounded) until `ready` appears on the given stream. */
const start = async (cmd: string, args: string[], ready: RegExp, stream: 'stdout' | 'stderr', stdio?: ('pipe' | 'ignore' | number)[]): Promise<ChildProcess> => {
  const c = spawn(cmd, args, { stdio: stdio ?? ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  let seen = '';
  c[stream]?.on('data', (b: Buffer) => {
    seen = (seen + b.toString()).slice(-4096);
  });
  expect(await waitFor(() => ready.test(seen), 10_000)).toBe(true);
  return c;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-kam-'));
  center = new IngestServer(TOKEN);
  await center.start(0);
  const kamLog = join(dir, 'kamailio.log');
  writeFileSync(kamLog, '');
  agent = new Agent({ name: 'kam', token: TOKEN, listen: { host: '127.0.0.1', port: 0 }, hep: ['udp:127.0.0.1:0'], logs: [kamLog] });
  await agent.start();
  const hep = agent.sources.find((s) => s.kind === 'hep') as HepSource;
  writeFileSync(join(dir, 'k.cfg'), kamailioCfg(hep.port));
  const res = await fetch(`http://127.0.0.1:${agent.port}/v1/captures/${SID}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ criteria: { call_id: CALL }, capture_rtp: false, capture_pcap: true, expires_at: new Date(Date.now() + 120_000).toISOString(), ingest_url: center.url }),
  });
  expect(res.status).toBe(201);
}, 60_000);

afterAll(async () => {
  if (uasPid) {
    try {
      process.kill(uasPid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await agent?.stop();
  await center?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Kamailio siptrace HEP3 and xlog lines', () => {
  it('the session gets the proxied call from HEP (both legs, as on the wire) and its log lines', async () => {
    const oracleFile = join(dir, 'oracle.pcap');
    const tcpdump = await start('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '8192', '-Z', 'root', '-w', oracleFile, `udp portrange ${PROXY}-${UAC}`], /listening on/, 'stderr');
    const logFd = openSync(join(dir, 'kamailio.log'), 'a');
    await start('kamailio', ['-f', join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8'], /Listening on/, 'stdout', ['ignore', 'pipe', logFd]);
    closeSync(logFd);
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
    uasPid = Number(/PID=\[(\d+)\]/.exec(uas.stdout)?.[1]);
    const uac = spawnSync('sipp', ['-sn', 'uac', `127.0.0.1:${PROXY}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', '3', '-r', '5', '-nostdin', '-cid_str', 'kam-%u@tunaio'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(uac.status).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    tcpdump.kill('SIGINT');
    await new Promise((r) => tcpdump.once('close', r));

    // The oracle: every SIP message of that Call-ID on the wire, in order.
    const rows = spawnSync('tshark', ['-r', oracleFile, '-d', `udp.port==${PROXY},sip`, '-d', `udp.port==${UAS},sip`, '-d', `udp.port==${UAC},sip`, '-Y', `sip.Call-ID == "${CALL}"`, '-T', 'fields', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'sip.CSeq.method', '-e', 'sip.Status-Code'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .map((l) => l.split('\t').join(' ').trim());
    expect(rows.length).toBe(13); // 7 on the UAC leg (with Kamailio's 100 Trying), 6 on the UAS leg

    expect(await waitFor(() => center.of(SID).filter((e) => e.kind === 'sip').length >= rows.length, 10_000)).toBe(true);
    const logLines = readFileSync(join(dir, 'kamailio.log'), 'utf8').split('\n').filter((l) => l.includes(`callid=${CALL}`));
    expect(logLines.length).toBe(3); // INVITE, ACK, BYE
    expect(await waitFor(() => center.of(SID).filter((e) => e.kind === 'log').length >= logLines.length, 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));

    const sip = center.of(SID).filter((e) => e.kind === 'sip');
    const got = sip.map((e) => `${e.src!.port} ${e.dst!.port} ${e.sip!.cseq_method}${e.sip!.status ? ` ${e.sip!.status}` : ''}`);
    expect(got.slice().sort()).toEqual(rows.slice().sort());
    expect(sip.every((e) => e.call_id === CALL && e.src!.ip === '127.0.0.1' && e.frame?.link_type === 101)).toBe(true);
    const logs = center.of(SID).filter((e) => e.kind === 'log');
    expect(logs.map((e) => e.payload)).toEqual(logLines);
    expect(logs.every((e) => e.call_id === CALL)).toBe(true);
    expect(center.invalid).toEqual([]);

    // the rebuilt frames are a valid pcap for tshark, with the original ports
    const w = new PcapWriter({ linkType: 101 });
    const file = join(dir, 'hep.pcap');
    writeFileSync(file, Buffer.concat([w.header(), ...sip.map((e) => w.record(e.ts, Buffer.from(e.frame!.data, 'base64'), e.frame!.orig_len))]));
    const back = spawnSync('tshark', ['-r', file, '-d', `udp.port==${PROXY},sip`, '-d', `udp.port==${UAS},sip`, '-d', `udp.port==${UAC},sip`, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID'], { encoding: 'utf8' });
    expect(back.stdout.trim().split('\n')).toEqual(Array(13).fill(CALL));

    const hep = agent.sources.find((s) => s.kind === 'hep')!.status().counters;
    expect(hep.capture_id_2001).toBe(hep.packets);
    expect(hep.sip).toBe(39); // 3 calls × 13
  });
});
