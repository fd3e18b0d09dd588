// Kernel-side counters of one bound UDP socket, read from /proc/net/udp or /proc/net/udp6 (the
// agent's own network namespace): datagrams the kernel dropped because the socket's receive buffer
// was full (the `drops` column), and the bytes waiting in it (`rx_queue`). Node does not expose these;
// without them a flood that overflows the buffer loses packets that no counter of ours ever sees.
// The socket is found by its local port (and address, when bound to one): the agent's HEP listener
// is the only socket on its port (bound without SO_REUSEADDR).
import { readFileSync } from 'node:fs';

export interface UdpSocketStats {
  drops: number;
  rxQueueBytes: number;
}

/** The local address as /proc/net/udp writes it: IPv4 as 8 hex digits of the address in host (little-endian) order. */
function procAddress(ip: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return undefined;
  return [m[4], m[3], m[2], m[1]].map((x) => Number(x).toString(16).toUpperCase().padStart(2, '0')).join('');
}

/** Parses the text of /proc/net/udp{,6}: the stats of the socket bound to `port` (and `ip` when given). */
export function parseProcNetUdp(text: string, port: number, ip?: string): UdpSocketStats | undefined {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const addrHex = ip ? procAddress(ip) : undefined;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].trim().split(/\s+/);
    if (f.length < 13) continue;
    const [addr, p] = f[1].split(':');
    if (p !== portHex) continue;
    // Bound to one IPv4 address: it must be that one (0.0.0.0 and IPv6 listeners match on the port).
    if (addrHex && addr.length === 8 && addr !== addrHex && addr !== '00000000') continue;
    const rx = parseInt(f[4].split(':')[1] ?? '0', 16);
    const drops = Number(f[f.length - 1]);
    return { drops: Number.isFinite(drops) ? drops : 0, rxQueueBytes: Number.isFinite(rx) ? rx : 0 };
  }
  return undefined;
}

/** Reads the socket's counters now; undefined when /proc is not there (not Linux) or the socket is gone. */
export function readUdpSocketStats(port: number, ip: string, v6: boolean): UdpSocketStats | undefined {
  try {
    return parseProcNetUdp(readFileSync(v6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8'), port, v6 ? undefined : ip);
  } catch {
    return undefined;
  }
}
