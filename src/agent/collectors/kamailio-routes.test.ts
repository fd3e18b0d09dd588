// Kamailio's route decisions on the call's timeline, three ways: its xlog lines (`route=NAME
// callid=$ci dst=$du`) tailed as text, the same decisions written by xlog as JSON objects tailed as
// JSON lines, and every log line sent over UDP syslog (RFC 3164 and 5424, by util-linux `logger`, as a
// forwarding syslog daemon would). The SIP comes from Kamailio's own siptrace HEP. Each path yields
// route events on the call, and the ladder draws them as notes between the call's arrows.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLadder } from '../../core/ladder/build.js';
import type { LadderEvent } from '../../core/ladder/types.js';
import { Agent } from '../agent.js';
import { IngestServer, waitFor } from '../testing/ingest-server.js';
import type { HepSource } from '../sources/hep.js';
import type { SyslogCollector } from './syslog.js';
import { kamailioTraceConfig } from '../../../test/support/kamailio.js';

const TOKEN = 'kamailio-routes-token-0123456789';
const SID = 'c0000000000000000015';
const CALL = 'kam-route-1@tunaio';

let dir: string;
let center: IngestServer;
let agent: Agent;
let kamailio: ChildProcess | undefined;
let uasPid: number | undefined;
let done = false;
const ports: number[] = [];

async function udpPort(): Promise<number> {
  // distinct free UDP ports on 127.0.0.1 (kept apart from those already chosen)
  for (;;) {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const p = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    // tshark and friends decode some ports as other protocols; sipp needs p and p+1 free for RTP only with media
    if (!ports.includes(p)) {
      ports.push(p);
      return p;
    }
  }
}

