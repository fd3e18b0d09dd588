// SIP header value grammar: SIP/SIPS URIs (RFC 3261 §19.1), tel URIs (RFC 3966), name-addr /
// addr-spec with header parameters (RFC 3261 §20.10, §25.1) and Via (RFC 3261 §20.42).
// Pure string functions that never throw: malformed input gives null (or a best-effort Via).
// It does not own finding headers in a message (sip.ts).

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  /** sip/sips: user part as written (not %-unescaped); tel: the number (global or local), as written */
  user?: string;
  password?: string;
  /** hostname, IPv4, or IPv6 with its brackets (`[2001:db8::1]`) as written */
  host?: string;
  port?: number;
  /** URI parameters, keys lowercased; a flag parameter (`;lr`) has value '' */
  params: Record<string, string>;
  /** `?h=v&…` headers of a sip/sips URI */
  headers?: Record<string, string>;
}

export interface NameAddr {
  displayName?: string;
  uri: SipUri | null;
  /** the URI text as written (inside <> when present) */
  rawUri: string;
  /** header parameters (e.g. tag), keys lowercased */
  params: Record<string, string>;
}

export interface Via {
  /** sent-protocol transport, uppercased: UDP, TCP, TLS, SCTP, WS, WSS, … */
  transport: string;
  /** sent-by host; IPv6 keeps its brackets */
  host: string;
  port?: number;
  branch?: string;
  received?: string;
  /** number when `rport=N`, true when the bare `rport` flag */
  rport?: number | true;
  /** all parameters, keys lowercased */
  params: Record<string, string>;
}

/** Parse `;k=v;flag` (text starting at a `;` or not) into lowercase keys. Quoted values keep quotes removed. */
export function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ';' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= n) break;
    let j = i;
    while (j < n && s[j] !== '=' && s[j] !== ';') j++;
    const key = s.slice(i, j).trim().toLowerCase();
    let value = '';
    if (j < n && s[j] === '=') {
      j++;
      while (j < n && (s[j] === ' ' || s[j] === '\t')) j++;
      if (s[j] === '"') {
        let k = j + 1;
        let v = '';
        while (k < n && s[k] !== '"') {
          if (s[k] === '\\' && k + 1 < n) k++;
          v += s[k];
          k++;
        }
        value = v;
        j = k + 1;
        while (j < n && s[j] !== ';') j++;
      } else {
        const st = j;
        while (j < n && s[j] !== ';') j++;
        value = s.slice(st, j).trim();
      }
    }
    if (key !== '') out[key] = value;
    i = j;
  }
  return out;
}

function parsePort(s: string): number | undefined | null {
  if (s === '') return undefined;
  if (s.length > 5) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const p = Number(s);
  return p <= 65535 ? p : null;
}

/** Split `host[:port]` where host may be `[v6]`. Returns null when malformed. */
export function splitHostPort(s: string): { host: string; port?: number } | null {
  const t = s.trim();
  if (t === '') return null;
  if (t[0] === '[') {
    const close = t.indexOf(']');
    if (close < 0) return null;
    const host = t.slice(0, close + 1);
    const rest = t.slice(close + 1);
    if (rest === '') return { host };
    if (rest[0] !== ':') return null;
    const port = parsePort(rest.slice(1));
    if (port === null) return null;
    return port === undefined ? { host } : { host, port };
  }
  const colon = t.indexOf(':');
  if (colon < 0) return { host: t };
  if (t.indexOf(':', colon + 1) >= 0) {
    // An IPv6 address without brackets (invalid, but sent by real UAs, e.g. heplify's IPv6 capture:
    // `sip:fec0:0:0:0:216:d3ff:fe0d:22c:5060`). Nine groups without `::` means eight address groups
    // and a port; otherwise the whole text is the address. (tshark splits at the first colon.)
    const parts = t.split(':');
    if (parts.length === 9 && !t.includes('::')) {
      const port = parsePort(parts[8]);
      if (typeof port === 'number') return { host: parts.slice(0, 8).join(':'), port };
    }
    return { host: t };
  }
  const port = parsePort(t.slice(colon + 1));
  if (port === null || colon === 0) return null;
  return port === undefined ? { host: t.slice(0, colon) } : { host: t.slice(0, colon), port };
}

