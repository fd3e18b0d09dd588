// In-process probe of the match engine's memory per tracked dialog (a development aid for the memory
// benchmark, no child processes): N dialogs (INVITE with SDP → 100 → 180 → 200 with SDP → ACK, the
// benchmark's messages) into one MatchEngine with 10 sessions capturing RTP, then a full GC and the
// heap used per dialog. `node --expose-gc --import tsx bench/lib/mem-probe.ts [N] [--snapshot FILE]`.
import { writeHeapSnapshot } from 'node:v8';
import { MatchEngine } from '../../src/core/match/engine.js';
import { parseSipDatagram } from '../../src/protocol/sip.js';

const N = Number(process.argv[2] ?? 100_000);
const SESSIONS = 10;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const sessionNumber = (k: number): string => `4930155500${k}`;

function messages(i: number): string[] {
  const from = sessionNumber(i % SESSIONS);
  const to = `49302${String(i).padStart(6, '0')}`;
  const cid = `mem-${i}-a84b4c76e66710@bench.invalid`;
  const port = 10000 + 2 * ((i >> 2) % 25000);
  const sdp = (ip: string, sess: number): string =>
    `v=0\r\no=- ${sess} 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8 101\r\n` +
    `a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
  const a = sdp(`10.1.${i % 4}.1`, i);
  const b = sdp(`10.2.${i % 4}.1`, i + 1);
  const via = `Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-${i}-1\r\n`;
  const fromH = `From: "Bench" <sip:${from}@10.0.0.1>;tag=f${i}x\r\n`;
  const toH = `To: <sip:${to}@10.0.0.2>`;
  const common = `Call-ID: ${cid}\r\n`;
  const contact = (u: string, h: string): string => `Contact: <sip:${u}@${h}:5060>\r\n`;
  const resp = (code: string, tag: boolean, body = ''): string =>
    `SIP/2.0 ${code}\r\n${via}${fromH}${toH}${tag ? `;tag=t${i}y` : ''}\r\n${common}CSeq: 1 INVITE\r\n` +
    (body ? `${contact(to, '10.0.0.2')}Content-Type: application/sdp\r\n` : '') +
    `Content-Length: ${body.length}\r\n\r\n${body}`;
  return [
    `INVITE sip:${to}@10.0.0.2:5060 SIP/2.0\r\n${via}Max-Forwards: 70\r\n${fromH}${toH}\r\n${common}CSeq: 1 INVITE\r\n` +
      `${contact(from, '10.0.0.1')}User-Agent: bench-memory\r\nContent-Type: application/sdp\r\nContent-Length: ${a.length}\r\n\r\n${a}`,
    resp('100 Trying', false),
    resp('180 Ringing', true),
    resp('200 OK', true, b),
    `ACK sip:${to}@10.0.0.2:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-${i}-2\r\nMax-Forwards: 70\r\n${fromH}${toH};tag=t${i}y\r\n${common}CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
  ];
}

const engine = new MatchEngine({ maxDialogs: N, maxDialogsPerSession: Math.ceil(N / SESSIONS) });
for (let k = 0; k < SESSIONS; k++) engine.addSession({ id: `s${k}`, criteria: { from: sessionNumber(k) }, captureRtp: true });
const A = { ip: '10.0.0.1', port: 5060 };
const B = { ip: '10.0.0.2', port: 5060 };
gc();
const before = process.memoryUsage().heapUsed;
let t = 1_700_000_000_000_000;
for (let i = 0; i < N; i++) {
  const m = messages(i);
  for (let j = 0; j < m.length; j++) {
    const req = j === 0 || j === 4;
    const msg = parseSipDatagram(Buffer.from(m[j], 'latin1'));
    if (!msg.ok) throw new Error('bad message');
    engine.onSip({ tsUs: (t += 10), transport: 'udp', src: req ? A : B, dst: req ? B : A }, msg);
  }
}
gc();
const after = process.memoryUsage().heapUsed;
if (engine.dialogCount !== N) throw new Error(`tracked ${engine.dialogCount}, not ${N}`);
process.stdout.write(`${N} dialogs: heap ${((after - before) / 1e6).toFixed(1)} MB = ${Math.round((after - before) / N)} B/dialog\n`);
const at = process.argv.indexOf('--snapshot');
if (at > 0) writeHeapSnapshot(process.argv[at + 1]);
