// Tests for sip.ts and sip-uri.ts: unit vectors, compact forms, folding, LF-only, truncation, and
// tshark as the oracle over every UDP datagram of the shared captures.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIP_COMPACT_FORMS, looksLikeSip, parseSip, parseSipDatagram, splitTopLevelCommas } from './sip.js';
import type { SipMessage, SipTruncatedBody } from './sip.js';
import { parseNameAddr, parseUri, parseVia } from './sip-uri.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');

const ok = (s: string | Buffer): SipMessage => {
  const m = parseSip(typeof s === 'string' ? Buffer.from(s) : s);
  if (!m.ok) throw new Error(`expected SIP, got ${m.code}: ${m.message}`);
  return m;
};

const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Type: application/sdp',
  'Content-Length: 4',
  '',
  'v=0\r',
].join('\r\n');

describe('parseSip: start lines', () => {
  it('parses a request with CRLF', () => {
    const m = ok(INVITE);
    expect(m.isRequest).toBe(true);
    expect(m.method).toBe('INVITE');
    expect(m.requestUri).toBe('sip:bob@biloxi.example.com');
    expect(m.version).toBe('SIP/2.0');
    expect(m.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect(m.cseq).toEqual({ seq: 314159, method: 'INVITE' });
    expect(m.body.toString()).toBe('v=0\r');
    expect(m.headers.map((h) => h.key)).toEqual([
      'via', 'max-forwards', 'to', 'from', 'call-id', 'cseq', 'contact', 'content-type', 'content-length',
    ]);
    expect(m.header('FROM')).toBe('"Alice" <sip:alice@atlanta.example.com>;tag=1928301774');
    expect(m.header('f')).toBe(m.header('from'));
    expect(m.raw.length).toBe(Buffer.byteLength(INVITE));
    expect(m.headersComplete).toBe(true);
    expect(m.malformedHeaders).toBe(0);
  });

  it('parses a status line, reason with spaces', () => {
    const m = ok('SIP/2.0 407 Proxy Authentication Required\r\nCall-ID: x\r\nCSeq: 2 INVITE\r\n\r\n');
    expect(m.isRequest).toBe(false);
    expect(m.statusCode).toBe(407);
    expect(m.reason).toBe('Proxy Authentication Required');
    expect(m.method).toBeUndefined();
    expect(m.cseq).toEqual({ seq: 2, method: 'INVITE' });
    expect(m.body.length).toBe(0);
  });

  it('keeps fuzzed and unknown method tokens as written (tshark does)', () => {
    expect(ok('REGIStER sip:x.com SIP/2.0\r\n\r\n').method).toBe('REGIStER');
    expect(ok('reaQm tel:+1555 SIP/2.0\n\n').method).toBe('reaQm');
  });

  it.each([
    ['empty', ''],
    ['HTTP', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['no URI colon', 'INVITE bob SIP/2.0\r\n\r\n'],
    ['wrong version', 'INVITE sip:b@x SIP/3.0\r\n\r\n'],
    ['lowercase version', 'INVITE sip:b@x sip/2.0\r\n\r\n'],
    ['trailing junk after version', 'INVITE sip:b@x SIP/2.0 x\r\n\r\n'],
    ['status code not 3 digits', 'SIP/2.0 20 OK\r\n\r\n'],
    ['status without reason separator', 'SIP/2.0 200\r\n\r\n'],
    ['leading space', ' INVITE sip:b@x SIP/2.0\r\n\r\n'],
    ['leading empty line', '\r\nINVITE sip:b@x SIP/2.0\r\n\r\n'],
    ['NUL in first line', 'INVITE sip:b@x\0 SIP/2.0\r\n\r\n'],
    ['RTP', Buffer.from('80080001000000a0deadbeef', 'hex')],
  ])('rejects %s as not_sip', (_name, input) => {
    const buf = typeof input === 'string' ? Buffer.from(input) : input;
    const r = parseSip(buf);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('not_sip');
      expect(r.offset).toBe(0);
    }
    expect(looksLikeSip(buf)).toBe(false);
  });

  it('looksLikeSip agrees with parseSip on good vectors', () => {
    expect(looksLikeSip(Buffer.from(INVITE))).toBe(true);
    expect(looksLikeSip(Buffer.from('SIP/2.0 200 OK\r\n'))).toBe(true);
    expect(looksLikeSip(Buffer.from('xxSIP/2.0 200 OK\r\n'), 2)).toBe(true);
  });

  it('non-ASCII bytes in the start line (UTF-8 request URI and reason)', () => {
    const m = ok('MESSAGE sip:josé@example.com SIP/2.0\r\nCall-ID: ü1\r\n\r\n');
    expect(m.requestUri).toBe('sip:josé@example.com');
    expect(m.callId).toBe('ü1');
    expect(ok('SIP/2.0 486 Occupé\r\n\r\n').reason).toBe('Occupé');
  });

  it('honours start/end and returns subarrays (no copy)', () => {
    const pre = Buffer.from('garbage');
    const buf = Buffer.concat([pre, Buffer.from(INVITE), Buffer.from('trailer')]);
    const m = parseSip(buf, pre.length, buf.length - 7);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.raw.buffer).toBe(buf.buffer);
    expect(m.raw.byteOffset).toBe(buf.byteOffset + pre.length);
    expect(m.body.toString()).toBe('v=0\r');
  });
});

