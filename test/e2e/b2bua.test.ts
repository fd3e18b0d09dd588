// B2BUA legs with real components (issue 13, Tests): Kamailio (Debian package) sits between a sipp UAC
// and a sipp UAS as a back-to-back hop that gives the outgoing leg its own Call-ID and caller, and
// names the incoming leg's Call-ID in `X-CID` — what an SBC does with `append_hf("X-CID: $ci")`. It
// also translates the called number, so nothing but the header links the legs (the number-and-time
// inference cannot: docs/sessions.md "B2BUA legs"). A real agent captures `lo` with tcpdump into a
// session whose criterion is the A-leg caller; the same B2BUA carries a call from another caller.
// Shown through the center's public API: both legs of the caller's call arrive and nothing of the
// other call; the call list has one row for the call, its `legs` the two Call-IDs, not inferred; the
// ladder (`ladder.svg` of the A leg) draws both legs together, lettered [A] and [B].
// And the shared capture of a real B2BUA (Kamailio → FreeSWITCH, no linking header) replayed by an
// agent into a session of the same center: both legs, one row labelled inferred, both on the ladder.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { ReplaySource } from '../../src/agent/sources/replay.js';
import type { RunningCenter } from '../../src/center/index.js';
import type { Dialog } from '../../src/core/schema/index.js';
import { kamailioTraceConfig } from '../support/kamailio.js';
import { Api, OPERATOR_TOKEN, REPO, e2eCenter, freePort, inProcessAgent, killPid, sipp, sippBg, sleep, tempDir, waitFor } from './harness.js';

/** a UDP port free on 127.0.0.1 now (sipp and Kamailio take UDP ports) */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// The B leg: Call-ID "b2b-<A-leg Call-ID>", caller "b2bua", called number 9000, X-CID on the INVITE.
// Replies get the A leg's Call-ID, From and To back (the UAC routes them by Call-ID, RFC 3261 §8.1.3.3).
const b2buaRoutes = (uasPort: number): string => `loadmodule "tmx.so"
request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (is_method("INVITE") && !has_totag()) append_hf("X-CID: $ci\\r\\n");
	subst_hf("Call-ID", "/^(.+)$/b2b-\\1/", "");
	subst_hf("From", "/sip:[^@]+@/sip:b2bua@/", "");
	subst_hf("To", "/sip:[^@]+@/sip:9000@/", "");
	$rU = "9000";
	xlog("L_NOTICE", "b2bua $rm callid=$ci\\n");
	$du = "sip:127.0.0.1:${uasPort}";
	t_relay();
}
onreply_route {
	subst_hf("Call-ID", "/^b2b-//", "");
	remove_hf("From");
	append_hf("From: $T_req($hdr(From))\\r\\n");
	remove_hf("To");
	append_hf("To: $T_req($hdr(To));tag=$tt\\r\\n");
}
`;

let dir: string;
let center: RunningCenter;
let api: Api;
let live: { agent: Agent; id: number };
let kam: ChildProcess | undefined;
let uasPid: number | undefined;
let kamPort: number;
let uasPort: number;

beforeAll(async () => {
  dir = tempDir('b2bua');
  center = await e2eCenter(path.join(dir, 'data'));
  api = new Api(center.url);
  kamPort = await freeUdpPort();
  uasPort = await freeUdpPort();
  // both legs cross Kamailio's port: UAC ⇄ Kamailio (A leg), Kamailio ⇄ UAS (B leg)
  live = await inProcessAgent(center, { name: 'b2bua-live', interfaces: ['lo'], bpf: `udp port ${kamPort}`, snaplen: 4096, spoolDir: path.join(dir, 'spool') });
  await waitFor('capture running', () => live.agent.sources.every((s) => s.status().state === 'running'), 30_000);
  fs.writeFileSync(path.join(dir, 'k.cfg'), kamailioTraceConfig({ listenPort: kamPort, nextHopPort: uasPort, routes: b2buaRoutes(uasPort) }));
  kam = spawn('kamailio', ['-f', path.join(dir, 'k.cfg'), '-Y', dir, '-E', '-DD', '-m', '64', '-M', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  kam.stdout!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4096)));
  kam.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4096)));
  await waitFor('kamailio listening', () => /Listening on/.test(out), 10_000);
  uasPid = await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort)], dir);
}, 60_000);

