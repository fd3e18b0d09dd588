// The few SIP header facts the ladder needs, read from the message text of an event (no Buffer, so it
// runs in the browser): start line, headers by canonical lowercase name (compact forms resolved,
// RFC 3261 §7.3.3), From/To tags, the top Via branch, User-Agent/Server. It is not a SIP parser:
// src/protocol/sip.ts is. Malformed text gives empty fields, never an exception.

import { SIP_COMPACT_FORMS } from '../../protocol/sip-names.js';

// RFC 3261 §7.3.3 compact forms: the parser's own table (plain data, safe in the browser bundle).
const COMPACT = SIP_COMPACT_FORMS;

export interface SipText {
  startLine: string;
  /** first value of each header, by canonical lowercase long name */
  headers: Map<string, string>;
  /** offset of the body in the text (after the empty line), or the text length */
  bodyOffset: number;
  /** Via values in all Via headers (1 = the sender originated the request) */
  viaCount: number;
}

export function canonicalName(name: string): string {
  const k = name.trim().toLowerCase();
  return COMPACT[k] ?? k;
}

/**
 * Header block of a SIP message text; folded lines (RFC 3261 §7.3.1) are unfolded. `only` limits
 * the headers kept to those names (canonical), which makes reading thousands of messages cheap.
 */
export function readSipText(text: string, only?: ReadonlySet<string>): SipText {
  const headers = new Map<string, string>();
  let viaCount = 0;
  let pos = text.indexOf('\n');
  const startLine = (pos < 0 ? text : text.slice(0, pos)).replace(/\r$/, '');
  let name = '';
  let value = '';
  const flush = (): void => {
    if (name === 'via') viaCount += value.split(',').length;
    if (name !== '' && !headers.has(name) && (only === undefined || only.has(name))) headers.set(name, value.trim());
    name = '';
  };
  let bodyOffset = text.length;
  for (let n = 0; pos >= 0 && n < 10_000; n++) {
    const from = pos + 1;
    const to = text.indexOf('\n', from);
    const lineEnd = to < 0 ? text.length : to;
    const line = text.charCodeAt(lineEnd - 1) === 13 ? text.slice(from, lineEnd - 1) : text.slice(from, lineEnd);
    if (line === '') {
      bodyOffset = to < 0 ? text.length : to + 1;
      break;
    }
    const first = line.charCodeAt(0);
    if ((first === 32 || first === 9) && name !== '') {
      value += ' ' + line.trim();
    } else {
      flush();
      const colon = line.indexOf(':');
      if (colon > 0) {
        const raw = line.slice(0, colon);
        const lower = raw.length === 1 ? (COMPACT[raw.toLowerCase()] ?? raw.toLowerCase()) : raw.trimEnd().toLowerCase();
        if (lower === 'via' || only === undefined || only.has(lower)) {
          name = lower;
          value = line.slice(colon + 1);
        }
      }
    }
    if (to < 0) break;
    pos = to;
  }
  flush();
  return { startLine, headers, bodyOffset, viaCount };
}

/** `tag` parameter of a From/To value (outside the <URI>), or null. */
export function tagOf(value: string | undefined): string | null {
  if (!value) return null;
  const gt = value.lastIndexOf('>');
  const params = gt >= 0 ? value.slice(gt + 1) : value;
  const m = /;\s*tag\s*=\s*([^;,\s]+)/i.exec(params);
  return m ? m[1] : null;
}

/** `branch` parameter of the first (topmost) Via value, or null. */
export function branchOf(via: string | undefined): string | null {
  if (!via) return null;
  const first = via.split(',')[0];
  const m = /;\s*branch\s*=\s*([^;,\s]+)/i.exec(first);
  return m ? m[1] : null;
}
