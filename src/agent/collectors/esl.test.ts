// The FreeSWITCH event socket collector against an in-test server speaking mod_event_socket's wire
// protocol (testing/platform-servers.ts): login and subscription as sent on the wire, channel events
// with URL-encoded values to call states, a wrong password, a dropped connection, a stalled server.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/ingest-server.js';
import { EslCollector } from './esl.js';
import { FakeEventSocket } from './testing/platform-servers.js';
import { recordingHost } from './testing/recording-sink.js';

const FAST = { handshakeTimeoutMs: 300, idleTimeoutMs: 600, keepaliveMs: 100, backoffMinMs: 50, backoffMaxMs: 200 };
let server: FakeEventSocket;
let stopHost: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stopHost?.();
  stopHost = undefined;
  await server?.stop();
});

async function setup(password = 'ClueCon', serverPassword = 'ClueCon') {
  server = new FakeEventSocket(serverPassword);
  await server.start();
  const r = recordingHost();
  r.host.add((ctx) => new EslCollector(ctx, { host: '127.0.0.1', port: server.port, password, ...FAST }), { startTimeoutMs: 0 });
  await r.host.start();
  stopHost = () => r.host.stop();
  const status = () => r.host.statuses()[0];
  return { ...r, status };
}

const A_LEG = { uuid: '0b5d1c2e-aaaa-bbbb-cccc-111122223333', callId: 'a84b4c76e66710@pc33.atlanta.example.com' };
const B_LEG = { uuid: '7c1e9f00-dddd-eeee-ffff-444455556666', callId: '2b9c8d7e-1f2a-4b3c@10.0.0.9' };