describe('parseSip: headers', () => {
  it('resolves every compact form', () => {
    const names = Object.keys(SIP_COMPACT_FORMS);
    expect(names.sort().join('')).toBe('abcdefijklmnorstuvxy');
    const lines = names.map((c, i) => `${c}: v${i}`);
    const m = ok(`OPTIONS sip:x SIP/2.0\r\n${lines.join('\r\n')}\r\nl: 0\r\n\r\n`);
    names.forEach((c, i) => {
      expect(m.header(SIP_COMPACT_FORMS[c])).toBe(`v${i}`);
      expect(m.header(c.toUpperCase())).toBe(`v${i}`);
    });
    expect(m.header('call-id')).toBe(`v${names.indexOf('i')}`);
    expect(m.callId).toBe(`v${names.indexOf('i')}`);
  });

  it('exact table from the brief', () => {
    expect(SIP_COMPACT_FORMS).toEqual({
      i: 'call-id', f: 'from', t: 'to', v: 'via', m: 'contact', l: 'content-length', c: 'content-type',
      k: 'supported', s: 'subject', e: 'content-encoding', o: 'event', r: 'refer-to', b: 'referred-by',
      x: 'session-expires', u: 'allow-events', a: 'accept-contact', j: 'reject-contact',
      d: 'request-disposition', y: 'identity', n: 'identity-info',
    });
  });

  it('unfolds continuation lines (SP and HT)', () => {
    const m = ok('MESSAGE sip:x SIP/2.0\r\nSubject: I know you\'re there,\r\n   pick up the phone\r\n\t and talk to me!\r\nCall-ID: 1\r\n\r\n');
    expect(m.header('subject')).toBe("I know you're there, pick up the phone and talk to me!");
    expect(m.header('call-id')).toBe('1');
  });

  it('accepts bare LF line endings and odd spacing', () => {
    const m = ok('BYE sip:x@y SIP/2.0\nCALL-ID   :   abc  \nCseq:7    BYE\ncontent-length:3\n\nxyzEXTRA');
    expect(m.callId).toBe('abc');
    expect(m.cseq).toEqual({ seq: 7, method: 'BYE' });
    expect(m.body.toString()).toBe('xyz');
    expect(m.headers[0].name).toBe('CALL-ID');
    expect(m.headers[0].key).toBe('call-id');
  });

  it('keeps repeated headers and splits list headers at top-level commas only', () => {
    const m = ok(
      'INVITE sip:x SIP/2.0\r\n' +
        'Via: SIP/2.0/UDP a;branch=1, SIP/2.0/TCP b;branch=2\r\n' +
        'v: SIP/2.0/UDP c;branch=3\r\n' +
        'Contact: "Smith, John" <sip:j@x;p=a,b>, <sip:k@y>\r\n' +
        'Subject: a, b\r\n\r\n',
    );
    expect(m.headers.filter((h) => h.key === 'via')).toHaveLength(2);
    expect(m.headerAll('via')).toEqual(['SIP/2.0/UDP a;branch=1', 'SIP/2.0/TCP b;branch=2', 'SIP/2.0/UDP c;branch=3']);
    expect(m.headerAll('m')).toEqual(['"Smith, John" <sip:j@x;p=a,b>', '<sip:k@y>']);
    expect(m.headerAll('subject')).toEqual(['a, b']);
    expect(m.headerAll('x-none')).toEqual([]);
  });

  it('skips and counts header lines without a colon; keeps unknown headers', () => {
    const m = ok('OPTIONS sip:x SIP/2.0\r\nthis is junk\r\nX-Tenant: acme\r\n: novalue\r\nCall-ID: 9\r\n\r\n');
    expect(m.malformedHeaders).toBe(2);
    expect(m.header('x-tenant')).toBe('acme');
    expect(m.callId).toBe('9');
  });

  it('a lone CR ends a header line like tshark', () => {
    const m = ok('CANCEL sip:x SIP/2.0\r\nCSeq: 1 CANCEL\rContent-Length: 0\r\nCall-ID: z\r\n\r\n');
    expect(m.cseq).toEqual({ seq: 1, method: 'CANCEL' });
    expect(m.contentLength).toBe(0);
    expect(m.callId).toBe('z');
  });

  it('cuts a header value at NUL like tshark', () => {
    expect(ok('OPTIONS sip:x SIP/2.0\r\nCall-ID: abc\0def\r\n\r\n').callId).toBe('abc');
  });

  it('decodes UTF-8 header text', () => {
    const m = ok('MESSAGE sip:x SIP/2.0\r\nFrom: "José Ñandú" <sip:j@x>\r\n\r\n');
    expect(parseNameAddr(m.header('from') ?? '')?.displayName).toBe('José Ñandú');
  });
});

