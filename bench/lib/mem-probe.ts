// In-process probe of the match engine's memory per tracked dialog (a development aid for the memory
// benchmark, no child processes): N dialogs (INVITE with SDP → 100 → 180 → 200 with SDP → ACK, the
// benchmark's messages) into one MatchEngine with 10 sessions capturing RTP, then a full GC and the
// heap used per dialog. `node --expose-gc --import tsx bench/lib/mem-probe.ts [N] [--snapshot FILE]`.
import { writeHeapSnapshot } from 'node:v8';
import { MatchEngine } from '../../src/core/match/engine.js';
import { parseSipDatagram } from '../../src/protocol/sip.js';
import { dialogMessages, SESSIONS, sessionNumber } from '../memory.js';

const N = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const engine = new MatchEngine({ maxDialogs: N, maxDialogsPerSession: Math.ceil(N / SESSIONS) });
for (let k = 0; k < SESSIONS; k++) engine.addSession({ id: `s${k}`, criteria: { from: sessionNumber(k) }, captureRtp: true });
const A = { ip: '10.0.0.1', port: 5060 };
const B = { ip: '10.0.0.2', port: 5060 };
gc();
const before = process.memoryUsage().heapUsed;
let t = 1_700_000_000_000_000;
for (let i = 0; i < N; i++) {
  const m = dialogMessages(i).map((x) => x.text);
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
