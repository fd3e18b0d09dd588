// decode benchmark: packets/s of pcap → SIP message summaries. Measures, on the same corpus:
// our SipDecodePipeline in-process (file streamed in 1 MB chunks, rows counted), the bare Node loop
// (bare-loop.ts, the practical ceiling; its runs alternate with the pipeline's), the whole
// `tunaio decode --json FILE > /dev/null` process, and tshark's field output of the same summaries.
// Checks first that we and tshark find the same number of SIP messages.
import { createReadStream } from 'node:fs';
import { SipDecodePipeline } from '../src/protocol/decode-pipeline.js';
import { bareLoop } from './bare-loop.js';
import { cmdLine, mustRun, timeInterleaved, timeRuns } from './lib/bench.js';
import type { CorpusBenchmark, BenchArgs, BenchResult, Timing } from './lib/bench.js';
import { fmtRate, fmtS } from './lib/report.js';
import { run } from './lib/proc.js';
import { REPO } from './corpus/corpora.js';

export const TUNAIO = `${REPO}/bin/tunaio.js`;

export async function decodeInProcess(path: string): Promise<{ packets: number; rows: number }> {
  const p = new SipDecodePipeline();
  let rows = 0;
  const onRow = (): void => {
    rows++;
  };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) p.push(chunk as Buffer, onRow);
  p.end();
  return { packets: p.dissector.stats.packets, rows };
}

const secondsOf = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

export const tsharkDecodeArgs = (file: string): string[] => ['-r', file, '-Y', 'sip', '-T', 'fields', '-e', 'frame.number', '-e', 'sip.Call-ID', '-e', 'sip.Method', '-e', 'sip.Status-Code'];

export const decodeBench: CorpusBenchmark = {
  name: 'decode',
  corpora: ['aaa1500', 'sipp-mixed'],
  async run(a: BenchArgs): Promise<BenchResult> {
    const file = a.corpus.path;
    const packets = a.corpus.meta.packets;
    // tshark's -T fields run is stopped after this long (it slows down as a corpus grows)
    const TSHARK_LIMIT_S = a.limitS;

    // Correctness: the same SIP message count as tshark (UDP corpora: one message per frame). The
    // first timed run of each process counts its output lines through a pipe; later runs write to
    // /dev/null. tshark is too slow here to run once more just to check.
    const ours = await decodeInProcess(file);
    if (ours.packets !== packets) throw new Error(`decode: pipeline saw ${ours.packets} packets, corpus has ${packets}`);
    const bareCheck = await bareLoop(file);

    const rows: { name: string; cmd: string; t: Timing }[] = [];
    // The pipeline and the bare loop in alternation, so a change of load hits both alike (their
    // ratio is the figure the issue asks for).
    const [inproc, bare] = await timeInterleaved(a.runs, a.budgetS, [() => secondsOf(() => decodeInProcess(file)), () => secondsOf(() => bareLoop(file))]);
    rows.push({ name: 'tunaio SipDecodePipeline (in-process)', cmd: 'decodeInProcess(FILE) in bench/decode.ts', t: inproc });
    rows.push({ name: 'bare Node loop (in-process, ceiling)', cmd: 'bareLoop(FILE) in bench/bare-loop.ts', t: bare });
    let cliRows = -1;
    const cliArgs = [TUNAIO, 'decode', '--json', file];
    const cli = await timeRuns(a.runs, a.budgetS, async (i) => {
      const r = await mustRun('node', cliArgs, i === 0 ? { countLines: true, timeoutS: 900 } : { stdoutFile: '/dev/null', timeoutS: 900 });
      if (i === 0) cliRows = r.lines;
      return r.seconds;
    });
    rows.push({ name: 'tunaio decode --json (process)', cmd: `${cmdLine('node', ['bin/tunaio.js', 'decode', '--json', 'FILE'])} > /dev/null`, t: cli });
    let tsharkRows = -1;
    let tsharkKilled = false;
    const tsArgs = tsharkDecodeArgs(file);
    const tshark = await timeRuns(a.runs, a.budgetS, async (i) => {
      const r = await run('tshark', tsArgs, i === 0 ? { countLines: true, timeoutS: TSHARK_LIMIT_S } : { stdoutFile: '/dev/null', timeoutS: TSHARK_LIMIT_S });
      if (r.signal === 'SIGKILL') tsharkKilled = true;
      else if (r.code !== 0) throw new Error(`tshark exited ${r.code}: ${r.stderr.slice(-500)}`);
      if (i === 0) tsharkRows = r.lines;
      return r.seconds;
    });
    const tsName = tsharkKilled ? `tshark -T fields (process; killed at ${TSHARK_LIMIT_S} s: rate is an upper bound)` : 'tshark -T fields (process)';
    rows.push({ name: tsName, cmd: `${cmdLine('tshark', tsharkDecodeArgs('FILE'))} > /dev/null`, t: tshark });
    if (ours.rows !== cliRows || (!tsharkKilled && cliRows !== tsharkRows))
      throw new Error(`decode: SIP message count differs: pipeline ${ours.rows}, tunaio decode ${cliRows}, tshark ${tsharkRows}`);
    const notes = [
      tsharkKilled
        ? `Checked: the pipeline and \`tunaio decode\` each report ${cliRows} SIP messages; tshark did not finish within ${TSHARK_LIMIT_S} s (it had printed ${tsharkRows} rows when it was stopped).`
        : `Checked: the pipeline, \`tunaio decode\` and tshark each report ${tsharkRows} SIP messages (the first timed run of each process counted its lines through a pipe; later runs wrote to /dev/null).`,
      `The bare loop spotted ${bareCheck.sip} SIP messages: it recognises less than a decoder (no TCP, IPv6, fragments or validation).`,
    ];

    const pps = (t: Timing): number => packets / t.median;
    const tsharkPps = pps(tshark);
    const barePps = pps(bare);
    return {
      table: {
        headers: ['what', 'runs', 'median s', 'min s', 'packets/s', '× tshark', 'bare loop ÷ this'],
        rows: rows.map((r) => [
          r.name,
          String(r.t.seconds.length),
          fmtS(r.t.median),
          fmtS(r.t.min),
          fmtRate(pps(r.t)),
          `${(pps(r.t) / tsharkPps).toFixed(2)}×`,
          `${(barePps / pps(r.t)).toFixed(2)}`,
        ]),
      },
      commands: rows.map((r) => r.cmd),
      notes,
    };
  },
};
