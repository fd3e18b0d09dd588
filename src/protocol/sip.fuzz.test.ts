// Fuzz-style robustness test for the parsers of part B (sip, sip-uri, sdp, rtp, rtcp, stun, dtls,
// hep): 20k seeded mutations (bit flips, byte overwrites, truncations, insertions, deletions, slice
// duplication, length-field lies, line-ending rewrites) of real payloads from the shared captures.
// Nothing may throw, and every result must be a value or a ParseError with a code and an offset.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDtls } from './dtls.js';
import { HepStreamFramer, decodeHep, encodeHep } from './hep.js';
import { parseRtcp } from './rtcp.js';
import { looksLikeRtcp, looksLikeRtp, parseRtp } from './rtp.js';
import { parseSdp } from './sdp.js';
import { looksLikeSip, parseSip, parseSipDatagram, parseSipSummary } from './sip.js';
import type { SipMessage, SipSummary } from './sip.js';
import { parseNameAddr, parseUri, parseVia } from './sip-uri.js';
import { classifyRfc7983, looksLikeStun, parseStun } from './stun.js';

const PCAPS = path.resolve(process.cwd(), '../shared/pcaps');

const payloads = (file: string, filter: string, max: number): Buffer[] =>
  execFileSync('tshark', ['-r', path.join(PCAPS, file), '-Y', filter, '-T', 'fields', '-e', 'udp.payload'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 })
    .toString()
    .split('\n')
    .filter(Boolean)
    .slice(0, max)
    .map((h) => Buffer.from(h, 'hex'));

/** xorshift32: deterministic, so a failure names a reproducible iteration. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function mutate(src: Buffer, r: () => number): Buffer {
  const int = (n: number): number => Math.floor(r() * n);
  let b = Buffer.from(src);
  const rounds = 1 + int(4);
  for (let k = 0; k < rounds; k++) {
    const at = b.length === 0 ? 0 : int(b.length);
    switch (int(9)) {
      case 0: // bit flip
        if (b.length) b[at] ^= 1 << int(8);
        break;
      case 1: // byte overwrite with an interesting value
        if (b.length) b[at] = [0, 0xff, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x2c, 0x3c, 0x22, 0x80, int(256)][int(12)];
        break;
      case 2: // truncation
        b = b.subarray(0, at);
        break;
      case 3: // insertion of random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256))), b.subarray(at)]);
        break;
      case 4: // deletion
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(32))]);
        break;
      case 5: // duplicate a slice
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(64)), b.subarray(at)]);
        break;
      case 6: // 16-bit length-field lie at a plausible header offset
        if (b.length >= 8) b.writeUInt16BE(int(0x10000), [2, 4, 10, 11, int(b.length - 1)][int(5)] % (b.length - 1));
        break;
      case 7: // Content-Length lie
        b = Buffer.from(b.toString('latin1').replace(/(Content-Length|l)\s*:\s*\d+/i, `Content-Length: ${int(100000)}`), 'latin1');
        break;
      default: // line endings CRLF -> LF, or fold a line
        b = Buffer.from(r() < 0.5 ? b.toString('latin1').replace(/\r\n/g, '\n') : b.toString('latin1').replace('\r\n', '\r\n '), 'latin1');
        break;
    }
  }
  return b;
}

// The parsers' last-resort guards turn a throw into code `internal`: that must never happen either.
const isResult = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { ok?: unknown; code?: unknown; offset?: unknown };
  if (o.ok === true) return true;
  return o.ok === false && typeof o.code === 'string' && o.code !== 'internal' && typeof o.offset === 'number' && Number.isInteger(o.offset) && o.offset >= 0;
};

// Plain checks (vitest's expect is too slow for 20k × 15 assertions).
function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** parseSipSummary gives exactly parseSipDatagram's start line, Call-ID and CSeq. */
function summaryAgrees(b: Buffer, start?: number, end?: number): boolean {
  const full = parseSipDatagram(b, start, end);
  const sum: SipSummary | null = parseSipSummary(b, start, end);
  if (!full.ok) return sum === null && full.code === 'not_sip';
  if (sum === null) return false;
  const m: SipMessage = full;
  return (
    sum.isRequest === m.isRequest &&
    sum.method === m.method &&
    sum.statusCode === m.statusCode &&
    sum.reason === m.reason &&
    sum.callId === m.callId &&
    sum.cseq?.seq === m.cseq?.seq &&
    sum.cseq?.method === m.cseq?.method
  );
}

