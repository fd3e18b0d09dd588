import { describe, expect, it } from 'vitest';
import { headerTag, paramValue, parseUriParts, uriOfHeaderValue } from './uri-parts.js';

describe('uri-parts', () => {
  it.each([
    ['"Bob <x>" <sip:bob@example.com>;tag=1', 'sip:bob@example.com'],
    ['<sip:bob@example.com;user=phone>;tag=1', 'sip:bob@example.com;user=phone'],
    ['sip:bob@example.com;tag=1', 'sip:bob@example.com'],
    ['<tel:+1555>', 'tel:+1555'],
    ['Bob <sip:bob@h>', 'sip:bob@h'],
  ])('uriOfHeaderValue(%s)', (v, u) => expect(uriOfHeaderValue(v)).toBe(u));

  it.each([
    ['sip:alice:secret@Example.COM:5060;transport=udp?Subject=x', { scheme: 'sip', user: 'alice', host: 'example.com', params: 'transport=udp' }],
    ['sips:+15554430191;phone-context=x@gw.example.com;user=phone', { scheme: 'sips', user: '+15554430191;phone-context=x', host: 'gw.example.com', params: 'user=phone' }],
    ['sip:[2001:db8::1]:5060', { scheme: 'sip', user: undefined, host: '2001:db8::1', params: '' }],
    ['sip:bob@[fec0::2];lr', { scheme: 'sip', user: 'bob', host: 'fec0::2', params: 'lr' }],
    ['tel:+1-555-443-0191;ext=12', { scheme: 'tel', user: '+1-555-443-0191', host: undefined, params: 'ext=12' }],
    ['sip:%2B1555@h.example.com.', { scheme: 'sip', user: '+1555', host: 'h.example.com', params: '' }],
    ['urn:service:sos', { scheme: 'urn', user: undefined, host: undefined, params: '' }],
  ])('parseUriParts(%s)', (u, r) => expect(parseUriParts(u)).toEqual(r));

  it('no scheme → null; never throws on junk', () => {
    expect(parseUriParts('bob@example.com')).toBeNull();
    expect(parseUriParts('sip:%E0%A4%A@x')?.user).toBe('%E0%A4%A');
  });

  it('params and tags', () => {
    expect(paramValue('a=1;Tenant=Acme;lr', 'tenant')).toBe('Acme');
    expect(paramValue('a=1;lr', 'lr')).toBe('');
    expect(paramValue('a=1;lr', 'x')).toBeUndefined();
    expect(headerTag('<sip:a@b;tag=inuri>;tag=real')).toBe('real');
    expect(headerTag('<sip:a@b;tag=inuri>')).toBeUndefined();
    expect(headerTag('sip:a@b;TAG=x')).toBe('x');
  });
});
