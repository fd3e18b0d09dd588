// SIP message parsing (RFC 3261 §7): the start line, the header block and the Content-Length body of one
// message in a buffer. It owns recognising SIP (with tshark's acceptance rules for the first line),
// compact header forms, folding, bare-LF line endings and top-level comma splitting of list headers.
// It does not own stream framing over TCP/WebSocket (sip-framing.ts) nor URI/Via grammar (sip-uri.ts).
//
// Decisions (documented for callers):
// - Strict about framing: the first line must be `METHOD SP uri-with-colon SP SIP/2.0` or
//   `SIP/2.0 SP 3DIGIT SP reason` (exactly tshark 4.0's `sip_parse_line` with strict_sip_version);
//   a NUL byte in the first line means "not SIP". The method token is kept as written, so fuzzed
//   methods such as `REGIStER` are still requests.
// - Line endings: CRLF, bare LF, and (inside the header block, like tshark) a lone CR.
// - Tolerant about content: header names are case-insensitive, spacing around the colon is free,
//   unknown headers are kept, and a header line without a colon is skipped and counted in
//   `malformedHeaders` (never an error). A header block not ended by an empty line (a truncated
//   datagram) is accepted with `headersComplete: false` and an empty body.
// - Body: Content-Length bytes after the empty line; without Content-Length (or with an unparsable
//   one) the rest of the input. A Content-Length larger than what is available returns the
//   ParseError `truncated_body` (a `SipTruncatedBody`, carrying headerEnd/contentLength so a stream
//   framer knows how many bytes to wait for, and `partial`, the message with the bytes available).
//   Datagram callers use parseSipDatagram(), which returns that partial message instead.
// - A NUL byte inside a header value ends that value (tshark shows header fields as C strings).
// - Header text is decoded as UTF-8 once, for the header block only; body and raw are subarrays.

import type { ParseError } from './errors.js';
import { parseError } from './errors.js';
import { SIP_COMPACT_FORMS } from './sip-names.js';

export interface SipHeader {
  /** the name as written on the wire */
  name: string;
  /** canonical lowercase long name, compact forms resolved */
  key: string;
  /** unfolded, trimmed value */
  value: string;
}

export interface SipMessage {
  ok: true;
  isRequest: boolean;
  /** requests: method token exactly as on the wire */
  method?: string;
  requestUri?: string;
  statusCode?: number;
  reason?: string;
  /** "SIP/2.0" */
  version: string;
  /** wire order, repeated headers kept, comma lists not split */
  headers: SipHeader[];
  /** first value by canonical key (any case, compact form resolved) */
  header(key: string): string | undefined;
  /** all values; list headers (via, contact, route, …) split at top-level commas */
  headerAll(key: string): string[];
  callId?: string;
  cseq?: { seq: number; method: string };
  /** subarray of the input; Content-Length bytes when present, else the rest */
  body: Buffer;
  /** the whole message, start line to end of body (subarray) */
  raw: Buffer;
  /** header lines skipped because they had no colon */
  malformedHeaders: number;
  /** false when the input ended before the empty line that closes the header block */
  headersComplete: boolean;
  /** Content-Length as declared (undefined when absent or unparsable) */
  contentLength?: number;
  /** true only on `SipTruncatedBody.partial` / parseSipDatagram: Content-Length exceeded the input */
  bodyTruncated?: boolean;
}

/** `truncated_body`: Content-Length says more bytes than the input holds. */
export interface SipTruncatedBody extends ParseError {
  readonly code: 'truncated_body';
  /** offset (relative to `start`) of the first body byte */
  readonly headerEnd: number;
  readonly contentLength: number;
  /** body bytes actually available */
  readonly available: number;
  /** the message as far as it goes (body = the bytes available, `bodyTruncated: true`) */
  readonly partial: SipMessage;
}

export { SIP_COMPACT_FORMS } from './sip-names.js';

/** Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1), split by headerAll(). */
export const SIP_LIST_HEADERS: ReadonlySet<string> = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'path',
  'service-route',
  'p-asserted-identity',
  'p-preferred-identity',
  'p-associated-uri',
  'diversion',
  'history-info',
  'allow',
  'allow-events',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-contact',
  'reject-contact',
  'request-disposition',
  'content-encoding',
  'content-language',
  'call-info',
  'alert-info',
  'error-info',
  'in-reply-to',
  'reason',
  'warning',
  'security-client',
  'security-server',
  'security-verify',
  'remote-party-id',
]);

