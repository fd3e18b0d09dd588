// Tests for sdp.ts: unit vectors (classic audio, WebRTC with ICE/DTLS, directions, IPv6, junk) and
// tshark as the oracle for every SDP carried in SIP over UDP in the shared captures.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSdp } from './sdp.js';
import type { SessionDescription } from './sdp.js';
import { parseSipDatagram } from './sip.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');

const sdp = (lines: string[], eol = '\r\n'): SessionDescription => {
  const r = parseSdp(lines.join(eol) + eol);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r;
};

describe('parseSdp', () => {
  it('classic audio offer: session c=, static and dynamic payload types, ptime, rtcp', () => {
    const d = sdp([
      'v=0',
      'o=alice 2890844526 2890844527 IN IP4 host.atlanta.example.com',
      's=-',
      'c=IN IP4 192.0.2.101',
      't=0 0',
      'm=audio 49172 RTP/AVP 0 8 18 101',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=fmtp:18 annexb=no',
      'a=ptime:20',
      'a=rtcp:53020 IN IP4 126.16.64.4',
      'a=sendonly',
    ]);
    expect(d.version).toBe(0);
    expect(d.origin).toEqual({ username: 'alice', sessionId: '2890844526', sessionVersion: '2890844527', netType: 'IN', addrType: 'IP4', address: 'host.atlanta.example.com' });
    expect(d.sessionName).toBe('-');
    expect(d.connection).toEqual({ netType: 'IN', addrType: 'IP4', address: '192.0.2.101' });
    const m = d.media[0];
    expect(m).toMatchObject({ type: 'audio', port: 49172, proto: 'RTP/AVP', formats: ['0', '8', '18', '101'], address: '192.0.2.101', addrType: 'IP4', ptime: 20, direction: 'sendonly', rtcp: { port: 53020, address: '126.16.64.4' }, rtcpMux: false });
    expect(m.connection).toBeUndefined();
    expect(m.codecs).toEqual([
      { payloadType: 0, name: 'PCMU', clockRate: 8000, channels: 1 },
      { payloadType: 8, name: 'PCMA', clockRate: 8000, channels: 1 },
      { payloadType: 18, name: 'G729', clockRate: 8000, channels: 1, fmtp: 'annexb=no' },
      { payloadType: 101, name: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
    ]);
    expect(m.attributes.map((a) => a.name)).toEqual(['rtpmap', 'fmtp', 'fmtp', 'ptime', 'rtcp', 'sendonly']);
  });

  it('media c= overrides session c=; session direction is inherited; port 0 and hold', () => {
    const d = sdp([
      'v=0', 'o=- 1 1 IN IP4 10.0.0.1', 's=x', 'c=IN IP4 10.0.0.1', 't=0 0', 'a=recvonly',
      'm=audio 4000 RTP/AVP 0', 'c=IN IP4 10.0.0.2',
      'm=video 0 RTP/AVP 31',
      'm=audio 4002 RTP/AVP 8', 'a=inactive',
    ], '\n');
    expect(d.direction).toBe('recvonly');
    expect(d.media.map((m) => [m.address, m.port, m.direction])).toEqual([
      ['10.0.0.2', 4000, 'recvonly'],
      ['10.0.0.1', 0, 'recvonly'],
      ['10.0.0.1', 4002, 'inactive'],
    ]);
    expect(d.media[1].codecs[0]).toEqual({ payloadType: 31, name: 'H261', clockRate: 90000 });
  });

  it('defaults to sendrecv; multicast TTL and IPv6', () => {
    const d = sdp(['v=0', 'c=IN IP4 224.2.1.1/127/3', 'm=audio 5000/2 RTP/AVP 0', 'm=audio 5002 RTP/AVP 0', 'c=IN IP6 2001:db8::2']);
    expect(d.connection).toEqual({ netType: 'IN', addrType: 'IP4', address: '224.2.1.1', ttl: 127, numAddrs: 3 });
    expect(d.media[0]).toMatchObject({ port: 5000, numPorts: 2, direction: 'sendrecv', address: '224.2.1.1' });
    expect(d.media[1]).toMatchObject({ address: '2001:db8::2', addrType: 'IP6' });
  });

  it('WebRTC offer: ICE candidates, ufrag/pwd, fingerprint, setup, rtcp-mux, mid, session-level inheritance', () => {
    const d = sdp([
      'v=0',
      'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'a=group:BUNDLE 0 1',
      'a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2',
      'a=ice-ufrag:sess',
      'm=audio 54400 UDP/TLS/RTP/SAVPF 111 0',
      'c=IN IP4 203.0.113.7',
      'a=rtcp:9 IN IP4 0.0.0.0',
      'a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1',
      'a=candidate:435653019 1 tcp 1845501695 203.0.113.7 54400 typ srflx raddr 192.168.0.196 rport 46243 tcptype passive generation 0',
      'a=candidate:bad',
      'a=ice-ufrag:EsAw',
      'a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1',
      'a=setup:actpass',
      'a=mid:0',
      'a=sendrecv',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'm=video 54402 UDP/TLS/RTP/SAVPF 96',
      'a=mid:1',
      'a=setup:active',
      'a=rtpmap:96 VP8/90000',
    ]);
    expect(d.groups).toEqual(['BUNDLE 0 1']);
    expect(d.fingerprint?.hash).toBe('sha-256');
    const [a, v] = d.media;
    expect(a.candidates).toEqual([
      { foundation: '1467250027', component: 1, transport: 'udp', priority: 2122260223, ip: '192.168.0.196', port: 46243, type: 'host', extensions: { generation: '0', 'network-id': '1' } },
      { foundation: '435653019', component: 1, transport: 'tcp', priority: 1845501695, ip: '203.0.113.7', port: 54400, type: 'srflx', raddr: '192.168.0.196', rport: 46243, extensions: { tcptype: 'passive', generation: '0' } },
    ]);
    expect(a).toMatchObject({ iceUfrag: 'EsAw', icePwd: 'P2uYro0UCOQ4zxjKXaWCBui1', setup: 'actpass', mid: '0', rtcpMux: true, rtcp: { port: 9, address: '0.0.0.0' } });
    expect(a.codecs).toEqual([
      { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' },
      { payloadType: 0, name: 'PCMU', clockRate: 8000, channels: 1 },
    ]);
    expect(v).toMatchObject({ iceUfrag: 'sess', setup: 'active', mid: '1', fingerprint: d.fingerprint });
    expect(v.address).toBeUndefined();
    expect(v.codecs).toEqual([{ payloadType: 96, name: 'VP8', clockRate: 90000 }]);
  });

  it('non-RTP media (T.38 udptl, BFCP) have formats but no codecs', () => {
    const d = sdp(['v=0', 'c=IN IP4 10.1.1.1', 'm=image 6000 udptl t38', 'a=T38FaxVersion:0']);
    expect(d.media[0]).toMatchObject({ type: 'image', proto: 'udptl', formats: ['t38'], codecs: [] });
  });

  it('junk is not SDP; odd lines are counted, not fatal', () => {
    for (const s of ['', 'hello world', 'INVITE sip:x SIP/2.0']) {
      const r = parseSdp(s);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe('not_sdp');
    }
    const d = sdp(['v=0', 'garbage line', 'm=audio xx RTP/AVP', 'a=rtpmap:zz', 'a=ptime:-5', 'a=rtcp:abc']);
    expect(d.malformedLines).toBe(1);
    expect(d.media[0]).toMatchObject({ port: 0, formats: [], codecs: [] });
    expect(d.media[0].ptime).toBeUndefined();
    expect(d.media[0].rtcp).toBeUndefined();
  });
});

// tshark as the oracle: every SIP-over-UDP message with an SDP body in the shared captures.
describe('parseSdp vs tshark on the shared captures', () => {
  const files = readdirSync(PCAPS).filter((f) => f.endsWith('.pcap'));
  it.each(files)('%s', (name) => {
    const f = path.join(PCAPS, name);
    const fields = ['sdp.media.media', 'sdp.media.port', 'sdp.media.proto', 'sdp.connection_info.address', 'sdp.media_attr', 'sdp.session_attr'];
    const args = ['-r', f, '-Y', 'sip && sdp && udp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', 'frame.number', '-e', 'udp.payload'];
    for (const x of fields) args.push('-e', x);
    const rows = execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
    let checked = 0;
    for (const row of rows) {
      const [frame, hex, ...theirs] = row.split('\t');
      const m = parseSipDatagram(Buffer.from(hex, 'hex'));
      expect(m.ok, `frame ${frame}`).toBe(true);
      if (!m.ok) continue;
      const d = parseSdp(m.body);
      expect(d.ok, `frame ${frame}`).toBe(true);
      if (!d.ok) continue;
      const conns = [d.connection, ...d.media.map((x) => x.connection)].filter((c) => c !== undefined).map((c) => c.address);
      const attr = (a: { name: string; value?: string }): string => (a.value === undefined ? a.name : `${a.name}:${a.value}`);
      const ours = [
        d.media.map((x) => x.type).join('|'),
        d.media.map((x) => x.port).join('|'),
        d.media.map((x) => x.proto).join('|'),
        conns.join('|'),
        d.media.flatMap((x) => x.attributes.map(attr)).join('|'),
        d.attributes.map(attr).join('|'),
      ];
      expect(ours, `frame ${frame}`).toEqual(theirs);
      checked++;
    }
    expect(checked).toBe(rows.length);
  });
});
