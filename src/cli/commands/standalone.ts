// `tunaio standalone` (what `npm start` runs): the command center plus the local agent, in one
// process tree. The center runs in this process; the agent is a supervised child (`tunaio agent`,
// restarted with back-off when it dies, stopped on exit) registered as `local` with tag `local`,
// capturing on `lo` (when this process may capture) and listening for HEP on udp:127.0.0.1:9060.
// Its token is generated once and kept in <data>/local-agent.token (mode 0600); it reaches the child
// through TUNAIO_TOKEN, never on a command line. Wiring only.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { newToken } from '../../center/auth/secrets.js';
import type { RunningCenter } from '../../center/index.js';
import { UsageError } from '../options.js';
import type { OptionSpec, OptionValues } from '../options.js';
import { centerConfigFrom, centerOptions } from './center-options.js';
import { printBootstrap, runUntilSignal } from './center.js';
import { parseListen } from './agent.js';

export const LOCAL_AGENT = { name: 'local', url: 'http://127.0.0.1:9070', tags: ['local'] };

/** The local agent's token: read from the data folder, or generated and stored there. */
export function localAgentToken(dataDir: string): string {
  const file = path.join(dataDir, 'local-agent.token');
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    if (t.length >= 22) return t;
  } catch {
    // first start
  }
  const token = newToken();
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export const standaloneOptions: OptionSpec[] = [
  ...centerOptions,
  { name: 'agent-listen', type: 'string', default: '127.0.0.1:9070', arg: 'HOST:PORT', help: 'command API address of the local agent' },
  { name: 'agent-hep', type: 'string', default: 'udp:127.0.0.1:9060', arg: 'udp:ADDR:PORT', help: 'HEP listener of the local agent' },
  { name: 'agent-interface', type: 'string', default: 'lo', arg: 'IFACE', help: 'live capture interface of the local agent (needs root or CAP_NET_RAW); `none` to disable' },
  { name: 'agent-log', type: 'string', multiple: true, arg: 'PATH', help: "log file the local agent tails (Kamailio's, FreeSWITCH's); lines correlated by Call-ID" },
  { name: 'agent-log-format', type: 'string', default: 'auto', arg: 'auto|text|json', help: 'how the local agent reads --agent-log and --agent-syslog lines' },
  { name: 'agent-syslog', type: 'string', multiple: true, arg: 'udp:ADDR:PORT', help: 'syslog listener of the local agent' },
  { name: 'agent-esl', type: 'string', multiple: true, arg: 'tcp:HOST:PORT', help: 'FreeSWITCH event socket the local agent reads call states from' },
  { name: 'agent-esl-password', type: 'string', default: 'ClueCon', arg: 'PASSWORD', help: 'its password' },
  { name: 'agent-ami', type: 'string', multiple: true, arg: 'tcp:HOST:PORT', help: 'Asterisk manager interface the local agent reads call states from' },
  { name: 'agent-ami-user', type: 'string', arg: 'USER', help: 'manager.conf user for --agent-ami' },
  { name: 'agent-ami-secret', type: 'string', arg: 'SECRET', help: 'its secret' },
  { name: 'agent-collector', type: 'string', multiple: true, arg: 'PATH', help: 'collector module for the local agent (docs/collectors.md)' },
];

const many = (v: OptionValues[string]): string[] => (Array.isArray(v) ? v : typeof v === 'string' && v !== '' ? [v] : []);

export interface LocalAgentPlan {
  args: string[];
  env: NodeJS.ProcessEnv;
  url: string;
  live: boolean;
  liveNote: string;
  hep: string;
  /** log files, syslog listeners, platforms and modules the agent reads besides capture and HEP */
  collectors: string[];
}

/** Whether this process may open a live capture: root, or CAP_NET_RAW in the effective set. */
export function mayCapture(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    // CAP_NET_RAW is capability 13 (linux/capability.h)
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 13n)) !== 0n;
  } catch {
    return false;
  }
}

