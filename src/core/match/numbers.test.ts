import { describe, expect, it } from 'vitest';
import { compileUserMatcher, telephoneDigits } from './numbers.js';

describe('telephoneDigits', () => {
  it.each([
    ['+1 (555) 443-0191', '15554430191'],
    ['15554430191', '15554430191'],
    ['+1.555.443.0191', '15554430191'],
    ['+15554430191;phone-context=example.com', '15554430191'],
    ['5554430191;npdi;rn=+15550000000', '5554430191'],
    ['alice', null],
    ['*72', null],
    ['1001#', null],
    ['', null],
    ['+', null],
  ])('%s → %s', (u, d) => expect(telephoneDigits(u)).toBe(d));
});

describe('compileUserMatcher', () => {
  it.each([
    ['+1 (555) 443-0191', '15554430191', true],
    ['tel:+1-555-443-0191', '15554430191', true],
    ['sip:15554430191@example.com', '+15554430191', true],
    ['5554430191', '+15554430191', true],
    ['4430191', '15554430191', true],
    ['430191', '15554430191', false],
    ['0033360653674', '+33360653674', true],
    ['0360653674', '+33360653674', true],
    ['1001', '1001', true],
    ['1001', '01001', false],
    ['15554430191', '25554430191', false],
    ['Alice', 'aLiCe', true],
    ['alice', 'alice2', false],
    ['1001', 'alice', false],
  ])('%s vs %s → %s', (c, u, r) => expect(compileUserMatcher(c).test(u)).toBe(r));
  it('undefined user never matches', () => {
    expect(compileUserMatcher('1001').test(undefined)).toBe(false);
    expect(compileUserMatcher('alice').test(undefined)).toBe(false);
  });
});
