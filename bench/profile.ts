// `tsx bench/profile.ts [CORPUS] [-- extra filter args]`: runs `tunaio filter` on a corpus under
// `node --cpu-prof` and prints the functions with the most self time (from the .cpuprofile's
// samples), as recorded in BENCHMARKS.md. Run `npm run build` (or tsc -p tsconfig.build.json) first.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BENCH_DIR, REPO, corpusByName } from './corpus/corpora.js';
import { mustRun } from './lib/bench.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  ms: number;
  share: number;
}

/** Self time per function (summed over its call-tree nodes), largest first. */
export function topSelf(p: CpuProfile, n = 15): SelfTime[] {
  const byNode = new Map<number, ProfileNode>(p.nodes.map((x) => [x.id, x]));
  const us = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byNode.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    total += dt;
    const cf = node.callFrame;
    const where = cf.url === '' ? '(native)' : `${relative(REPO, new URL(cf.url).pathname)}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName}@${where}`;
    const e = us.get(key) ?? { fn: cf.functionName || '(anonymous)', where, us: 0 };
    e.us += dt;
    us.set(key, e);
  }
  return [...us.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: e.us / total }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const corpus = await corpusByName(process.argv[2] ?? 'aaa1500');
  const dir = join(BENCH_DIR, 'prof');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const args = ['--cpu-prof', '--cpu-prof-dir', dir, join(REPO, 'bin/tunaio.js'), 'filter', '--read', corpus.path, ...corpus.meta.criterion.tunaio, '--write', join(dir, 'out.pcap')];
  const r = await mustRun('node', args, { timeoutS: 600 });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no .cpuprofile written');
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  process.stdout.write(`${r.stderr.trim()}\nwall ${r.seconds.toFixed(2)} s (profiling on); profile ${join(dir, file)}\n`);
  process.stdout.write('| self ms | share | function | where |\n|---:|---:|---|---|\n');
  for (const t of topSelf(prof, 20)) process.stdout.write(`| ${t.ms.toFixed(0)} | ${(t.share * 100).toFixed(1)} % | \`${t.fn}\` | ${t.where} |\n`);
}
