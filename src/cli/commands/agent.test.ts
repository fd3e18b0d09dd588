// `tunaio agent` as a real process: options and env twins, and the SIGKILL fault — a killed agent
// started again with the same spool is back in its running captures at once (well within 10 s),
// before the center even re-asserts them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../options.js';
import { agentConfig, parseListen } from './agent.js';

const TOKEN = 'cli-agent-test-token-0123456';
const SID = 'e0000000000000000001';
const procs: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tunaio-cli-agent-'));

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the CLI; resolves with the process and its command API base URL (bounded wait). */
async function startAgent(): Promise<{ proc: ChildProcess; base: string; output: () => string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/tunaio.ts', 'agent', '--listen', '127.0.0.1:0', '--spool', join(dir, 'spool')], {
    env: { ...process.env, TUNAIO_NAME: 'cli-test', TUNAIO_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(proc);
  let out = '';
  proc.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  for (let i = 0; i < 300 && !/command API on (http:\/\/\S+)/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const m = /command API on (http:\/\/\S+)/.exec(out);
  expect(m, out).not.toBeNull();
  return { proc, base: m![1], output: () => out };
}

describe('tunaio agent options', () => {
  it('parses --listen forms', () => {
    expect(parseListen('127.0.0.1:9070')).toEqual({ host: '127.0.0.1', port: 9070 });
    expect(parseListen('[::1]:9070')).toEqual({ host: '::1', port: 9070 });
    expect(parseListen('9070')).toEqual({ host: '127.0.0.1', port: 9070 });
    expect(() => parseListen('host:99999')).toThrow(UsageError);
  });

  it('requires a name and a token, and checks numbers', () => {
    const base = { listen: '127.0.0.1:0', snaplen: 8192, 'replay-speed': 0, 'spool-max-mb': 1024, 'rtp-sample-every': 50, 'max-dialogs': 100_000, 'max-dialogs-per-session': 10_000 };
    expect(() => agentConfig({ ...base, token: TOKEN }, () => undefined)).toThrow(/--name/);
    expect(() => agentConfig({ ...base, name: 'a' }, () => undefined)).toThrow(/--token/);
    expect(() => agentConfig({ ...base, name: 'a', token: TOKEN, 'replay-speed': -1 }, () => undefined)).toThrow(/--replay-speed/);
    expect(() => agentConfig({ ...base, name: 'a', token: TOKEN, snaplen: 10 }, () => undefined)).toThrow(/--snaplen/);
    expect(() => agentConfig({ ...base, name: 'a', token: TOKEN, 'max-dialogs': 0 }, () => undefined)).toThrow(/--max-dialogs must/);
    expect(() => agentConfig({ ...base, name: 'a', token: TOKEN, 'max-dialogs-per-session': 200_000 }, () => undefined)).toThrow(/--max-dialogs-per-session must .* \(100000\)/);
    expect(agentConfig({ ...base, name: 'a', token: TOKEN, 'max-dialogs': 300_000, 'max-dialogs-per-session': 300_000 }, () => undefined)).toMatchObject({ maxDialogs: 300_000, maxDialogsPerSession: 300_000 });
    const cfg = agentConfig({ ...base, name: 'a', token: TOKEN, 'tenant-header': ['X-Customer'], hep: ['udp:0.0.0.0:9060'] }, () => undefined);
    expect(cfg).toMatchObject({ name: 'a', tenantHeaders: ['X-Customer'], hep: ['udp:0.0.0.0:9060'], spoolMaxMb: 1024 });
  });
});

describe('tunaio agent process', () => {
  it('is back in its running captures right after SIGKILL and a restart', async () => {
    const first = await startAgent();
    const put = await fetch(`${first.base}/v1/captures/${SID}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ criteria: { to: '15554430191' }, capture_rtp: true, capture_pcap: false, expires_at: new Date(Date.now() + 600_000).toISOString(), ingest_url: 'http://127.0.0.1:9/api/ingest' }),
    });
    expect(put.status).toBe(201);
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('close', r));

    // Resumed from the spool's state file before the API even answers: no timing needed to show it.
    const second = await startAgent();
    const st = (await (await fetch(`${second.base}/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      captures: { session_id: string; criteria: unknown }[];
    };
    expect(st.captures).toEqual([expect.objectContaining({ session_id: SID, criteria: { to: '15554430191' } })]);
    expect(second.output()).toMatch(/resumed 1 running capture/);
    second.proc.kill('SIGTERM');
    expect(await new Promise((r) => second.proc.once('close', r))).toBe(0);
  });
});
