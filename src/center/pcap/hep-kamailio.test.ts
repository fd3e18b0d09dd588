// HEP → PCAP with a real HEP source (ports 5220-5222 belong to this file): Kamailio proxies sipp UAC →
// UAS and mirrors every message as HEP3 (siptrace) to a UDP socket here; the HEP packets, decoded with
// protocol/hep.ts, become the events an agent sends for HEP (half without a frame, half with the raw-IP
// frame agents rebuild). The exported pcap must show tshark every message as SIP with the original
// addresses, ports and times that Kamailio put in HEP.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeHep } from '../../protocol/hep.js';
import type { HepPacket } from '../../protocol/hep.js';
import { isParseError } from '../../protocol/errors.js';
import { parseSipDatagram } from '../../protocol/sip.js';
import { op, testCenter } from '../testing.js';
import type { TestCenter } from '../testing.js';
import { buildEthernetFrame, LINKTYPE } from './frames.js';
import { kamailioTraceConfig } from '../../../test/support/kamailio.js';

const PROXY = 5220;
const UAS = 5221;
const UAC = 5222;
const CALLS = 2;

const kamailioCfg = (hepPort: number): string => kamailioTraceConfig({ listenPort: PROXY, hepPort: hepPort, nextHopPort: UAS });

let dir = '';
let c: TestCenter | undefined;
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  await c?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('HEP from Kamailio siptrace into the session pcap', () => {
  it('tshark decodes every HEP-carried message as SIP with the original addresses, ports and times', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-hep-pcap-'));
    const sock = dgram.createSocket('udp4');
    const hep: HepPacket[] = [];
    sock.on('message', (m) => {
      const p = decodeHep(Buffer.from(m));
      if (!isParseError(p)) hep.push(p);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const hepPort = sock.address().port;
    fs.writeFileSync(path.join(dir, 'k.cfg'), kamailioCfg(hepPort));
    const kam = spawn('kamailio', ['-f', path.join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8'], { stdio: 'ignore' });
    children.push(kam);
    const uas = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(UAS), '-bg', '-nostdin'], { encoding: 'utf8', cwd: dir });
    const uasPid = /PID=\[(\d+)\]/.exec(uas.stdout)?.[1];
    try {
      await new Promise((r) => setTimeout(r, 300));
      const uac = spawnSync(
        'sipp',
        ['-sn', 'uac', `127.0.0.1:${PROXY}`, '-i', '127.0.0.1', '-p', String(UAC), '-m', String(CALLS), '-r', '10', '-nostdin', '-cid_str', 'hep-%u-%p@tunaio', '-timeout', '20s'],
        { encoding: 'utf8', cwd: dir, timeout: 30_000 },
      );
      expect(uac.status, uac.stderr).toBe(0);
      // every message crosses the proxy twice (in and out): 2 × 6 per call; wait for the mirror (bounded)
      for (let i = 0; i < 100 && hep.length < CALLS * 12; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      if (uasPid) process.kill(Number(uasPid), 'SIGTERM');
      kam.kill('SIGTERM');
      sock.close();
    }
    const sipHep = hep.filter((p) => p.srcIp && p.dstIp && !isParseError(parseSipDatagram(p.payload)));
    expect(sipHep.length).toBeGreaterThanOrEqual(CALLS * 12);

    c = await testCenter();
    const a = await c.addAgent('kamailio-hep');
    const id = await c.newSession({ criteria: { text: 'hep-' }, agent_ids: [a.id], capture_pcap: true });
    const events = sipHep.map((p, seq) => {
      const msg = parseSipDatagram(p.payload);
      if (isParseError(msg)) throw new Error('not SIP');
      const src = { ip: p.srcIp as string, port: p.srcPort ?? 0 };
      const dst = { ip: p.dstIp as string, port: p.dstPort ?? 0 };
      // odd events carry the raw-IP frame an agent rebuilds (LINKTYPE_RAW), even ones none at all
      const raw = seq % 2 === 1 ? buildEthernetFrame({ src, dst, transport: 'udp', payload: p.payload })?.subarray(14) : undefined;
      return {
        session_id: id,
        seq,
        ts: (p.tsSec ?? 0) * 1_000_000 + (p.tsUsec ?? 0),
        kind: 'sip',
        transport: 'udp',
        src,
        dst,
        call_id: msg.callId ?? null,
        sip: { ...(msg.isRequest ? { method: msg.method } : { status: msg.statusCode, reason: msg.reason }), has_sdp: msg.body.length > 0 },
        payload: p.payload.toString('utf8'),
        frame: raw ? { link_type: LINKTYPE.RAW, data: raw.toString('base64'), orig_len: raw.length } : null,
      };
    });
    const r = await c.ingest(a.token, events);
    expect(r.body).toMatchObject({ accepted: events.length, rejected: [] });

    const res = await c.app.inject({ url: `/api/sessions/${id}/export.tar`, headers: op });
    expect(res.statusCode).toBe(200);
    const files = new Map<string, Buffer>();
    const ex = tar.extract();
    ex.on('entry', (h, s, next) => {
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d as Buffer));
      s.on('end', () => {
        files.set(h.name, Buffer.concat(parts));
        next();
      });
    });
    await new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
      Readable.from([res.rawPayload]).pipe(ex);
    });
    expect([...files.keys()]).toEqual(['kamailio-hep.pcap', 'session.json']);
    const out = path.join(dir, 'hep.pcap');
    fs.writeFileSync(out, files.get('kamailio-hep.pcap')!);
    const t = spawnSync(
      'tshark',
      ['-r', out, ...[PROXY, UAS, UAC].flatMap((p) => ['-d', `udp.port==${p},sip`]), '-Y', 'sip', '-T', 'fields', '-E', 'separator=|',
        '-e', 'frame.time_epoch', '-e', 'eth.type', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'udp.dstport', '-e', 'sip.Call-ID'],
      { encoding: 'utf8' },
    );
    expect(t.status, t.stderr).toBe(0);
    const rows = t.stdout.trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBe(events.length);
    rows.forEach((row, i) => {
      const e = events[i];
      expect(Number(row[0]) * 1e6).toBeCloseTo(e.ts, -1);
      expect(row[1]).toBe('0x0800');
      expect(row.slice(2, 7)).toEqual([e.src.ip, String(e.src.port), e.dst.ip, String(e.dst.port), e.call_id]);
    });
    // both legs of the proxy are there with their own addresses
    expect(new Set(rows.map((r) => `${r[3]}>${r[5]}`))).toEqual(new Set([`${UAC}>${PROXY}`, `${PROXY}>${UAS}`, `${UAS}>${PROXY}`, `${PROXY}>${UAC}`]));
  }, 60_000);
});