describe('parseSip: body and framing', () => {
  it('without Content-Length the body is the rest (UDP)', () => {
    const m = ok('MESSAGE sip:x SIP/2.0\r\nCall-ID: 1\r\n\r\nhello world');
    expect(m.body.toString()).toBe('hello world');
    expect(m.contentLength).toBeUndefined();
  });

  it('Content-Length bigger than the input gives truncated_body with framing data', () => {
    const head = 'MESSAGE sip:x SIP/2.0\r\nl: 10\r\n\r\n';
    const r = parseSip(Buffer.from(`${head}abc`));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const t = r as SipTruncatedBody;
    expect(t.code).toBe('truncated_body');
    expect(t.headerEnd).toBe(head.length);
    expect(t.contentLength).toBe(10);
    expect(t.available).toBe(3);
    expect(t.offset).toBe(head.length + 3);
    expect(t.partial.bodyTruncated).toBe(true);
    expect(t.partial.body.toString()).toBe('abc');
    const d = parseSipDatagram(Buffer.from(`${head}abc`));
    expect(d.ok && [d.method, d.bodyTruncated, d.body.toString(), d.contentLength]).toEqual(['MESSAGE', true, 'abc', 10]);
    const full = parseSipDatagram(Buffer.from(`${head}0123456789`));
    expect(full.ok && full.bodyTruncated).toBeUndefined();
  });

  it('several messages back to back: raw stops at Content-Length', () => {
    const a = 'SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhi';
    const b = 'SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n';
    const buf = Buffer.from(a + b);
    const m1 = ok(buf);
    expect(m1.raw.length).toBe(a.length);
    const m2 = parseSip(buf, m1.raw.length);
    expect(m2.ok && m2.statusCode).toBe(180);
  });

  it('the first empty line ends the header block, whichever its ending, never one in the body', () => {
    const crlf = ok('MESSAGE sip:x SIP/2.0\r\nCall-ID: 1\r\nl: 6\r\n\r\na\n\nb\r\n');
    expect(crlf.body.toString()).toBe('a\n\nb\r\n');
    const lf = ok('MESSAGE sip:x SIP/2.0\nCall-ID: 2\nl: 6\n\nx\r\n\r\ny');
    expect(lf.body.toString()).toBe('x\r\n\r\ny');
    const mixed = ok('MESSAGE sip:x SIP/2.0\nCall-ID: 3\n\r\nbody');
    expect([mixed.callId, mixed.body.toString()]).toEqual(['3', 'body']);
    const big = Buffer.concat([Buffer.from('OPTIONS sip:x SIP/2.0\r\nCall-ID: 4\r\n\r\n'), Buffer.alloc(100000, 0x41)]);
    const m = parseSip(big, 0, 33); // ends inside the header block, far before the 100 KB tail
    expect(m.ok && [m.headersComplete, m.callId, m.raw.length]).toEqual([false, '4', 33]);
  });

  it('a header block without its empty line is accepted as incomplete', () => {
    const m = ok('INVITE sip:x SIP/2.0\r\nCall-ID: cut');
    expect(m.headersComplete).toBe(false);
    expect(m.callId).toBe('cut');
    expect(m.body.length).toBe(0);
  });

  it('unparsable Content-Length is treated as absent', () => {
    const m = ok('MESSAGE sip:x SIP/2.0\r\nContent-Length: abc\r\n\r\nrest');
    expect(m.contentLength).toBeUndefined();
    expect(m.body.toString()).toBe('rest');
  });

  it('no header lines at all', () => {
    const m = ok('OPTIONS sip:x SIP/2.0\r\n\r\n');
    expect(m.headers).toEqual([]);
    expect(m.headersComplete).toBe(true);
  });
});

