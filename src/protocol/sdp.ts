// SDP parsing (RFC 8866 / RFC 4566) into a small typed SessionDescription: origin, connection
// (media c= overrides session c=), media lines with codecs (rtpmap/fmtp, RFC 3551 static payload
// types filled in), ptime, direction (media overrides session, default sendrecv), rtcp (RFC 3605),
// rtcp-mux (RFC 5761), ICE (RFC 8839 candidates, ufrag/pwd), DTLS fingerprint and setup (RFC 8122,
// RFC 4145). Every attribute is also kept raw. Never throws; tolerant line by line.
// It does not own offer/answer logic or RTP stream tracking (agent).

import type { ParseError } from './errors.js';
import { parseError } from './errors.js';

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpConnection {
  netType: string;
  /** IP4 or IP6 */
  addrType: string;
  address: string;
  ttl?: number;
  numAddrs?: number;
}

export interface SdpOrigin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface SdpCodec {
  payloadType: number;
  /** encoding name as written (e.g. PCMU, opus, telephone-event) */
  name?: string;
  clockRate?: number;
  channels?: number;
  fmtp?: string;
}

export interface SdpCandidate {
  foundation: string;
  component: number;
  transport: string;
  priority: number;
  ip: string;
  port: number;
  type: string;
  raddr?: string;
  rport?: number;
  /** the other `name value` extension pairs (generation, ufrag, network-id, tcptype, …) */
  extensions: Record<string, string>;
}

export interface SdpAttribute {
  name: string;
  value?: string;
}

export interface SdpFingerprint {
  hash: string;
  value: string;
}

export interface SdpMedia {
  /** audio, video, application, image, … */
  type: string;
  port: number;
  numPorts?: number;
  /** RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF, udptl, … */
  proto: string;
  formats: string[];
  /** this media's own c= line, if any */
  connection?: SdpConnection;
  /** effective connection address: media c= if present, else session c= */
  address?: string;
  addrType?: string;
  codecs: SdpCodec[];
  ptime?: number;
  maxptime?: number;
  /** effective direction: media attribute, else session attribute, else sendrecv */
  direction: SdpDirection;
  /** a=rtcp (RFC 3605): port and optional address */
  rtcp?: { port: number; address?: string };
  rtcpMux: boolean;
  mid?: string;
  candidates: SdpCandidate[];
  /** effective ICE credentials, DTLS fingerprint and setup (media level, else session level) */
  iceUfrag?: string;
  icePwd?: string;
  fingerprint?: SdpFingerprint;
  setup?: string;
  attributes: SdpAttribute[];
}

export interface SessionDescription {
  ok: true;
  version?: number;
  origin?: SdpOrigin;
  sessionName?: string;
  connection?: SdpConnection;
  /** session-level direction attribute, if any */
  direction?: SdpDirection;
  iceUfrag?: string;
  icePwd?: string;
  iceLite: boolean;
  fingerprint?: SdpFingerprint;
  setup?: string;
  groups: string[];
  attributes: SdpAttribute[];
  media: SdpMedia[];
  /** lines that were not `x=value` (skipped) */
  malformedLines: number;
}

/** RFC 3551 §6 static payload types (the ones still seen). */
const STATIC_PT: Readonly<Record<number, [string, number, number?]>> = {
  0: ['PCMU', 8000, 1],
  3: ['GSM', 8000, 1],
  4: ['G723', 8000, 1],
  5: ['DVI4', 8000, 1],
  6: ['DVI4', 16000, 1],
  7: ['LPC', 8000, 1],
  8: ['PCMA', 8000, 1],
  9: ['G722', 8000, 1],
  10: ['L16', 44100, 2],
  11: ['L16', 44100, 1],
  12: ['QCELP', 8000, 1],
  13: ['CN', 8000, 1],
  14: ['MPA', 90000],
  15: ['G728', 8000, 1],
  16: ['DVI4', 11025, 1],
  17: ['DVI4', 22050, 1],
  18: ['G729', 8000, 1],
  25: ['CelB', 90000],
  26: ['JPEG', 90000],
  28: ['nv', 90000],
  31: ['H261', 90000],
  32: ['MPV', 90000],
  33: ['MP2T', 90000],
  34: ['H263', 90000],
};

const DIRECTIONS = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

const toInt = (s: string | undefined): number | undefined => {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  return Number(s);
};

// c=IN IP4 224.2.36.42/127/3
function parseConnection(v: string): SdpConnection | undefined {
  const p = v.trim().split(/\s+/);
  if (p.length < 3) return undefined;
  const [address, a, b] = p[2].split('/');
  const c: SdpConnection = { netType: p[0], addrType: p[1], address };
  const ttl = toInt(a);
  const n = toInt(b);
  if (p[1].toUpperCase() === 'IP4') {
    if (ttl !== undefined) c.ttl = ttl;
    if (n !== undefined) c.numAddrs = n;
  } else if (ttl !== undefined) c.numAddrs = ttl; // IP6: c=IN IP6 ff15::101/3 is a count, no TTL
  return c;
}

