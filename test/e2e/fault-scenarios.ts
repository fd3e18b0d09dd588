// The fault scenarios of issue 16, parameterised by length: test/e2e/agent-faults.test.ts runs them
// short (npm test), test/soak/faults.soak.ts full length (npm run soak). Each returns its tally
// (sent / stored / lost / duplicated against the tcpdump reference) and what the agent reported.
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { encodeHep3, HEP_PROTO_TYPE } from '../../src/protocol/hep.js';
import { Api, FIXTURES, freePort, killPid, sipp, sippBg, sleep, waitFor } from './harness.js';
import { AgentProcess, CenterProcess, Reference, register, settleCount, spoolFiles, storedSipKeys, tally, type Tally } from './fault-harness.js';

export interface Ports {
  uas: number;
  uac: number;
}

export interface Run {
  dir: string;
  cleanup: (() => Promise<void>)[];
  pids: number[];
}

const bpf = (p: Ports): string => `udp portrange ${Math.min(p.uas, p.uac)}-${Math.max(p.uas, p.uac)}`;

async function setup(run: Run, p: Ports, name: string, agentArgs: string[] = [], centerArgs: string[] = []) {
  const center = new CenterProcess(await freePort(), path.join(run.dir, `${name}-data`), centerArgs);
  await center.start();
  run.cleanup.push(() => center.stop());
  const spool = path.join(run.dir, `${name}-spool`);
  const agent = new AgentProcess(name, await freePort(), ['--interface', 'lo', '--bpf', bpf(p), '--snaplen', '4096', '--spool', spool, ...agentArgs]);
  await agent.start();
  run.cleanup.push(() => agent.stop());
  const api = new Api(center.url);
  const agentId = await register(api, agent);
  const id = await api.newSession(name, { from: 'sipp' }, [agentId], { capture_pcap: true });
  await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing', 20_000);
  await waitFor('tcpdump listening', async () => (await agent.status())?.sources.every((s: { state: string }) => s.state === 'running'), 10_000);
  const ref = new Reference(path.join(run.dir, `${name}-ref.pcap`), bpf(p));
  await ref.start();
  run.cleanup.push(async () => void (await ref.stop().catch(() => undefined)));
  run.pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(p.uas), '-mp', String(await freePort())], run.dir));
  return { center, agent, api, id, ref, spool };
}

// sipp binds a media port (6000 by default) even without RTP: each one gets a free port, so these
// scenarios never take the port of another test running at the same time.
const calls = async (run: Run, p: Ports, n: number, rate: number, tag: string) =>
  sipp(['-sn', 'uac', `127.0.0.1:${p.uas}`, '-i', '127.0.0.1', '-p', String(p.uac), '-mp', String(await freePort()), '-m', String(n), '-r', String(rate), '-cid_str', `${tag}-%u@faults`, '-nostdin', '-timeout', `${Math.ceil(n / rate) + 60}s`], run.dir, (n / rate + 90) * 1000);

/**
 * The center is killed with SIGKILL during a call run and stays away `outageS`; while it is away and
 * after the run ended, the agent is killed with SIGKILL too. The agent comes back first, then the
 * center: every message captured arrives exactly once (the spool held what the agent captured).
 */
export async function centerAndAgentKilled(run: Run, p: Ports, o: { calls: number; rate: number; outageS: number }): Promise<Tally & { spoolFilesAtKill: number; matchedAfter: number }> {
  const { center, agent, api, id, ref, spool } = await setup(run, p, 'killboth');
  const started = Date.now();
  const traffic = calls(run, p, o.calls, o.rate, 'kb');
  await waitFor('first events stored', async () => (await api.detail(id)).event_count > 0, 20_000);
  await center.kill9();
  const downAt = Date.now();
  await traffic;
  // everything was captured well over 100 ms ago: SIGKILL now must lose nothing
  await sleep(1500);
  const spoolFilesAtKill = spoolFiles(spool);
  await agent.kill9();
  const left = o.outageS * 1000 - (Date.now() - downAt);
  if (left > 0) await sleep(left);
  await agent.start();
  await center.start();
  const wire = await ref.stop();
  await settleCount(api, id, wire.keys.length, 60_000);
  const t = tally(wire, await storedSipKeys(api, id));
  const d = await api.detail(id);
  console.log(`[faults] run ${((Date.now() - started) / 1000).toFixed(0)} s, center away ${((Date.now() - downAt) / 1000).toFixed(0)} s`);
  return { ...t, spoolFilesAtKill, matchedAfter: d.agents[0].counters.packets_matched };
}

