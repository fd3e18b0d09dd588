// Test helpers: SIP messages written as text and parsed with the real parser.
import { parseSip, type SipMessage } from '../../../protocol/sip.js';

export interface Msg {
  /** start line, e.g. `INVITE sip:bob@example.com SIP/2.0` or `SIP/2.0 200 OK` */
  start: string;
  headers: string[];
  body?: string;
}

export function sipText(m: Msg): string {
  const body = m.body ?? '';
  const hs = [...m.headers];
  if (!hs.some((h) => /^(content-length|l)\s*:/i.test(h))) hs.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${m.start}\r\n${hs.join('\r\n')}\r\n\r\n${body}`;
}

export function sip(m: Msg): SipMessage {
  const r = parseSip(Buffer.from(sipText(m)));
  if (!r.ok) throw new Error(`test SIP did not parse: ${r.message}`);
  return r;
}

export interface CallOpts {
  callId?: string;
  from?: string;
  to?: string;
  ruri?: string;
  fromTag?: string;
  toTag?: string;
  cseq?: number;
  extra?: string[];
  body?: string;
}

const base = (o: CallOpts, method: string, withToTag: boolean): string[] => [
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1',
  `From: ${o.from ?? '<sip:alice@example.com>'};tag=${o.fromTag ?? 'ftag'}`,
  `To: ${o.to ?? '<sip:bob@example.com>'}${withToTag && o.toTag !== '' ? `;tag=${o.toTag ?? 'ttag'}` : ''}`,
  `Call-ID: ${o.callId ?? 'call-1@example.com'}`,
  `CSeq: ${o.cseq ?? 1} ${method}`,
  ...(o.extra ?? []),
  ...(o.body !== undefined ? ['Content-Type: application/sdp'] : []),
];

/** A request; in-dialog (To-tag) unless method is initial and toTag is not given. */
export function request(method: string, o: CallOpts = {}, inDialog = false): SipMessage {
  return sip({
    start: `${method} ${o.ruri ?? 'sip:bob@example.com'} SIP/2.0`,
    headers: base(o, method, inDialog || o.toTag !== undefined),
    body: o.body,
  });
}

export function response(code: number, method: string, o: CallOpts = {}, reason = 'X'): SipMessage {
  return sip({ start: `SIP/2.0 ${code} ${reason}`, headers: base(o, method, code !== 100), body: o.body });
}

export const meta = (tsUs = 1_000_000, src = '192.0.2.10', dst = '198.51.100.20', transport = 'udp') => ({
  tsUs,
  transport,
  src: { ip: src, port: 5060 },
  dst: { ip: dst, port: 5060 },
});
