import { describe, expect, it } from 'vitest';
import { classifyFirstLine, contentLength, findHeaderEnd, newFramingStats, SipStreamFramer } from './sip-framing.js';
import type { FramedKind } from './sip-framing.js';
import { encodeWsFrame } from './websocket.js';

const limits = { maxMessageBytes: 4096, maxProbeSegments: 3 };
const b = (s: string) => Buffer.from(s, 'latin1');

function framer() {
  const stats = newFramingStats();
  const f = new SipStreamFramer(stats, limits);
  const out: { text: string; kind: FramedKind }[] = [];
  const push = (x: Buffer) => f.push(x, (p, kind) => out.push({ text: p.toString('latin1'), kind }));
  return { f, stats, out, push };
}

const msg = (body: string, cl = 'Content-Length', eol = '\r\n') =>
  `INVITE sip:b@x SIP/2.0${eol}Via: SIP/2.0/TCP h;branch=z9hG4bK1${eol}Call-ID: c1${eol}CSeq: 1 INVITE${eol}${cl}: ${Buffer.byteLength(body)}${eol}${eol}${body}`;

describe('framing helpers', () => {
  it('classifies start lines', () => {
    const c = (s: string) => classifyFirstLine(b(s), 0, s.length);
    expect(c('INVITE sip:a@b SIP/2.0')).toBe('sip');
    expect(c('SIP/2.0 200 OK')).toBe('sip');
    expect(c('GET /ws HTTP/1.1')).toBe('http-request');
    expect(c('HTTP/1.1 101 Switching Protocols')).toBe('http-response');
    expect(c('\x16\x03\x01 garbage SIP/2.0')).toBe('other');
    expect(c('SIP/2.0')).toBe('other');
  });

  it('Content-Length in any case, compact l:, spaces before the colon; absent and bad values', () => {
    for (const h of ['Content-Length', 'content-length', 'CONTENT-LENGTH', 'l', 'L', 'Content-Length  ']) {
      const m = b(msg('hello', h));
      const end = findHeaderEnd(m, 0, m.length, true);
      expect(contentLength(m, 0, end)).toBe(5);
    }
    const none = b('OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n');
    expect(contentLength(none, 0, none.length)).toBe(-1);
    const bad = b('OPTIONS sip:x SIP/2.0\r\nContent-Length: x\r\n\r\n');
    expect(contentLength(bad, 0, bad.length)).toBe(-2);
    // a header that merely starts with l is not Content-Length
    const lookalike = b('OPTIONS sip:x SIP/2.0\r\nLocation: 9\r\n\r\n');
    expect(contentLength(lookalike, 0, lookalike.length)).toBe(-1);
  });

  it('finds the end of CRLF and bare-LF header blocks', () => {
    const crlf = b(msg('x'));
    expect(findHeaderEnd(crlf, 0, crlf.length, true)).toBe(crlf.length - 1);
    const lf = b(msg('xy', 'Content-Length', '\n'));
    expect(findHeaderEnd(lf, 0, lf.length, false)).toBe(lf.length - 2);
    expect(findHeaderEnd(b('INVITE sip:a SIP/2.0\r\nVia: x\r\n'), 0, 31, true)).toBe(-1);
  });
});

describe('SipStreamFramer', () => {
  it('frames messages pushed one byte at a time, with keepalives between them', () => {
    const { push, out } = framer();
    const stream = b(`\r\n\r\n${msg('body-1')}\r\n${msg('')}${msg('v=0\r\n')}`);
    for (let i = 0; i < stream.length; i++) push(stream.subarray(i, i + 1));
    expect(out.map((m) => m.text)).toEqual([msg('body-1'), msg(''), msg('v=0\r\n')]);
  });

  it('bare LF messages and several messages in one push', () => {
    const { push, out } = framer();
    push(b(msg('a', 'l', '\n') + msg('bb', 'l', '\n')));
    expect(out.map((m) => m.text)).toEqual([msg('a', 'l', '\n'), msg('bb', 'l', '\n')]);
  });

  it('gives up on a stream that is not SIP after the probe bound', () => {
    const { push, stats, f } = framer();
    for (let i = 0; i < 5; i++) push(b('\x17\x03\x03\x00\x20 random tls bytes\n'));
    expect(f.mode).toBe('off');
    expect(stats.nonSipFlows).toBe(1);
    expect(f.bufferedBytes).toBe(0);
  });

  it('an HTTP exchange without Upgrade turns the stream off', () => {
    const { push, stats, out } = framer();
    push(b('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    push(b(msg('')));
    expect(out).toHaveLength(0);
    expect(stats.nonSipFlows).toBe(1);
  });

  it('switches to WebSocket after an Upgrade, in the same segment too', () => {
    const { push, out, stats } = framer();
    const up = 'GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    push(Buffer.concat([b(up), encodeWsFrame(1, b(msg('')), true, Buffer.from([1, 2, 3, 4]))]));
    expect(out).toEqual([{ text: msg(''), kind: 'ws' }]);
    expect(stats.wsUpgrades).toBe(1);
  });

  it('a message over the size bound is dropped and counted; the stream resyncs on the next one', () => {
    const { push, out, stats, f } = framer();
    push(b(msg('ok')));
    push(b(msg('x'.repeat(5000))));
    expect(stats.tooBig).toBe(1);
    push(b(msg('after')));
    expect(out.map((m) => m.text)).toEqual([msg('ok'), msg('after')]);
    expect(f.bufferedBytes).toBe(0);
  });

  it('after a gap the partial message is dropped and framing restarts at a message start', () => {
    const { push, out, f } = framer();
    const m = b(msg('0123456789'));
    push(m.subarray(0, 30));
    expect(f.bufferedBytes).toBe(30);
    f.gap();
    expect(f.bufferedBytes).toBe(0);
    push(m.subarray(60)); // the middle of a message: not a start
    push(m);
    expect(out.map((x) => x.text)).toEqual([m.toString('latin1')]);
  });
});
