// Child processes for the benchmarks: run one to completion with a hard time bound, wait for a line
// on a stream, and time a whole process. Every child is ended by its own pid, never by name.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** newlines on stdout (with `countLines`) */
  lines: number;
}

export interface RunOptions {
  cwd?: string;
  /** kill after this many seconds (default 300) */
  timeoutS?: number;
  /** send stdout to this file (e.g. /dev/null) instead of collecting it */
  stdoutFile?: string;
  env?: NodeJS.ProcessEnv;
  /** count stdout newlines instead of keeping stdout */
  countLines?: boolean;
}

/** Runs a command to completion; wall time measured around spawn → exit. */
export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const outFd = o.stdoutFile !== undefined ? openSync(o.stdoutFile, 'w') : null;
    const stdio: StdioOptions = ['ignore', outFd ?? 'pipe', 'pipe'];
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: o.cwd, stdio, env: o.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let lines = 0;
    if (o.countLines === true)
      child.stdout?.on('data', (d: Buffer) => {
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
      });
    else
      child.stdout?.setEncoding('latin1').on('data', (d: string) => {
        if (stdout.length < 64 << 20) stdout += d;
      });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.timeoutS ?? 300) * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      if (outFd !== null) closeSync(outFd);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      clearTimeout(timer);
      if (outFd !== null) closeSync(outFd);
      resolve({ code, signal, stdout, stderr, seconds, lines });
    });
  });
}

/** Resolves when `re` appears on the child's stderr (or stdout); rejects after `timeoutS`. */
export function waitFor(child: ChildProcess, re: RegExp, timeoutS = 10): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} (got: ${seen.slice(-300)})`)), timeoutS * 1000);
    const on = (d: Buffer): void => {
      seen += d.toString();
      if (re.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', on);
    child.stdout?.on('data', on);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited before ${re}: ${seen.slice(-300)}`));
    });
  });
}

/** Stops a child we started (by its pid) and waits for it, escalating to SIGKILL after 5 s. */
export function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill(signal);
  });
}