// a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host raddr 1.2.3.4 rport 5 generation 0
function parseCandidate(v: string): SdpCandidate | undefined {
  const p = v.trim().split(/\s+/);
  if (p.length < 8 || p[6].toLowerCase() !== 'typ') return undefined;
  const component = toInt(p[1]);
  const priority = toInt(p[3]);
  const port = toInt(p[5]);
  if (component === undefined || priority === undefined || port === undefined) return undefined;
  const c: SdpCandidate = { foundation: p[0], component, transport: p[2], priority, ip: p[4], port, type: p[7], extensions: {} };
  for (let i = 8; i + 1 < p.length; i += 2) {
    const k = p[i];
    const val = p[i + 1];
    if (k === 'raddr') c.raddr = val;
    else if (k === 'rport') {
      const rp = toInt(val);
      if (rp !== undefined) c.rport = rp;
    } else c.extensions[k] = val;
  }
  return c;
}

interface Level {
  direction?: SdpDirection;
  iceUfrag?: string;
  icePwd?: string;
  fingerprint?: SdpFingerprint;
  setup?: string;
}

function applyCommonAttribute(level: Level, name: string, value: string | undefined): boolean {
  if (DIRECTIONS.has(name)) {
    level.direction = name as SdpDirection;
    return true;
  }
  if (value === undefined) return false;
  switch (name) {
    case 'ice-ufrag':
      level.iceUfrag = value.trim();
      return true;
    case 'ice-pwd':
      level.icePwd = value.trim();
      return true;
    case 'fingerprint': {
      // a=fingerprint:sha-256 4A:AD:…
      const sp = value.trim().split(/\s+/);
      if (sp.length >= 2) level.fingerprint = { hash: sp[0].toLowerCase(), value: sp[1] };
      return true;
    }
    case 'setup':
      level.setup = value.trim();
      return true;
    default:
      return false;
  }
}

/** Parse an SDP body (Buffer or string). Never throws; `not_sdp` when no `v=` or `m=` line exists. */
export function parseSdp(input: Buffer | string): SessionDescription | ParseError {
  try {
    return parseSdpUnsafe(typeof input === 'string' ? input : input.toString('utf8'));
  } catch (e) {
    return parseError('internal', 0, `SDP parser failed: ${(e as Error).message}`);
  }
}

