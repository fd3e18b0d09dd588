// hep.ts against a real HEP sender: Kamailio 5.6 siptrace mirroring SIP as HEP3 and as HEP2 to a UDP
// socket of this test, on loopback. Checks decoding (addresses, ports, capture id, time byte order,
// inner SIP) and the exact round trip of what Kamailio really sends.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeHep, encodeHep } from './hep.js';
import type { HepPacket } from './hep.js';
import { parseSipDatagram } from './sip.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tunaio-kam-'));
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const bindUdp = (): Promise<dgram.Socket> =>
  new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => resolve(s));
  });

const freeUdpPort = async (): Promise<number> => {
  const s = await bindUdp();
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runKamailio(hepVersion: 2 | 3): Promise<{ packets: Buffer[]; sipPort: number; callId: string }> {
  const hep = await bindUdp();
  const packets: Buffer[] = [];
  hep.on('message', (m) => packets.push(m));
  const sipPort = await freeUdpPort();
  const cfg = path.join(dir, `k${hepVersion}.cfg`);
  writeFileSync(
    cfg,
    [
      '#!KAMAILIO',
      'debug=1',
      'log_stderror=yes',
      'fork=yes',
      'children=1',
      `listen=udp:127.0.0.1:${sipPort}`,
      'mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"',
      'loadmodule "tm.so"',
      'loadmodule "sl.so"',
      'loadmodule "pv.so"',
      'loadmodule "siptrace.so"',
      `modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:${hep.address().port}")`,
      'modparam("siptrace", "hep_mode_on", 1)',
      `modparam("siptrace", "hep_version", ${hepVersion})`,
      'modparam("siptrace", "hep_capture_id", 4242)',
      'modparam("siptrace", "trace_to_database", 0)',
      'modparam("siptrace", "trace_on", 1)',
      'modparam("siptrace", "trace_mode", 1)', // also mirror the replies Kamailio sends
      'request_route {',
      '  sip_trace();',
      '  sl_send_reply("200", "OK");',
      '  exit;',
      '}',
    ].join('\n'),
  );
  const run = path.join(dir, `run${hepVersion}`);
  mkdirSync(run);
  const k = spawn('kamailio', ['-f', cfg, '-Y', run, '-E', '-DD', '-m', '64', '-M', '8'], { stdio: 'ignore' });
  procs.push(k);
  const ua = await bindUdp();
  const callId = `hep${hepVersion}-${process.pid}@tunaio.test`;
  const msg = Buffer.from(
    `OPTIONS sip:probe@127.0.0.1:${sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${ua.address().port};branch=z9hG4bK-${hepVersion}\r\n` +
      `From: <sip:tuna@127.0.0.1>;tag=t${hepVersion}\r\nTo: <sip:probe@127.0.0.1>\r\nCall-ID: ${callId}\r\nCSeq: 7 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
  );
  let replied = false;
  ua.on('message', () => {
    replied = true;
  });
  // Kamailio is ready within a few hundred ms; resend until it answers and the reply is traced (bounded).
  for (let i = 0; i < 50 && !(replied && packets.some((p) => p.includes('SIP/2.0 200'))); i++) {
    if (!replied) ua.send(msg, sipPort, '127.0.0.1');
    await sleep(100);
  }
  ua.close();
  hep.close();
  k.kill('SIGTERM');
  return { packets, sipPort, callId };
}

describe('HEP from Kamailio siptrace', () => {
  it.each([3, 2] as const)('HEP%i: decodes, carries the SIP, round-trips exactly', async (v) => {
    const { packets, sipPort, callId } = await runKamailio(v);
    expect(packets.length).toBeGreaterThanOrEqual(2);
    const now = Date.now() / 1000;
    const decoded = packets.map((b) => decodeHep(b));
    const ours: HepPacket[] = [];
    for (const [i, d] of decoded.entries()) {
      expect(d.ok).toBe(true);
      if (!d.ok) continue;
      expect(encodeHep(d).equals(packets[i])).toBe(true);
      expect(d).toMatchObject({ version: v, ipFamily: 2, ipProto: 17, srcIp: '127.0.0.1', dstIp: '127.0.0.1', captureId: 4242 });
      // Time fields prove the byte order (HEP2's time header is little-endian in practice).
      expect(Math.abs((d.tsSec ?? 0) - now)).toBeLessThan(600);
      expect(d.tsUsec).toBeLessThan(1_000_000);
      if (v === 3) expect(d.protoType).toBe(1);
      const m = parseSipDatagram(d.payload);
      expect(m.ok).toBe(true);
      if (m.ok && m.callId === callId) ours.push(d);
    }
    const sip = ours.map((d) => parseSipDatagram(d.payload)).map((m) => (m.ok ? (m.method ?? m.statusCode) : m.code));
    expect(sip).toContain('OPTIONS');
    expect(sip).toContain(200);
    const req = ours.find((d) => d.payload.subarray(0, 7).toString() === 'OPTIONS');
    expect(req?.dstPort).toBe(sipPort);
    const rep = ours.find((d) => d.payload.subarray(0, 7).toString() === 'SIP/2.0');
    expect(rep?.srcPort).toBe(sipPort);
  });
});