function exercise(b: Buffer): void {
  check(summaryAgrees(b), 'parseSipSummary agrees with parseSipDatagram');
  check(summaryAgrees(b, 3, b.length - 2), 'parseSipSummary agrees with parseSipDatagram (sub-range)');
  // SIP, with every accessor a caller would use
  check(looksLikeSip(b) === (parseSip(b).ok || (parseSip(b) as { code: string }).code !== 'not_sip'), 'looksLikeSip agrees with parseSip');
  for (const m of [parseSip(b), parseSipDatagram(b), parseSip(b, 3, b.length - 2)]) {
    check(isResult(m), 'm');
    if (!m.ok) continue;
    for (const k of ['via', 'contact', 'from', 'to', 'route', 'p-asserted-identity', 'x-unknown']) m.headerAll(k);
    for (const v of m.headerAll('via')) parseVia(v);
    for (const k of ['from', 'to', 'contact', 'p-asserted-identity', 'diversion']) for (const v of m.headerAll(k)) parseNameAddr(v);
    if (m.requestUri !== undefined) parseUri(m.requestUri);
    check(isResult(parseSdp(m.body)), 'parseSdp(m.body)');
  }
  check(isResult(parseSdp(b)), 'parseSdp(b)');
  check(isResult(parseRtcp(b)), 'parseRtcp(b)');
  check(isResult(parseRtp(b)), 'parseRtp(b)');
  looksLikeRtp(b);
  looksLikeRtcp(b);
  check(isResult(parseStun(b)), 'parseStun(b)');
  looksLikeStun(b);
  check(isResult(parseDtls(b)), 'parseDtls(b)');
  if (b.length) classifyRfc7983(b[0]);
  const h = decodeHep(b);
  check(isResult(h), 'h');
  if (h.ok) {
    // a decoded packet re-encodes to its own bytes, whatever the mutation
    check(encodeHep(h).equals(h.raw), 'HEP round trip');
    parseSipDatagram(h.payload);
  }
}

describe('fuzz: 20k mutations of real payloads through every part-B parser', () => {
  const corpus = [
    ...payloads('sip_udp_register-digest_invite_cancel_rtp__wireshark-aaa.pcap', 'sip', 40),
    ...payloads('sip_udp_fax_t38-reinvite_488__wireshark.pcap', 'sip && sdp', 10),
    ...payloads('sip_ipv6_udp_basic-call__heplify.pcap', 'sip', 6),
    ...payloads('sip_udp_FUZZED-aaa_malformed__ndpi.pcap', 'sip', 20),
    ...payloads('hep3_udp9060_sip_rtcp-json_log__hepgen.pcap', 'udp', 8),
    ...payloads('sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap', 'rtcp', 26),
    ...payloads('sip_udp_call_rtp-g711_rtcp__wireshark-SIP_CALL_RTP_G711.pcap', 'rtp', 10),
    ...payloads('sip_udp_asterisk_zrtp_reinvite_register-401__wireshark.pcap', 'zrtp', 5),
    Buffer.from('0001001821124a42b7e7a701bc34d686fa87dfae000600094573417773657373000000002400046e7f00ff', 'hex'),
    Buffer.from('16fefd000000000000000000200100002000000000000000201111111111111111111111111111111111111111111111111111111111111111', 'hex'),
  ];

  it('corpus is loaded', () => {
    expect(corpus.length).toBeGreaterThan(100);
  });

  it('nothing throws; every result is a value or a ParseError with code and offset', () => {
    const r = rng(0x7e57);
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      const b = mutate(corpus[i % corpus.length], r);
      try {
        exercise(b);
      } catch (e) {
        throw new Error(`iteration ${i} (input ${b.toString('hex').slice(0, 200)}…): ${(e as Error).message}`, { cause: e });
      }
    }
  });

  it('the HEP stream framer survives mutated streams and stays bounded', () => {
    const r = rng(0xbeef);
    const base = Buffer.concat(payloads('hep3_udp9060_sip_rtcp-json_log__hepgen.pcap', 'udp', 8));
    for (let i = 0; i < 300; i++) {
      const f = new HepStreamFramer();
      const s = mutate(base, r);
      let n = 0;
      for (let o = 0; o < s.length; o += 1 + Math.floor(r() * 700)) {
        for (const p of f.push(s.subarray(o, o + 1 + Math.floor(r() * 700)))) {
          n++;
          expect(isResult(decodeHep(p))).toBe(true);
        }
        expect(f.pending).toBeLessThanOrEqual(2 * 0x10000 + 1400);
      }
      expect(n).toBeLessThanOrEqual(s.length / 6);
    }
  });
});