/** The agent is killed with SIGKILL while the center is up, between two call runs, and restarted. */
export async function agentKilledCenterUp(run: Run, p: Ports, o: { calls: number; rate: number }): Promise<Tally & { matchedBefore: number; matchedAfter: number }> {
  const { agent, api, id, ref } = await setup(run, p, 'killagent');
  await calls(run, p, o.calls, o.rate, 'ka1');
  await sleep(1500); // acknowledged, and the counters written to the state file (once a second)
  const matchedBefore = (await agent.status())?.captures[0]?.counters.packets_matched ?? 0;
  await agent.kill9();
  await agent.start();
  await waitFor('capture resumed', async () => (await agent.status())?.captures.some((c: { session_id: string }) => c.session_id === id), 15_000);
  await waitFor('tcpdump listening', async () => (await agent.status())?.sources.every((s: { state: string }) => s.state === 'running'), 10_000);
  await calls(run, p, o.calls, o.rate, 'ka2');
  const wire = await ref.stop();
  await settleCount(api, id, wire.keys.length, 60_000);
  const t = tally(wire, await storedSipKeys(api, id));
  await sleep(1000);
  const matchedAfter = (await agent.status())?.captures[0]?.counters.packets_matched ?? 0;
  return { ...t, matchedBefore, matchedAfter };
}

/**
 * The spool is small and the center away: what does not fit is dropped and counted (`spool_full`),
 * never silently. stored + dropped = sent.
 */
export async function spoolFull(run: Run, p: Ports, o: { calls: number; rate: number; spoolMb: number }): Promise<Tally & { spoolFull: number; agentDropped: Record<string, number> }> {
  const { center, agent, api, id, ref } = await setup(run, p, 'spoolfull', ['--spool-max-mb', String(o.spoolMb)]);
  await center.kill9();
  await calls(run, p, o.calls, o.rate, 'sf');
  await sleep(1000);
  await center.start();
  const wire = await ref.stop();
  // the session's per-agent counters carry the drops once the center is back
  const d = await waitFor('spool_full reported', async () => {
    const x = await api.detail(id).catch(() => null);
    return x && (x.agents[0].counters.dropped.spool_full ?? 0) > 0 && x.event_count + (x.agents[0].counters.dropped.spool_full ?? 0) >= wire.keys.length ? x : null;
  }, 60_000, 500).catch(() => null);
  await sleep(1500);
  const t = tally(wire, await storedSipKeys(api, id));
  const final = d ? await api.detail(id) : null;
  if (!final) console.log(`[faults] spool full: agent log: ${agent.log}`);
  return { ...t, spoolFull: final?.agents[0].counters.dropped.spool_full ?? 0, agentDropped: final?.agents[0].counters.dropped ?? {} };
}

/** Stops what the scenarios of a run started so far (after each scenario: the next one runs alone). */
export async function cleanupRun(run: Run): Promise<void> {
  for (const pid of run.pids.splice(0)) killPid(pid);
  for (const c of run.cleanup.splice(0).reverse()) await c().catch(() => undefined);
}

/**
 * Load: `rate` calls/s for `seconds` through sipp, captured live by one agent for two sessions side by
 * side: one matching every call (text of the domain), one matching 1 call in 100 (its DID). Nothing
 * may be lost in either (a busy session must not make the quiet one lose events), or, when the
 * kernel dropped packets, no more than what the agent counted.
 */
