// UDP replay for the live benchmark, run as its own process (`npx tsx bench/lib/udp-replay.ts …`) so
// its sending does not share an event loop with the benchmark: the SIP datagrams of a reference
// capture (sipp traffic recorded on lo) are sent again over 127.0.0.1, from and to their original
// ports, at a fixed packet rate for a fixed time, past what sipp can drive on this machine. Each pass
// over the capture gets new Call-IDs (the capture's Call-IDs start with a known prefix; its first
// characters are overwritten with a same-length code unique to the step and the pass), so every
// pass is new dialogs to the agent. Nothing is read back: each socket's receive buffer is the
// smallest the kernel allows, so datagrams to the replay's own ports are dropped after they crossed
// lo (captures see them) instead of costing reads.
// Prints one JSON line: {"sent": N, "seconds": S, "passes": P, "sendErrors": E}.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { PacketPipeline } from '../../src/agent/sources/pipeline.js';

interface Datagram {
  srcPort: number;
  dstPort: number;
  payload: Buffer;
  /** offsets of the Call-ID prefix in the payload */
  marks: number[];
}

const [file, prefix, codeBase, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
if (!file || !prefix || !codeBase || !(rate > 0) || !(seconds > 0 && seconds <= 60)) {
  process.stderr.write('usage: udp-replay.ts CAPTURE CALLID_PREFIX CODE_BASE RATE_PPS SECONDS(≤60)\n');
  process.exit(2);
}

const grams: Datagram[] = [];
const needle = Buffer.from(prefix, 'latin1');
const pipeline = new PacketPipeline((p) => {
  if (p.transport !== 'udp') return;
  const payload = Buffer.from(p.payload);
  const marks: number[] = [];
  for (let at = payload.indexOf(needle); at >= 0; at = payload.indexOf(needle, at + needle.length)) marks.push(at);
  grams.push({ srcPort: p.src.port, dstPort: p.dst.port, payload, marks });
});
const err = pipeline.push(readFileSync(file));
if (err !== null) throw new Error(`${file}: ${err}`);
pipeline.end();
if (grams.length === 0) throw new Error(`${file}: no UDP datagrams`);

const sockets = new Map<number, dgram.Socket>();
for (const port of new Set(grams.map((g) => g.srcPort))) {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve());
  });
  s.on('error', () => undefined); // counted through send callbacks
  sockets.set(port, s);
}

let sent = 0;
let done = 0;
let sendErrors = 0;
let pass = 0;
let next = 0;
/** this pass's copies: the code written over the first `code.length` characters of each prefix */
let copies: Buffer[] = [];
const makePass = (): void => {
  // codeBase (e.g. "z3") + pass in base 36, as wide as the prefix's first part it replaces
  const code = (codeBase + pass.toString(36).padStart(2, '0')).slice(0, Math.min(needle.length - 1, codeBase.length + 2));
  copies = grams.map((g) => {
    const b = Buffer.from(g.payload);
    for (const m of g.marks) b.write(code, m, 'latin1');
    return b;
  });
  pass++;
};
makePass();

const t0 = process.hrtime.bigint();
const elapsed = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
const onSent = (e: Error | null): void => {
  done++;
  if (e) sendErrors++;
};
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const t = elapsed();
    if (t >= seconds) return resolve();
    const due = Math.min(Math.floor(rate * t), Math.ceil(rate * seconds));
    // bounded burst per tick, so callbacks and timers get their turn
    for (let k = 0; sent < due && k < 2000; k++) {
      if (next === grams.length) {
        next = 0;
        makePass();
      }
      const g = grams[next];
      sockets.get(g.srcPort)!.send(copies[next], g.dstPort, '127.0.0.1', onSent);
      next++;
      sent++;
    }
    setImmediate(tick);
  };
  tick();
});
const wall = elapsed();
for (let i = 0; i < 200 && done < sent; i++) await new Promise((r) => setTimeout(r, 10));
for (const s of sockets.values()) s.close();
process.stdout.write(`${JSON.stringify({ sent, seconds: wall, passes: pass, sendErrors, datagrams: grams.length })}\n`);
