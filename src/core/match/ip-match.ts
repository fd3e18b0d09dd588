// IP address / CIDR matching for the `provider_ip` criterion: IPv4 and IPv6, with IPv4-mapped IPv6
// (`::ffff:192.0.2.1`) treated as the IPv4 address on both sides. Packet addresses arrive as strings
// (the dissector's); results are cached per string so the hot path is one Map lookup.

/** 16 bytes for IPv6, 4 for IPv4; null when not an address. Never throws. */
export function parseIp(s: string): Uint8Array | null {
  if (s.indexOf(':') < 0) return parseIpv4(s);
  let str = s;
  const pct = str.indexOf('%'); // zone id
  if (pct >= 0) str = str.slice(0, pct);
  if (str.startsWith('[') && str.endsWith(']')) str = str.slice(1, -1);
  let tail: Uint8Array | null = null;
  const lastColon = str.lastIndexOf(':');
  if (str.indexOf('.', lastColon) >= 0) {
    tail = parseIpv4(str.slice(lastColon + 1));
    if (tail === null) return null;
    str = str.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = str.indexOf('::');
  if (dbl >= 0 && str.indexOf('::', dbl + 1) >= 0) return null;
  const head = dbl >= 0 ? str.slice(0, dbl) : str;
  const rest = dbl >= 0 ? str.slice(dbl + 2) : '';
  const hs = head === '' ? [] : head.split(':');
  const rs = rest === '' ? [] : rest.split(':');
  if (dbl < 0 && hs.length !== 8) return null;
  if (hs.length + rs.length > (dbl >= 0 ? 7 : 8)) return null;
  const out = new Uint8Array(16);
  const put = (groups: string[], at: number): boolean => {
    for (let g = 0; g < groups.length; g++) {
      const t = groups[g];
      if (t.length === 0 || t.length > 4 || !/^[0-9a-fA-F]+$/.test(t)) return false;
      const v = parseInt(t, 16);
      out[(at + g) * 2] = v >> 8;
      out[(at + g) * 2 + 1] = v & 0xff;
    }
    return true;
  };
  if (!put(hs, 0) || !put(rs, 8 - rs.length)) return null;
  if (tail) out.set(tail, 12);
  return out;
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) → its 4 bytes; other addresses unchanged. */
function unmap(a: Uint8Array): Uint8Array {
  if (a.length !== 16) return a;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return a;
  if (a[10] !== 0xff || a[11] !== 0xff) return a;
  return a.subarray(12);
}

/**
 * One text form per address: IPv4 dotted quad (IPv4-mapped IPv6 included), IPv6 as eight lowercase
 * hex groups without leading zeros; anything that is not an address lowercased as is.
 */
export function canonicalIp(s: string): string {
  const p = parseIp(s);
  if (p === null) return s.toLowerCase();
  const a = unmap(p);
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((a[i] << 8) | a[i + 1]).toString(16));
  return g.join(':');
}

export interface IpMatcher {
  test(ip: string): boolean;
}

/** Compiles `203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`, `::ffff:10.0.0.0/104`. Null when invalid. */
export function compileIpMatcher(spec: string): IpMatcher | null {
  const t = spec.trim();
  const slash = t.indexOf('/');
  let addr = parseIp(slash >= 0 ? t.slice(0, slash) : t);
  if (addr === null) return null;
  let bits = addr.length * 8;
  if (slash >= 0) {
    const b = t.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(b)) return null;
    bits = Number(b);
    if (bits > addr.length * 8) return null;
  }
  // A mapped prefix covering the ::ffff:0:0/96 part becomes an IPv4 prefix.
  const mapped = unmap(addr);
  if (mapped !== addr) {
    if (bits >= 96) {
      bits -= 96;
      addr = mapped;
    }
  }
  const net = addr;
  const nbits = bits;
  const cache = new Map<string, boolean>();
  const compute = (ip: string): boolean => {
    const p = parseIp(ip);
    if (p === null) return false;
    const a = unmap(p);
    if (a.length !== net.length) return false;
    const full = nbits >> 3;
    for (let i = 0; i < full; i++) if (a[i] !== net[i]) return false;
    const rem = nbits & 7;
    if (rem === 0) return true;
    const mask = (0xff << (8 - rem)) & 0xff;
    return (a[full] & mask) === (net[full] & mask);
  };
  return {
    test(ip: string): boolean {
      let r = cache.get(ip);
      if (r === undefined) {
        r = compute(ip);
        if (cache.size >= 4096) cache.clear();
        cache.set(ip, r);
      }
      return r;
    },
  };
}
