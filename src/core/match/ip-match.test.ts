import { describe, expect, it } from 'vitest';
import { compileIpMatcher, parseIp } from './ip-match.js';

describe('parseIp', () => {
  it.each([
    ['192.0.2.1', [192, 0, 2, 1]],
    ['::1', [...Array(15).fill(0), 1]],
    ['::ffff:192.0.2.1', [...Array(10).fill(0), 255, 255, 192, 0, 2, 1]],
    ['[2001:db8::1]', [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1]],
    ['fe80::1%eth0', [0xfe, 0x80, ...Array(13).fill(0), 1]],
  ])('%s', (s, bytes) => expect([...parseIp(s)!]).toEqual(bytes));
  it.each(['256.0.0.1', '1.2.3', '1::2::3', 'abc', '1:2:3:4:5:6:7:8:9', '12345::', ''])('rejects %s', (s) =>
    expect(parseIp(s)).toBeNull(),
  );
});

describe('compileIpMatcher', () => {
  it('rejects invalid specs', () => {
    expect(compileIpMatcher('10.0.0.0/33')).toBeNull();
    expect(compileIpMatcher('2001:db8::/129')).toBeNull();
    expect(compileIpMatcher('example.com')).toBeNull();
  });
  it('caches per address string and stays correct', () => {
    const m = compileIpMatcher('10.0.0.0/8')!;
    for (let i = 0; i < 5000; i++) expect(m.test(`10.${i % 256}.0.1`)).toBe(true);
    expect(m.test('11.0.0.1')).toBe(false);
    expect(m.test('not-an-ip')).toBe(false);
  });
});
