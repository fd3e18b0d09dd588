// The SDP of a SIP message body: the body itself (Content-Type application/sdp) or the
// application/sdp part of a multipart body (RFC 2046 §5.1; SIP-I/SIP-T carry ISUP next to the SDP in
// multipart/mixed, RFC 3204; multipart/alternative and /related likewise). Pure, never throws.

const SDP_TYPE = /^\s*application\/sdp\s*(;|$)/i;
const MULTIPART = /^\s*multipart\//i;
const MAX_PARTS = 16;

/** The SDP bytes of a body with Content-Type `contentType`; undefined when it holds none. */
export function sdpOfBody(contentType: string | undefined, body: Buffer): Buffer | undefined {
  if (body.length === 0 || contentType === undefined) return undefined;
  if (SDP_TYPE.test(contentType)) return body;
  if (!MULTIPART.test(contentType)) return undefined;
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) return undefined;
  return sdpPart(body, boundary, 0);
}

function boundaryOf(ct: string): string | undefined {
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(ct);
  if (m === null) return undefined;
  return m[1] ?? m[2];
}

// Parts lie between "--boundary" delimiter lines; each has its own header block (Content-Type,
// possibly itself multipart) and body, the CRLF before the next delimiter belonging to the delimiter.
function sdpPart(body: Buffer, boundary: string, depth: number): Buffer | undefined {
  if (depth > 2) return undefined;
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  let at = body.indexOf(delim);
  for (let n = 0; at >= 0 && n < MAX_PARTS; n++) {
    let start = at + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) return undefined; // closing delimiter
    while (start < body.length && body[start] !== 0x0a) start++; // rest of the delimiter line
    start++;
    const next = body.indexOf(delim, start);
    let end = next < 0 ? body.length : next;
    if (end > start && body[end - 1] === 0x0a) end--;
    if (end > start && body[end - 1] === 0x0d) end--;
    const part = body.subarray(start, end);
    const hdrEnd = headerEnd(part);
    const headers = part.toString('latin1', 0, hdrEnd.headers);
    const ct = /^content-type\s*:\s*(.*)$/im.exec(headers)?.[1]?.trim() ?? 'text/plain';
    const content = part.subarray(hdrEnd.body);
    if (SDP_TYPE.test(ct)) return content;
    if (MULTIPART.test(ct)) {
      const b = boundaryOf(ct);
      const inner = b === undefined ? undefined : sdpPart(content, b, depth + 1);
      if (inner !== undefined) return inner;
    }
    at = next;
  }
  return undefined;
}

/** End of a part's header block (CRLFCRLF or LFLF) and start of its content; none: all content. */
function headerEnd(part: Buffer): { headers: number; body: number } {
  // A part may start with the empty line directly (no headers: text/plain by RFC 2046 §5.1.1).
  if (part[0] === 0x0d && part[1] === 0x0a) return { headers: 0, body: 2 };
  if (part[0] === 0x0a) return { headers: 0, body: 1 };
  const crlf = part.indexOf('\r\n\r\n');
  const lf = part.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headers: crlf, body: crlf + 4 };
  if (lf >= 0) return { headers: lf, body: lf + 2 };
  return { headers: 0, body: 0 };
}