export async function loadSideBySide(
  run: Run,
  p: Ports,
  o: { rate: number; seconds: number },
): Promise<{ all: Tally; one: Tally; seconds: number; eventsPerS: number; agentDropped: Record<string, number>[]; kernelDropped: number }> {
  const center = new CenterProcess(await freePort(), path.join(run.dir, 'load-data'), ['--max-session-events', '100000000', '--max-session-bytes', '100000000000']);
  await center.start();
  run.cleanup.push(() => center.stop());
  const agent = new AgentProcess('load', await freePort(), ['--interface', 'lo', '--bpf', bpf(p), '--snaplen', '4096', '--spool', path.join(run.dir, 'load-spool')]);
  await agent.start();
  run.cleanup.push(() => agent.stop());
  const api = new Api(center.url);
  const agentId = await register(api, agent);
  const all = await api.newSession('load 100 %', { text: 'load.example.com' }, [agentId]);
  const one = await api.newSession('load 1 %', { to: '4420709999' }, [agentId]);
  for (const id of [all, one]) await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing', 20_000);
  await waitFor('tcpdump listening', async () => (await agent.status())?.sources.every((s: { state: string }) => s.state === 'running'), 10_000);
  const ref = new Reference(path.join(run.dir, 'load-ref.pcap'), bpf(p));
  await ref.start();
  run.cleanup.push(async () => void (await ref.stop().catch(() => undefined)));
  run.pids.push(await sippBg(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(p.uas), '-mp', String(await freePort())], run.dir));
  const calls = o.rate * o.seconds;
  const t0 = Date.now();
  await sipp(
    [`127.0.0.1:${p.uas}`, '-sf', path.join(FIXTURES, 'uac-injected.xml'), '-inf', path.join(FIXTURES, 'callers-load.csv'), '-i', '127.0.0.1', '-p', String(p.uac),
      '-mp', String(await freePort()), '-m', String(calls), '-r', String(o.rate), '-l', String(o.rate * 5), '-cid_str', 'ld-%u@load', '-nostdin', '-timeout', `${o.seconds + 60}s`],
    run.dir,
    (o.seconds + 120) * 1000,
  );
  const wire = await ref.stop();
  await settleCount(api, all, wire.keys.length, 120_000 + o.seconds * 2000);
  const seconds = (Date.now() - t0) / 1000;
  const isOne = (k: string): boolean => Number(/^ld-(\d+)@/.exec(k)?.[1]) % 100 === 1;
  const tAll = tally(wire, await storedSipKeys(api, all));
  const tOne = tally(wire, await storedSipKeys(api, one), isOne);
  const st = await agent.status();
  const agentDropped = (st?.captures ?? []).map((c: { counters: { dropped: Record<string, number> } }) => c.counters.dropped);
  const kernelDropped = st?.sources?.[0]?.counters?.kernel_dropped ?? 0;
  return { all: tAll, one: tOne, seconds, eventsPerS: tAll.stored / seconds, agentDropped, kernelDropped };
}

const hepSip = (callId: string, method: string, to = '4420709999'): Buffer =>
  encodeHep3({
    ipProto: 17, srcIp: '198.51.100.7', dstIp: '203.0.113.9', srcPort: 5060, dstPort: 5060, tsSec: 1_700_000_000, tsUsec: 1,
    protoType: HEP_PROTO_TYPE.SIP, captureId: 2001,
    payload: `${method} sip:${to}@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-${callId}\r\nFrom: <sip:+15550001111@198.51.100.7>;tag=a\r\nTo: <sip:${to}@pbx.example.com>\r\nCall-ID: ${callId}\r\nCSeq: 1 ${method}\r\nContent-Length: 0\r\n\r\n`,
  });

