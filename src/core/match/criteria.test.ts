// Unit tables for every criterion (DESIGN §5), positive and negative.
import { describe, expect, it } from 'vitest';
import { compileCriteria } from './criteria.js';
import type { Criteria } from '../schema/criteria.js';
import { MessageView } from './message-view.js';
import { request, response, sip } from './testing/sip-builder.js';
import type { SipMessage } from '../../protocol/sip.js';
import { TunaError } from '../errors.js';

const view = (msg: SipMessage, src = '192.0.2.10', dst = '198.51.100.20', reversed = false): MessageView => {
  const v = new MessageView().reset(msg, src, dst);
  v.reversed = reversed;
  return v;
};
const matches = (c: Criteria, msg: SipMessage, src?: string, dst?: string): boolean =>
  compileCriteria(c).test(view(msg, src, dst));

const invite = (o: Parameters<typeof request>[1] = {}) => request('INVITE', o);

describe('compileCriteria', () => {
  it('refuses a method-only criteria set with the API message', () => {
    expect(() => compileCriteria({ method: 'INVITE' })).toThrow(TunaError);
    expect(() => compileCriteria({ method: 'INVITE' })).toThrow(/at least one search criterion other than method/);
    expect(() => compileCriteria({})).toThrow(/criteria_required|at least one/);
  });
});

