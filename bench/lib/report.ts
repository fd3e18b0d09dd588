// Figures and where they go: medians, the machine line, text tables for the terminal, and the
// BENCHMARKS.md update that replaces only the section of the benchmark that ran (between
// `<!-- bench:KEY -->` and `<!-- /bench:KEY -->`), appending the section when it is new.
import { cpus, loadavg } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  date: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m !== null) cpu = m[1].trim();
  } catch {
    // not Linux: keep os.cpus()
  }
  return { cores: cpus().length, cpu, node: process.version, date: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
}

export const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

export interface Table {
  headers: string[];
  rows: string[][];
}

export function textTable(t: Table): string {
  const w = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(t.headers), w.map((n) => '-'.repeat(n)).join('  '), ...t.rows.map(line)].join('\n');
}

export function mdTable(t: Table): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${t.headers.map(esc).join(' | ')} |`,
    `|${t.headers.map((_h, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** Replaces (or appends) the section `key` of the markdown file. */
export function updateSection(file: string, key: string, body: string): void {
  const open = `<!-- bench:${key} -->`;
  const close = `<!-- /bench:${key} -->`;
  const block = `${open}\n${body.trim()}\n${close}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + close.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next.endsWith('\n') ? next : next + '\n');
}

export const fmtRate = (pps: number): string => (pps >= 1e6 ? `${(pps / 1e6).toFixed(2)} M/s` : `${(pps / 1e3).toFixed(1)} k/s`);
export const fmtS = (s: number): string => s.toFixed(s < 10 ? 3 : 1);