function parseSdpUnsafe(text: string): SessionDescription | ParseError {
  const sd: SessionDescription = { ok: true, iceLite: false, groups: [], attributes: [], media: [], malformedLines: 0 };
  const session: Level = {};
  const mediaLevels: Level[] = [];
  let cur: SdpMedia | null = null;
  let curLevel: Level = session;
  let sawSdp = false;
  const rtpmap = new Map<SdpMedia, Map<number, SdpCodec>>();
  let pos = 0;
  const n = text.length;
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    let line = text.slice(pos, eol);
    pos = eol + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    // A NUL ends the line's text (as tshark shows fields; seen in fuzzed captures).
    const nul = line.indexOf('\0');
    if (nul >= 0) line = line.slice(0, nul);
    if (line === '') continue;
    if (line.length < 2 || line[1] !== '=') {
      sd.malformedLines++;
      continue;
    }
    const t = line[0];
    const v = line.slice(2);
    switch (t) {
      case 'v':
        sd.version = toInt(v.trim());
        sawSdp = true;
        break;
      case 'o': {
        // o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
        const p = v.trim().split(/\s+/);
        if (p.length >= 6) sd.origin = { username: p[0], sessionId: p[1], sessionVersion: p[2], netType: p[3], addrType: p[4], address: p[5] };
        break;
      }
      case 's':
        sd.sessionName = v;
        break;
      case 'c': {
        const c = parseConnection(v);
        if (c === undefined) break;
        if (cur === null) sd.connection = c;
        else cur.connection = c;
        break;
      }
      case 'm': {
        // m=audio 49170/2 RTP/AVP 0 8 97
        sawSdp = true;
        const p = v.trim().split(/\s+/);
        const [portText, numText] = (p[1] ?? '').split('/');
        const port = toInt(portText);
        cur = {
          type: p[0] ?? '',
          port: port ?? 0,
          proto: p[2] ?? '',
          formats: p.slice(3),
          codecs: [],
          direction: 'sendrecv',
          rtcpMux: false,
          candidates: [],
          attributes: [],
        };
        const np = toInt(numText);
        if (np !== undefined) cur.numPorts = np;
        curLevel = {};
        mediaLevels.push(curLevel);
        sd.media.push(cur);
        rtpmap.set(cur, new Map());
        break;
      }
      case 'a': {
        const colon = v.indexOf(':');
        const name = colon < 0 ? v.trim() : v.slice(0, colon).trim();
        const value = colon < 0 ? undefined : v.slice(colon + 1);
        const attr: SdpAttribute = value === undefined ? { name } : { name, value };
        if (cur === null) {
          sd.attributes.push(attr);
          if (!applyCommonAttribute(session, name, value)) {
            if (name === 'ice-lite') sd.iceLite = true;
            else if (name === 'group' && value !== undefined) sd.groups.push(value.trim());
          }
          break;
        }
        cur.attributes.push(attr);
        if (applyCommonAttribute(curLevel, name, value)) break;
        switch (name) {
          case 'rtpmap': {
            // a=rtpmap:97 opus/48000/2
            const m = /^\s*(\d{1,3})\s+([^/\s]+)(?:\/(\d+))?(?:\/(\d+))?/.exec(value ?? '');
            if (m === null) break;
            const pt = Number(m[1]);
            const map = rtpmap.get(cur);
            const c: SdpCodec = map?.get(pt) ?? { payloadType: pt };
            c.name = m[2];
            if (m[3] !== undefined) c.clockRate = Number(m[3]);
            if (m[4] !== undefined) c.channels = Number(m[4]);
            map?.set(pt, c);
            break;
          }
          case 'fmtp': {
            // a=fmtp:101 0-16
            const m = /^\s*(\d{1,3})\s+(.*)$/.exec(value ?? '');
            if (m === null) break;
            const pt = Number(m[1]);
            const map = rtpmap.get(cur);
            const c: SdpCodec = map?.get(pt) ?? { payloadType: pt };
            c.fmtp = m[2].trim();
            map?.set(pt, c);
            break;
          }
          case 'ptime': {
            const x = Number((value ?? '').trim());
            if (Number.isFinite(x) && x > 0) cur.ptime = x;
            break;
          }
          case 'maxptime': {
            const x = Number((value ?? '').trim());
            if (Number.isFinite(x) && x > 0) cur.maxptime = x;
            break;
          }
          case 'rtcp': {
            // a=rtcp:53020 IN IP4 126.16.64.4
            const p = (value ?? '').trim().split(/\s+/);
            const port = toInt(p[0]);
            if (port === undefined) break;
            cur.rtcp = p.length >= 4 ? { port, address: p[3] } : { port };
            break;
          }
          case 'rtcp-mux':
            cur.rtcpMux = true;
            break;
          case 'mid':
            if (value !== undefined) cur.mid = value.trim();
            break;
          case 'candidate': {
            const c = parseCandidate(value ?? '');
            if (c !== undefined) cur.candidates.push(c);
            break;
          }
          default:
            break;
        }
        break;
      }
      default:
        break; // i=, u=, e=, p=, b=, t=, r=, z=, k=: kept only as known-ignored
    }
  }
  if (!sawSdp) return parseError('not_sdp', 0, 'no v= or m= line: not an SDP body');
  sd.direction = session.direction;
  if (session.iceUfrag !== undefined) sd.iceUfrag = session.iceUfrag;
  if (session.icePwd !== undefined) sd.icePwd = session.icePwd;
  if (session.fingerprint !== undefined) sd.fingerprint = session.fingerprint;
  if (session.setup !== undefined) sd.setup = session.setup;
  if (sd.direction === undefined) delete sd.direction;
  sd.media.forEach((m, i) => {
    const lv = mediaLevels[i];
    m.direction = lv.direction ?? session.direction ?? 'sendrecv';
    const ufrag = lv.iceUfrag ?? session.iceUfrag;
    const pwd = lv.icePwd ?? session.icePwd;
    const fp = lv.fingerprint ?? session.fingerprint;
    const setup = lv.setup ?? session.setup;
    if (ufrag !== undefined) m.iceUfrag = ufrag;
    if (pwd !== undefined) m.icePwd = pwd;
    if (fp !== undefined) m.fingerprint = fp;
    if (setup !== undefined) m.setup = setup;
    const conn = m.connection ?? sd.connection;
    if (conn !== undefined) {
      m.address = conn.address;
      m.addrType = conn.addrType;
    }
    // Codecs in m= format order; static payload types get their RFC 3551 names when no rtpmap.
    const map = rtpmap.get(m) ?? new Map<number, SdpCodec>();
    const isRtp = m.proto.toUpperCase().includes('RTP');
    for (const f of m.formats) {
      const pt = toInt(f);
      if (pt === undefined || pt > 127 || !isRtp) continue;
      let c = map.get(pt);
      if (c === undefined) c = { payloadType: pt };
      if (c.name === undefined) {
        const st = STATIC_PT[pt];
        if (st !== undefined) {
          c.name = st[0];
          c.clockRate = st[1];
          if (st[2] !== undefined) c.channels = st[2];
        }
      }
      m.codecs.push(c);
    }
  });
  return sd;
}