describe('ESL collector', () => {
  it('logs in, subscribes, and turns channel events into call states on the SIP Call-ID', async () => {
    const { got, status } = await setup();
    expect(await waitFor(() => status().state === 'running', 5000)).toBe(true);
    expect(server.received.slice(0, 2)).toEqual([
      'auth ClueCon',
      'event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP_COMPLETE HEARTBEAT',
    ]);
    const t = 1_764_860_000_000_000;
    server.sendEvent({ 'Event-Name': 'CHANNEL_CREATE', 'Event-Date-Timestamp': String(t), 'Unique-ID': A_LEG.uuid, 'Call-Direction': 'inbound', variable_sip_call_id: A_LEG.callId, 'Caller-Caller-ID-Number': '+15554430191' });
    // the outbound leg before its INVITE: no sip_call_id yet (counted, not emitted)
    server.sendEvent({ 'Event-Name': 'CHANNEL_CREATE', 'Unique-ID': B_LEG.uuid, 'Call-Direction': 'outbound' });
    server.sendEvent({ 'Event-Name': 'CHANNEL_ANSWER', 'Unique-ID': B_LEG.uuid, variable_sip_call_id: B_LEG.callId, 'Answer-State': 'answered' });
    server.sendEvent({ 'Event-Name': 'CHANNEL_BRIDGE', 'Unique-ID': A_LEG.uuid, 'Bridge-A-Unique-ID': A_LEG.uuid, 'Bridge-B-Unique-ID': B_LEG.uuid, 'Other-Leg-Unique-ID': B_LEG.uuid });
    server.sendEvent({ 'Event-Name': 'HEARTBEAT', 'Event-Info': 'System Ready' });
    server.sendEvent({
      'Event-Name': 'CHANNEL_HANGUP_COMPLETE', 'Event-Date-Timestamp': String(t + 5_000_000), 'Unique-ID': A_LEG.uuid, variable_sip_call_id: A_LEG.callId,
      'Hangup-Cause': 'NORMAL_CLEARING', variable_hangup_cause_q850: '16', variable_sip_term_status: '200', 'Caller-Caller-ID-Name': 'Alice Smith & Co',
    });
    expect(await waitFor(() => got.states.length === 4, 5000)).toBe(true);
    expect(got.states.map((s) => [s.call_id, s.state])).toEqual([
      [A_LEG.callId, 'created'],
      [B_LEG.callId, 'answered'],
      [A_LEG.callId, 'bridged'],
      [A_LEG.callId, 'hangup'],
    ]);
    expect(got.states[0]).toMatchObject({ ts_us: t, platform: 'freeswitch', source: `esl:127.0.0.1:${server.port}`, fields: { 'Caller-Caller-ID-Number': '+15554430191', 'Call-Direction': 'inbound' } });
    expect(got.states[2].fields).toMatchObject({ other_leg_call_id: B_LEG.callId, 'Other-Leg-Unique-ID': B_LEG.uuid });
    expect(got.links).toEqual([[A_LEG.callId, B_LEG.callId]]); // B2BUA legs linked for matching
    expect(got.states[3]).toMatchObject({ ts_us: t + 5_000_000, cause: 'NORMAL_CLEARING', q850: 16, fields: { variable_sip_term_status: '200' } });
    expect(status().counters).toMatchObject({ no_call_id: 1, heartbeats: 1, call_states: 4, sessions: 1, auth_failures: 0 });
  });

  it('says plainly that the password was refused, and keeps trying slowly', async () => {
    const { status } = await setup('wrong', 'ClueCon');
    expect(await waitFor(() => status().state === 'failed', 5000)).toBe(true);
    expect(status().error).toBe('authentication failed: FreeSWITCH answered "-ERR invalid" (check --esl-password)');
    expect(server.failedLogins).toBeGreaterThanOrEqual(1);
    expect(await waitFor(() => server.failedLogins >= 2, 5000)).toBe(true); // retried at backoffMaxMs
    expect(status().counters.auth_failures).toBeGreaterThanOrEqual(2);
  });

  it('reconnects after the server drops the connection, and events flow again', async () => {
    const { got, status } = await setup();
    expect(await waitFor(() => status().state === 'running', 5000)).toBe(true);
    server.dropAll();
    expect(await waitFor(() => status().counters.disconnects === 1, 5000)).toBe(true);
    expect(await waitFor(() => status().state === 'running' && server.logins === 2, 5000)).toBe(true);
    expect(status().counters.sessions).toBe(2);
    server.sendEvent({ 'Event-Name': 'CHANNEL_ANSWER', 'Unique-ID': A_LEG.uuid, variable_sip_call_id: A_LEG.callId });
    expect(await waitFor(() => got.states.length === 1, 5000)).toBe(true);
  });

  it('gives up on a server that accepts but never sends auth/request, and on one that goes silent', async () => {
    server = new FakeEventSocket();
    server.stallOnConnect = true;
    await server.start();
    const r = recordingHost();
    r.host.add((ctx) => new EslCollector(ctx, { host: '127.0.0.1', port: server.port, password: 'ClueCon', ...FAST }));
    await r.host.start();
    stopHost = () => r.host.stop();
    expect(await waitFor(() => (r.host.statuses()[0].counters.stalls ?? 0) >= 1, 5000)).toBe(true);
    expect(r.host.statuses()[0]).toMatchObject({ state: 'restarting', error: 'the server accepted the connection but did not complete the handshake within 0.3 s' });
    // now a server that logs in, then stops answering the keepalive re-subscriptions
    server.stallOnConnect = false;
    server.stallAfterLogin = true;
    expect(await waitFor(() => server.logins >= 1, 5000)).toBe(true);
    expect(await waitFor(() => /stalled/.test(r.host.statuses()[0].error ?? ''), 5000)).toBe(true);
  });

  it('reports a refused connection and retries with back-off', async () => {
    server = new FakeEventSocket();
    await server.start();
    const port = server.port;
    await server.stop();
    const r = recordingHost();
    r.host.add((ctx) => new EslCollector(ctx, { host: '127.0.0.1', port, password: 'x', ...FAST }));
    await r.host.start();
    stopHost = () => r.host.stop();
    expect(await waitFor(() => (r.host.statuses()[0].counters.connects ?? 0) >= 3, 5000)).toBe(true);
    expect(r.host.statuses()[0]).toMatchObject({ state: 'restarting', error: `connection refused by 127.0.0.1:${port}` });
  });
});
