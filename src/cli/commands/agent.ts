// `tunaio agent`: one capture agent. Wiring only: options (each with its TUNAIO_* twin) → AgentConfig
// → Agent (src/agent/agent.ts); stops cleanly on SIGINT/SIGTERM.
import { setFlagsFromString } from 'node:v8';
import type { AgentConfig } from '../../agent/agent.js';
import { defaultBpf } from '../../agent/sources/live.js';
import { isTunaError } from '../../core/errors.js';
import type { Command } from '../command.js';
import { UsageError, type OptionValues } from '../options.js';

const VERSION = '0.1.0';

/** `HOST:PORT`, `[V6]:PORT` or `PORT`. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s.trim()) ?? /^()()(\d{1,5})$/.exec(s.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen expects HOST:PORT (e.g. 127.0.0.1:9070), got "${s}"`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

const list = (v: OptionValues[string]): string[] => (Array.isArray(v) ? v : typeof v === 'string' && v !== '' ? [v] : []);
const str = (v: OptionValues[string]): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `--log-format` and the JSON field names (comma-separated lists, first present wins). */
function logFormat(values: OptionValues): AgentConfig['logFormat'] {
  const format = str(values['log-format']) ?? 'auto';
  if (format !== 'auto' && format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be auto, text or json, got "${format}"`);
  const fields = (k: string): string[] | undefined => {
    const v = list(values[k]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
    return v.length > 0 ? v : undefined;
  };
  const callIdFields = fields('log-call-id-field');
  const levelFields = fields('log-level-field');
  const messageFields = fields('log-message-field');
  return { format, ...(callIdFields ? { callIdFields } : {}), ...(levelFields ? { levelFields } : {}), ...(messageFields ? { messageFields } : {}) };
}

export function agentConfig(values: OptionValues, log: (msg: string) => void): AgentConfig {
  const name = str(values.name);
  const token = str(values.token);
  if (!name) throw new UsageError('--name (or TUNAIO_NAME) is required: the name the agent is registered under on the center');
  if (!token) throw new UsageError('--token (or TUNAIO_TOKEN) is required: the agent token the center uses for commands and ingest');
  const snaplen = Number(values.snaplen);
  if (!Number.isInteger(snaplen) || snaplen < 64 || snaplen > 262144) throw new UsageError(`--snaplen must be 64-262144 bytes, got ${values.snaplen}`);
  const speed = Number(values['replay-speed'] ?? 0);
  if (!Number.isFinite(speed) || speed < 0) throw new UsageError(`--replay-speed must be 0 (as fast as possible) or more, got ${values['replay-speed']}`);
  const spoolMb = Number(values['spool-max-mb']);
  if (!Number.isFinite(spoolMb) || spoolMb < 1) throw new UsageError(`--spool-max-mb must be at least 1, got ${values['spool-max-mb']}`);
  const every = Number(values['rtp-sample-every']);
  if (!Number.isInteger(every) || every < 1) throw new UsageError(`--rtp-sample-every must be a whole number ≥ 1, got ${values['rtp-sample-every']}`);
  const collectorRate = Number(values['collector-rate'] ?? 20_000);
  if (!Number.isInteger(collectorRate) || collectorRate < 1) throw new UsageError(`--collector-rate must be a whole number ≥ 1, got ${values['collector-rate']}`);
  const maxDialogs = Number(values['max-dialogs'] ?? 100_000);
  const maxPerSession = Number(values['max-dialogs-per-session'] ?? 10_000);
  if (!Number.isInteger(maxDialogs) || maxDialogs < 1 || maxDialogs > 10_000_000) {
    throw new UsageError(`--max-dialogs must be a whole number from 1 to 10000000, got ${values['max-dialogs']}`);
  }
  if (!Number.isInteger(maxPerSession) || maxPerSession < 1 || maxPerSession > maxDialogs) {
    throw new UsageError(`--max-dialogs-per-session must be a whole number from 1 to --max-dialogs (${maxDialogs}), got ${values['max-dialogs-per-session']}`);
  }
  return {
    name,
    token,
    version: VERSION,
    listen: parseListen(String(values.listen ?? '127.0.0.1:9070')),
    interfaces: list(values.interface),
    bpf: str(values.bpf),
    snaplen,
    hep: list(values.hep),
    hepAuthKey: str(values['hep-auth-key']),
    logs: list(values.log),
    logFormat: logFormat(values),
    esl: list(values.esl),
    eslPassword: str(values['esl-password']),
    ami: list(values.ami),
    amiUser: str(values['ami-user']),
    amiSecret: typeof values['ami-secret'] === 'string' ? values['ami-secret'] : undefined,
    syslog: list(values.syslog),
    read: str(values.read),
    collectors: list(values.collector),
    collectorRate,
    replaySpeed: speed,
    spoolDir: str(values.spool),
    spoolMaxMb: spoolMb,
    tenantHeaders: list(values['tenant-header']),
    xcidHeaders: list(values['xcid-header']),
    rtpSampleEvery: every,
    maxDialogs,
    maxDialogsPerSession: maxPerSession,
    log,
  };
}

export const agent: Command = {
  spec: {
    name: 'agent',
    summary: 'run one capture agent (live, HEP, log, syslog, ESL, AMI, file and user collectors)',
    usage: 'tunaio agent --name NAME --token TOKEN [--interface lo] [--hep udp:0.0.0.0:9060] [--log PATH] [--spool DIR]',
    options: [
      { name: 'name', type: 'string', arg: 'NAME', help: 'agent name, as registered on the center' },
      { name: 'token', type: 'string', arg: 'TOKEN', help: 'agent token: authenticates the command API and ingest' },
      { name: 'listen', type: 'string', default: '127.0.0.1:9070', arg: 'HOST:PORT', help: 'command API address' },
      { name: 'interface', type: 'string', multiple: true, arg: 'IFACE', help: 'live capture interface (`any` allowed)' },
      { name: 'bpf', type: 'string', arg: 'FILTER', help: `BPF capture filter (default: ${defaultBpf()})` },
      { name: 'snaplen', type: 'number', default: 8192, arg: 'BYTES', help: 'capture snap length' },
      { name: 'hep', type: 'string', multiple: true, arg: 'udp:ADDR:PORT', help: 'HEP v2/v3 listener (udp: or tcp:)' },
      { name: 'hep-auth-key', type: 'string', arg: 'KEY', help: 'drop (and count) HEP packets whose auth key differs' },
      { name: 'log', type: 'string', multiple: true, arg: 'PATH', help: 'log file to tail (rotation-safe)' },
      { name: 'log-format', type: 'string', default: 'auto', arg: 'auto|text|json', help: '--log and --syslog lines: JSON lines (one object per line), plain text, or either, line by line' },
      { name: 'log-call-id-field', type: 'string', multiple: true, arg: 'NAMES', help: 'JSON field(s) holding the Call-ID (default call_id, callid, call-id, Call-ID, sip_call_id, ci)' },
      { name: 'log-level-field', type: 'string', multiple: true, arg: 'NAMES', help: 'JSON field(s) holding the level (default level, severity, lvl, log_level)' },
      { name: 'log-message-field', type: 'string', multiple: true, arg: 'NAMES', help: 'JSON field(s) holding the message (default message, msg, text, log)' },
      { name: 'syslog', type: 'string', multiple: true, arg: 'udp:ADDR:PORT', help: 'syslog listener (RFC 5424 and 3164); lines correlated by Call-ID like --log' },
      { name: 'esl', type: 'string', multiple: true, arg: 'tcp:HOST:PORT', help: 'FreeSWITCH event socket: channel create/answer/bridge/hangup as call-state events' },
      { name: 'esl-password', type: 'string', default: 'ClueCon', arg: 'PASSWORD', help: 'event socket password (event_socket.conf.xml)' },
      { name: 'ami', type: 'string', multiple: true, arg: 'tcp:HOST:PORT', help: 'Asterisk manager interface: channel events as call-state events' },
      { name: 'ami-user', type: 'string', arg: 'USER', help: 'manager.conf user (read = call) for --ami' },
      { name: 'ami-secret', type: 'string', arg: 'SECRET', help: 'its secret' },
      { name: 'read', type: 'string', arg: 'FILE', help: 'replay a pcap/pcapng file' },
      { name: 'collector', type: 'string', multiple: true, arg: 'PATH', help: 'a JavaScript module exporting createCollector(ctx) (docs/collectors.md)' },
      { name: 'collector-rate', type: 'number', default: 20_000, arg: 'N', help: 'events per second one --collector module may emit; the excess is dropped and counted' },
      { name: 'replay-speed', type: 'number', default: 0, arg: 'FACTOR', help: 'replay pace: 0 as fast as possible, 1 real time, 2 twice as fast' },
      { name: 'spool', type: 'string', arg: 'DIR', help: 'on-disk spool for events while the center is unreachable' },
      { name: 'spool-max-mb', type: 'number', default: 1024, arg: 'MB', help: 'spool size limit; events beyond it are dropped and counted' },
      { name: 'tenant-header', type: 'string', multiple: true, arg: 'HEADER', help: 'SIP header naming the tenant (default X-Tenant, X-Tenant-Id, X-Tenant-Code)' },
      { name: 'xcid-header', type: 'string', multiple: true, arg: 'HEADER', help: "SIP header naming a B2BUA/SBC leg's other Call-ID (default X-CID, X-Call-ID)" },
      { name: 'rtp-sample-every', type: 'number', default: 50, arg: 'N', help: 'RTP samples: the first 10 packets of a stream, then 1 in N' },
      { name: 'max-dialogs', type: 'number', default: 100_000, arg: 'N', help: 'dialogs tracked at once, all captures together; past it the least recently active is evicted and counted' },
      { name: 'max-dialogs-per-session', type: 'number', default: 10_000, arg: 'N', help: 'dialogs tracked at once for one capture session (same eviction)' },
    ],
  },
  async run(values) {
    const log = (msg: string): void => {
      process.stderr.write(`${new Date().toISOString()} tunaio agent: ${msg}\n`);
    };
    const cfg = agentConfig(values, log);
    // An agent runs beside the SIP server it watches, so V8's heap is tuned for a small resident size,
    // before the heap grows: by default the old generation grows far past the live data before it is
    // collected (bench/memory.ts, 100 000 tracked dialogs: ≈ 120 MB live, VmRSS 573 MB, mostly garbage
    // of the event path; at 25 000 dialogs --optimize-for-size took VmRSS 261 → 124 MB) for a little
    // more GC time. Process-wide, so it is set here, in the agent's own process, not in the library.
    setFlagsFromString('--optimize-for-size');
    // loaded on demand, like the center: other commands start without the agent's modules
    const { Agent } = await import('../../agent/agent.js');
    let a: InstanceType<typeof Agent>;
    try {
      a = new Agent(cfg);
    } catch (e) {
      if (isTunaError(e)) throw new UsageError(e.message);
      throw e;
    }
    let addr;
    try {
      addr = await a.start();
    } catch (e) {
      process.stderr.write(`tunaio agent: ${(e as Error).message}\n`);
      await a.stop().catch(() => undefined);
      return 1;
    }
    log(`"${cfg.name}" ${VERSION}: command API on http://${addr!.host.includes(':') ? `[${addr!.host}]` : addr!.host}:${addr!.port}`);
    const sources = a.host.statuses();
    for (const st of sources) log(`source ${st.name}: ${st.state}${st.error ? ` — ${st.error}` : ''}`);
    if (sources.length === 0) log('no sources configured (--interface, --hep, --log, --read, --collector, …): nothing will be captured');
    if (!cfg.spoolDir) log('no --spool: while the center is unreachable, events wait in memory only (bounded)');
    if (a.manager.ids().length > 0) log(`resumed ${a.manager.ids().length} running capture(s) from the spool`);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
    });
    log('stopping');
    await a.stop();
    return 0;
  },
};
