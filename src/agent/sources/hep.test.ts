import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHep2, encodeHep3, HEP_PROTO_TYPE } from '../../protocol/hep.js';
import { PcapWriter } from '../../protocol/pcap-writer.js';
import type { PacketInput } from '../capture-manager.js';
import { HepSource, parseHepSpec } from './hep.js';

const sipInvite = (callId: string): string =>
  [
    'INVITE sip:15554430191@pbx.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1',
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:15554430191@pbx.example.com>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

const sources: HepSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
});

const collect = async (proto: 'udp' | 'tcp', authKey?: string) => {
  const packets: PacketInput[] = [];
  const logs: { line: string; tsUs: number; source: string }[] = [];
  const src = new HepSource({
    listen: { proto, host: '127.0.0.1', port: 0 },
    ...(authKey ? { authKey } : {}),
    onPacket: (p) => packets.push(p),
    onLogLine: (line, tsUs, source) => logs.push({ line, tsUs, source }),
  });
  sources.push(src);
  await src.start();
  expect(src.status().state).toBe('running');
  return { src, packets, logs };
};

const sendUdp = async (port: number, bufs: Buffer[]): Promise<void> => {
  const s = createSocket('udp4');
  for (const b of bufs) await new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r()));
  s.close();
};

const until = async (cond: () => boolean, ms = 5_000): Promise<void> => {
  for (let t = 0; t < ms / 10 && !cond(); t++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

describe('parseHepSpec', () => {
  it('reads udp/tcp specs with IPv4 and bracketed IPv6', () => {
    expect(parseHepSpec('udp:0.0.0.0:9060')).toEqual({ proto: 'udp', host: '0.0.0.0', port: 9060 });
    expect(parseHepSpec('tcp:[::1]:9061')).toEqual({ proto: 'tcp', host: '::1', port: 9061 });
    expect(() => parseHepSpec('9060')).toThrow(/udp:ADDR:PORT/);
    expect(() => parseHepSpec('udp:1.2.3.4:70000')).toThrow(/0-65535/);
  });
});

describe('HepSource', () => {
  it('UDP: keeps the original addresses, ports, timestamp and transport from inside HEP3, and HEP2 too', async () => {
    const { src, packets } = await collect('udp');
    const v3 = encodeHep3({
      ipProto: 6,
      srcIp: '198.51.100.7',
      dstIp: '203.0.113.9',
      srcPort: 5080,
      dstPort: 5060,
      tsSec: 1_700_000_000,
      tsUsec: 123_456,
      protoType: HEP_PROTO_TYPE.SIP,
      captureId: 2001,
      payload: sipInvite('hep3-call@x'),
    });
    const v2 = encodeHep2({
      version: 2,
      ipProto: 17,
      srcIp: '2001:db8::1',
      dstIp: '2001:db8::2',
      srcPort: 5062,
      dstPort: 5060,
      tsSec: 1_700_000_001,
      tsUsec: 5,
      captureId: 7,
      payload: Buffer.from(sipInvite('hep2-call@x')),
    });
    await sendUdp(src.port, [v3, v2]);
    await until(() => packets.length === 2);
    const [a, b] = packets;
    expect(a).toMatchObject({
      tsUs: 1_700_000_000_123_456,
      transport: 'tcp',
      src: { ip: '198.51.100.7', port: 5080 },
      dst: { ip: '203.0.113.9', port: 5060 },
    });
    expect(a.sip?.callId).toBe('hep3-call@x');
    expect(b).toMatchObject({ tsUs: 1_700_000_001_000_005, transport: 'udp', src: { ip: '2001:db8::1', port: 5062 } });
    expect(b.sip?.callId).toBe('hep2-call@x');
    const st = src.status().counters;
    expect(st.sip).toBe(2);
    expect(st.capture_id_2001).toBe(1);
    expect(st.capture_id_7).toBe(1);
  });

  it('rebuilds a raw-IP frame that tshark reads back with the original addresses', async () => {
    const { src, packets } = await collect('udp');
    await sendUdp(src.port, [
      encodeHep3({
        ipProto: 17,
        srcIp: '198.51.100.7',
        dstIp: '203.0.113.9',
        srcPort: 5090,
        dstPort: 5091,
        tsSec: 1_700_000_000,
        tsUsec: 0,
        protoType: 1,
        payload: sipInvite('frame-call@x'),
      }),
    ]);
    await until(() => packets.length === 1);
    const f = packets[0].frame!()!;
    const w = new PcapWriter({ linkType: f.linkType });
    const dir = mkdtempSync(join(tmpdir(), 'tunaio-hep-'));
    try {
      const file = join(dir, 'f.pcap');
      writeFileSync(file, Buffer.concat([w.header(), w.record(packets[0].tsUs, f.data, f.origLen)]));
      const out = execFileSync(
        'tshark',
        ['-r', file, '-d', 'udp.port==5091,sip', '-T', 'fields', '-e', 'ip.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'sip.Call-ID', '-e', 'udp.checksum.status', '-o', 'udp.check_checksum:TRUE'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      expect(out.trim().split('\t')).toEqual(['198.51.100.7', '5090', '203.0.113.9', 'frame-call@x', '1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('TCP: frames a stream split at odd places, with garbage between packets', async () => {
    const { src, packets } = await collect('tcp');
    const pkts = [1, 2, 3].map((i) =>
      encodeHep3({ ipProto: 17, srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5060, tsSec: 1_700_000_000 + i, tsUsec: 0, protoType: 1, payload: sipInvite(`tcp-${i}@x`) }),
    );
    const stream = Buffer.concat([pkts[0], Buffer.from('garbage!garbage!'), pkts[1], pkts[2]]);
    const sock = connect(src.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    for (let off = 0; off < stream.length; off += 37) {
      sock.write(stream.subarray(off, off + 37));
      await new Promise((r) => setTimeout(r, 1));
    }
    await until(() => packets.length === 3);
    sock.destroy();
    expect(packets.map((p) => p.sip?.callId)).toEqual(['tcp-1@x', 'tcp-2@x', 'tcp-3@x']);
    expect(src.status().counters.tcp_resyncs).toBeGreaterThan(0);
  });

  it('checks the auth key: a mismatch is counted and dropped', async () => {
    const { src, packets } = await collect('udp', 'secret-key');
    const mk = (authKey: string | undefined, cid: string) =>
      encodeHep3({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, tsSec: 1, tsUsec: 0, protoType: 1, ...(authKey ? { authKey } : {}), payload: sipInvite(cid) });
    await sendUdp(src.port, [mk('secret-key', 'good@x'), mk('wrong-key!', 'bad@x'), mk(undefined, 'none@x')]);
    await until(() => src.status().counters.packets === 3);
    expect(packets.map((p) => p.sip?.callId)).toEqual(['good@x']);
    expect(src.status().counters.auth_failed).toBe(2);
  });

  it('turns HEP log packets (type 100) into log lines that carry the correlation id', async () => {
    const { src, logs } = await collect('udp');
    await sendUdp(src.port, [
      encodeHep3({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, tsSec: 1_700_000_000, tsUsec: 1, protoType: 100, captureId: 5, correlationId: 'abc@host', payload: 'NOTICE: call routed\n' }),
    ]);
    await until(() => logs.length === 1);
    expect(logs[0]).toMatchObject({ line: 'NOTICE: call routed [correlation_id=abc@host]', tsUs: 1_700_000_000_000_001 });
    expect(logs[0].source).toMatch(/capture_id=5/);
  });

  it('counts hostile packets by reason and keeps running (UDP and TCP)', async () => {
    const { src, packets } = await collect('udp');
    const good = encodeHep3({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, tsSec: 1, tsUsec: 0, protoType: 1, payload: sipInvite('after-garbage@x') });
    const hostile: Buffer[] = [
      Buffer.from('HEP3'),
      Buffer.from([0x48, 0x45, 0x50, 0x33, 0xff, 0xff, 0, 0, 0, 1, 0, 200]),
      Buffer.from([0x48, 0x45, 0x50, 0x33, 0x00, 0x0c, 0, 0, 0, 0x0f, 0xff, 0xff]),
      Buffer.from('hello, this is not HEP at all'),
      Buffer.from([2, 16, 2, 17]),
      Buffer.concat([good.subarray(0, good.length - 10)]),
      encodeHep3({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 1, dstPort: 2, protoType: 1, payload: 'NOT SIP AT ALL' }),
      encodeHep3({ protoType: 1, payload: sipInvite('no-addresses@x') }),
    ];
    // and 500 random datagrams
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256);
    for (let i = 0; i < 500; i++) {
      const b = Buffer.alloc(1 + (rnd() * 3) % 600);
      for (let j = 0; j < b.length; j++) b[j] = rnd();
      if (i % 3 === 0) b.write('HEP3', 0, 'latin1');
      hostile.push(b);
    }
    await sendUdp(src.port, [...hostile, good]);
    await until(() => src.status().counters.packets === hostile.length + 1);
    await until(() => packets.some((p) => p.sip?.callId === 'after-garbage@x'));
    const c = src.status().counters;
    const refused = Object.entries(c)
      .filter(([k]) => k.startsWith('bad_') || k.startsWith('ignored_') || k === 'sip_malformed' || k === 'no_addresses')
      .reduce((a, [, v]) => a + v, 0);
    expect(c.packets).toBe(hostile.length + 1);
    expect(c.sip_malformed).toBeGreaterThanOrEqual(1);
    expect(c.no_addresses).toBe(1);
    expect(refused + c.sip + c.logs + c.media).toBe(c.packets);
    expect(src.status().state).toBe('running');

    const tcp = await collect('tcp');
    // A stream that lies about lengths cannot be trusted past the lie: the garbage connection is
    // survived, and the next connection is framed from a clean start.
    const bad = connect(tcp.src.port, '127.0.0.1');
    await new Promise<void>((r) => bad.once('connect', () => r()));
    for (const h of hostile) bad.write(h);
    await new Promise<void>((r) => bad.end(() => r()));
    await until(() => tcp.src.status().counters.tcp_skipped_bytes > 0);
    const sock = connect(tcp.src.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(good);
    await until(() => tcp.packets.some((p) => p.sip?.callId === 'after-garbage@x'));
    sock.destroy();
    expect(tcp.src.status()).toMatchObject({ state: 'running', counters: { connections: 2 } });
  });

  it('reports a port that is in use as a clear failure', async () => {
    const { src } = await collect('udp');
    const clash = new HepSource({ listen: { proto: 'udp', host: '127.0.0.1', port: src.port }, onPacket: () => undefined, onLogLine: () => undefined });
    sources.push(clash);
    await clash.start();
    expect(clash.status()).toMatchObject({ state: 'failed', error: expect.stringMatching(/in use/) });
  });
});

describe('HEP TCP connection limits', () => {
  const open = (port: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => resolve(c));
      c.on('error', reject);
    });
  const closed = (c: Socket): Promise<void> =>
    new Promise((r) => (c.destroyed ? r() : c.once('close', () => r())));

  it('closes idle connections, caps connections per address, and lets a new sender in by evicting the idlest', async () => {
    const packets: PacketInput[] = [];
    const src = new HepSource({
      listen: { proto: 'tcp', host: '127.0.0.1', port: 0 },
      onPacket: (p) => packets.push(p),
      onLogLine: () => undefined,
      maxConnections: 4,
      maxConnectionsPerIp: 3,
      idleTimeoutMs: 300,
    });
    sources.push(src);
    await src.start();
    // idle timeout: a silent connection is closed and counted
    const idle = await open(src.port);
    await closed(idle);
    expect(src.status().counters.connections_idle_closed).toBe(1);

    // per-address cap: the fourth connection from 127.0.0.1 is refused
    const keep = await Promise.all([open(src.port), open(src.port), open(src.port)]);
    const extra = await open(src.port);
    await closed(extra);
    expect(src.status().counters).toMatchObject({ connections_refused_per_ip: 1, connections_open: 3 });
    for (const c of keep) c.destroy();
    await until(() => src.status().counters.connections_open === 0);
  });

  it('a listener full of idle connections evicts the idlest for a new sender, which gets its packets through', async () => {
    const packets: PacketInput[] = [];
    const src = new HepSource({
      listen: { proto: 'tcp', host: '127.0.0.1', port: 0 },
      onPacket: (p) => packets.push(p),
      onLogLine: () => undefined,
      maxConnections: 3,
      maxConnectionsPerIp: 10,
      idleTimeoutMs: 60_000,
    });
    sources.push(src);
    await src.start();
    const squatters = await Promise.all([open(src.port), open(src.port), open(src.port)]);
    // a full listener refuses while its connections are fresh (they may be about to send)…
    const early = await open(src.port);
    await closed(early);
    expect(src.status().counters.connections_refused).toBe(1);
    // …and evicts the idlest once they have been quiet for a while (5 s)
    await new Promise((r) => setTimeout(r, 5_200));
    const sender = await open(src.port);
    sender.write(encodeHep3({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5060, tsSec: 1_700_000_000, protoType: HEP_PROTO_TYPE.SIP, payload: Buffer.from(sipInvite('evict@x')) }));
    await until(() => packets.length === 1);
    expect(src.status().counters.connections_evicted).toBe(1);
    sender.destroy();
    for (const c of squatters) c.destroy();
  }, 15_000);
});

describe('HEP UDP kernel drops', () => {
  it('reads the socket drops from /proc/net/udp: a flood the process does not read in time is counted', async () => {
    const { src } = await collect('udp');
    // The flood runs in a child while this process waits for it synchronously: nothing reads the
    // socket, so its receive buffer (8 MB asked, capped by net.core.rmem_max) overflows and the kernel drops.
    const sent = 400; // 24 MB
    execFileSync('perl', ['-MIO::Socket::INET', '-e', `my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:${src.port}", Proto => "udp") or die; my $b = "x" x 60000; $s->send($b) for 1..${sent};`]);
    // every datagram is accounted for: read (and refused as not HEP) or dropped by the kernel
    await until(() => src.status().counters.socket_dropped + src.status().counters.packets === sent, 5_000);
    expect(src.status().counters.socket_dropped).toBeGreaterThan(0);
    expect(src.status().counters.bad_not_hep).toBe(src.status().counters.packets);
  });
});