describe('splitTopLevelCommas', () => {
  it('respects quotes with escapes and angle brackets', () => {
    expect(splitTopLevelCommas('"a\\", b" <sip:x>, <sip:y;q=1,2>,,  z ')).toEqual(['"a\\", b" <sip:x>', '<sip:y;q=1,2>', 'z']);
  });
});

describe('parseUri', () => {
  it('sip with user, password, host, port, params, headers', () => {
    expect(parseUri('sip:alice:secret@atlanta.com:5061;transport=TCP;lr?subject=project&priority=urgent')).toEqual({
      scheme: 'sip', user: 'alice', password: 'secret', host: 'atlanta.com', port: 5061,
      params: { transport: 'TCP', lr: '' }, headers: { subject: 'project', priority: 'urgent' },
    });
  });
  it('sips without user', () => {
    expect(parseUri('SIPS:example.com')).toEqual({ scheme: 'sips', host: 'example.com', params: {} });
  });
  it('IPv6 hosts with and without port', () => {
    expect(parseUri('sip:bob@[2001:db8::10]:5070;user=phone')).toMatchObject({ user: 'bob', host: '[2001:db8::10]', port: 5070, params: { user: 'phone' } });
    expect(parseUri('sip:[fec0::1]')).toMatchObject({ host: '[fec0::1]' });
    expect(parseUri('sip:[fec0::1')).toBeNull();
  });
  it('telephone-subscriber user with params in the user part', () => {
    expect(parseUri('sip:+15554430191;npdi@gw.example.com;user=phone')).toMatchObject({ user: '+15554430191;npdi', host: 'gw.example.com', params: { user: 'phone' } });
  });
  it('tel URIs', () => {
    expect(parseUri('tel:+1-201-555-0123')).toEqual({ scheme: 'tel', user: '+1-201-555-0123', params: {} });
    expect(parseUri('tel:7042;phone-context=example.com')).toEqual({ scheme: 'tel', user: '7042', params: { 'phone-context': 'example.com' } });
    expect(parseUri('tel:')).toBeNull();
  });
  it('rejects other schemes and junk', () => {
    for (const s of ['http://x', 'mailto:a@b', '', 'sip:', 'sip:a@', 'sip:host:99999', 'sip:host:12a']) expect(parseUri(s)).toBeNull();
  });
});

