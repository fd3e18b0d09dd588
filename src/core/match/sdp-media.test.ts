import { describe, expect, it } from 'vitest';
import { sdpMedia } from './sdp-media.js';

const sdp = (lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n');

describe('sdpMedia', () => {
  it('session c=, media c= override, RTCP on port+1, a=rtcp, rtcp-mux, ICE, rtpmap, ptime', () => {
    const m = sdpMedia(
      sdp([
        'v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
        'm=audio 4000 RTP/AVP 0 9 101', 'a=rtpmap:9 G722/8000', 'a=rtpmap:101 telephone-event/8000', 'a=ptime:30',
        'm=video 5000 RTP/AVP 96', 'c=IN IP4 192.0.2.2', 'a=rtcp:5999 IN IP4 192.0.2.3',
        'm=audio 6000 UDP/TLS/RTP/SAVPF 111', 'a=rtcp-mux', 'a=candidate:1 1 UDP 2130706431 10.0.0.5 50000 typ host',
        'a=candidate:2 1 TCP 2130706431 10.0.0.5 9 typ host tcptype active',
        'm=audio 0 RTP/AVP 0',
      ]),
    );
    expect(m.endpoints).toEqual([
      { ip: '192.0.2.1', port: 4000 },
      { ip: '192.0.2.1', port: 4001 },
      { ip: '192.0.2.2', port: 5000 },
      { ip: '192.0.2.3', port: 5999 },
      { ip: '10.0.0.5', port: 50000 },
      { ip: '192.0.2.1', port: 6000 },
      // rtcp-mux applies only when offer and answer both carry it (RFC 5761 §5.1.1): port+1 stays
      { ip: '192.0.2.1', port: 6001 },
    ]);
    expect(m.payloads.get(9)).toEqual({ codec: 'G722', clockRate: 8000 });
    expect(m.ptimeMs).toBe(30);
  });
  it('LF-only and garbage never throw', () => {
    expect(sdpMedia(Buffer.from('v=0\nc=IN IP6 ::1\nm=audio 7000 RTP/AVP 0\n')).endpoints).toEqual([
      { ip: '::1', port: 7000 },
      { ip: '::1', port: 7001 },
    ]);
    expect(sdpMedia(Buffer.from([0xff, 0x00, 0x3d, 0x0a])).endpoints).toEqual([]);
    expect(sdpMedia(Buffer.from('m=audio 99999 RTP/AVP 0\nc=IN IP4 1.2.3.4')).endpoints).toEqual([]);
  });
});
