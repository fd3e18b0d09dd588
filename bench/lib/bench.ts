// What a benchmark is to the runner, and the timing loop they share: n runs of a process or of an
// in-process function, with a time budget that lets slow peers run fewer times (stated in the table).
import type { Corpus } from '../corpus/corpora.js';
import { median } from './report.js';
import type { Table } from './report.js';
import { run } from './proc.js';
import type { RunOptions, RunResult } from './proc.js';

export interface BenchArgs {
  corpus: Corpus;
  /** runs wanted per measured thing (≥ 5 for the figures of record) */
  runs: number;
  /** seconds one measured thing may take in all before it is run fewer times */
  budgetS: number;
  /** scratch folder for outputs */
  work: string;
  /** hard limit in seconds for one run of a slow peer (tshark -T fields) */
  limitS: number;
}

export interface BenchResult {
  table: Table;
  /** commands measured, one per line, for BENCHMARKS.md */
  commands: string[];
  notes: string[];
}

/** A benchmark that reads a corpus (decode, filter): run once per corpus. */
export interface CorpusBenchmark {
  name: string;
  /** corpora it runs on by default */
  corpora: string[];
  run(a: BenchArgs): Promise<BenchResult>;
}

/** A benchmark that makes its own traffic (live, ingest, latency, memory): run once. */
export interface SystemBenchmark {
  name: string;
  corpora: null;
  run(a: Omit<BenchArgs, 'corpus'>): Promise<BenchResult>;
}

export type Benchmark = CorpusBenchmark | SystemBenchmark;

export interface Timing {
  seconds: number[];
  median: number;
  min: number;
}

function timing(seconds: number[]): Timing {
  return { seconds, median: median(seconds), min: Math.min(...seconds) };
}

/** Times `fn` up to `runs` times; stops early once the budget is spent (always ≥ 1 run). */
export async function timeRuns(runs: number, budgetS: number, fn: (i: number) => Promise<number>): Promise<Timing> {
  const s: number[] = [];
  let spent = 0;
  for (let i = 0; i < runs; i++) {
    const t = await fn(i);
    s.push(t);
    spent += t;
    if (spent + t > budgetS && i + 1 < runs) break;
  }
  return timing(s);
}

/**
 * Times several things in rounds (A B C, A B C, …) rather than one after the other, so a change
 * of load on a shared machine hits all of them alike and their ratios stay meaningful. A thing
 * whose runs would pass the budget drops out of later rounds (always ≥ 1 run).
 */
export async function timeInterleaved(runs: number, budgetS: number, fns: ((i: number) => Promise<number>)[]): Promise<Timing[]> {
  const s: number[][] = fns.map(() => []);
  const spent = fns.map(() => 0);
  for (let i = 0; i < runs; i++) {
    for (let f = 0; f < fns.length; f++) {
      const last = s[f].length > 0 ? s[f][s[f].length - 1] : 0;
      if (i > 0 && spent[f] + last > budgetS) continue;
      const t = await fns[f](i);
      s[f].push(t);
      spent[f] += t;
    }
  }
  return s.map(timing);
}

/** Runs a process and fails loudly when it does not exit 0. */
export async function mustRun(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.slice(-800)}`);
  return r;
}

export const shellQuote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
export const cmdLine = (cmd: string, args: string[]): string => [cmd, ...args].map(shellQuote).join(' ');