/**
 * Hostile traffic at an agent process: `datagrams` HEP/UDP datagrams as fast as this process sends
 * them (random bytes, cut HEP, HEP with broken SIP, valid HEP for other calls), 64 idle HEP/TCP
 * connections from four addresses, then a real dialog over UDP and over TCP. Every datagram is read or
 * counted as a kernel drop, the agent lives, and the real dialog reaches the session on both paths.
 */
export async function hostileHep(run: Run, o: { datagrams: number }): Promise<{ sent: number; read: number; socketDropped: number; tcp: Record<string, number>; stored: number; dropped: Record<string, number> }> {
  const center = new CenterProcess(await freePort(), path.join(run.dir, 'hostile-data'));
  await center.start();
  run.cleanup.push(() => center.stop());
  const udpPort = await freePort();
  const tcpPort = await freePort();
  const agent = new AgentProcess('hostile', await freePort(), ['--hep', `udp:127.0.0.1:${udpPort}`, '--hep', `tcp:127.0.0.1:${tcpPort}`]);
  await agent.start();
  run.cleanup.push(() => agent.stop());
  const api = new Api(center.url);
  const id = await api.newSession('hostile', { to: '4420709999' }, [await register(api, agent)]);
  await waitFor('capture acknowledged', async () => (await api.detail(id)).agents[0].state === 'capturing', 20_000);

  // 64 idle TCP connections (16 per address, the per-address cap) fill the listener
  const idle: net.Socket[] = [];
  for (let a = 2; a <= 5; a++) {
    for (let k = 0; k < 16; k++) {
      idle.push(await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ port: tcpPort, host: '127.0.0.1', localAddress: `127.0.0.${a}` }, () => resolve(s));
        s.on('error', reject);
      }));
    }
  }
  run.cleanup.push(async () => idle.forEach((s) => s.destroy()));

  const sock = dgram.createSocket('udp4');
  let x = 12345;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0), x);
  const valid = hepSip('other-call@hostile', 'INVITE', '4420700000');
  for (let i = 0; i < o.datagrams; i++) {
    let b: Buffer;
    switch (i % 4) {
      case 0: b = Buffer.from(Array.from({ length: 20 + (rnd() % 400) }, () => rnd() & 0xff)); break;
      case 1: b = valid.subarray(0, 6 + (rnd() % (valid.length - 6))); break;
      case 2: b = hepSip(`bad-${i}`, 'INVITE', '4420700000').fill(0x00, 60, 90); break;
      default: b = hepSip(`other-${i}@hostile`, 'OPTIONS', '4420700000');
    }
    await new Promise<void>((r) => sock.send(b, udpPort, '127.0.0.1', () => r()));
  }
  await sleep(2000);
  // the real dialog: over UDP, then over TCP from a new address (the idlest connection makes room)
  await new Promise<void>((r) => sock.send(hepSip('real-udp@hostile', 'INVITE'), udpPort, '127.0.0.1', () => r()));
  sock.close();
  await sleep(5200); // the squatters have been quiet ≥ 5 s
  const sender = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port: tcpPort, host: '127.0.0.1', localAddress: '127.0.0.9' }, () => resolve(s));
    s.on('error', reject);
  });
  sender.write(hepSip('real-tcp@hostile', 'INVITE'));
  await waitFor('the real dialog on both paths', async () => (await api.events(id)).length >= 2, 20_000).catch(() => undefined);
  sender.destroy();
  await sleep(6000); // a heartbeat carries the counters to the center
  const st = await agent.status();
  const udp = st.sources.find((s: { name: string }) => s.name.startsWith('hep:udp')).counters;
  const tcp = st.sources.find((s: { name: string }) => s.name.startsWith('hep:tcp')).counters;
  const events = await api.events(id);
  const d = await api.detail(id);
  return {
    sent: o.datagrams + 1,
    read: udp.packets,
    socketDropped: udp.socket_dropped ?? 0,
    tcp,
    stored: events.filter((e) => e.call_id === 'real-udp@hostile' || e.call_id === 'real-tcp@hostile').length,
    dropped: d.agents[0].counters.dropped,
  };
}