afterAll(async () => {
  killPid(uasPid);
  // SIGTERM: Kamailio's main process then stops its workers (SIGKILL would leave them orphaned)
  if (kam && kam.exitCode === null && kam.signalCode === null) kam.kill('SIGTERM');
  await live?.agent.stop();
  await center?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('B2BUA legs through Kamailio, captured live on lo', () => {
  it('a session on the A-leg caller gets both legs; the call list groups them and the ladder draws them together', async () => {
    const sid = await api.newSession('b2bua', { from: 'alice' }, [live.id]);
    await waitFor('capture acknowledged', async () => (await api.detail(sid)).agents[0].state === 'capturing', 20_000);
    // alice's call, then carol's through the same B2BUA (the session must not take it)
    fs.writeFileSync(path.join(dir, 'calls.csv'), 'SEQUENTIAL\nalice;2000;127.0.0.1;t\ncarol;2000;127.0.0.1;t\n');
    const r = await sipp(
      ['-sf', path.join(REPO, 'src/agent/testing/sipp/uac-injected.xml'), '-inf', path.join(dir, 'calls.csv'), `127.0.0.1:${kamPort}`,
        '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-m', '2', '-r', '2', '-nostdin', '-timeout', '30s', '-cid_str', 'call-%u-%p@uac'],
      dir,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const aLeg = (n: number) => new RegExp(`^call-${n}-\\d+@uac$`);

    // per call: A leg INVITE, 100 (Kamailio), 180, 200, ACK, BYE, 200 = 7; B leg INVITE, 180, 200, ACK, BYE, 200 = 6
    const expected = 13;
    await waitFor(`${expected} SIP events`, async () => (await api.events(sid)).filter((e) => e.kind === 'sip').length >= expected, 20_000).catch(() => undefined);
    await sleep(1500); // anything more (carol's call) would have arrived by now
    const sip = (await api.events(sid)).filter((e) => e.kind === 'sip');
    const callIds = [...new Set(sip.map((e) => e.call_id as string))];
    const a = callIds.find((c) => aLeg(1).test(c));
    expect(a, `Call-IDs: ${callIds.join(', ')}`).toBeDefined();
    const b = `b2b-${a}`;
    const leg = (c: string) => sip.filter((e) => e.call_id === c);
    console.log(`b2bua live: A leg ${leg(a!).length}/7, B leg ${leg(b).length}/6 SIP messages (received/expected); other Call-IDs: ${callIds.filter((c) => c !== a && c !== b).length}/0`);
    expect(callIds.sort()).toEqual([a, b].sort()); // nothing of carol's call, on either leg
    expect(leg(a!).map((e) => e.sip?.method ?? e.sip?.status)).toEqual(['INVITE', 100, 180, 200, 'ACK', 'BYE', 200]);
    expect(leg(b).map((e) => e.sip?.method ?? e.sip?.status)).toEqual(['INVITE', 180, 200, 'ACK', 'BYE', 200]);
    // the B leg is the B2BUA's: its own caller and number, on the Kamailio → UAS hop, linked by header
    expect(leg(b).every((e) => e.dst?.port === uasPort || e.src?.port === uasPort)).toBe(true);
    expect(leg(b)[0].sip).toMatchObject({ from_user: 'b2bua', to_user: '9000' });
    expect(leg(b)[0].payload).toContain(`X-CID: ${a}`);
    expect(leg(b).every((e) => e.linked_call_ids?.includes(a!) && e.linked_inferred !== true)).toBe(true);

    // the call list: one row for the call, both legs, not inferred; the caller's view of it
    const list = (await api.req('GET', `/api/sessions/${sid}/dialogs`)).json.dialogs as Dialog[];
    expect(list.map((d) => [d.call_id, d.legs, d.legs_inferred])).toEqual([[a, [a, b], false]]);
    expect(list[0]).toMatchObject({ from: 'alice', to: '2000', state: 'completed', messages: 13, final_status: { code: 200, reason: 'OK' } });
    // the row's legs fetch both legs' events
    const ev = await api.req('GET', `/api/sessions/${sid}/events?call_id=${encodeURIComponent(list[0].legs.join(','))}&limit=100`);
    expect((ev.json.events as { call_id: string }[]).length).toBe(13);

    // the ladder of the A leg draws both legs, each arrow lettered with its leg
    const svg = await fetch(`${center.url}/api/sessions/${sid}/ladder.svg?call_id=${encodeURIComponent(a!)}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(svg.status).toBe(200);
    const text = await svg.text();
    const arrows = (l: string) => [...text.matchAll(new RegExp(`\\[${l}\\] (INVITE|ACK|BYE|1\\d\\d|200)`, 'g'))].length;
    expect([arrows('A'), arrows('B')]).toEqual([7, 6]);
    expect(text).not.toContain('inferred');
  }, 120_000);
});

const PCAP = path.join(REPO, '../shared/pcaps/sip_websocket_and_udp_b2bua_407__heplify.pcap');
const REPLAY_A = 'kovfhoptshgn59q712sr';
const REPLAY_B = '926ffd16-6154-1237-09ba-0270b3230128';
const REPLAY_CALLER = '12675941249_Uclx8s21Ck82KTJtkFC1ltbEbcHGKjXLrsz2bdJVWGX';

describe('the shared B2BUA capture replayed into a session', () => {
  it('a session on the A-leg caller gets both legs (tshark counts), one call list row labelled inferred, both legs on the ladder', async () => {
    const tshark = (callId: string): number =>
      execFileSync('tshark', ['-r', PCAP, '-Y', `sip.Call-ID == "${callId}"`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => l.trim() !== '').length;
    const [aLeg, bLeg] = [tshark(REPLAY_A), tshark(REPLAY_B)];
    // the agent is registered and given the session first; it starts (and replays the file) with the
    // capture already in its spool, so the replay cannot outrun the center's command
    const token = 'e2e-agent-b2bua-replay-token-0123456789';
    const port = await freePort();
    const view = await center.ensureAgent({ name: 'b2bua-replay', url: `http://127.0.0.1:${port}`, token, tags: [] });
    const sid = await api.newSession('b2bua replay', { from: REPLAY_CALLER }, [view.id]);
    const spool = path.join(dir, 'spool-replay');
    fs.mkdirSync(spool);
    const capture = { session_id: sid, criteria: { from: REPLAY_CALLER }, capture_rtp: false, capture_pcap: false, expires_at: new Date(Date.now() + 600_000).toISOString(), ingest_url: `${center.url}/api/ingest` };
    fs.writeFileSync(path.join(spool, 'captures.json'), JSON.stringify([capture]));
    const agent = new Agent({ name: 'b2bua-replay', token, listen: { host: '127.0.0.1', port }, read: PCAP, spoolDir: spool });
    try {
      await agent.start();
      await (agent.sources.find((s) => s.kind === 'replay') as ReplaySource).done();
      await waitFor('both legs stored', async () => (await api.events(sid)).filter((e) => e.kind === 'sip').length >= aLeg + bLeg, 20_000).catch(() => undefined);
      await sleep(1000);
    } finally {
      await agent.stop();
    }
    const sip = (await api.events(sid)).filter((e) => e.kind === 'sip');
    const leg = (c: string) => sip.filter((e) => e.call_id === c).length;
    console.log(`b2bua replay via the center: A leg ${leg(REPLAY_A)}/${aLeg}, B leg ${leg(REPLAY_B)}/${bLeg} SIP messages (received/tshark)`);
    expect([leg(REPLAY_A), leg(REPLAY_B), sip.length]).toEqual([aLeg, bLeg, aLeg + bLeg]);

    const list = (await api.req('GET', `/api/sessions/${sid}/dialogs`)).json.dialogs as Dialog[];
    expect(list.map((d) => [d.call_id, d.legs, d.legs_inferred])).toEqual([[REPLAY_A, [REPLAY_A, REPLAY_B], true]]);
    expect(list[0].messages).toBe(aLeg + bLeg);

    const svg = await fetch(`${center.url}/api/sessions/${sid}/ladder.svg?call_id=${encodeURIComponent(REPLAY_A)}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    const text = await svg.text();
    expect(text).toContain('[A, inferred] INVITE');
    expect(text).toContain('[B, inferred] INVITE');
  }, 120_000);
});