describe('parseNameAddr', () => {
  it('quoted display name with header params', () => {
    expect(parseNameAddr('"Bob" <sip:b@x>;tag=1')).toEqual({
      displayName: 'Bob', uri: { scheme: 'sip', user: 'b', host: 'x', params: {} }, rawUri: 'sip:b@x', params: { tag: '1' },
    });
  });
  it('token display name and URI params inside <>', () => {
    const n = parseNameAddr('Bob Smith <sip:b@x;transport=udp>;tag=a;expires=60');
    expect(n?.displayName).toBe('Bob Smith');
    expect(n?.uri?.params).toEqual({ transport: 'udp' });
    expect(n?.params).toEqual({ tag: 'a', expires: '60' });
  });
  it('bare addr-spec: parameters belong to the header', () => {
    const n = parseNameAddr('sip:b@x;tag=1');
    expect(n?.rawUri).toBe('sip:b@x');
    expect(n?.uri?.params).toEqual({});
    expect(n?.params).toEqual({ tag: '1' });
    expect(n?.displayName).toBeUndefined();
  });
  it('<tel:…>', () => {
    expect(parseNameAddr('<tel:+1555>')?.uri).toEqual({ scheme: 'tel', user: '+1555', params: {} });
  });
  it('escaped quote in display name; unknown scheme keeps rawUri', () => {
    const n = parseNameAddr('"A \\"B\\"" <urn:x>');
    expect(n?.displayName).toBe('A "B"');
    expect(n?.uri).toBeNull();
    expect(n?.rawUri).toBe('urn:x');
  });
  it('junk gives null', () => {
    for (const s of ['', '"unterminated <sip:x>', '<sip:x', '"Bob" sip:x']) expect(parseNameAddr(s)).toBeNull();
  });
});

describe('parseVia', () => {
  it('branch, received, rport with value', () => {
    expect(parseVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=1.2.3.4;rport=5062')).toEqual({
      transport: 'UDP', host: '10.0.0.1', port: 5060, branch: 'z9hG4bK1', received: '1.2.3.4', rport: 5062,
      params: { branch: 'z9hG4bK1', received: '1.2.3.4', rport: '5062' },
    });
  });
  it('rport flag, spaces around slashes, lowercase transport, IPv6', () => {
    const v = parseVia('SIP / 2.0 / wss [2001:db8::1]:443 ;rport;branch=z9hG4bKx');
    expect(v).toMatchObject({ transport: 'WSS', host: '[2001:db8::1]', port: 443, rport: true, branch: 'z9hG4bKx' });
  });
  it('no port', () => {
    const v = parseVia('SIP/2.0/TLS proxy.example.com;branch=z9');
    expect(v).toMatchObject({ transport: 'TLS', host: 'proxy.example.com', branch: 'z9' });
    expect(v && 'port' in v).toBe(false);
  });
  it('junk gives null', () => {
    for (const s of ['', 'SIP/2.0', 'SIP/2.0/UDP', 'SIP/2.0/UDP [::1']) expect(parseVia(s)).toBeNull();
  });
});

// tshark is the oracle: every UDP payload of every shared capture through parseSip, compared with
// tshark's SIP dissection of the same frames (frame, Call-ID, method, status).
describe('parseSip vs tshark on the shared captures (UDP)', () => {
  const files = readdirSync(PCAPS).filter((f) => f.endsWith('.pcap'));
  const run = (args: string[]): string[] =>
    execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 })
      .toString()
      .split('\n')
      .filter((l) => l.trim() !== '');

  it.each(files)('%s', (name) => {
    const f = path.join(PCAPS, name);
    const ours = new Map<string, string>();
    for (const row of run(['-r', f, '-Y', 'udp', '-T', 'fields', '-e', 'frame.number', '-e', 'udp.payload'])) {
      const [frame, hex] = row.split('\t');
      if (!hex) continue;
      const b = Buffer.from(hex, 'hex');
      const m = parseSipDatagram(b);
      if (m.ok) ours.set(frame, [m.callId ?? '', m.method ?? '', m.statusCode ?? ''].join('|'));
      // the strict parser agrees here: no UDP datagram of the shared captures has a short body
      expect(parseSip(b).ok).toBe(m.ok);
    }
    const theirs = new Map<string, string>();
    for (const row of run(['-r', f, '-Y', 'sip && udp', '-T', 'fields', '-e', 'frame.number', '-e', 'sip.Call-ID', '-e', 'sip.Method', '-e', 'sip.Status-Code'])) {
      const [frame, cid = '', method = '', status = ''] = row.split('\t');
      theirs.set(frame, [cid, method, status].join('|'));
    }
    expect(theirs.size).toBeGreaterThanOrEqual(0);
    expect([...ours.entries()].sort()).toEqual([...theirs.entries()].sort());
  });
});

