// Lightweight URI picking for the matcher's hot path: the URI inside a name-addr header value and its
// scheme, user, host and raw parameter text. Owns only what matching needs (user, host, `;name=value`
// lookups); it does not validate URIs nor decode headers — the full grammar is protocol/sip-uri.ts.
// Written here (not protocol's parseUri) because it allocates only the substrings it returns.

export interface UriParts {
  /** lowercase: sip, sips, tel, or another scheme */
  scheme: string;
  /** user part as written (sip/sips) or the telephone-subscriber (tel), percent-decoded */
  user: string | undefined;
  /** lowercase host without brackets and without a trailing dot; undefined for tel: */
  host: string | undefined;
  /** `;a=b;c` URI parameters as written (without the leading `;`), '' when none */
  params: string;
}

/** The URI of a name-addr / addr-spec header value: inside `<…>` when present, else up to the first `;`. */
export function uriOfHeaderValue(value: string): string {
  const lt = value.indexOf('<');
  if (lt >= 0) {
    // A quoted display name may hold '<': skip it first.
    let from = 0;
    if (value.charCodeAt(0) === 0x22 /* " */ || value.indexOf('"') >= 0) {
      const q1 = value.indexOf('"');
      if (q1 >= 0 && q1 < lt) {
        let i = q1 + 1;
        for (; i < value.length; i++) {
          const c = value.charCodeAt(i);
          if (c === 0x5c) i++;
          else if (c === 0x22) break;
        }
        from = i + 1;
      }
    }
    const s = value.indexOf('<', from);
    if (s >= 0) {
      const e = value.indexOf('>', s + 1);
      return (e < 0 ? value.slice(s + 1) : value.slice(s + 1, e)).trim();
    }
  }
  const semi = value.indexOf(';');
  // addr-spec without brackets: its `;params` belong to the header (RFC 3261 §20.10), except for
  // tel: where they are the number's own parameters — both are irrelevant to the user and host.
  return (semi < 0 ? value : value.slice(0, semi)).trim();
}

function percentDecode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses a URI into scheme/user/host/params; null when there is no scheme. Never throws. */
export function parseUriParts(uri: string): UriParts | null {
  const colon = uri.indexOf(':');
  if (colon <= 0) return null;
  const scheme = uri.slice(0, colon).trim().toLowerCase();
  const rest = colon + 1;
  if (scheme === 'tel') {
    // RFC 3966: telephone-subscriber *par; no host.
    let end = uri.indexOf(';', rest);
    const q = uri.indexOf('?', rest);
    if (q >= 0 && (end < 0 || q < end)) end = q;
    const user = percentDecode((end < 0 ? uri.slice(rest) : uri.slice(rest, end)).trim());
    const params = end >= 0 && uri.charCodeAt(end) === 0x3b ? paramsText(uri, end + 1) : '';
    return { scheme, user: user === '' ? undefined : user, host: undefined, params };
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    return { scheme, user: undefined, host: undefined, params: '' };
  }
  // userinfo ends at the last '@' before any '?' (headers may contain '@' percent-encoded only).
  let q = uri.indexOf('?', rest);
  if (q < 0) q = uri.length;
  const at = uri.lastIndexOf('@', q - 1);
  let user: string | undefined;
  let hostStart = rest;
  if (at >= rest) {
    const userinfo = uri.slice(rest, at);
    // user ":" password — but a telephone user with params (`+1;phone-context=x`) keeps its ';'.
    const pc = userinfo.indexOf(':');
    const u = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    user = u === '' ? undefined : percentDecode(u);
    hostStart = at + 1;
  }
  let host: string;
  let i = hostStart;
  if (uri.charCodeAt(i) === 0x5b /* [ */) {
    const close = uri.indexOf(']', i);
    host = close < 0 ? uri.slice(i + 1, q) : uri.slice(i + 1, close);
    i = close < 0 ? q : close + 1;
  } else {
    for (; i < q; i++) {
      const c = uri.charCodeAt(i);
      if (c === 0x3a /* : */ || c === 0x3b /* ; */) break;
    }
    host = uri.slice(hostStart, i);
  }
  const semi = uri.indexOf(';', i);
  const params = semi >= 0 && semi < q ? paramsText(uri.slice(0, q), semi + 1) : '';
  host = host.trim().toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  return { scheme, user, host: host === '' ? undefined : host, params };
}

function paramsText(s: string, from: number): string {
  const q = s.indexOf('?', from);
  return q < 0 ? s.slice(from) : s.slice(from, q);
}

/**
 * Value of parameter `name` (lowercase) in a `a=b;c;d=e` parameter text, case-insensitive name;
 * '' for a flag parameter, undefined when absent.
 */
export function paramValue(params: string, name: string): string | undefined {
  if (params === '') return undefined;
  let pos = 0;
  const n = params.length;
  while (pos <= n) {
    let end = params.indexOf(';', pos);
    if (end < 0) end = n;
    const eq = params.indexOf('=', pos);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    const key = params.slice(pos, keyEnd).trim();
    if (key.length === name.length && key.toLowerCase() === name) {
      return keyEnd === end ? '' : unquote(params.slice(keyEnd + 1, end).trim());
    }
    pos = end + 1;
  }
  return undefined;
}

const unquote = (s: string): string =>
  s.length >= 2 && s.charCodeAt(0) === 0x22 && s.charCodeAt(s.length - 1) === 0x22 ? s.slice(1, -1) : s;

/** `;tag=` of a From/To header value (header parameter, after the `>` when bracketed); undefined if none. */
export function headerTag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const gt = value.lastIndexOf('>');
  const from = gt >= 0 ? gt + 1 : 0;
  const semi = value.indexOf(';', from);
  if (semi < 0) return undefined;
  const v = paramValue(value.slice(semi + 1), 'tag');
  return v === undefined || v === '' ? undefined : v;
}