/** Canonical lowercase long name of a header name (compact forms resolved). */
export function canonicalHeaderKey(name: string): string {
  const k = name.toLowerCase();
  if (k.length === 1) return SIP_COMPACT_FORMS[k] ?? k;
  return k;
}

/** Split at commas outside double quotes and angle brackets; trims each part, drops empties. */
export function splitTopLevelCommas(value: string): string[] {
  if (value.indexOf(',') < 0) {
    const t = value.trim();
    return t === '' ? [] : [t];
  }
  const out: string[] = [];
  let inQuote = false;
  let angle = 0;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c /* < */) angle++;
    else if (c === 0x3e /* > */) {
      if (angle > 0) angle--;
    } else if (c === 0x2c /* , */ && angle === 0) {
      const part = value.slice(from, i).trim();
      if (part !== '') out.push(part);
      from = i + 1;
    }
  }
  const last = value.slice(from).trim();
  if (last !== '') out.push(last);
  return out;
}

const SIP2 = [0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30]; // "SIP/2.0"

const isSip2At = (buf: Buffer, i: number): boolean =>
  buf[i] === 0x53 &&
  buf[i + 1] === 0x49 &&
  buf[i + 2] === 0x50 &&
  buf[i + 3] === 0x2f &&
  buf[i + 4] === 0x32 &&
  buf[i + 5] === 0x2e &&
  buf[i + 6] === 0x30;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Result of classifying the first line; positions are absolute buffer offsets. */
interface FirstLine {
  kind: 0 /* other */ | 1 /* request */ | 2 /* status */;
  /** end of the line's content (before CR/LF) */
  lineEnd: number;
  /** first byte of the next line */
  next: number;
  sp1: number;
  sp2: number;
  /** no byte >= 0x80 in the line: string offsets equal byte offsets after decoding */
  ascii: boolean;
}

// Mirrors tshark 4.0 packet-sip.c sip_parse_line() (strict_sip_version = TRUE) and the NUL check of
// dissect_sip_common(): the line ends at the first CR or LF.
function classifyFirstLine(buf: Buffer, start: number, end: number, out: FirstLine): void {
  out.kind = 0;
  out.ascii = true;
  // A method token or "SIP/2.0" starts with a visible ASCII char: RTP (0x80…), STUN (0x00/0x01) and
  // DTLS records (20–25) fall out here without a scan. tshark has no such rule, but no capture shows
  // a SIP start line beginning with a control or non-ASCII byte.
  const c0 = buf[start];
  if (c0 === undefined || c0 <= 0x20 || c0 >= 0x7f) {
    out.lineEnd = start;
    out.next = start;
    out.sp1 = -1;
    out.sp2 = -1;
    return;
  }
  let sp1 = -1;
  let sp2 = -1;
  let i = start;
  for (; i < end; i++) {
    const c = buf[i];
    if (c === 0x0d || c === 0x0a) break;
    if (c === 0) return;
    if (c >= 0x80) out.ascii = false;
    if (c === 0x20) {
      if (sp1 < 0) sp1 = i;
      else if (sp2 < 0) sp2 = i;
    }
  }
  const lineEnd = i;
  let next = i;
  if (next < end && buf[next] === 0x0d) next++;
  if (next < end && buf[next] === 0x0a) next++;
  out.lineEnd = lineEnd;
  out.next = next;
  out.sp1 = sp1;
  out.sp2 = sp2;
  if (lineEnd === start || sp1 <= start || sp2 < 0) return;
  const t1 = sp1 - start;
  if (t1 === SIP2.length && isSip2At(buf, start)) {
    // Status-Line: the second token must be exactly three digits.
    if (sp2 - sp1 - 1 !== 3) return;
    if (!isDigit(buf[sp1 + 1]) || !isDigit(buf[sp1 + 2]) || !isDigit(buf[sp1 + 3])) return;
    out.kind = 2;
    return;
  }
  // Request-Line: URI of at least 3 chars with a colon after its first char, then exactly "SIP/2.0".
  if (sp2 - sp1 - 1 < 3) return;
  let colon = false;
  for (let j = sp1 + 2; j < sp2; j++) {
    if (buf[j] === 0x3a) {
      colon = true;
      break;
    }
  }
  if (!colon) return;
  if (lineEnd - sp2 - 1 !== SIP2.length || !isSip2At(buf, sp2 + 1)) return;
  out.kind = 1;
}

