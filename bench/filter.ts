// filter benchmark: `tunaio filter --read FILE <criterion> --write out.pcap` against
// `sngrep -I FILE -N -q -O out.pcap <expr>` and `tshark -r FILE -Y '<filter>' -w out.pcap`, same
// corpus, same criterion (corpora.ts picks one where the three semantics coincide: sngrep keeps
// dialogs whose first message matches, tunaio a dialog from its first match on, tshark every
// message that matches, and the caller number is in every message of its dialogs). Before any
// figure counts, the three outputs must hold the same SIP messages (Call-ID, CSeq, method/status
// in frame order, read back by tshark); a mismatch fails the benchmark with a diff.
import { join } from 'node:path';
import { mustRun, cmdLine, timeInterleaved } from './lib/bench.js';
import type { CorpusBenchmark, BenchArgs, BenchResult, Timing } from './lib/bench.js';
import { fmtRate, fmtS } from './lib/report.js';
import { TUNAIO } from './decode.js';
import { criteriaFromOptions, runFilter } from '../src/cli/commands/filter.js';

interface Tool {
  name: string;
  cmd: string;
  args: (file: string, out: string) => string[];
  /** the command line shown in BENCHMARKS.md */
  shown: string;
}

/** The SIP messages of a pcap as tshark reads them, one line each. */
export async function sipMessages(pcap: string): Promise<string[]> {
  const r = await mustRun('tshark', ['-r', pcap, '-Y', 'sip', '-T', 'fields', '-E', 'occurrence=f', '-e', 'sip.Call-ID', '-e', 'sip.CSeq', '-e', 'sip.Method', '-e', 'sip.Status-Code'], {
    timeoutS: 300,
  });
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

/** First differences between two message lists, for the failure message. */
export function diffLines(a: string[], b: string[], max = 10): string[] {
  const out: string[] = [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n && out.length < max; i++) if (a[i] !== b[i]) out.push(`  #${i + 1}: ${a[i] ?? '(none)'}  ≠  ${b[i] ?? '(none)'}`);
  return out;
}

export const filterBench: CorpusBenchmark = {
  name: 'filter',
  corpora: ['aaa1500', 'sipp-mixed'],
  async run(a: BenchArgs): Promise<BenchResult> {
    const file = a.corpus.path;
    const packets = a.corpus.meta.packets;
    const c = a.corpus.meta.criterion;
    const tools: Tool[] = [
      {
        name: 'tunaio filter',
        cmd: 'node',
        args: (f, o) => [TUNAIO, 'filter', '--read', f, ...c.tunaio, '--write', o],
        shown: cmdLine('node', ['bin/tunaio.js', 'filter', '--read', 'FILE', ...c.tunaio, '--write', 'out.pcap']),
      },
      {
        name: 'sngrep 1.6',
        cmd: 'sngrep',
        args: (f, o) => ['-F', '-I', f, '-N', '-q', '-O', o, c.sngrep],
        shown: cmdLine('sngrep', ['-F', '-I', 'FILE', '-N', '-q', '-O', 'out.pcap', c.sngrep]),
      },
      {
        name: 'tshark 4.0',
        cmd: 'tshark',
        args: (f, o) => ['-r', f, '-Y', c.tshark, '-w', o],
        shown: cmdLine('tshark', ['-r', 'FILE', '-Y', c.tshark, '-w', 'out.pcap']),
      },
    ];
    const outs = tools.map((_t, i) => join(a.work, `filter-${a.corpus.meta.name}-${i}.pcap`));
    // The same work without process start-up (module loading), to show what start-up costs.
    const parsed = await criteriaFromOptions({ [c.tunaio[0].replace(/^--/, '')]: c.tunaio[1] });
    if ('error' in parsed) throw new Error(`filter: criterion ${c.tunaio.join(' ')}: ${parsed.error}`);
    const inOut = join(a.work, `filter-${a.corpus.meta.name}-inproc.pcap`);
    const measured = [
      ...tools.map((t, i) => async () => (await mustRun(t.cmd, t.args(file, outs[i]), { timeoutS: 900 })).seconds),
      async () => {
        const t0 = process.hrtime.bigint();
        await runFilter({ files: [file], criteria: parsed.criteria, write: inOut, output: null });
        return Number(process.hrtime.bigint() - t0) / 1e9;
      },
    ];
    const all = await timeInterleaved(a.runs, a.budgetS, measured);
    const timings: Timing[] = all.slice(0, tools.length);
    const inproc = all[tools.length];

    // Same SIP messages in all three outputs, or no figures.
    const msgs = await Promise.all(outs.map(sipMessages));
    const inMsgs = await sipMessages(inOut);
    if (diffLines(msgs[0], inMsgs).length > 0) throw new Error('filter: in-process runFilter wrote other messages than the tunaio filter process');
    for (let i = 1; i < tools.length; i++) {
      const d = diffLines(msgs[0], msgs[i]);
      if (d.length > 0)
        throw new Error(
          `filter: ${tools[0].name} wrote ${msgs[0].length} SIP messages, ${tools[i].name} ${msgs[i].length}; they differ:\n${d.join('\n')}\n(outputs kept in ${a.work})`,
        );
    }
    const dialogs = new Set(msgs[0].map((l) => l.split('\t')[0])).size;
    if (dialogs !== a.corpus.meta.matchingDialogs)
      throw new Error(`filter: outputs hold ${dialogs} dialogs, the corpus has ${a.corpus.meta.matchingDialogs} matching ones`);
    const notes = [
      `Checked: all three outputs hold the same ${msgs[0].length} SIP messages (${dialogs} dialogs, the ${a.corpus.meta.matchingDialogs} the corpus was built with), compared by Call-ID, CSeq, method/status in frame order.`,
      'Runs were interleaved (tunaio, sngrep, tshark, in-process; then again), so load changes on the shared machine hit all tools alike.',
    ];
    const pps = (t: Timing): number => packets / t.median;
    const ours = pps(timings[0]);
    return {
      table: {
        headers: ['tool', 'runs', 'median s', 'min s', 'packets/s', 'tunaio ÷ this'],
        rows: [
          ...tools.map((t, i) => [t.name, String(timings[i].seconds.length), fmtS(timings[i].median), fmtS(timings[i].min), fmtRate(pps(timings[i])), `${(ours / pps(timings[i])).toFixed(2)}×`]),
          ['tunaio runFilter, in-process (no start-up)', String(inproc.seconds.length), fmtS(inproc.median), fmtS(inproc.min), fmtRate(pps(inproc)), `${(ours / pps(inproc)).toFixed(2)}×`],
        ],
      },
      commands: [...tools.map((t) => t.shown), 'runFilter({files: [FILE], criteria, write}) from src/cli/commands/filter.ts, in the bench process'],
      notes,
    };
  },
};
