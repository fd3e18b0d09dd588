// Real traffic: a sipp UAC calls a sipp UAS on 127.0.0.1 from several caller numbers to several DIDs
// (injection file), tcpdump records it on lo, and `tunaio filter` must pick exactly the dialogs of
// one caller / one DID — every message of them (INVITE, 180, 200, ACK, BYE, 200) and nothing else.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFilter } from '../../src/cli/commands/filter.js';
import { tshark } from './tshark.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tunaio-sipp-'));
const PORT = 21000 + Math.floor(Math.random() * 4000) * 2;
const pcap = path.join(dir, 'calls.pcap');
const CALLERS = ['15551110001', '15551110002', '15551110003'];
const DIDS = ['15552220001', '15552220002'];
const CALLS = 12;

const scenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="tunaio filter test UAC">
  <send retrans="500"><![CDATA[
      INVITE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[field1]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:[field0]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
  ]]></send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="200" rtd="true"></recv>
  <send><![CDATA[
      ACK sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:[field0]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <pause milliseconds="20"/>
  <send retrans="500"><![CDATA[
      BYE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]T[call_number]
      To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:[field0]@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200" crlf="true"></recv>
</scenario>
`;

let uasPid = 0;

beforeAll(async () => {
  writeFileSync(path.join(dir, 'uac.xml'), scenario);
  const rows = Array.from({ length: CALLS }, (_, i) => `${CALLERS[i % CALLERS.length]};${DIDS[i % DIDS.length]};`);
  writeFileSync(path.join(dir, 'calls.csv'), `SEQUENTIAL\n${rows.join('\n')}\n`);
  const dump = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-s', '4096', '-B', '8192', '-Z', 'root', '-w', pcap, `udp and (port ${PORT} or port ${PORT + 1})`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    dump.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  try {
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(PORT), '-bg', '-nostdin'], { cwd: dir, encoding: 'utf8' });
    uasPid = Number(/PID=\[(\d+)\]/.exec(uas.stdout + uas.stderr)?.[1] ?? 0);
    expect(uasPid).toBeGreaterThan(0);
    execFileSync(
      'sipp',
      [`127.0.0.1:${PORT}`, '-sf', 'uac.xml', '-inf', 'calls.csv', '-i', '127.0.0.1', '-p', String(PORT + 1), '-m', String(CALLS), '-r', '20', '-nostdin', '-timeout', '20s'],
      { cwd: dir, stdio: 'ignore', timeout: 30_000 },
    );
  } finally {
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise((r) => dump.once('exit', r));
    dump.kill('SIGINT');
    await exited;
  }
}, 60_000);

afterAll(() => {
  if (uasPid > 0) {
    try {
      process.kill(uasPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Call-ID → [from user, to user, messages] from tshark, decoding the test port as SIP. */
function dialogs(file: string): Map<string, { from: string; to: string; msgs: string[] }> {
  const out = tshark(['-r', file, '-d', `udp.port==${PORT},sip`, '-d', `udp.port==${PORT + 1},sip`, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Call-ID', '-e', 'sip.from.user', '-e', 'sip.to.user', '-e', 'sip.Method', '-e', 'sip.Status-Code']);
  const m = new Map<string, { from: string; to: string; msgs: string[] }>();
  for (const l of out.split('\n').filter(Boolean)) {
    const [id, from, to, method, status] = l.split('\t');
    const d = m.get(id) ?? { from, to, msgs: [] };
    d.msgs.push(method || status);
    m.set(id, d);
  }
  return m;
}

describe('filter on live sipp traffic', () => {
  it('the capture holds every call, 6 messages each', () => {
    const all = dialogs(pcap);
    expect(all.size).toBe(CALLS);
    for (const d of all.values()) expect(d.msgs).toEqual(['INVITE', '180', '200', 'ACK', 'BYE', '200']);
  });

  it.each([
    ['from', { from: '+1 (555) 111-0002' }, (d: { from: string; to: string }) => d.from === '15551110002'],
    ['to', { to: '5552220001' }, (d: { from: string; to: string }) => d.to === '15552220001'],
    ['from + to', { from: '15551110003', to: '15552220002' }, (d: { from: string; to: string }) => d.from === '15551110003' && d.to === '15552220002'],
    ['from a DID (direction rule)', { from: '15552220001' }, () => false],
    ['method INVITE + provider_ip', { method: 'INVITE', provider_ip: '127.0.0.0/8' }, () => true],
    ['domain (IP host, exact)', { domain: '127.0.0.1' }, () => true],
  ])('%s: exactly the matching dialogs, every message', async (_n, criteria, want) => {
    const all = dialogs(pcap);
    const expected = [...all.entries()].filter(([, d]) => want(d));
    const o = path.join(dir, `out-${Math.random().toString(36).slice(2)}.pcap`);
    const s = await runFilter({ files: [pcap], criteria, write: o, output: null });
    expect(s.matchedSip).toBe(expected.length * 6);
    if (expected.length === 0) return;
    const got = dialogs(o);
    expect([...got.keys()].sort()).toEqual(expected.map(([id]) => id).sort());
    for (const d of got.values()) expect(d.msgs).toEqual(['INVITE', '180', '200', 'ACK', 'BYE', '200']);
  });
});