// the routing script: named routes, each decision logged as text and as a JSON object
const routes = (uas: number): string => `request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		# sipp's uac ignores Record-Route: in-dialog requests come back to us, relayed to the next hop
		$du = "sip:127.0.0.1:${uas}";
		xlog("L_NOTICE", "route=WITHINDLG callid=$ci rm=$rm\\n");
		t_relay();
		exit;
	}
	if (is_method("INVITE")) record_route();
	route(RELAY);
}

route[RELAY] {
	$du = "sip:127.0.0.1:${uas}";
	xlog("L_NOTICE", "route=RELAY callid=$ci dst=$du rm=$rm\\n");
	xlog("L_NOTICE", "{\\"level\\":\\"notice\\",\\"route\\":\\"RELAY\\",\\"call_id\\":\\"$ci\\",\\"destination\\":\\"$du\\",\\"method\\":\\"$rm\\",\\"message\\":\\"relaying $rm\\"}\\n");
	t_relay();
}
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tunaio-kam-routes-'));
  center = new IngestServer(TOKEN);
  await center.start(0);
  const textLog = join(dir, 'kamailio.log');
  const jsonLog = join(dir, 'kamailio.json');
  writeFileSync(textLog, '');
  writeFileSync(jsonLog, '');
  agent = new Agent({
    name: 'kam',
    token: TOKEN,
    listen: { host: '127.0.0.1', port: 0 },
    hep: ['udp:127.0.0.1:0'],
    logs: [textLog, jsonLog],
    syslog: ['udp:127.0.0.1:0'],
  });
  await agent.start();
  const hepPort = (agent.sources.find((s) => s.kind === 'hep') as HepSource).port;
  const syslogPort = (agent.sources.find((s) => s.kind === 'syslog') as SyslogCollector).boundPort;
  const res = await fetch(`http://127.0.0.1:${agent.port}/v1/captures/${SID}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ criteria: { call_id: CALL }, capture_rtp: false, capture_pcap: false, expires_at: new Date(Date.now() + 120_000).toISOString(), ingest_url: center.url }),
  });
  expect(res.status).toBe(201);

  const [proxy, uas, uac] = [await udpPort(), await udpPort(), await udpPort()];
  writeFileSync(join(dir, 'k.cfg'), kamailioTraceConfig({ listenPort: proxy, hepPort, nextHopPort: uas, routes: routes(uas) }));
  kamailio = spawn('kamailio', ['-f', join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  kamailio.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  // Kamailio's stderr: every line to the text log and to syslog; the JSON objects xlog wrote, with the
  // "N(pid) NOTICE: <script>: " prefix of -E cut as a log shipper would, to the JSON log.
  let n = 0;
  createInterface({ input: kamailio.stderr! }).on('line', (line) => {
    if (done) return;
    appendFileSync(textLog, `${line}\n`);
    const brace = line.indexOf('{"');
    if (brace >= 0) appendFileSync(jsonLog, `${line.slice(brace)}\n`);
    if (line.includes('callid=')) {
      const form = n++ % 2 === 0 ? '--rfc3164' : '--rfc5424';
      spawn('logger', ['-d', '-n', '127.0.0.1', '-P', String(syslogPort), form, '-t', 'kamailio', '--', line.trim()], { stdio: 'ignore' });
    }
  });
  expect(await waitFor(() => /Listening on/.test(out), 10_000)).toBe(true);
  const uasRun = spawnSync('sipp', ['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uas), '-bg'], { cwd: dir, encoding: 'utf8', timeout: 10_000 });
  uasPid = Number(/PID=\[(\d+)\]/.exec(uasRun.stdout)?.[1]);
  // asynchronously: the agent runs in this process and must receive the HEP and syslog meanwhile
  const uacRun = spawn('sipp', ['-sn', 'uac', `127.0.0.1:${proxy}`, '-i', '127.0.0.1', '-p', String(uac), '-m', '1', '-nostdin', '-cid_str', CALL.replace('1@', '%u@'), '-timeout', '20s'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let said = '';
  uacRun.stdout!.on('data', (b: Buffer) => (said = (said + b.toString()).slice(-2000)));
  uacRun.stderr!.on('data', (b: Buffer) => (said = (said + b.toString()).slice(-2000)));
  const code = await new Promise<number | null>((r) => uacRun.once('exit', (c) => r(c)));
  expect(code, said).toBe(0);
}, 90_000);

afterAll(async () => {
  done = true;
  if (uasPid) {
    try {
      process.kill(uasPid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  if (kamailio && kamailio.exitCode === null) kamailio.kill('SIGTERM');
  await agent?.stop();
  await center?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Kamailio route decisions', () => {
  it('reach the session as route events from the text tail, the JSON tail and syslog, and sit on the call timeline', async () => {
    const of = () => center.of(SID);
    const routes = () => of().filter((e) => e.kind === 'route');
    const bySource = (re: RegExp) => routes().filter((e) => re.test(e.route?.source ?? ''));
    // INVITE → RELAY; ACK and BYE → WITHINDLG; each path reports each decision
    expect(
      await waitFor(
        () => bySource(/kamailio\.log$/).length >= 3 && bySource(/kamailio\.json$/).length >= 1 && bySource(/^syslog:/).length >= 3 && of().filter((e) => e.kind === 'sip').length >= 13,
        20_000,
      ),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 300));

    const text = bySource(/kamailio\.log$/);
    expect(text.map((e) => e.route!.route)).toEqual(['RELAY', 'WITHINDLG', 'WITHINDLG']);
    expect(text[0].route).toMatchObject({ destination: expect.stringMatching(/^sip:127\.0\.0\.1:\d+$/), fields: { rm: 'INVITE', level: 'NOTICE' } });
    expect(text[0].payload).toMatch(/NOTICE: <script>: route=RELAY callid=kam-route-1@tunaio dst=sip:127\.0\.0\.1:\d+ rm=INVITE$/);
    expect(text.every((e) => e.call_id === CALL)).toBe(true);

    const json = bySource(/kamailio\.json$/);
    expect(json).toHaveLength(1);
    expect(json[0]).toMatchObject({ call_id: CALL, payload: 'NOTICE: relaying INVITE', route: { route: 'RELAY', destination: text[0].route!.destination, fields: { method: 'INVITE', level: 'notice' } } });

    const syslog = bySource(/^syslog:/);
    expect(syslog.map((e) => e.route!.route).sort()).toEqual(['RELAY', 'WITHINDLG', 'WITHINDLG']);
    expect(syslog.every((e) => e.call_id === CALL && /\/kamailio /.test(e.route!.source ?? ''))).toBe(true);
    const sys = agent.host.statuses().find((s) => s.kind === 'syslog')!;
    expect(sys.counters.rfc3164).toBeGreaterThanOrEqual(1);
    expect(sys.counters.rfc5424).toBeGreaterThanOrEqual(1);

    // the ladder: route notes on the call's timeline, after the INVITE that caused them
    const events = of().map((e, i) => ({ ...e, id: i + 1, agent_id: 1 })) as LadderEvent[];
    const ladder = buildLadder(events, { callId: CALL });
    expect(ladder.marks.filter((m) => m.kind === 'route')).toHaveLength(routes().length);
    const firstInvite = ladder.arrows.find((a) => a.method === 'INVITE')!;
    const relay = ladder.marks.find((m) => m.label.startsWith('route RELAY → sip:127.0.0.1:'))!;
    expect(relay.ts).toBeGreaterThanOrEqual(firstInvite.ts);
    expect(ladder.rows.filter((r) => r.type === 'mark')).toHaveLength(routes().length);
    expect(center.invalid).toEqual([]);
  }, 60_000);
});
