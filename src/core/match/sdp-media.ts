// The media addresses an SDP body negotiates (RFC 4566 c=/m=, RFC 3605 a=rtcp, RFC 5761 a=rtcp-mux,
// RFC 8839 a=candidate) and its payload-type map (a=rtpmap, a=ptime): only what RTP attribution
// needs, read line by line without building a full description. The complete SDP model is
// protocol/sdp.ts; this stays here because it runs only for matched dialogs and must not allocate
// more than the endpoints it returns.

export interface MediaEndpoint {
  ip: string;
  port: number;
}

export interface SdpMedia {
  /** RTP, RTCP and ICE candidate addresses (ports > 0) */
  endpoints: MediaEndpoint[];
  /** payload type → codec name and RTP clock rate, from a=rtpmap */
  payloads: Map<number, { codec: string; clockRate: number }>;
  ptimeMs: number | undefined;
}

const MAX_LINES = 2000;

/** Never throws; an SDP without usable media gives no endpoints. */
export function sdpMedia(body: Buffer): SdpMedia {
  const text = body.toString('latin1');
  const endpoints: MediaEndpoint[] = [];
  const payloads = new Map<number, { codec: string; clockRate: number }>();
  let ptimeMs: number | undefined;
  let sessionConn: string | undefined;
  // Current m= section.
  let mPort = 0;
  let mConn: string | undefined;
  let mRtcpPort: number | undefined;
  let mRtcpAddr: string | undefined;
  let inMedia = false;
  const seen = new Set<string>();
  const add = (ip: string | undefined, port: number): void => {
    if (ip === undefined || !(port > 0 && port < 65536)) return;
    const k = `${ip}|${port}`;
    if (seen.has(k)) return;
    seen.add(k);
    endpoints.push({ ip, port });
  };
  const closeMedia = (): void => {
    if (!inMedia || mPort === 0) return;
    const ip = mConn ?? sessionConn;
    add(ip, mPort);
    if (mRtcpPort !== undefined) add(mRtcpAddr ?? ip, mRtcpPort);
    // RFC 3550 §11: RTCP on the next (odd) port. a=rtcp-mux (RFC 5761 §5.1.1) moves it onto the RTP
    // port only when the offer and the answer both carry it, which one SDP cannot tell: the next
    // port stays claimed, so RTCP is taken wherever it goes.
    else add(ip, mPort + 1);
  };
  let pos = 0;
  for (let n = 0; n < MAX_LINES && pos < text.length; n++) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    let end = eol;
    if (end > pos && text.charCodeAt(end - 1) === 0x0d) end--;
    const line = text.slice(pos, end);
    pos = eol + 1;
    if (line.length < 2 || line.charCodeAt(1) !== 0x3d /* = */) continue;
    const type = line[0];
    const val = line.slice(2).trim();
    if (type === 'm') {
      closeMedia();
      inMedia = true;
      // m=audio 49170 RTP/AVP 0 8  (port may be "port/count")
      const parts = val.split(/\s+/);
      mPort = parseInt(parts[1] ?? '', 10) || 0;
      mConn = undefined;
      mRtcpPort = undefined;
      mRtcpAddr = undefined;
    } else if (type === 'c') {
      // c=IN IP4 203.0.113.1[/ttl]
      const parts = val.split(/\s+/);
      const addr = parts[2]?.split('/')[0];
      if (addr !== undefined && addr !== '') {
        if (inMedia) mConn = addr;
        else sessionConn = addr;
      }
    } else if (type === 'a') {
      if (val.startsWith('rtpmap:')) {
        // a=rtpmap:9 G722/8000
        const m = /^rtpmap:(\d+)\s+([^/\s]+)\/(\d+)/.exec(val);
        if (m) payloads.set(Number(m[1]), { codec: m[2], clockRate: Number(m[3]) });
      } else if (val.startsWith('ptime:')) {
        const p = parseFloat(val.slice(6));
        if (p > 0) ptimeMs = p;
      } else if (val.startsWith('rtcp:') && inMedia) {
        // a=rtcp:53020 IN IP4 126.16.64.4
        const parts = val.slice(5).trim().split(/\s+/);
        const p = parseInt(parts[0], 10);
        if (p > 0) mRtcpPort = p;
        if (parts[3] !== undefined) mRtcpAddr = parts[3];
      } else if (val.startsWith('candidate:')) {
        // a=candidate:1 1 UDP 2130706431 192.0.2.1 49170 typ host
        const parts = val.split(/\s+/);
        if (parts.length >= 6 && parts[2].toLowerCase() === 'udp') add(parts[4], parseInt(parts[5], 10));
      }
    }
  }
  closeMedia();
  return { endpoints, payloads, ptimeMs };
}