// tshark as the oracle for sip-uri.ts on real traffic: Request-URI, From/To (user, host, tag), every
// Via (transport, sent-by, branch, rport, received) and CSeq, for each SIP-over-UDP message.
// Skipped, with reasons: the fuzzed capture (tshark guesses inside damaged URIs, e.g. a To with no
// closing '>', where we give up), and the host/port/Via fields of the IPv6 capture, whose UA writes
// IPv6 addresses without brackets: tshark splits `fec0:0:0:0:216:d3ff:fe0d:22c:5060` at the first
// colon (host "fec0"), we read eight groups and a port.
describe('sip-uri vs tshark on the shared captures (UDP)', () => {
  const FIELDS = [
    'sip.r-uri.user', 'sip.r-uri.host', 'sip.r-uri.port', 'sip.from.user', 'sip.from.host', 'sip.from.tag', 'sip.to.user', 'sip.to.host',
    'sip.to.tag', 'sip.Via.transport', 'sip.Via.sent-by.address', 'sip.Via.sent-by.port', 'sip.Via.branch', 'sip.Via.rport',
    'sip.Via.received', 'sip.CSeq.seq', 'sip.CSeq.method',
  ];
  const IPV6_SKIP = new Set(['sip.r-uri.host', 'sip.r-uri.port', 'sip.from.host', 'sip.to.host', 'sip.Via.sent-by.address', 'sip.Via.sent-by.port', 'sip.Via.branch']);
  const files = readdirSync(PCAPS).filter((f) => f.endsWith('.pcap') && !f.includes('FUZZED'));
  it.each(files)('%s', (name) => {
    const args = ['-r', path.join(PCAPS, name), '-Y', 'sip && udp', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|', '-e', 'frame.number', '-e', 'udp.payload'];
    for (const f of FIELDS) args.push('-e', f);
    const rows = execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 }).toString().split('\n').filter(Boolean);
    for (const row of rows) {
      const [frame, hex, ...theirs] = row.split('\t');
      const m = parseSipDatagram(Buffer.from(hex, 'hex'));
      expect(m.ok).toBe(true);
      if (!m.ok) continue;
      const ru = m.requestUri !== undefined ? parseUri(m.requestUri) : null;
      const from = parseNameAddr(m.header('from') ?? '');
      const to = parseNameAddr(m.header('to') ?? '');
      const vias = m.headerAll('via').map((v) => parseVia(v));
      const list = (xs: (string | number | undefined)[]): string => xs.filter((x) => x !== undefined).join('|');
      const ours = [
        ru?.user, ru?.host, ru?.port, from?.uri?.user, from?.uri?.host, from?.params.tag, to?.uri?.user, to?.uri?.host, to?.params.tag,
        list(vias.map((v) => v?.transport)), list(vias.map((v) => v?.host)), list(vias.map((v) => v?.port)), list(vias.map((v) => v?.branch)),
        list(vias.map((v) => (v?.rport === true ? 'rport' : v?.rport))), list(vias.map((v) => v?.received)), m.cseq?.seq, m.cseq?.method,
      ].map((x) => (x === undefined ? '' : String(x)));
      const skip = name.includes('ipv6') ? IPV6_SKIP : new Set<string>();
      const pick = (xs: string[]): Record<string, string> => Object.fromEntries(FIELDS.map((f, i) => [f, xs[i] ?? '']).filter(([f]) => !skip.has(f)));
      expect(pick(ours), `frame ${frame}`).toEqual(pick(theirs));
    }
  });
  it('IPv6 without brackets, as that capture writes it', () => {
    expect(parseUri('sip:fec0:0:0:0:216:d3ff:fe0d:22c:5060')).toMatchObject({ host: 'fec0:0:0:0:216:d3ff:fe0d:22c', port: 5060 });
    expect(parseVia('SIP/2.0/UDP fe80:0:0:0:21a:a0ff:fe07:32e0:5060;branch=z9hG4bKkdjuw8376')).toMatchObject({ host: 'fe80:0:0:0:21a:a0ff:fe07:32e0', port: 5060, branch: 'z9hG4bKkdjuw8376' });
    expect(parseUri('sip:bob@2001:db8::1')).toMatchObject({ user: 'bob', host: '2001:db8::1' });
  });
});
