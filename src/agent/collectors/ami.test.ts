// The Asterisk manager collector against an in-test server speaking AMI byte for byte
// (testing/platform-servers.ts): banner, Login, CRLF-framed channel events with the SIP Call-ID in
// ChanVariable, a wrong secret, a dropped connection and a server that stops answering pings.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/ingest-server.js';
import { AmiCollector } from './ami.js';
import { FakeEventSocket, FakeManager } from './testing/platform-servers.js';
import { recordingHost } from './testing/recording-sink.js';

const FAST = { handshakeTimeoutMs: 300, idleTimeoutMs: 600, keepaliveMs: 100, backoffMinMs: 50, backoffMaxMs: 200 };
let server: FakeManager;
let stopHost: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stopHost?.();
  stopHost = undefined;
  await server?.stop();
});

async function setup(user = 'tunaio', secret = 's3cret') {
  server = new FakeManager('tunaio', 's3cret');
  await server.start();
  const r = recordingHost();
  r.host.add((ctx) => new AmiCollector(ctx, { host: '127.0.0.1', port: server.port, user, secret, ...FAST }), { startTimeoutMs: 0 });
  await r.host.start();
  stopHost = () => r.host.stop();
  return { ...r, status: () => r.host.statuses()[0] };
}

const CALLER = 'caller-leg-4f1a@192.0.2.10';
const CALLEE = 'callee-leg-77b2@192.0.2.20';
const chan = (name: string, uid: string, state: string, desc: string, callId?: string): [string, string][] => [
  ['Privilege', 'call,all'],
  ['Channel', name],
  ['ChannelState', state],
  ['ChannelStateDesc', desc],
  ['CallerIDNum', '15554430191'],
  ['CallerIDName', '<unknown>'],
  ['ConnectedLineNum', '<unknown>'],
  ['Language', 'en'],
  ['AccountCode', ''],
  ['Context', 'from-carrier'],
  ['Exten', '4420'],
  ['Priority', '1'],
  ['Uniqueid', uid],
  ['Linkedid', '1764860000.1'],
  ['ChanVariable', 'realm='],
  ...(callId ? ([['ChanVariable', `SIPCALLID=${callId}`]] as [string, string][]) : []),
];

describe('AMI collector', () => {
  it('reads the banner, logs in, and turns channel events into call states', async () => {
    const { got, status } = await setup();
    expect(await waitFor(() => status().state === 'running', 5000)).toBe(true);
    expect(server.received[0]).toMatch(/^Action: Login\r\nActionID: tunaio-login-\d+\r\nUsername: tunaio\r\nSecret: s3cret\r\nEvents: call$/);
    server.sendEvent([['Event', 'Newchannel'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '4', 'Ring', CALLER)]);
    server.sendEvent([['Event', 'Newstate'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '5', 'Ringing')]);
    server.sendEvent([
      ['Event', 'DialBegin'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '5', 'Ringing'),
      ['DestChannel', 'PJSIP/pbx-00000002'], ['DestUniqueid', '1764860000.2'], ['DestChanVariable', `SIPCALLID=${CALLEE}`], ['DialString', 'pbx/4420'],
    ]);
    server.sendEvent([['Event', 'DialEnd'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '5', 'Ringing'), ['DestUniqueid', '1764860000.2'], ['DialStatus', 'ANSWER']]);
    server.sendEvent([['Event', 'Newstate'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '6', 'Up')]);
    server.sendEvent([['Event', 'BridgeEnter'], ['BridgeUniqueid', 'b-1'], ['BridgeType', 'basic'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '6', 'Up')]);
    server.sendEvent([['Event', 'VarSet'], ['Channel', 'x'], ['Variable', 'A'], ['Value', 'b']]);
    server.sendEvent([['Event', 'Hangup'], ...chan('PJSIP/carrier-00000001', '1764860000.1', '6', 'Up', CALLER), ['Cause', '17'], ['Cause-txt', 'User busy'], ['Timestamp', '1764860005.250000']]);
    expect(await waitFor(() => got.states.length === 7, 5000)).toBe(true);
    expect(got.states.map((s) => s.state)).toEqual(['created', 'ringing', 'dialing', 'dial answer', 'answered', 'bridged', 'hangup']);
    expect(new Set(got.states.map((s) => s.call_id))).toEqual(new Set([CALLER])); // later events found by Uniqueid
    expect(new Set(got.links.map((l) => l.join(' ')))).toEqual(new Set([`${CALLER} ${CALLEE}`])); // DialBegin and DialEnd link the dialled leg
    expect(got.states[2].fields).toMatchObject({ other_leg_call_id: CALLEE, DestChannel: 'PJSIP/pbx-00000002', DialString: 'pbx/4420' });
    expect(got.states[6]).toMatchObject({ platform: 'asterisk', cause: 'User busy', q850: 17, ts_us: 1_764_860_005_250_000, fields: { Linkedid: '1764860000.1', 'Cause-txt': 'User busy' } });
    expect(status().counters).toMatchObject({ other_events: 2, call_states: 7 }); // FullyBooted and VarSet
    expect(await waitFor(() => (status().counters.pongs ?? 0) >= 1, 5000)).toBe(true);
  });

  it('says plainly that the login was refused', async () => {
    const { status } = await setup('tunaio', 'wrong');
    expect(await waitFor(() => status().state === 'failed', 5000)).toBe(true);
    expect(status().error).toBe('authentication failed: Asterisk answered "Authentication failed" (check --ami-user / --ami-secret)');
  });

  it('reconnects after a dropped connection', async () => {
    const { got, status } = await setup();
    expect(await waitFor(() => status().state === 'running', 5000)).toBe(true);
    server.dropAll();
    expect(await waitFor(() => status().counters.disconnects === 1 && status().state === 'running' && server.logins === 2, 5000)).toBe(true);
    server.sendEvent([['Event', 'Newchannel'], ...chan('PJSIP/a-1', '9.1', '4', 'Ring', CALLER)]);
    expect(await waitFor(() => got.states.length === 1, 5000)).toBe(true);
  });

  it('refuses a peer that is not an Asterisk manager, and notices one that stops answering pings', async () => {
    const { status } = await setup();
    expect(await waitFor(() => status().state === 'running', 5000)).toBe(true);
    server.stallAfterLogin = true;
    expect(await waitFor(() => /nothing from the server for 1 s \(stalled\)/.test(status().error ?? ''), 5000)).toBe(true);
    expect(status().counters.stalls).toBeGreaterThanOrEqual(1);
    // an event socket where a manager was expected
    const esl = new FakeEventSocket();
    await esl.start();
    const r = recordingHost();
    r.host.add((ctx) => new AmiCollector(ctx, { host: '127.0.0.1', port: esl.port, user: 'u', secret: 's', ...FAST }));
    await r.host.start();
    expect(await waitFor(() => (r.host.statuses()[0].counters.protocol_errors ?? 0) >= 1, 5000)).toBe(true);
    expect(r.host.statuses()[0].error).toBe('not an Asterisk manager: the banner is "Content-Type: auth/request"');
    await r.host.stop();
    await esl.stop();
  });
});
