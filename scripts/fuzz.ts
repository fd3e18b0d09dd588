// `npm run fuzz`: the long fuzz pass over every shared capture (default 10 M mutations, seeded, with a
// wall-clock bound). Prints throughput and a summary; exits 1 on any failure. Options:
//   --mutations N (default 10000000)  --seed S (default 1)  --max-seconds T (default 5400)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from '../src/protocol/testing/fuzz-engine.js';
import type { FuzzSummary } from '../src/protocol/testing/fuzz-engine.js';

const { values } = parseArgs({
  options: {
    mutations: { type: 'string', default: '10000000' },
    seed: { type: 'string', default: '1' },
    'max-seconds': { type: 'string', default: '5400' },
  },
});
const total = Number(values.mutations);
const seed = Number(values.seed);
const maxMs = Number(values['max-seconds']) * 1000;

const dir = path.resolve(process.cwd(), '../shared/pcaps');
const names = readFileSync(path.join(dir, 'MANIFEST.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')[0]);
const inputs = names.map((name) => ({ name, file: readFileSync(path.join(dir, name)) }));

// Batches with derived seeds: bounded time, and each batch reproducible on its own (--seed S+k).
const BATCH = 100_000;
const started = Date.now();
let done = 0;
let batch = 0;
const agg: Omit<FuzzSummary, 'failures'> & { failures: string[] } = {
  mutations: 0, fileMutations: 0, byKind: {}, records: 0, units: 0, sipParsed: 0, sipRejected: 0, hepParsed: 0,
  hepRejected: 0, maxBufferedBytes: 0, bufferBound: 0, malformedByReason: {}, failures: [], failureCount: 0,
};
while (done < total && Date.now() - started < maxMs) {
  const n = Math.min(BATCH, total - done);
  const s = runFuzz(inputs, { seed: seed + batch, mutations: n });
  for (const k of ['mutations', 'fileMutations', 'records', 'units', 'sipParsed', 'sipRejected', 'hepParsed', 'hepRejected', 'failureCount'] as const) agg[k] += s[k];
  for (const [k, v] of Object.entries(s.byKind)) agg.byKind[k] = (agg.byKind[k] ?? 0) + v;
  for (const [k, v] of Object.entries(s.malformedByReason)) agg.malformedByReason[k] = (agg.malformedByReason[k] ?? 0) + v;
  agg.maxBufferedBytes = Math.max(agg.maxBufferedBytes, s.maxBufferedBytes);
  agg.bufferBound = s.bufferBound;
  for (const f of s.failures) if (agg.failures.length < 20) agg.failures.push(`[seed ${seed + batch}] ${f}`);
  done += n;
  batch++;
  const secs = (Date.now() - started) / 1000;
  process.stdout.write(`fuzz: ${done} mutations in ${secs.toFixed(1)} s (${Math.round(done / secs)}/s), failures ${agg.failureCount}\n`);
}
const secs = (Date.now() - started) / 1000;
process.stdout.write(
  [
    '',
    `fuzz summary (seed ${seed}, ${inputs.length} captures)`,
    `  mutations        ${agg.mutations} (${agg.fileMutations} whole-file) in ${secs.toFixed(1)} s = ${Math.round(agg.mutations / secs)}/s`,
    `  packets          ${agg.records} dissected, ${agg.units} units`,
    `  SIP              ${agg.sipParsed} parsed, ${agg.sipRejected} rejected with a ParseError`,
    `  HEP              ${agg.hepParsed} decoded, ${agg.hepRejected} rejected`,
    `  memory           max ${agg.maxBufferedBytes} buffered bytes (bound ${agg.bufferBound})`,
    `  mutation kinds   ${JSON.stringify(agg.byKind)}`,
    `  malformed seen   ${JSON.stringify(agg.malformedByReason)}`,
    `  failures         ${agg.failureCount}`,
    ...agg.failures.map((f) => `    ${f}`),
    '',
  ].join('\n'),
);
if (done < total) process.stdout.write(`fuzz: stopped at the time bound after ${done} of ${total} mutations\n`);
process.exitCode = agg.failureCount > 0 || done < total ? 1 : 0;
