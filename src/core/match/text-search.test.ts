import { describe, expect, it } from 'vitest';
import { compileTextNeedle } from './text-search.js';

describe('compileTextNeedle', () => {
  const hay = Buffer.from('INVITE sip:bob@Example.COM SIP/2.0\r\nUser-Agent: Zoiper\r\n\r\n');
  it.each([
    ['example.com', true],
    ['EXAMPLE.com', true],
    ['zoiper', true],
    ['INVITE', true],
    ['\r\n\r\n', true],
    ['2.0\r\nuser', true],
    ['zoipers', false],
    ['exampl.com', false],
    ['a', true],
    ['q', false],
  ])('%j → %s', (n, r) => expect(compileTextNeedle(n).inBuffer(hay)).toBe(r));
  it('respects start/end', () => {
    const n = compileTextNeedle('bob');
    expect(n.inBuffer(hay, 0, 13)).toBe(false);
    expect(n.inBuffer(hay, 0, 14)).toBe(true);
    expect(compileTextNeedle('123').inBuffer(Buffer.from('x123'), 0, 3)).toBe(false);
  });
  it('agrees with a lowercase includes() on random ASCII', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const alpha = 'aAbB-1.';
    for (let i = 0; i < 2000; i++) {
      const h = Array.from({ length: 40 }, () => alpha[rnd(alpha.length)]).join('');
      const n = Array.from({ length: 1 + rnd(4) }, () => alpha[rnd(alpha.length)]).join('');
      expect(compileTextNeedle(n).inBuffer(Buffer.from(h))).toBe(h.toLowerCase().includes(n.toLowerCase()));
    }
  });
  it('log lines (strings)', () => {
    expect(compileTextNeedle('Trunk-Down').inString('ALARM trunk-down gw1')).toBe(true);
    expect(compileTextNeedle('Trunk-Down').inString('ALARM trunk down')).toBe(false);
  });
});
