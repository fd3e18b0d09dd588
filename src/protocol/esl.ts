// FreeSWITCH event socket (mod_event_socket, "ESL") framing: pure bytes in, messages out. A message is
// a header block (`Name: value` lines, LF-terminated, ended by an empty line) and, when it has a
// `Content-Length`, that many bytes of body. Events subscribed with `event plain …` arrive as
// `Content-Type: text/event-plain` whose body is itself a header block with URL-encoded values
// (`variable_sip_call_id: abc%40host`), possibly followed by the event's own body. Owns framing and
// decoding only; no I/O, no session logic (src/agent/collectors/esl.ts). Never throws.

export interface EslMessage {
  headers: Map<string, string>;
  body: Buffer;
}

/** Bounds against a hostile or broken peer: a header block or body past these is refused. */
export const ESL_MAX_HEADER_BYTES = 64 * 1024;
export const ESL_MAX_BODY_BYTES = 4 * 1024 * 1024;

const LF = 0x0a;

/** Splits a stream into ESL messages; `error` is set once the stream cannot be framed any more. */
export class EslFramer {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Map<string, string> | null = null;
  private need = 0;
  error: string | null = null;

  push(chunk: Buffer): EslMessage[] {
    if (this.error) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: EslMessage[] = [];
    for (;;) {
      if (this.pending) {
        if (this.buf.length < this.need) break;
        out.push({ headers: this.pending, body: this.buf.subarray(0, this.need) });
        this.buf = this.buf.subarray(this.need);
        this.pending = null;
        continue;
      }
      // Blank lines between messages are tolerated (some servers send an extra LF).
      let start = 0;
      while (start < this.buf.length && (this.buf[start] === LF || this.buf[start] === 0x0d)) start++;
      if (start > 0) this.buf = this.buf.subarray(start);
      const end = headerEnd(this.buf);
      if (end < 0) {
        if (this.buf.length > ESL_MAX_HEADER_BYTES) this.error = `header block longer than ${ESL_MAX_HEADER_BYTES} bytes`;
        break;
      }
      const headers = parseHeaderBlock(this.buf.subarray(0, end).toString('utf8'), false);
      this.buf = this.buf.subarray(end + 2);
      const len = headers.get('Content-Length');
      if (len === undefined) {
        out.push({ headers, body: Buffer.alloc(0) });
        continue;
      }
      const n = /^\d{1,10}$/.test(len) ? Number(len) : -1;
      if (n < 0 || n > ESL_MAX_BODY_BYTES) {
        this.error = `bad Content-Length "${len.slice(0, 32)}"`;
        break;
      }
      this.pending = headers;
      this.need = n;
    }
    return out;
  }
}

/** index of the first "\n\n" (CRLF line ends are accepted too), or -1 */
function headerEnd(b: Buffer): number {
  for (let i = b.indexOf(LF); i >= 0 && i + 1 < b.length; i = b.indexOf(LF, i + 1)) {
    if (b[i + 1] === LF) return i;
    if (b[i + 1] === 0x0d && b[i + 2] === LF) {
      // "\n\r\n": treat as the end; the caller skips two bytes, the stray LF is skipped as a blank line.
      return i;
    }
  }
  return -1;
}

/** `Name: value` lines; `urlDecoded` for event-plain bodies. The first value of a repeated name wins. */
export function parseHeaderBlock(text: string, urlDecoded: boolean): Map<string, string> {
  const h = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    let value = line.slice(colon + 1).trim();
    if (urlDecoded) value = urlDecode(value);
    if (!h.has(name)) h.set(name, value);
  }
  return h;
}

/** decodeURIComponent that keeps a malformed sequence as it is instead of throwing */
export function urlDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  // mod_event_socket encodes with switch_url_encode: spaces are %20, "+" is literal
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, x: string) => String.fromCharCode(parseInt(x, 16)));
  }
}

/** The event of a `text/event-plain` message: its URL-decoded headers (and body, when it has one). */
export function parsePlainEvent(m: EslMessage): { headers: Map<string, string>; body: string } | null {
  if (m.headers.get('Content-Type') !== 'text/event-plain') return null;
  const text = m.body.toString('utf8');
  const split = text.indexOf('\n\n');
  const head = split < 0 ? text : text.slice(0, split);
  const headers = parseHeaderBlock(head, true);
  let body = '';
  const len = Number(headers.get('Content-Length') ?? NaN);
  if (split >= 0 && Number.isFinite(len)) body = text.slice(split + 2, split + 2 + len);
  return { headers, body };
}
