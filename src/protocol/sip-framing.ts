// SIP message boundaries on a byte stream (RFC 3261 §18.3): the header block ends at the first
// empty line (CRLFCRLF, or LFLF for bare-LF senders) and the body is Content-Length bytes (`l:` is
// its compact form). Keepalive CRLFs (RFC 5626 §3.5.1) between messages are skipped. The framer
// also notices an HTTP Upgrade to WebSocket on the same stream and hands over to websocket.ts.
// It frames; it does not parse SIP (sip.ts does).
import { WebSocketFramer } from './websocket.js';
import type { WsStats } from './websocket.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const SIP20 = Buffer.from('SIP/2.0');
const HTTP1 = Buffer.from('HTTP/1.');

export type FirstLineKind = 'sip' | 'http-request' | 'http-response' | 'other';

/** Classifies the line [off, eol) (eol excludes CR/LF): a SIP request or status line, HTTP, or neither. */
export function classifyFirstLine(b: Buffer, off: number, eol: number): FirstLineKind {
  const len = eol - off;
  if (len < 8) return 'other';
  if (b.compare(SIP20, 0, 7, off, off + 7) === 0) return b[off + 7] === 0x20 ? 'sip' : 'other';
  if (b.compare(HTTP1, 0, 7, off, off + 7) === 0) return 'http-response';
  // request line: METHOD SP Request-URI SP version
  if (eol - 8 > off && b[eol - 8] === 0x20) {
    if (b.compare(SIP20, 0, 7, eol - 7, eol) === 0) return isToken(b, off) ? 'sip' : 'other';
  }
  // HTTP request line: METHOD SP path SP HTTP/1.x
  if (eol - 9 > off && b[eol - 9] === 0x20 && b.compare(HTTP1, 0, 7, eol - 8, eol - 1) === 0) {
    return isToken(b, off) ? 'http-request' : 'other';
  }
  return 'other';
}

/** The method must be a token (RFC 3261 §25.1) up to the first space. */
function isToken(b: Buffer, off: number): boolean {
  let i = off;
  for (; i < b.length; i++) {
    const c = b[i];
    if (c === 0x20) return i > off;
    // alphanumerics and -.!%*_+`'~
    const ok =
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || c === 0x5f || c === 0x2b || c === 0x60 || c === 0x27 || c === 0x7e;
    if (!ok) return false;
  }
  return false;
}

/** Could [off, end) (no line end yet) begin a SIP or HTTP start line? Printable ASCII from a letter on. */
export function plausibleLineStart(b: Buffer, off: number, end: number): boolean {
  const c0 = b[off] | 0x20;
  if (c0 < 0x61 || c0 > 0x7a) return false;
  const lim = Math.min(end, off + 256);
  for (let i = off + 1; i < lim; i++) {
    const c = b[i];
    if ((c < 0x20 && c !== 13) || c > 0x7e) return c >= 0x80; // UTF-8 may appear in a request URI
  }
  return true;
}

/**
 * Offset just past the empty line ending the header block that starts at `off`, or -1 when it is
 * not in [off, end). `crlf` says which line ending the first line used.
 */
export function findHeaderEnd(b: Buffer, off: number, end: number, crlf: boolean): number {
  if (crlf) {
    const i = b.indexOf(CRLFCRLF, off);
    if (i >= 0 && i + 4 <= end) return i + 4;
    // a sender may end the block with a bare LF even after CRLF lines
    const j = b.indexOf(LFLF, off);
    return j >= 0 && j + 2 <= end ? j + 2 : -1;
  }
  const j = b.indexOf(LFLF, off);
  if (j >= 0 && j + 2 <= end) {
    // CRLF after LF lines ("\n\r\n") also ends the block
    const k = b.indexOf(CRLFCRLF, off);
    if (k >= 0 && k + 4 <= j + 2) return k + 4;
    return j + 2;
  }
  const k = b.indexOf(Buffer.from('\n\r\n'), off);
  return k >= 0 && k + 3 <= end ? k + 3 : -1;
}

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
const CONTENT_LENGTH = Buffer.from('content-length');

/**
 * Content-Length (or compact `l`) of the header block [off, hdrEnd): the value, -1 when absent,
 * -2 when present but not a number.
 */
export function contentLength(b: Buffer, off: number, hdrEnd: number): number {
  let line = off;
  while (line < hdrEnd) {
    let nl = b.indexOf(10, line);
    if (nl < 0 || nl >= hdrEnd) nl = hdrEnd;
    const c = lower(b[line]);
    let o = -1;
    if (c === 0x63 && nl - line > 14) {
      let i = 1;
      while (i < 14 && lower(b[line + i]) === CONTENT_LENGTH[i]) i++;
      if (i === 14) o = line + 14;
    } else if (c === 0x6c) o = line + 1;
    if (o >= 0) {
      while (o < nl && (b[o] === 0x20 || b[o] === 0x09)) o++;
      if (o < nl && b[o] === 0x3a) {
        o++;
        while (o < nl && (b[o] === 0x20 || b[o] === 0x09)) o++;
        let v = 0;
        let digits = 0;
        while (o < nl && b[o] >= 0x30 && b[o] <= 0x39 && digits < 10) {
          v = v * 10 + (b[o] - 0x30);
          o++;
          digits++;
        }
        return digits === 0 ? -2 : v;
      }
    }
    line = nl + 1;
  }
  return -1;
}