/** The `tunaio agent` command line of the local agent. */
export function localAgentPlan(values: OptionValues, dataDir: string, token: string, canCapture = mayCapture()): LocalAgentPlan {
  const listen = parseListen(String(values['agent-listen'] ?? '127.0.0.1:9070'));
  const hep = String(values['agent-hep'] ?? 'udp:127.0.0.1:9060');
  if (!/^(udp|tcp):/.test(hep)) throw new UsageError(`--agent-hep expects udp:ADDR:PORT or tcp:ADDR:PORT, got "${hep}"`);
  const iface = String(values['agent-interface'] ?? 'lo');
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  const args = ['agent', '--name', LOCAL_AGENT.name, '--listen', `${host}:${listen.port}`, '--hep', hep, '--spool', path.join(dataDir, 'spool')];
  let live = false;
  let liveNote: string;
  if (iface === 'none' || iface === '') {
    liveNote = 'live capture: off (--agent-interface none)';
  } else if (!canCapture) {
    liveNote = `live capture on ${iface}: OFF — not permitted (run as root, or give tcpdump CAP_NET_RAW); HEP and logs still work`;
  } else {
    args.push('--interface', iface);
    live = true;
    liveNote = `live capture: on ${iface} (SIP ports 5060-5061 and the RTP range)`;
  }
  // log files, syslog, platforms and modules: passed on as the agent's own options
  const collectors: string[] = [];
  for (const [from, to] of [['agent-log', '--log'], ['agent-syslog', '--syslog'], ['agent-esl', '--esl'], ['agent-ami', '--ami'], ['agent-collector', '--collector']] as const) {
    for (const raw of many(values[from])) {
      const v = to === '--log' || to === '--collector' ? path.resolve(raw) : raw;
      collectors.push(v);
      args.push(to, v);
    }
  }
  if (collectors.length > 0) args.push('--log-format', String(values['agent-log-format'] ?? 'auto'));
  if (many(values['agent-ami']).length > 0 && typeof values['agent-ami-user'] === 'string') args.push('--ami-user', values['agent-ami-user']);
  // secrets go through the environment twins, like the token: a command line is visible to every user
  const secrets: NodeJS.ProcessEnv = {};
  if (many(values['agent-esl']).length > 0) secrets.TUNAIO_ESL_PASSWORD = String(values['agent-esl-password'] ?? 'ClueCon');
  if (typeof values['agent-ami-secret'] === 'string') secrets.TUNAIO_AMI_SECRET = values['agent-ami-secret'];
  return {
    args,
    collectors,
    // the token goes through the environment twin of --token: a command line is visible to every user
    env: { ...process.env, TUNAIO_TOKEN: token, ...secrets },
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${listen.port}`,
    live,
    liveNote,
    hep,
  };
}

/** Runs `tunaio agent` as a child, restarting it with back-off when it dies, until stop(). */
export class AgentSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = 500;
  restarts = 0;

  constructor(
    private readonly command: { file: string; args: string[]; env: NodeJS.ProcessEnv },
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    if (this.stopping) return;
    const startedAt = Date.now();
    const child = spawn(this.command.file, this.command.args, { env: this.command.env, stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = child;
    child.on('error', (e) => this.log(`cannot start the local agent: ${e.message}`));
    child.on('exit', (code, signal) => {
      this.child = null;
      if (this.stopping) return;
      // a child that ran for a while gets a fresh back-off; one that dies at once waits longer each time
      if (Date.now() - startedAt > 30_000) this.backoffMs = 500;
      this.log(`the local agent exited (${signal ?? `code ${code}`}); restarting in ${this.backoffMs} ms`);
      this.restarts++;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        this.start();
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.kill('SIGTERM');
    });
  }
}

/** This same binary (node + its loader flags + script), so the child runs the code the parent runs. */
export function selfCommand(): { file: string; prefix: string[] } {
  return { file: process.execPath, prefix: [...process.execArgv, process.argv[1]] };
}

export function firstScreen(c: RunningCenter, plan: LocalAgentPlan): string {
  const hepAddr = plan.hep.replace(/^(udp|tcp):/, '');
  const [hepHost, hepPort] = [hepAddr.slice(0, hepAddr.lastIndexOf(':')), hepAddr.slice(hepAddr.lastIndexOf(':') + 1)];
  return [
    '',
    `TunaIO is running.  Open ${c.url}/`,
    `  1. Log in as admin${c.bootstrap?.password ? ' (password above)' : ''}.`,
    '  2. Click "New session", pick agent "local", type a caller or called number (or a Call-ID, or some text), Start.',
    '  3. Place a call: its SIP ladder, RTP quality and logs appear live; export PCAP or a share link from the session.',
    '',
    `Local agent "local" (command API ${plan.url}, data ${c.config.dataDir}):`,
    `  ${plan.liveNote}`,
    `  HEP: listening on ${plan.hep}. Point your SIP server at it:`,
    `    Kamailio   loadmodule "siptrace.so"; modparam("siptrace", "duplicate_uri", "sip:${hepHost}:${hepPort}")`,
    '               modparam("siptrace", "hep_mode_on", 1); modparam("siptrace", "hep_version", 3); modparam("siptrace", "trace_mode", 1)',
    `    FreeSWITCH sofia.conf.xml: <param name="capture-server" value="udp:${hepHost}:${hepPort}"/>, and sip-capture=yes on the profile`,
    `    Asterisk   hep.conf: [general] enabled=yes, capture_address=${hepHost}:${hepPort}; load res_hep.so and res_hep_pjsip.so`,
    plan.collectors.length > 0
      ? `  Also reading: ${plan.collectors.join(', ')}`
      : "  Logs: --agent-log /var/log/kamailio.log (or FreeSWITCH's) correlates lines by Call-ID; --agent-esl / --agent-ami add call states",
    '',
  ].join('\n');
}

export const standalone: Command = {
  spec: {
    name: 'standalone',
    summary: 'command center + a local agent on loopback and HEP UDP 9060 (what `npm start` runs)',
    usage: 'tunaio standalone [--port 8080] [--host 127.0.0.1] [--data ./data]',
    options: standaloneOptions,
  },
  async run(values) {
    const config = centerConfigFrom(values, process.env);
    fs.mkdirSync(config.dataDir, { recursive: true });
    const token = localAgentToken(config.dataDir);
    const plan = localAgentPlan(values, config.dataDir, token);
    const self = selfCommand();
    const log = (msg: string): void => void process.stderr.write(`${new Date().toISOString()} tunaio standalone: ${msg}\n`);
    const supervisor = new AgentSupervisor({ file: self.file, args: [...self.prefix, ...plan.args], env: plan.env }, log);
    let code: number;
    try {
      code = await runUntilSignal(config, async (c) => {
        await c.ensureAgent({ ...LOCAL_AGENT, url: plan.url, token });
        supervisor.start();
        printBootstrap(c);
        process.stdout.write(`${firstScreen(c, plan)}\n`);
      });
    } finally {
      await supervisor.stop();
    }
    return code;
  },
};
