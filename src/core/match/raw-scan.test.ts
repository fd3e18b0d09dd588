import { describe, expect, it } from 'vitest';
import { containsDigits, digitsFailure, rawCallId, rawHeaderValue } from './raw-scan.js';

const msg = Buffer.from(
  'INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nfrom : <sip:a@x>;tag=9\r\ni:  abc@host \r\nTo: <tel:+1-555-443-0191>\r\n\r\nCall-ID: body\r\n',
);

describe('raw-scan', () => {
  it('reads header values without parsing (compact, spacing, stops at the body)', () => {
    expect(rawCallId(msg)).toBe('abc@host');
    expect(rawHeaderValue(msg, 'from', 'f')).toBe('<sip:a@x>;tag=9');
    expect(rawHeaderValue(msg, 'to', 't')).toBe('<tel:+1-555-443-0191>');
    expect(rawHeaderValue(msg, 'contact', 'm')).toBeUndefined();
    expect(rawCallId(Buffer.from('SIP/2.0 200 OK\nCALL-ID:x1\n\n'))).toBe('x1');
  });
  it('finds digits contiguously, or with visual separators in a telephone context', () => {
    const d = Buffer.from('4430191');
    const f = digitsFailure(d);
    expect(containsDigits(msg, d, f)).toBe(true);
    expect(containsDigits(Buffer.from('sip:1-555-443-0191@x'), d, f)).toBe(false); // no tel:/user=phone
    expect(containsDigits(Buffer.from('sip:1-555-443-0191@x;user=phone'), d, f)).toBe(true);
    expect(containsDigits(Buffer.from('tel:44430191'), d, f)).toBe(true);
    expect(containsDigits(Buffer.from('tel:443x0191'), d, f)).toBe(false);
    const p = Buffer.from('5004242');
    expect(containsDigits(Buffer.from('tel:5-5004-242'), p, digitsFailure(p))).toBe(true);
  });
});
