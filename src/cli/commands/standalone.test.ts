// `tunaio standalone` as a user runs it: one process tree (center + supervised local agent), the
// first screen, the local agent registered and reconciled online, restarted when it dies, and
// stopped with the center.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstScreen, localAgentPlan } from './standalone.js';
import { agent, agentConfig } from './agent.js';
import { parseCommand } from '../options.js';

const REPO = path.resolve(new URL('../../..', import.meta.url).pathname);
const OP = 'standalone-operator-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn().catch(() => null);
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const childrenOf = (pid: number): number[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

let proc: ChildProcess | undefined;
const dirs: string[] = [];
afterAll(() => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('localAgentPlan', () => {
  it('passes --agent-log, --agent-syslog, --agent-esl, --agent-ami and --agent-collector on to the agent, secrets through its environment', () => {
    const v = {
      'agent-listen': '127.0.0.1:9070', 'agent-hep': 'udp:127.0.0.1:9060', 'agent-interface': 'none',
      'agent-log': ['/var/log/kamailio.log', 'fs.log'], 'agent-log-format': 'json', 'agent-syslog': ['udp:127.0.0.1:5514'],
      'agent-esl': ['tcp:127.0.0.1:8021'], 'agent-esl-password': 'esl-pw-secret', 'agent-ami': ['tcp:127.0.0.1:5038'],
      'agent-ami-user': 'tunaio', 'agent-ami-secret': 'ami-pw-secret', 'agent-collector': ['my.mjs'],
    };
    const plan = localAgentPlan(v, '/d', 'tok-0123456789012345678901', true);
    expect(plan.args.slice(9)).toEqual([
      '--log', '/var/log/kamailio.log', '--log', path.resolve('fs.log'), '--syslog', 'udp:127.0.0.1:5514', '--esl', 'tcp:127.0.0.1:8021',
      '--ami', 'tcp:127.0.0.1:5038', '--collector', path.resolve('my.mjs'), '--log-format', 'json', '--ami-user', 'tunaio',
    ]);
    expect(plan.args.join(' ')).not.toMatch(/pw-secret/);
    expect(plan.env).toMatchObject({ TUNAIO_ESL_PASSWORD: 'esl-pw-secret', TUNAIO_AMI_SECRET: 'ami-pw-secret' });
    // what the agent makes of it
    const parsed = parseCommand(agent.spec, plan.args.slice(1), plan.env);
    expect(agentConfig(parsed.values, () => undefined)).toMatchObject({
      logs: ['/var/log/kamailio.log', path.resolve('fs.log')], logFormat: { format: 'json' }, syslog: ['udp:127.0.0.1:5514'],
      esl: ['tcp:127.0.0.1:8021'], eslPassword: 'esl-pw-secret', ami: ['tcp:127.0.0.1:5038'], amiUser: 'tunaio', amiSecret: 'ami-pw-secret', collectors: [path.resolve('my.mjs')],
    });
  });

  it('builds the agent command line; without capture rights it keeps HEP and says why live capture is off', () => {
    const v = { 'agent-listen': '127.0.0.1:9070', 'agent-hep': 'udp:127.0.0.1:9060', 'agent-interface': 'lo' };
    const root = localAgentPlan(v, '/d', 'tok-0123456789012345678901', true);
    expect(root.args).toEqual(['agent', '--name', 'local', '--listen', '127.0.0.1:9070', '--hep', 'udp:127.0.0.1:9060', '--spool', '/d/spool', '--interface', 'lo']);
    expect(root.env.TUNAIO_TOKEN).toBe('tok-0123456789012345678901');
    expect(root.args.join(' ')).not.toContain('tok-');
    const user = localAgentPlan(v, '/d', 'tok-0123456789012345678901', false);
    expect(user.args).not.toContain('--interface');
    expect(user.liveNote).toMatch(/OFF — not permitted \(run as root, or give tcpdump CAP_NET_RAW\); HEP and logs still work/);
    expect(() => localAgentPlan({ ...v, 'agent-hep': '9060' }, '/d', 't', true)).toThrow(/--agent-hep expects udp:ADDR:PORT/);
  });

  it('the first screen names the URL, where to click, and how to point Kamailio, FreeSWITCH and Asterisk at the HEP port', () => {
    const plan = localAgentPlan({ 'agent-hep': 'udp:127.0.0.1:9060' }, '/d', 't', true);
    const text = firstScreen({ url: 'http://127.0.0.1:8080', bootstrap: { username: 'admin', password: 'pw', token: 't' }, config: { dataDir: '/d' } } as never, plan);
    expect(text).toContain('Open http://127.0.0.1:8080/');
    expect(text).toContain('Click "New session", pick agent "local"');
    expect(text).toContain('modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:9060")');
    expect(text).toContain('<param name="capture-server" value="udp:127.0.0.1:9060"/>');
    expect(text).toContain('capture_address=127.0.0.1:9060');
  });
});

describe('tunaio standalone (process tree)', () => {
  it('prints the first screen, registers `local`, keeps it online, restarts it after SIGKILL, and stops it on SIGTERM', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tunaio-standalone-'));
    dirs.push(data);
    const agentPort = await freePort();
    const hepPort = await freePort();
    proc = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO, 'src/cli/tunaio.ts'), 'standalone', '--port', '0', '--data', data, '--log-level', 'silent',
        '--reconcile-seconds', '1', '--agent-listen', `127.0.0.1:${agentPort}`, '--agent-hep', `udp:127.0.0.1:${hepPort}`],
      { cwd: REPO, env: { ...process.env, TUNAIO_ADMIN_TOKEN: OP, TUNAIO_ADMIN_PASSWORD: undefined }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr!.setEncoding('utf8').on('data', () => undefined);
    const url = await until('the first screen', async () => /Open (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1]);
    await sleep(200);
    expect(out).toMatch(/user: +admin/);
    expect(out).toMatch(/password: +\S{12,}/);
    expect(out).toContain(`HEP: listening on udp:127.0.0.1:${hepPort}`);
    expect(out).toContain('pick agent "local"');
    expect(fs.statSync(path.join(data, 'local-agent.token')).mode & 0o777).toBe(0o600);

    const agents = async () =>
      (await (await fetch(`${url}/api/agents`, { headers: { authorization: `Bearer ${OP}` } })).json()) as {
        agents: { name: string; status: string; tags: string[]; sources: { type: string }[]; url: string }[];
      };
    const online = await until('local online', async () => (await agents()).agents.find((a) => a.name === 'local' && a.status === 'online'));
    expect(online.tags).toEqual(['local']);
    expect(online.url).toBe(`http://127.0.0.1:${agentPort}`);
    expect(online.sources.map((s) => s.type).sort()).toEqual(process.getuid?.() === 0 ? ['hep', 'live'] : ['hep']);

    const [agentPid] = childrenOf(proc.pid!);
    expect(agentPid).toBeGreaterThan(0);
    process.kill(agentPid, 'SIGKILL');
    const restarted = await until('a new agent process', async () => {
      const [p] = childrenOf(proc!.pid!);
      return p && p !== agentPid ? p : null;
    });
    await until('the new agent answering', async () => (await fetch(`http://127.0.0.1:${agentPort}/v1/health`)).ok);

    proc.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => proc!.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(() => process.kill(restarted, 0)).toThrow(); // the agent went with it
  }, 90_000);
});