describe('from / to', () => {
  const cases: [string, Criteria, Parameters<typeof request>[1], boolean][] = [
    ['from: digits equal', { from: '15554430191' }, { from: '<sip:15554430191@example.com>' }, true],
    ['from: formatted criterion', { from: '+1 (555) 443-0191' }, { from: '<sip:15554430191@example.com>' }, true],
    ['from: formatted user', { from: '15554430191' }, { from: '<sip:+1-555-443-0191@example.com;user=phone>' }, true],
    ['from: tel URI', { from: '15554430191' }, { from: '<tel:+1-555-443-0191>' }, true],
    ['from: tel URI with params', { from: '+15554430191' }, { from: '<tel:+15554430191;phone-context=example.com>' }, true],
    ['from: national ~ international', { from: '5554430191' }, { from: '<sip:+15554430191@example.com>' }, true],
    ['from: international ~ national', { from: '+15554430191' }, { from: '<sip:5554430191@example.com>' }, true],
    ['from: 7-digit suffix', { from: '4430191' }, { from: '<sip:+15554430191@example.com>' }, true],
    ['from: 6-digit suffix is not enough', { from: '430191' }, { from: '<sip:+15554430191@example.com>' }, false],
    ['from: trunk 0 vs +44', { from: '020 7946 0018' }, { from: '<sip:+442079460018@example.com>' }, true],
    ['from: other number', { from: '15554430192' }, { from: '<sip:15554430191@example.com>' }, false],
    ['from: short extension exact', { from: '1001' }, { from: '<sip:1001@pbx.example.com>' }, true],
    ['from: short extension not suffix', { from: '001' }, { from: '<sip:1001@pbx.example.com>' }, false],
    ['from: name case-insensitive', { from: 'Alice' }, { from: '"A" <sip:alice@example.com>' }, true],
    ['from: name exact, not substring', { from: 'ali' }, { from: '<sip:alice@example.com>' }, false],
    ['from: number vs name user', { from: '1001' }, { from: '<sip:alice@example.com>' }, false],
    ['from: display name is not the user', { from: 'bob' }, { from: '"bob" <sip:alice@example.com>' }, false],
    ['from: percent-encoded +', { from: '15554430191' }, { from: '<sip:%2B15554430191@example.com>' }, true],
    ['from: bare addr-spec', { from: '15554430191' }, { from: 'sip:15554430191@example.com' }, true],
    ['from: PAI', { from: '15554430191' }, { from: '<sip:anonymous@anonymous.invalid>', extra: ['P-Asserted-Identity: "X" <sip:+15554430191@example.com>, <tel:+15554430191>'] }, true],
    ['from: PAI second value', { from: '15559990000' }, { extra: ['P-Asserted-Identity: <sip:alice@example.com>, <tel:+15559990000>'] }, true],
    ['from: PPI', { from: '15554430191' }, { extra: ['P-Preferred-Identity: <sip:15554430191@example.com>'] }, true],
    ['from: RPID', { from: '15554430191' }, { extra: ['Remote-Party-ID: "A" <sip:15554430191@example.com>;party=calling;screen=yes'] }, true],
    ['to: R-URI', { to: '15554430191' }, { ruri: 'sip:15554430191@gw.example.com;user=phone', to: '<sip:other@example.com>' }, true],
    ['to: To header', { to: '5554430191' }, { to: '<sip:+15554430191@example.com>' }, true],
    ['to: Diversion', { to: '15554430191' }, { extra: ['Diversion: <sip:15554430191@example.com>;reason=no-answer;counter=1'] }, true],
    ['to: History-Info', { to: '15554430191' }, { extra: ['History-Info: <sip:bob@example.com>;index=1, <sip:15554430191@example.com?Reason=SIP%3Bcause%3D302>;index=1.1'] }, true],
    ['to: compact t:', { to: '15554430191' }, { to: '<sip:15554430191@example.com>' }, true],
    // The direction rule: a call TO a number never matches `from` with it, nor the reverse.
    ['direction: from=callee', { from: '15554430191' }, { to: '<sip:15554430191@example.com>', ruri: 'sip:15554430191@example.com' }, false],
    ['direction: from=diverted', { from: '15554430191' }, { extra: ['Diversion: <sip:15554430191@example.com>'] }, false],
    ['direction: to=caller', { to: '15554430191' }, { from: '<sip:15554430191@example.com>' }, false],
    ['direction: to=PAI', { to: '15554430191' }, { extra: ['P-Asserted-Identity: <sip:15554430191@example.com>'] }, false],
    ['from and to together', { from: 'alice', to: 'bob' }, {}, true],
    ['from and to, one fails', { from: 'alice', to: 'carol' }, {}, false],
  ];
  it.each(cases)('%s', (_n, c, o, expected) => {
    expect(matches(c, invite(o))).toBe(expected);
  });

  it('compact headers f:/t:/i: are read', () => {
    const m = sip({
      start: 'INVITE sip:15554430191@example.com SIP/2.0',
      headers: ['v: SIP/2.0/UDP h;branch=z9hG4bK1', 'f: <sip:alice@example.com>;tag=1', 't: <sip:15554430191@example.com>', 'i: compact-1', 'CSeq: 1 INVITE'],
    });
    expect(matches({ from: 'alice' }, m)).toBe(true);
    expect(matches({ to: '+1 555 443 0191' }, m)).toBe(true);
    expect(matches({ call_id: 'compact-1' }, m)).toBe(true);
  });

  it('responses keep From/To roles; the R-URI of an in-dialog request is not the called number', () => {
    const ok = response(200, 'INVITE', { from: '<sip:alice@example.com>', to: '<sip:15554430191@example.com>' });
    expect(matches({ to: '15554430191' }, ok)).toBe(true);
    expect(matches({ from: '15554430191' }, ok)).toBe(false);
    // Callee's BYE: R-URI is the caller's Contact (a number), To is the caller.
    const bye = request('BYE', { ruri: 'sip:15551112222@192.0.2.10', from: '<sip:bob@example.com>', to: '<sip:alice@example.com>' }, true);
    expect(matches({ to: '15551112222' }, bye)).toBe(false);
  });

  it('a reversed message (sent by the callee) swaps the roles', () => {
    const bye = request('BYE', { from: '<sip:15554430191@example.com>', to: '<sip:alice@example.com>' }, true);
    const c = compileCriteria({ from: '15554430191' });
    expect(c.test(view(bye))).toBe(true); // face value, orientation unknown
    expect(c.test(view(bye, undefined, undefined, true))).toBe(false);
    expect(compileCriteria({ to: '15554430191' }).test(view(bye, undefined, undefined, true))).toBe(true);
    expect(compileCriteria({ from: 'alice' }).test(view(bye, undefined, undefined, true))).toBe(true);
  });
});

