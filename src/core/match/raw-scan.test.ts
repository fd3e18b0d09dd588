import { describe, expect, it } from 'vitest';
import { asciiHash, rawCallId, rawCallIdSpan, rawHasHeader, rawHeaderValue, sipStartAt } from './raw-scan.js';

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
  it('rawHasHeader: a header by name, any case, in the header block only', () => {
    const m = Buffer.from('INVITE sip:b@x SIP/2.0\r\nx-cid : A\r\nSession-IDx: 1\r\n\r\nSession-ID: body');
    expect(rawHasHeader(m, ['session-id'])).toBe(false);
    expect(rawHasHeader(m, ['session-id', 'x-cid'])).toBe(true);
    expect(rawHasHeader(Buffer.from('INVITE sip:b@x SIP/2.0\r\nX-CIDS: A\r\n\r\n'), ['x-cid'])).toBe(false);
  });
  it('takes the first Call-ID line, compact or not, whatever headers share its first letter', () => {
    const m = (h: string) => Buffer.from(`BYE sip:b@x SIP/2.0\r\nIn-Reply-To: zz\r\nIdentity: yy\r\n${h}\r\n\r\n`);
    expect(rawCallId(m('I : first\r\nCall-ID: second'))).toBe('first');
    expect(rawCallId(m('i:first\r\nCall-ID: second'))).toBe('first');
    expect(rawCallId(m('Call-ID: second\r\ni: first'))).toBe('second');
    expect(rawCallId(m('X: 1'))).toBeUndefined();
    const sp = { start: 0, end: 0 };
    const b = m('Call-ID:  abc@h ');
    expect(rawCallIdSpan(b, sp)).toBe(true);
    expect(b.toString('latin1', sp.start, sp.end)).toBe('abc@h');
    expect(asciiHash(b, sp.start, sp.end)).toBe(asciiHash(Buffer.from('abc@h'), 0, 5));
    expect(asciiHash(Buffer.from('ü'), 0, 2)).toBe(-1);
  });
  it('sipStartAt: a space before any NUL/CR/LF, read in place', () => {
    const b = Buffer.from('xxINVITE sip:a@b SIP/2.0\r\n\x00\x01 \r\n');
    expect(sipStartAt(b, 2, b.length)).toBe(true);
    expect(sipStartAt(b, 2, 7)).toBe(false); // no space within the bounds
    expect(sipStartAt(b, 26, b.length)).toBe(false); // NUL first
    expect(sipStartAt(b, 8, b.length)).toBe(false); // starts with a space
  });
});