/** Cheap first-line check for hot paths: true when parseSip would accept the start line. */
const scratch: FirstLine = { kind: 0, lineEnd: 0, next: 0, sp1: -1, sp2: -1, ascii: true };

export function looksLikeSip(buf: Buffer, offset = 0, end = buf.length): boolean {
  if (offset >= end) return false;
  const c = buf[offset];
  if (c === undefined || c <= 0x20 || c >= 0x7f) return false; // same first-byte rule, no call
  classifyFirstLine(buf, offset, Math.min(end, buf.length), scratch);
  return scratch.kind !== 0;
}

const NEEDLE_LF_CRLF = Buffer.from('\n\r\n', 'latin1');
const NEEDLE_LF_LF = Buffer.from('\n\n', 'latin1');

/** Offset of the first byte after the empty line closing the header block, or -1. */
function findHeaderEnd(buf: Buffer, from: number, end: number): number {
  // `from` is the start of a line. An empty line is LF or CRLF right at a line start.
  if (from < end && buf[from] === 0x0a) return from + 1;
  if (from + 1 < end && buf[from] === 0x0d && buf[from + 1] === 0x0a) return from + 2;
  // Native searches (memmem) beat a JS byte loop; an empty line is "\n\r\n" or "\n\n". Views
  // starting at 0 keep offsets and bound each search, so a big stream buffer is never rescanned
  // past `end` (or past the first CRLF empty line), which would make framing quadratic.
  const view = end >= buf.length ? buf : buf.subarray(0, end);
  const a = view.indexOf(NEEDLE_LF_CRLF, from);
  const b = (a >= 0 ? buf.subarray(0, a + 2) : view).indexOf(NEEDLE_LF_LF, from);
  if (b >= 0) return b + 2;
  if (a >= 0) return a + 3;
  return -1;
}

class ParsedSip implements SipMessage {
  readonly ok = true as const;
  isRequest: boolean;
  declare method?: string;
  declare requestUri?: string;
  declare statusCode?: number;
  declare reason?: string;
  version = 'SIP/2.0';
  headers: SipHeader[];
  declare callId?: string;
  declare cseq?: { seq: number; method: string };
  body: Buffer;
  raw: Buffer;
  malformedHeaders: number;
  headersComplete: boolean;
  declare contentLength?: number;
  declare bodyTruncated?: boolean;

  constructor(isRequest: boolean, headers: SipHeader[], body: Buffer, raw: Buffer, malformed: number, complete: boolean) {
    this.isRequest = isRequest;
    this.headers = headers;
    this.body = body;
    this.raw = raw;
    this.malformedHeaders = malformed;
    this.headersComplete = complete;
  }

  header(key: string): string | undefined {
    const k = canonicalHeaderKey(key);
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) if (hs[i].key === k) return hs[i].value;
    return undefined;
  }

  headerAll(key: string): string[] {
    const k = canonicalHeaderKey(key);
    const split = SIP_LIST_HEADERS.has(k);
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.key !== k) continue;
      if (split) for (const v of splitTopLevelCommas(h.value)) out.push(v);
      else out.push(h.value);
    }
    return out;
  }
}

function pushHeader(headers: SipHeader[], name: string, value: string): void {
  // A NUL ends the value, as in tshark's display of the field (seen in fuzzed captures).
  const nul = value.indexOf('\0');
  if (nul >= 0) value = value.slice(0, nul).trim();
  headers.push({ name, key: canonicalHeaderKey(name), value });
}