describe('domain', () => {
  const cases: [string, string, Parameters<typeof request>[1], boolean][] = [
    ['exact R-URI host', 'example.com', { ruri: 'sip:bob@example.com', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, true],
    ['parent of R-URI host', 'example.com', { ruri: 'sip:bob@pbx.example.com', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, true],
    ['not a label boundary', 'example.com', { ruri: 'sip:bob@badexample.com', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, false],
    ['From host', 'carrier.net', { ruri: 'sip:bob@10.0.0.1', from: '<sip:a@sbc.carrier.net>', to: '<sip:b@x.org>' }, true],
    ['To host, case-insensitive', 'EXAMPLE.org', { ruri: 'sip:bob@10.0.0.1', from: '<sip:a@x.net>', to: '<sip:b@Example.ORG>' }, true],
    ['trailing dot', 'example.com', { ruri: 'sip:bob@pbx.example.com.', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, true],
    ['host with port', 'example.com', { ruri: 'sip:bob@example.com:5080;transport=udp', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, true],
    ['child does not match parent', 'pbx.example.com', { ruri: 'sip:bob@example.com', from: '<sip:a@example.com>', to: '<sip:b@example.com>' }, false],
    ['IP exact', '10.0.0.1', { ruri: 'sip:bob@10.0.0.1', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, true],
    ['IP is never a parent', '0.0.1', { ruri: 'sip:bob@10.0.0.1', from: '<sip:a@x.org>', to: '<sip:b@x.org>' }, false],
    ['Via host does not count', 'via.example.com', { ruri: 'sip:bob@x.org', from: '<sip:a@x.org>', to: '<sip:b@x.org>', extra: ['Via: SIP/2.0/UDP via.example.com'] }, false],
  ];
  it.each(cases)('%s', (_n, domain, o, expected) => {
    expect(matches({ domain }, invite(o))).toBe(expected);
  });
});

describe('tenant', () => {
  const cases: [string, Criteria, Parameters<typeof request>[1], boolean, string[]?][] = [
    ['X-Tenant header', { tenant: 'acme' }, { extra: ['X-Tenant: ACME'] }, true],
    ['X-Tenant-Id header', { tenant: 'acme' }, { extra: ['X-Tenant-Id: acme'] }, true],
    ['X-Tenant-Code header', { tenant: 'acme' }, { extra: ['X-Tenant-Code: acme'] }, true],
    ['other value', { tenant: 'acme' }, { extra: ['X-Tenant: acme2'] }, false],
    ['tenant= URI param in R-URI', { tenant: 'acme' }, { ruri: 'sip:bob@example.com;tenant=acme' }, true],
    ['tenant= URI param in From', { tenant: 'acme' }, { from: '<sip:alice@example.com;tenant=acme>' }, true],
    ['first label of R-URI host', { tenant: 'acme' }, { ruri: 'sip:bob@acme.pbx.example.com' }, true],
    ['first label of To host', { tenant: 'acme' }, { to: '<sip:bob@acme.example.com>' }, true],
    ['second label is not the tenant', { tenant: 'pbx' }, { ruri: 'sip:bob@acme.pbx.example.com' }, false],
    ['IP host has no label', { tenant: '10' }, { ruri: 'sip:bob@10.0.0.1', from: '<sip:a@10.0.0.2>', to: '<sip:b@10.0.0.3>' }, false],
    ['configured header', { tenant: 'acme' }, { extra: ['X-Customer: acme'] }, true, ['X-Customer']],
    ['default header not used when configured', { tenant: 'acme' }, { extra: ['X-Tenant: acme'] }, false, ['X-Customer']],
  ];
  it.each(cases)('%s', (_n, c, o, expected, headers) => {
    expect(compileCriteria(c, { tenantHeaders: headers }).test(view(invite(o)))).toBe(expected);
  });
});

describe('provider_ip', () => {
  const cases: [string, string, string, string, boolean][] = [
    ['source address', '192.0.2.10', '192.0.2.10', '198.51.100.1', true],
    ['destination address', '198.51.100.1', '192.0.2.10', '198.51.100.1', true],
    ['neither', '203.0.113.5', '192.0.2.10', '198.51.100.1', false],
    ['IPv4 CIDR', '192.0.2.0/24', '192.0.2.77', '10.0.0.1', true],
    ['IPv4 CIDR miss', '192.0.3.0/24', '192.0.2.77', '10.0.0.1', false],
    ['IPv4 /0', '0.0.0.0/0', '192.0.2.77', '10.0.0.1', true],
    ['IPv4 odd prefix', '10.0.0.128/25', '10.0.0.200', '1.1.1.1', true],
    ['IPv4 odd prefix miss', '10.0.0.128/25', '10.0.0.100', '1.1.1.1', false],
    ['IPv6 address', '2001:db8::1', '2001:db8:0:0:0:0:0:1', 'fec0::2', true],
    ['IPv6 CIDR', '2001:db8::/32', '2001:db8:1234::5', 'fec0::2', true],
    ['IPv6 CIDR miss', '2001:db9::/32', '2001:db8:1234::5', 'fec0::2', false],
    ['IPv6 /127', 'fec0::2/127', 'fec0::3', '::1', true],
    ['IPv4-mapped packet vs IPv4 criterion', '192.0.2.0/24', '::ffff:192.0.2.9', '::1', true],
    ['IPv4 packet vs mapped criterion', '::ffff:192.0.2.9', '192.0.2.9', '10.0.0.1', true],
    ['mapped CIDR', '::ffff:192.0.2.0/120', '192.0.2.9', '10.0.0.1', true],
    ['IPv4 criterion vs IPv6 packet', '192.0.2.9', '2001:db8::1', 'fec0::1', false],
  ];
  it.each(cases)('%s', (_n, spec, src, dst, expected) => {
    expect(matches({ provider_ip: spec }, invite(), src, dst)).toBe(expected);
  });
});

describe('text, call_id, AND', () => {
  it('text: case-insensitive substring of the whole message, body included', () => {
    const m = invite({ extra: ['User-Agent: Zoiper rv2.8'], body: 'v=0\r\ns=SecretCall\r\n' });
    expect(matches({ text: 'zoiper RV2' }, m)).toBe(true);
    expect(matches({ text: 'secretcall' }, m)).toBe(true);
    expect(matches({ text: 'call-1@example' }, m)).toBe(true);
    expect(matches({ text: 'Zoiper.rv2' }, m)).toBe(false); // plain text, not a regex
    expect(matches({ text: 'nothere' }, m)).toBe(false);
  });
  it('text: no-letter needle and UTF-8', () => {
    const m = invite({ extra: ['Subject: Grüße 4430191'] });
    expect(matches({ text: '4430191' }, m)).toBe(true);
    expect(matches({ text: 'GRÜSSE' }, m)).toBe(false);
    expect(matches({ text: 'grüße' }, m)).toBe(true);
  });
  it('call_id exact, case-sensitive, compact i: included', () => {
    expect(matches({ call_id: 'call-1@example.com' }, invite())).toBe(true);
    expect(matches({ call_id: 'call-1@example.co' }, invite())).toBe(false);
    expect(matches({ call_id: 'CALL-1@example.com' }, invite())).toBe(false);
  });
  it('all given criteria must match', () => {
    const m = invite({ from: '<sip:15554430191@example.com>' });
    expect(matches({ from: '15554430191', domain: 'example.com', call_id: 'call-1@example.com' }, m)).toBe(true);
    expect(matches({ from: '15554430191', domain: 'example.org' }, m)).toBe(false);
    expect(matches({ from: '15554430191', provider_ip: '10.0.0.0/8' }, m)).toBe(false);
  });
  it('log lines: only text-only sessions take a line by themselves', () => {
    expect(compileCriteria({ text: 'ERROR 503' }).testLogLine('x: error 503 on trunk')).toBe(true);
    expect(compileCriteria({ text: 'ERROR 503' }).testLogLine('fine')).toBe(false);
    expect(compileCriteria({ text: 'ERROR 503', from: '1' }).testLogLine('error 503')).toBe(false);
  });
});

describe('prefilter (raw necessary condition)', () => {
  const raw = (s: string) => Buffer.from(s, 'latin1');
  it('a number: its last 7 significant digits, contiguous, separated or percent-encoded, in any URI', () => {
    const c = compileCriteria({ from: '+1 (555) 443-0191' });
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <sip:+15554430191@h>\r\n\r\n'), '', '')).toBe(true);
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <tel:+1-555-443-0191>\r\n\r\n'), '', '')).toBe(true);
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <TEL:+1-555-443-0191>\r\n\r\n'), '', '')).toBe(true);
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <sip:1-555-443-0191@h;USER=PHONE>\r\n\r\n'), '', '')).toBe(true);
    // the full comparison accepts separators in any URI user, so the raw check must too
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <sip:1-555-443-0191@h>\r\n\r\n'), '', '')).toBe(true);
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <sip:1%35%35%35443%2D0191@h>\r\n\r\n'), '', '')).toBe(true);
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <tel:+1-555-443-0192>\r\n\r\n'), '', '')).toBe(false);
    expect(c.prefilter(raw('INVITE sip:x SIP/2.0\r\nFrom: <sip:alice@h>\r\n\r\n'), '', '')).toBe(false);
  });
});
