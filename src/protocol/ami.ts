// Asterisk Manager Interface (AMI) framing: pure bytes in, messages out. The server first sends one
// banner line (`Asterisk Call Manager/5.0.1\r\n`); then every response and event is a block of
// `Key: Value` lines ended by CRLF, the block ended by an empty line. Keys repeat (`ChanVariable:
// SIPCALLID=…`), so a message keeps its fields in wire order. Owns framing only; no I/O, no session
// logic (src/agent/collectors/ami.ts). Never throws.

export interface AmiMessage {
  /** fields in wire order (keys repeat) */
  fields: [string, string][];
}

export const AMI_MAX_MESSAGE_BYTES = 256 * 1024;

export class AmiFramer {
  private buf = '';
  /** the banner line once it arrived (`Asterisk Call Manager/5.0.1`) */
  banner: string | null = null;
  error: string | null = null;

  push(chunk: Buffer): AmiMessage[] {
    if (this.error) return [];
    this.buf += chunk.toString('utf8');
    const out: AmiMessage[] = [];
    if (this.banner === null) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) {
        if (this.buf.length > 1024) this.error = 'no banner line in the first 1024 bytes';
        return out;
      }
      this.banner = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
    }
    for (;;) {
      // CRLF per the protocol; a bare LF is accepted (proxies and test tools rewrite line ends).
      const m = /\r?\n\r?\n/.exec(this.buf);
      if (!m) {
        if (this.buf.length > AMI_MAX_MESSAGE_BYTES) this.error = `message longer than ${AMI_MAX_MESSAGE_BYTES} bytes`;
        break;
      }
      const block = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const fields: [string, string][] = [];
      for (const raw of block.split('\n')) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        fields.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
      }
      if (fields.length > 0) out.push({ fields });
    }
    return out;
  }
}

/** First value of a key (case-insensitive, as Asterisk's own astman_get_header). */
export function amiGet(m: AmiMessage, key: string): string | undefined {
  const k = key.toLowerCase();
  for (const [n, v] of m.fields) if (n.toLowerCase() === k) return v;
  return undefined;
}

/**
 * Channel variables the manager was told to report (`channelvars` in manager.conf): Asterisk 12+
 * writes `ChanVariable: NAME=value` (and `DestChanVariable:` for the dialled side), Asterisk 11 and
 * older `ChanVariable(Channel): NAME=value`.
 */
export function amiChanVars(m: AmiMessage, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  const want = `${prefix}chanvariable`.toLowerCase();
  for (const [n, v] of m.fields) {
    const name = n.toLowerCase();
    if (name !== want && !name.startsWith(`${want}(`)) continue;
    const eq = v.indexOf('=');
    if (eq > 0) out.set(v.slice(0, eq), v.slice(eq + 1));
  }
  return out;
}

/** An action, CRLF-framed. Values never carry CR/LF (they would inject fields). */
export function amiAction(fields: [string, string][]): string {
  return fields.map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, ' ')}\r\n`).join('') + '\r\n';
}