/** Parse the header block text (after the start line, before the empty line). Returns malformed lines. */
function parseHeaderBlock(text: string, from: number, headers: SipHeader[]): number {
  let malformed = 0;
  let pos = from;
  const n = text.length;
  let name = '';
  let value = '';
  let open = false; // a header is being collected (continuation lines may follow)
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    let lineEnd = eol;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
    // A lone CR also ends a line (tshark's tvb_find_line_end does the same; seen in fuzzed captures).
    const cr = text.indexOf('\r', pos);
    if (cr >= 0 && cr < lineEnd) {
      lineEnd = cr;
      eol = cr;
    }
    if (lineEnd > pos) {
      const first = text.charCodeAt(pos);
      if (first === 0x20 || first === 0x09) {
        // RFC 3261 §7.3.1 folding: a continuation of the previous header's value.
        if (open) {
          const more = text.slice(pos, lineEnd).trim();
          if (more !== '') value = value === '' ? more : `${value} ${more}`;
        } else malformed++;
      } else {
        if (open) pushHeader(headers, name, value);
        open = false;
        const colon = text.indexOf(':', pos);
        if (colon < 0 || colon >= lineEnd) malformed++;
        else {
          name = text.slice(pos, colon).trim();
          if (name === '') malformed++;
          else {
            value = text.slice(colon + 1, lineEnd).trim();
            open = true;
          }
        }
      }
    }
    pos = eol + 1;
  }
  if (open) pushHeader(headers, name, value);
  return malformed;
}

