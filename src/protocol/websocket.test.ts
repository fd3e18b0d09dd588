import { describe, expect, it } from 'vitest';
import { encodeWsFrame, readWsFrameHeader, unmask, WebSocketFramer } from './websocket.js';
import type { WsFrameHeader, WsStats } from './websocket.js';

const newStats = (): WsStats => ({ frames: 0, messages: 0, controlFrames: 0, malformed: 0, tooBig: 0 });
const h = (): WsFrameHeader => ({ fin: false, opcode: 0, masked: false, maskOff: 0, payloadOff: 0, payloadLen: 0 });
const key = Buffer.from([0xde, 0xad, 0xbe, 0xef]);

describe('WebSocket frames', () => {
  it('7-, 16- and 64-bit lengths, masked and unmasked', () => {
    for (const len of [0, 5, 125, 126, 1000, 65535, 65536, 70000]) {
      for (const mask of [undefined, key]) {
        const payload = Buffer.alloc(len, 0x61);
        const f = encodeWsFrame(2, payload, true, mask);
        const r = readWsFrameHeader(f, 0, f.length, h());
        if (r === null || typeof r === 'string') throw new Error(String(r));
        expect(r.payloadLen).toBe(len);
        expect(r.masked).toBe(mask !== undefined);
        const body = r.masked ? unmask(f, r.maskOff, r.payloadOff, r.payloadLen) : f.subarray(r.payloadOff);
        expect(body.equals(payload)).toBe(true);
      }
    }
  });

  it('needs more bytes for a partial header; rejects reserved bits and opcodes', () => {
    const f = encodeWsFrame(1, Buffer.alloc(300), true, key);
    for (let i = 0; i < 8; i++) expect(readWsFrameHeader(f, 0, i, h())).toBeNull();
    expect(readWsFrameHeader(Buffer.from([0xc1, 0x00]), 0, 2, h())).toBe('ws_reserved_bits');
    expect(readWsFrameHeader(Buffer.from([0x83, 0x00]), 0, 2, h())).toBe('ws_bad_opcode');
  });

  it('reassembles fragmented messages with control frames between fragments, across pushes', () => {
    const stats = newStats();
    const w = new WebSocketFramer(stats);
    const got: string[] = [];
    const stream = Buffer.concat([
      encodeWsFrame(1, Buffer.from('INVITE '), false, key),
      encodeWsFrame(9, Buffer.from('ping'), true, key),
      encodeWsFrame(0, Buffer.from('sip:a@b '), false, key),
      encodeWsFrame(10, Buffer.from(''), true),
      encodeWsFrame(0, Buffer.from('SIP/2.0'), true, key),
      encodeWsFrame(1, Buffer.from('whole'), true),
    ]);
    for (let i = 0; i < stream.length; i += 3) w.push(stream.subarray(i, i + 3), 0, (p) => got.push(p.toString()));
    expect(got).toEqual(['INVITE sip:a@b SIP/2.0', 'whole']);
    expect(stats).toMatchObject({ frames: 6, messages: 2, controlFrames: 2, malformed: 0 });
    expect(w.bufferedBytes).toBe(0);
  });

  it('never modifies the captured bytes when unmasking', () => {
    const f = encodeWsFrame(1, Buffer.from('SIP/2.0 200 OK'), true, key);
    const copy = Buffer.from(f);
    new WebSocketFramer(newStats()).push(f, 0, () => undefined);
    expect(f.equals(copy)).toBe(true);
  });

  it('a close frame ends the direction; an oversized frame is counted, not buffered', () => {
    const stats = newStats();
    const w = new WebSocketFramer(stats, 1000);
    const got: string[] = [];
    w.push(Buffer.concat([encodeWsFrame(8, Buffer.alloc(2), true), encodeWsFrame(1, Buffer.from('late'), true)]), 0, (p) => got.push(p.toString()));
    expect(got).toEqual([]);
    expect(w.closed).toBe(true);
    const w2 = new WebSocketFramer(stats, 1000);
    w2.push(encodeWsFrame(1, Buffer.alloc(5000), true).subarray(0, 100), 0, () => undefined);
    expect(stats.tooBig).toBe(1);
    expect(w2.bufferedBytes).toBe(0);
  });

  it('a continuation without a started message (capture began mid-message) is skipped', () => {
    const stats = newStats();
    const got: string[] = [];
    new WebSocketFramer(stats).push(Buffer.concat([encodeWsFrame(0, Buffer.from('tail'), true), encodeWsFrame(1, Buffer.from('next'), true)]), 0, (p) =>
      got.push(p.toString()),
    );
    expect(got).toEqual(['next']);
    expect(stats.malformed).toBe(1);
  });
});
