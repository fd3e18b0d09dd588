// WebSocket frames (RFC 6455 §5) on one direction of a TCP stream, after the HTTP Upgrade: masked
// and unmasked, 7/16/64-bit lengths, fragmented messages (continuation frames) with control frames
// interleaved. Emits each complete text or binary message, which for SIP over WebSocket (RFC 7118
// §5) is exactly one SIP message. Detecting the Upgrade is sip-framing.ts's job.

export const WS_OPCODE = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export interface WsFrameHeader {
  fin: boolean;
  opcode: number;
  masked: boolean;
  /** offset of the 4-byte masking key when masked */
  maskOff: number;
  payloadOff: number;
  payloadLen: number;
}

/**
 * Reads a frame header at `off`. Returns the header, `null` when more bytes are needed, or a string
 * naming why the bytes cannot be a frame.
 */
export function readWsFrameHeader(b: Buffer, off: number, end: number, h: WsFrameHeader): WsFrameHeader | null | string {
  if (end - off < 2) return null;
  const b0 = b[off];
  const b1 = b[off + 1];
  if ((b0 & 0x70) !== 0) return 'ws_reserved_bits'; // RSV1-3 without a negotiated extension
  const opcode = b0 & 0x0f;
  if ((opcode > 2 && opcode < 8) || opcode > 0xa) return 'ws_bad_opcode';
  let len = b1 & 0x7f;
  let o = off + 2;
  if (len === 126) {
    if (end - o < 2) return null;
    len = b.readUInt16BE(o);
    o += 2;
  } else if (len === 127) {
    if (end - o < 8) return null;
    const hi = b.readUInt32BE(o);
    if (hi > 0x1fffff) return 'ws_length';
    len = hi * 4294967296 + b.readUInt32BE(o + 4);
    o += 8;
  }
  const masked = (b1 & 0x80) !== 0;
  h.maskOff = o;
  if (masked) {
    if (end - o < 4) return null;
    o += 4;
  }
  h.fin = (b0 & 0x80) !== 0;
  h.opcode = opcode;
  h.masked = masked;
  h.payloadOff = o;
  h.payloadLen = len;
  return h;
}

/** Copies a masked payload and unmasks it (RFC 6455 §5.3). The capture bytes are never modified. */
export function unmask(b: Buffer, maskOff: number, payloadOff: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  const m0 = b[maskOff];
  const m1 = b[maskOff + 1];
  const m2 = b[maskOff + 2];
  const m3 = b[maskOff + 3];
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    out[i] = b[payloadOff + i] ^ m0;
    out[i + 1] = b[payloadOff + i + 1] ^ m1;
    out[i + 2] = b[payloadOff + i + 2] ^ m2;
    out[i + 3] = b[payloadOff + i + 3] ^ m3;
  }
  const m = [m0, m1, m2, m3];
  for (; i < len; i++) out[i] = b[payloadOff + i] ^ m[i & 3];
  return out;
}

export interface WsStats {
  frames: number;
  messages: number;
  controlFrames: number;
  malformed: number;
  tooBig: number;
}

/** One direction of a WebSocket connection. */
export class WebSocketFramer {
  /** bytes of an incomplete frame */
  private pending: Buffer | null = null;
  /** payload parts of a fragmented message */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private inMessage = false;
  closed = false;
  private readonly h: WsFrameHeader = { fin: false, opcode: 0, masked: false, maskOff: 0, payloadOff: 0, payloadLen: 0 };

  constructor(
    private readonly stats: WsStats,
    private readonly maxMessageBytes = 256 * 1024,
  ) {}

  get bufferedBytes(): number {
    return (this.pending === null ? 0 : this.pending.length) + this.partsBytes;
  }

  /** Feeds stream bytes from `off`; calls `emit` with each complete message payload. */
  push(data: Buffer, off: number, emit: (payload: Buffer) => void): void {
    if (this.closed) return;
    let b = data;
    let o = off;
    if (this.pending !== null) {
      b = Buffer.concat([this.pending, data.subarray(off)]);
      o = 0;
      this.pending = null;
    }
    const end = b.length;
    while (o < end) {
      const h = readWsFrameHeader(b, o, end, this.h);
      if (h === null) break;
      if (typeof h === 'string') {
        this.stats.malformed++;
        this.reset();
        this.closed = true;
        return;
      }
      if (h.payloadLen > this.maxMessageBytes || this.partsBytes + h.payloadLen > this.maxMessageBytes) {
        this.stats.tooBig++;
        this.reset();
        this.closed = true;
        return;
      }
      const fend = h.payloadOff + h.payloadLen;
      if (fend > end) break;
      this.stats.frames++;
      const payload = h.masked ? unmask(b, h.maskOff, h.payloadOff, h.payloadLen) : b.subarray(h.payloadOff, fend);
      o = fend;
      if (h.opcode >= 8) {
        // control frames may come between the fragments of a message (§5.4) and are never fragmented
        this.stats.controlFrames++;
        if (h.opcode === WS_OPCODE.CLOSE) {
          this.reset();
          this.closed = true;
          return;
        }
        continue;
      }
      if (h.opcode !== WS_OPCODE.CONTINUATION) {
        if (this.inMessage) this.stats.malformed++; // new message before the last one finished: drop the old one
        this.parts = [];
        this.partsBytes = 0;
        this.inMessage = true;
      } else if (!this.inMessage) {
        this.stats.malformed++; // continuation with no message started (capture began mid-message)
        continue;
      }
      if (h.fin && this.parts.length === 0) {
        this.inMessage = false;
        this.stats.messages++;
        emit(payload);
        continue;
      }
      // fragments may be subarrays of a chunk that is reused: keep copies
      this.parts.push(h.masked ? payload : Buffer.from(payload));
      this.partsBytes += payload.length;
      if (h.fin) {
        const msg = Buffer.concat(this.parts, this.partsBytes);
        this.parts = [];
        this.partsBytes = 0;
        this.inMessage = false;
        this.stats.messages++;
        emit(msg);
      }
    }
    if (o < end) this.pending = Buffer.from(b.subarray(o));
  }

  /** A hole in the TCP stream: whatever was partial is lost. */
  gap(): void {
    this.reset();
  }

  private reset(): void {
    this.pending = null;
    this.parts = [];
    this.partsBytes = 0;
    this.inMessage = false;
  }
}

/** Builds one frame (for tests and tools): mask when `maskKey` is given. */
export function encodeWsFrame(opcode: number, payload: Buffer, fin = true, maskKey?: Buffer): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (maskKey ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = (maskKey ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  else if (ext === 8) {
    head.writeUInt32BE(Math.floor(len / 4294967296), 2);
    head.writeUInt32BE(len >>> 0, 6);
  }
  if (!maskKey) return Buffer.concat([head, payload]);
  maskKey.copy(head, 2 + ext, 0, 4);
  const body = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) body[i] = payload[i] ^ maskKey[i & 3];
  return Buffer.concat([head, body]);
}