function parseContentLength(v: string): number | undefined {
  const t = v.trim();
  if (t.length === 0 || t.length > 10) return undefined;
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

function parseCSeq(v: string): { seq: number; method: string } | undefined {
  const t = v.trim();
  let i = 0;
  let seq = 0;
  while (i < t.length && isDigit(t.charCodeAt(i)) && i < 10) seq = seq * 10 + (t.charCodeAt(i++) - 0x30);
  if (i === 0) return undefined;
  const method = t.slice(i).trim();
  return { seq, method };
}

/**
 * Parse one SIP message from buf[start, end). Never throws. Offsets in errors are relative to `start`.
 */
export function parseSip(buf: Buffer, start = 0, end = buf.length): SipMessage | ParseError {
  try {
    return parseSipUnsafe(buf, start, end);
  } catch (e) {
    // Designed not to throw; this is the last-resort guard of the API edge.
    return parseError('internal', 0, `SIP parser failed: ${(e as Error).message}`);
  }
}

function parseSipUnsafe(buf: Buffer, start: number, end: number): SipMessage | ParseError {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  if (end - start <= 0) return parseError('not_sip', 0, 'empty input is not SIP');
  const fl: FirstLine = { kind: 0, lineEnd: 0, next: 0, sp1: -1, sp2: -1, ascii: true };
  classifyFirstLine(buf, start, end, fl);
  if (fl.kind === 0) {
    return parseError('not_sip', 0, 'first line is neither a SIP request line nor a SIP status line');
  }
  const isRequest = fl.kind === 1;
  const headerStart = fl.next;
  let hdrEnd = fl.next >= end || fl.next === fl.lineEnd ? -1 : findHeaderEnd(buf, headerStart, end);
  const complete = hdrEnd >= 0;
  if (!complete) hdrEnd = end;
  // The header text excludes the empty line itself.
  let textEnd = hdrEnd;
  if (complete) {
    textEnd--; // LF of the empty line
    if (textEnd > headerStart && buf[textEnd - 1] === 0x0d) textEnd--;
  }
  const headers: SipHeader[] = [];
  // One decode for the start line and the header block when the start line is ASCII (the rule).
  let text = '';
  let malformed = 0;
  if (fl.ascii) {
    text = buf.toString('utf8', start, Math.max(textEnd, fl.lineEnd));
    if (textEnd > headerStart) malformed = parseHeaderBlock(text, headerStart - start, headers);
  } else if (textEnd > headerStart) {
    malformed = parseHeaderBlock(buf.toString('utf8', headerStart, textEnd), 0, headers);
  }

  let callId: string | undefined;
  let cseqRaw: string | undefined;
  let clRaw: string | undefined;
  for (let i = 0; i < headers.length; i++) {
    const k = headers[i].key;
    if (k === 'call-id') {
      if (callId === undefined) callId = headers[i].value;
    } else if (k === 'cseq') {
      if (cseqRaw === undefined) cseqRaw = headers[i].value;
    } else if (k === 'content-length') {
      if (clRaw === undefined) clRaw = headers[i].value;
    }
  }
  const contentLength = clRaw === undefined ? undefined : parseContentLength(clRaw);
  let bodyEnd = end;
  let truncated = false;
  if (complete && contentLength !== undefined) {
    if (contentLength > end - hdrEnd) truncated = true;
    else bodyEnd = hdrEnd + contentLength;
  }
  const body = complete ? buf.subarray(hdrEnd, bodyEnd) : buf.subarray(end, end);
  const msg = new ParsedSip(isRequest, headers, body, buf.subarray(start, complete ? bodyEnd : end), malformed, complete);
  if (isRequest) {
    if (fl.ascii) {
      msg.method = text.slice(0, fl.sp1 - start);
      msg.requestUri = text.slice(fl.sp1 + 1 - start, fl.sp2 - start);
    } else {
      msg.method = buf.toString('latin1', start, fl.sp1);
      msg.requestUri = buf.toString('utf8', fl.sp1 + 1, fl.sp2);
    }
  } else {
    msg.statusCode = (buf[fl.sp1 + 1] - 0x30) * 100 + (buf[fl.sp1 + 2] - 0x30) * 10 + (buf[fl.sp1 + 3] - 0x30);
    msg.reason = fl.ascii ? text.slice(fl.sp2 + 1 - start, fl.lineEnd - start) : buf.toString('utf8', fl.sp2 + 1, fl.lineEnd);
  }
  if (callId !== undefined) msg.callId = callId;
  if (cseqRaw !== undefined) {
    const cs = parseCSeq(cseqRaw);
    if (cs !== undefined) msg.cseq = cs;
  }
  if (contentLength !== undefined) msg.contentLength = contentLength;
  if (truncated && contentLength !== undefined) {
    msg.bodyTruncated = true;
    const available = end - hdrEnd;
    const err: SipTruncatedBody = {
      ok: false,
      code: 'truncated_body',
      offset: end - start,
      message: `SIP body truncated: Content-Length ${contentLength} but ${available} bytes available at byte ${hdrEnd - start}`,
      headerEnd: hdrEnd - start,
      contentLength,
      available,
      partial: msg,
    };
    return err;
  }
  return msg;
}

/**
 * For datagrams (UDP, HEP, SCTP DATA): like parseSip, but a Content-Length larger than the datagram
 * still yields the message (body = the rest, `bodyTruncated: true`), as tshark shows it. Seen in the
 * wild when a sender rewrote CRLF to LF after computing Content-Length (hepgen's HEP capture).
 */
export function parseSipDatagram(buf: Buffer, start = 0, end = buf.length): SipMessage | ParseError {
  const r = parseSip(buf, start, end);
  if (!r.ok && r.code === 'truncated_body') return (r as SipTruncatedBody).partial;
  return r;
}

/** The fields of a SIP message a one-line summary shows (`tunaio decode`), nothing else. */
export interface SipSummary {
  isRequest: boolean;
  method?: string;
  statusCode?: number;
  reason?: string;
  callId?: string;
  cseq?: { seq: number; method: string };
}

/**
 * parseSipDatagram reduced to the start line, Call-ID and CSeq: same values, exactly (the fuzz
 * test and `npm run fuzz` compare the two), for a fraction of the cost. The rest of the message is
 * decoded once and walked with parseHeaderBlock's line rules (LF, CRLF, a lone CR; folding) and
 * findHeaderEnd's end rule in the same pass; only a header whose name may be Call-ID, `i` or CSeq
 * gets its name and value made: no header objects, no strings for other headers, no body view.
 * (Native string searches: a JS loop over the bytes measured 3x slower here.) Returns null when
 * the start line is not SIP (parseSip's `not_sip`).
 */
export function parseSipSummary(buf: Buffer, start = 0, end = buf.length): SipSummary | null {
  if (start < 0) start = 0;
  if (end > buf.length) end = buf.length;
  if (end - start <= 0) return null;
  const fl = scratchSummary;
  classifyFirstLine(buf, start, end, fl);
  if (fl.kind === 0) return null;
  const isRequest = fl.kind === 1;
  const out: SipSummary = { isRequest };
  if (isRequest) out.method = buf.toString(fl.ascii ? 'utf8' : 'latin1', start, fl.sp1);
  else {
    out.statusCode = (buf[fl.sp1 + 1] - 0x30) * 100 + (buf[fl.sp1 + 2] - 0x30) * 10 + (buf[fl.sp1 + 3] - 0x30);
    out.reason = buf.toString('utf8', fl.sp2 + 1, fl.lineEnd);
  }
  // No header block when the start line is the last line or an empty line follows it at once.
  const hs = fl.next;
  if (hs < end && hs !== fl.lineEnd && buf[hs] !== 0x0a && !(buf[hs] === 0x0d && hs + 1 < end && buf[hs + 1] === 0x0a))
    summaryHeaders(buf.toString('utf8', hs, end), out);
  return out;
}

const scratchSummary: FirstLine = { kind: 0, lineEnd: 0, next: 0, sp1: -1, sp2: -1, ascii: true };

/**
 * parseHeaderBlock's walk over `text` (the message after its start line) keeping only the first
 * Call-ID and CSeq, and findHeaderEnd's rule in the same pass: the block ends after the first LF
 * followed by LF or CRLF (an empty line), or at the end of the text. CR and LF are ASCII, so their
 * places in the decoded text are those of the bytes.
 */
function summaryHeaders(text: string, out: SipSummary): void {
  const n = text.length;
  let pos = 0;
  // 0: no header open; 1: an uninteresting header is open; 2: Call-ID; 3: CSeq
  let open = 0;
  let value = '';
  let callId: string | undefined;
  let cseqRaw: string | undefined;
  // next CR at or after pos (n when none): searched again only once passed, so LF-only text is
  // not rescanned for every line
  let cr = -1;
  while (pos < n) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = n;
    let lineEnd = eol;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
    if (cr < pos) {
      cr = text.indexOf('\r', pos);
      if (cr < 0) cr = n;
    }
    if (cr < lineEnd) {
      // a lone CR ends a line too (see parseHeaderBlock)
      lineEnd = cr;
      eol = cr;
    }
    // an empty line right after this one closes the block (findHeaderEnd)
    const last =
      eol < n &&
      text.charCodeAt(eol) === 0x0a &&
      ((eol + 1 < n && text.charCodeAt(eol + 1) === 0x0a) || (eol + 2 < n && text.charCodeAt(eol + 1) === 0x0d && text.charCodeAt(eol + 2) === 0x0a));
    if (lineEnd > pos) {
      const first = text.charCodeAt(pos);
      if (first === 0x20 || first === 0x09) {
        // RFC 3261 §7.3.1 folding
        if (open >= 2) {
          const more = text.slice(pos, lineEnd).trim();
          if (more !== '') value = value === '' ? more : `${value} ${more}`;
        }
      } else {
        if (open === 2 && callId === undefined) callId = headerValue(value);
        else if (open === 3 && cseqRaw === undefined) cseqRaw = headerValue(value);
        open = 0;
        const colon = text.indexOf(':', pos);
        if (colon >= 0 && colon < lineEnd) {
          // A name whose first char is a visible ASCII char other than c/C/i/I cannot be Call-ID,
          // `i` or CSeq even after trim() and toLowerCase(); anything else is checked exactly.
          const c = first | 0x20;
          if (c === 0x63 || c === 0x69 || first <= 0x20 || first >= 0x7f) {
            const name = text.slice(pos, colon).trim();
            if (name !== '') {
              const k = canonicalHeaderKey(name);
              open = k === 'call-id' ? 2 : k === 'cseq' ? 3 : 1;
              if (open >= 2) value = text.slice(colon + 1, lineEnd).trim();
            }
          } else open = 1;
        }
      }
    }
    if (last) break;
    pos = eol + 1;
  }
  if (open === 2 && callId === undefined) callId = headerValue(value);
  else if (open === 3 && cseqRaw === undefined) cseqRaw = headerValue(value);
  if (callId !== undefined) out.callId = callId;
  if (cseqRaw !== undefined) {
    const cs = parseCSeq(cseqRaw);
    if (cs !== undefined) out.cseq = cs;
  }
}

/** pushHeader's value rule: a NUL ends the value. */
function headerValue(value: string): string {
  const nul = value.indexOf('\0');
  return nul >= 0 ? value.slice(0, nul).trim() : value;
}