/** Parse a sip:, sips: or tel: URI. Returns null for other schemes or malformed input. */
export function parseUri(s: string): SipUri | null {
  const t = s.trim();
  const colon = t.indexOf(':');
  if (colon < 3 || colon > 4) return null;
  const scheme = t.slice(0, colon).toLowerCase();
  const rest = t.slice(colon + 1);
  if (scheme === 'tel') {
    // RFC 3966: tel:+1-555-0100;phone-context=…  (no host; parameters after the number)
    const semi = rest.indexOf(';');
    const number = (semi < 0 ? rest : rest.slice(0, semi)).trim();
    if (number === '') return null;
    return { scheme: 'tel', user: number, params: semi < 0 ? parseParams('') : parseParams(rest.slice(semi + 1)) };
  }
  if (scheme !== 'sip' && scheme !== 'sips') return null;
  let main = rest;
  let headers: Record<string, string> | undefined;
  const q = main.indexOf('?');
  if (q >= 0) {
    headers = {};
    for (const kv of main.slice(q + 1).split('&')) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      headers[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? '' : kv.slice(eq + 1);
    }
    main = main.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  const at = main.indexOf('@');
  if (at >= 0) {
    const userinfo = main.slice(0, at);
    main = main.slice(at + 1);
    const pc = userinfo.indexOf(':');
    if (pc >= 0) {
      user = userinfo.slice(0, pc);
      password = userinfo.slice(pc + 1);
    } else user = userinfo;
  }
  // The host part ends at the first ';' after any IPv6 bracket.
  let hostEnd: number;
  if (main[0] === '[') {
    const close = main.indexOf(']');
    if (close < 0) return null;
    const semi = main.indexOf(';', close);
    hostEnd = semi < 0 ? main.length : semi;
  } else {
    const semi = main.indexOf(';');
    hostEnd = semi < 0 ? main.length : semi;
  }
  const hp = splitHostPort(main.slice(0, hostEnd));
  if (hp === null) return null;
  const uri: SipUri = { scheme, host: hp.host, params: parseParams(main.slice(hostEnd)) };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (hp.port !== undefined) uri.port = hp.port;
  if (headers !== undefined) uri.headers = headers;
  return uri;
}

/**
 * Parse a From/To/Contact/P-Asserted-Identity style value: `"Bob" <sip:b@x>;tag=1`, `Bob <sip:b@x>`,
 * bare `sip:b@x;tag=1` (the parameters then belong to the header, RFC 3261 §20.10), `<tel:+1555>`.
 * Returns null when nothing address-like is present.
 */
export function parseNameAddr(s: string): NameAddr | null {
  const t = s.trim();
  if (t === '') return null;
  let i = 0;
  let displayName: string | undefined;
  if (t[0] === '"') {
    let j = 1;
    let d = '';
    while (j < t.length && t[j] !== '"') {
      if (t[j] === '\\' && j + 1 < t.length) j++;
      d += t[j];
      j++;
    }
    if (j >= t.length) return null;
    displayName = d;
    i = j + 1;
  }
  const lt = t.indexOf('<', i);
  if (lt >= 0) {
    const gt = t.indexOf('>', lt + 1);
    if (gt < 0) return null;
    if (displayName === undefined) {
      const dn = t.slice(0, lt).trim();
      if (dn !== '') displayName = dn;
    }
    const rawUri = t.slice(lt + 1, gt).trim();
    const out: NameAddr = { uri: parseUri(rawUri), rawUri, params: parseParams(t.slice(gt + 1)) };
    if (displayName !== undefined) out.displayName = displayName;
    return out;
  }
  if (displayName !== undefined) return null; // a quoted display name needs a <uri>
  // addr-spec: RFC 3261 §20.10 — a URI with ';', ',' or '?' must be in <>, so in the bare form every
  // ';' parameter belongs to the header (tel URIs included).
  const semi = t.indexOf(';');
  const rawUri = (semi < 0 ? t : t.slice(0, semi)).trim();
  if (rawUri === '' || rawUri.indexOf(' ') >= 0) return null;
  return { uri: parseUri(rawUri), rawUri, params: semi < 0 ? parseParams('') : parseParams(t.slice(semi + 1)) };
}

/**
 * Parse one Via value (split a comma list first, see SipMessage.headerAll): `SIP/2.0/UDP host:port;branch=…`.
 * Spaces around '/' are allowed (RFC 3261 §20.42 LWS). Returns null when the sent-protocol or host is missing.
 */
export function parseVia(value: string): Via | null {
  const t = value.trim();
  // sent-protocol = name SLASH version SLASH transport, each with optional LWS around the slashes
  const s1 = t.indexOf('/');
  if (s1 < 0) return null;
  const s2 = t.indexOf('/', s1 + 1);
  if (s2 < 0) return null;
  let i = s2 + 1;
  while (i < t.length && (t[i] === ' ' || t[i] === '\t')) i++;
  let j = i;
  while (j < t.length && t[j] !== ' ' && t[j] !== '\t' && t[j] !== ';') j++;
  const transport = t.slice(i, j).toUpperCase();
  if (transport === '') return null;
  while (j < t.length && (t[j] === ' ' || t[j] === '\t')) j++;
  let k: number;
  if (t[j] === '[') {
    const close = t.indexOf(']', j);
    if (close < 0) return null;
    const semi = t.indexOf(';', close);
    k = semi < 0 ? t.length : semi;
  } else {
    const semi = t.indexOf(';', j);
    k = semi < 0 ? t.length : semi;
  }
  const hp = splitHostPort(t.slice(j, k).replace(/\s+/g, ''));
  if (hp === null) return null;
  const params = parseParams(t.slice(k));
  const via: Via = { transport, host: hp.host, params };
  if (hp.port !== undefined) via.port = hp.port;
  if (params.branch !== undefined) via.branch = params.branch;
  if (params.received !== undefined) via.received = params.received;
  if (params.rport !== undefined) {
    const rp = parsePort(params.rport);
    if (params.rport === '') via.rport = true;
    else if (typeof rp === 'number') via.rport = rp;
  }
  return via;
}