/** True when the header block [off, hdrEnd) has `Upgrade: websocket` (RFC 6455 §4.1). */
export function hasWebSocketUpgrade(b: Buffer, off: number, hdrEnd: number): boolean {
  const s = b.toString('latin1', off, hdrEnd).toLowerCase();
  return /(^|\n)upgrade[ \t]*:[^\n]*websocket/.test(s);
}

export interface FramingStats {
  /** SIP messages framed on streams */
  messages: number;
  /** streams given up on because they did not carry SIP (TLS, HTTP, …) */
  nonSipFlows: number;
  /** stretches of stream bytes thrown away to find the next message start */
  resyncs: number;
  /** messages or header blocks bigger than the bound */
  tooBig: number;
  /** streams switched to WebSocket after an HTTP Upgrade */
  wsUpgrades: number;
  ws: WsStats;
}

export const newFramingStats = (): FramingStats => ({
  messages: 0,
  nonSipFlows: 0,
  resyncs: 0,
  tooBig: 0,
  wsUpgrades: 0,
  ws: { frames: 0, messages: 0, controlFrames: 0, malformed: 0, tooBig: 0 },
});

export interface FramerLimits {
  /** largest SIP message (header block + body) */
  maxMessageBytes: number;
  /** segments that do not start a SIP message before a new stream is given up */
  maxProbeSegments: number;
}

export type FramedKind = 'tcp' | 'ws';

/**
 * One direction of a TCP stream: in-order bytes in, complete SIP messages out (or WebSocket
 * messages after an Upgrade). Holds at most one incomplete message.
 */
export class SipStreamFramer {
  private pending: Buffer | null = null;
  private ws: WebSocketFramer | null = null;
  /** 'probe' until the first SIP message; 'off' once the stream is known not to carry SIP */
  mode: 'probe' | 'sip' | 'off' = 'probe';
  private probes = 0;

  constructor(
    private readonly stats: FramingStats,
    private readonly limits: FramerLimits,
  ) {}

  get bufferedBytes(): number {
    return (this.pending === null ? 0 : this.pending.length) + (this.ws === null ? 0 : this.ws.bufferedBytes);
  }

  get isWebSocket(): boolean {
    return this.ws !== null;
  }

  /** In-order stream bytes. `emit` gets each complete message and whether it came in a WebSocket frame. */
  push(data: Buffer, emit: (payload: Buffer, kind: FramedKind) => void): void {
    if (this.mode === 'off') return;
    if (this.ws !== null) {
      this.ws.push(data, 0, (p) => emit(p, 'ws'));
      return;
    }
    let b = data;
    if (this.pending !== null) {
      b = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    const end = b.length;
    let o = 0;
    while (o < end) {
      // keepalives and stray line ends between messages
      while (o < end && (b[o] === 13 || b[o] === 10)) o++;
      if (o >= end) return;
      const nl = b.indexOf(10, o);
      if (nl < 0) {
        if (end - o > 2048 || !plausibleLineStart(b, o, end)) return this.notAStart();
        this.keep(b, o);
        return;
      }
      const crlf = nl > o && b[nl - 1] === 13;
      const kind = classifyFirstLine(b, o, crlf ? nl - 1 : nl);
      if (kind === 'other') return this.notAStart();
      const hdrEnd = findHeaderEnd(b, o, end, crlf);
      if (hdrEnd < 0) {
        if (end - o > this.limits.maxMessageBytes) {
          this.stats.tooBig++;
          return this.notAStart();
        }
        this.keep(b, o);
        return;
      }
      let cl = contentLength(b, o, hdrEnd);
      if (cl === -2) return this.notAStart();
      if (cl < 0) cl = 0; // mandatory on streams (RFC 3261 §20.14); absent means no body
      const total = hdrEnd - o + cl;
      if (total > this.limits.maxMessageBytes) {
        this.stats.tooBig++;
        return this.notAStart();
      }
      if (end - o < total) {
        this.keep(b, o);
        return;
      }
      if (kind === 'sip') {
        this.mode = 'sip';
        this.stats.messages++;
        emit(b.subarray(o, o + total), 'tcp');
        o += total;
        continue;
      }
      // HTTP: only an Upgrade to WebSocket is interesting; anything else means this is not SIP
      const upgrade =
        hasWebSocketUpgrade(b, o, hdrEnd) && (kind === 'http-request' || b.toString('latin1', o + 9, o + 12) === '101');
      if (!upgrade) {
        this.stats.nonSipFlows++;
        this.mode = 'off';
        return;
      }
      this.stats.wsUpgrades++;
      this.mode = 'sip';
      this.ws = new WebSocketFramer(this.stats.ws, this.limits.maxMessageBytes);
      o += total;
      if (o < end) this.ws.push(b, o, (p) => emit(p, 'ws'));
      return;
    }
  }

  /** The stream lost bytes: drop the partial message and look for the next start. */
  gap(): void {
    this.pending = null;
    if (this.ws !== null) this.ws.gap();
  }

  private keep(b: Buffer, o: number): void {
    this.pending = Buffer.from(b.subarray(o));
  }

  private notAStart(): void {
    this.pending = null;
    if (this.mode === 'probe') {
      if (++this.probes >= this.limits.maxProbeSegments) {
        this.mode = 'off';
        this.stats.nonSipFlows++;
      }
      return;
    }
    this.stats.resyncs++;
  }
}
