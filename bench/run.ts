// `npm run bench [-- NAME… [--corpus C,…] [--runs N] [--budget S] [--limit S] [--no-build]]`: runs the named
// benchmarks (all when none is named) on their corpora, prints each table, and rewrites that
// benchmark's section of BENCHMARKS.md (other sections are left as they are). Builds dist/ first
// (tsc only, no UI) so the processes measured run the current source.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, REPO, corpusByName } from './corpus/corpora.js';
import { collectorBench } from './collector.js';
import { decodeBench } from './decode.js';
import { fanoutBench } from './fanout.js';
import { filterBench } from './filter.js';
import { ingestBench } from './ingest.js';
import { latencyBench } from './latency.js';
import { liveBench } from './live.js';
import { memoryBench } from './memory.js';
import { uiBench } from './ui.js';
import { uploadBench } from './upload.js';
import type { BenchResult, Benchmark } from './lib/bench.js';
import { load, machine, mdTable, textTable, updateSection } from './lib/report.js';
import { run } from './lib/proc.js';

const ALL: Benchmark[] = [decodeBench, filterBench, liveBench, ingestBench, fanoutBench, uploadBench, latencyBench, memoryBench, uiBench, collectorBench];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    corpus: { type: 'string' },
    runs: { type: 'string', default: '5' },
    budget: { type: 'string', default: '150' },
    limit: { type: 'string', default: '900' },
    'no-build': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});

const unknown = positionals.filter((n) => !ALL.some((b) => b.name === n));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')} (have: ${ALL.map((b) => b.name).join(', ')})\n`);
  process.exit(2);
}
const selected = positionals.length > 0 ? ALL.filter((b) => positionals.includes(b.name)) : ALL;
const runs = Math.max(1, Number(values.runs));
const budgetS = Number(values.budget);

if (!values['no-build']) {
  process.stderr.write('bench: building dist/ (tsc -p tsconfig.build.json)…\n');
  const r = await run(join(REPO, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], { cwd: REPO, timeoutS: 300 });
  // tsc still emits on type errors (elsewhere in a tree under work); say so, measure anyway.
  if (r.code !== 0) process.stderr.write(`bench: warning: tsc reported errors (dist emitted anyway):\n${r.stdout.slice(0, 2000)}\n`);
}

const m = machine();
const work = join(BENCH_DIR, 'work');
mkdirSync(work, { recursive: true });
let failed = 0;
const limitS = Number(values.limit);
for (const b of selected) {
  const corpora = b.corpora === null ? [null] : values.corpus !== undefined ? values.corpus.split(',') : b.corpora;
  for (const cn of corpora) {
    const corpus = cn === null ? null : await corpusByName(cn);
    const loadBefore = load();
    const what = corpus === null ? b.name : `${b.name} on ${cn} (${corpus.meta.packets} packets)`;
    process.stderr.write(`bench ${what}, load average ${loadBefore}…\n`);
    let res: BenchResult;
    try {
      res =
        b.corpora === null
          ? await b.run({ runs, budgetS, work, limitS })
          : await b.run({ corpus: corpus!, runs, budgetS, work, limitS });
    } catch (e) {
      failed++;
      process.stderr.write(`bench ${what}: FAILED: ${(e as Error).stack ?? (e as Error).message}\n`);
      continue;
    }
    const loadAfter = load();
    const title = cn === null ? b.name : `${b.name} — ${cn}`;
    process.stdout.write(`\n${title}${corpus === null ? '' : `: ${corpus.meta.description}`}\n${textTable(res.table)}\n${res.notes.join('\n')}\n`);
    const cmd = `npm run bench -- ${b.name}${cn === null ? '' : ` --corpus ${cn}`}${runs !== 5 ? ` --runs ${runs}` : ''}${values.limit !== '900' ? ` --limit ${values.limit}` : ''}`;
    const md = [
      `### ${title}`,
      '',
      `Machine: ${m.cores} cores, ${m.cpu}, Node ${m.node}. Run ${m.date} with \`${cmd}\`; load average (1/5/15 min) ${loadBefore} before, ${loadAfter} after.`,
      '',
      ...(corpus === null
        ? []
        : [
            `Corpus: ${corpus.meta.description}: ${corpus.meta.packets.toLocaleString('en')} packets, ${corpus.meta.sipMessages.toLocaleString('en')} SIP messages, ${(corpus.meta.bytes / 1e6).toFixed(0)} MB (seed ${corpus.meta.seed}).`,
            '',
          ]),
      'Measured:',
      ...res.commands.map((c) => `- \`${c}\``),
      '',
      mdTable(res.table),
      '',
      ...res.notes,
      `Medians of the runs shown; a tool whose runs would pass ${budgetS} s in all ran fewer times.`,
    ].join('\n');
    if (!values['no-write']) updateSection(join(REPO, 'BENCHMARKS.md'), cn === null ? b.name : `${b.name}:${cn}`, md);
  }
}
process.exit(failed > 0 ? 1 : 0);
