// SIP header-name facts shared by the Buffer-based parser (sip.ts) and by code that must also run in
// the browser (core/ladder reads event text there): plain data, no Buffer, no Node API.

/** RFC 3261 §7.3.3 and the IANA registry of compact forms. */
export const SIP_COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'call-id',
  f: 'from',
  t: 'to',
  v: 'via',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
  o: 'event',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  u: 'allow-events',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  y: 'identity',
  n: 'identity-info',
};
