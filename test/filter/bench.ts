// Benchmark of `tunaio filter` (the matcher's harness, DESIGN §1): builds a corpus of N packets of
// mostly-SIP UDP (calls of INVITE/100/180/200/ACK/BYE/200 from many callers, plus 10 % RTP) once,
// then times runFilter over it with several criteria. Run: npx tsx test/filter/bench.ts [N]
// (default 1 000 000). Not part of `vitest run`: speed lives here, not in assertions.
import { existsSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PcapWriter } from '../../src/protocol/pcap-writer.js';
import { runFilter } from '../../src/cli/commands/filter.js';
import type { Criteria } from '../../src/core/schema/criteria.js';

const N = Number(process.argv[2] ?? 1_000_000);
const file = path.join(tmpdir(), `tunaio-bench-${N}.pcap`);

function ipv4Udp(src: number, dst: number, sport: number, dport: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(14 + 20 + 8 + payload.length);
  f.writeUInt16BE(0x0800, 12);
  const ip = 14;
  f[ip] = 0x45;
  f.writeUInt16BE(20 + 8 + payload.length, ip + 2);
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  f.writeUInt32BE(src >>> 0, ip + 12);
  f.writeUInt32BE(dst >>> 0, ip + 16);
  const u = ip + 20;
  f.writeUInt16BE(sport, u);
  f.writeUInt16BE(dport, u + 2);
  f.writeUInt16BE(8 + payload.length, u + 4);
  payload.copy(f, u + 8);
  return f;
}

function sipMsg(start: string, call: number, caller: string, callee: string, cseq: string, toTag: boolean, sdp?: string): Buffer {
  const body = sdp ?? '';
  return Buffer.from(
    `${start}\r\n` +
      `Via: SIP/2.0/UDP 10.1.0.${call % 250}:5060;branch=z9hG4bK-${call}-${cseq.length}\r\n` +
      `Max-Forwards: 70\r\n` +
      `From: "Caller" <sip:${caller}@pbx.example.com>;tag=f${call}\r\n` +
      `To: <sip:${callee}@carrier.example.net>${toTag ? `;tag=t${call}` : ''}\r\n` +
      `Call-ID: bench-${call}-a8f3c2@10.1.0.1\r\n` +
      `CSeq: ${cseq}\r\n` +
      `Contact: <sip:${caller}@10.1.0.${call % 250}:5060>\r\n` +
      `User-Agent: BenchUA/1.0\r\n` +
      (body ? 'Content-Type: application/sdp\r\n' : '') +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
}

function build(): void {
  if (existsSync(file) && statSync(file).size > 0) return;
  const w = new PcapWriter({ linkType: 1 });
  const fd = openSync(file, 'w');
  writeSync(fd, w.header());
  let parts: Buffer[] = [];
  let size = 0;
  const put = (ts: number, frame: Buffer): void => {
    const r = w.record(ts, frame);
    parts.push(r);
    size += r.length;
    if (size > 8 << 20) {
      writeSync(fd, Buffer.concat(parts));
      parts = [];
      size = 0;
    }
  };
  let ts = 1_700_000_000_000_000;
  let written = 0;
  const rtp = Buffer.alloc(172);
  rtp[0] = 0x80;
  for (let call = 0; written < N; call++) {
    const caller = `1555${String(1000000 + (call % 5000)).slice(1)}`;
    const callee = `1666${String(1000000 + (call % 977)).slice(1)}`;
    const a = 0x0a010000 + (call % 250);
    const b = 0xc6336401;
    const sdp = `v=0\r\no=- ${call} 1 IN IP4 10.1.0.1\r\ns=-\r\nc=IN IP4 10.1.0.1\r\nt=0 0\r\nm=audio ${10000 + (call % 20000) * 2} RTP/AVP 0\r\n`;
    const msgs: [boolean, Buffer][] = [
      [true, sipMsg(`INVITE sip:${callee}@carrier.example.net SIP/2.0`, call, caller, callee, '1 INVITE', false, sdp)],
      [false, sipMsg('SIP/2.0 100 Trying', call, caller, callee, '1 INVITE', false)],
      [false, sipMsg('SIP/2.0 180 Ringing', call, caller, callee, '1 INVITE', true)],
      [false, sipMsg('SIP/2.0 200 OK', call, caller, callee, '1 INVITE', true, sdp)],
      [true, sipMsg(`ACK sip:${callee}@198.51.100.1 SIP/2.0`, call, caller, callee, '1 ACK', true)],
    ];
    for (const [out, m] of msgs) {
      put((ts += 100), out ? ipv4Udp(a, b, 5060, 5060, m) : ipv4Udp(b, a, 5060, 5060, m));
      written++;
    }
    for (let i = 0; i < 1; i++) {
      rtp.writeUInt16BE(i, 2);
      put((ts += 100), ipv4Udp(a, b, 10000 + (call % 20000) * 2, 20000, rtp));
      written++;
    }
    put((ts += 100), ipv4Udp(a, b, 5060, 5060, sipMsg(`BYE sip:${callee}@198.51.100.1 SIP/2.0`, call, caller, callee, '2 BYE', true)));
    put((ts += 100), ipv4Udp(b, a, 5060, 5060, sipMsg('SIP/2.0 200 OK', call, caller, callee, '2 BYE', true)));
    written += 2;
  }
  writeSync(fd, Buffer.concat(parts));
  closeSync(fd);
}

async function main(): Promise<void> {
  build();
  const mb = statSync(file).size / 1e6;
  console.log(`corpus ${file}: ${N} packets, ${mb.toFixed(0)} MB`);
  const cases: [string, Criteria, boolean][] = [
    ['call_id (one call)', { call_id: 'bench-4242-a8f3c2@10.1.0.1' }, false],
    ['from (one caller: 1/5000 of calls)', { from: '+1 555 004 242' }, false],
    ['to + method', { to: '16660000042', method: 'INVITE' }, false],
    ['text (absent)', { text: 'X-Never-Seen' }, false],
    ['domain (every call)', { domain: 'example.com' }, false],
    ['provider_ip /24', { provider_ip: '198.51.100.0/24' }, false],
    ['from + rtp', { from: '1555004242' }, true],
  ];
  // Calibration: how fast this machine runs plain JS right now (≈0.5–1 ns/byte on an idle laptop).
  const cal = Buffer.alloc(1 << 20, 1);
  const c0 = process.hrtime.bigint();
  let sum = 0;
  for (let r = 0; r < 50; r++) for (let i = 0; i < cal.length; i++) sum += cal[i];
  console.log(`calibration: ${(Number(process.hrtime.bigint() - c0) / (50 * cal.length)).toFixed(2)} ns per byte of a JS loop (${sum})`);
  for (const [name, criteria, rtp] of cases) {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const s = await runFilter({ files: [file], criteria, rtp, write: path.join(tmpdir(), 'tunaio-bench-out.pcap'), output: null });
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuSec = (cpu.user + cpu.system) / 1e6;
    console.log(
      `${name.padEnd(38)} ${(s.packets / sec / 1e6).toFixed(2)} M packets/s wall, ${(s.packets / cpuSec / 1e6).toFixed(2)} per CPU-second  ` +
        `(${sec.toFixed(2)} s, ${s.sipMessages} SIP, ${s.matchedSip} matched, ${s.written} written)`,
    );
  }
}

await main();
