// Case-insensitive plain-substring search for the `text` criterion (DESIGN §5: "case-insensitive
// substring of the whole SIP message or log line. Plain text, never a regular expression.").
// Bytes are searched in place (no lowercase copy of the packet): ASCII letters fold, every other
// byte (UTF-8 sequences included) must match exactly. Boyer–Moore–Horspool over the folded bytes.

const FOLD = new Uint8Array(256);
for (let i = 0; i < 256; i++) FOLD[i] = i >= 0x41 && i <= 0x5a ? i + 0x20 : i;

export interface TextNeedle {
  readonly text: string;
  /** true when `haystack[start, end)` contains the needle, ignoring ASCII case */
  inBuffer(haystack: Uint8Array, start?: number, end?: number): boolean;
  /** the same for a string (log lines) */
  inString(line: string): boolean;
}

export function compileTextNeedle(text: string): TextNeedle {
  const bytes = Buffer.from(text, 'utf8');
  const m = bytes.length;
  const folded = new Uint8Array(m);
  let hasLetter = false;
  for (let i = 0; i < m; i++) {
    folded[i] = FOLD[bytes[i]];
    if (folded[i] !== bytes[i] || (bytes[i] >= 0x61 && bytes[i] <= 0x7a)) hasLetter = true;
  }
  // Horspool shift table on folded bytes.
  const shift = new Int32Array(256).fill(m);
  for (let i = 0; i < m - 1; i++) shift[folded[i]] = m - 1 - i;
  const exact = Buffer.from(folded);
  const lowerText = text.toLowerCase();
  const last = m - 1;
  return {
    text,
    inBuffer(h: Uint8Array, start = 0, end = h.length): boolean {
      if (m === 0) return true;
      if (!hasLetter) {
        // No letters: case folding is the identity, so the native memmem is exact and fastest.
        const buf = Buffer.isBuffer(h) ? h : Buffer.from(h.buffer, h.byteOffset, h.byteLength);
        const at = buf.indexOf(exact, start);
        return at >= 0 && at + m <= end;
      }
      let i = start + last;
      while (i < end) {
        const c = FOLD[h[i]];
        if (c === folded[last]) {
          let j = last - 1;
          let k = i - 1;
          while (j >= 0 && FOLD[h[k]] === folded[j]) {
            j--;
            k--;
          }
          if (j < 0) return true;
        }
        i += shift[c];
      }
      return false;
    },
    inString(line: string): boolean {
      return line.toLowerCase().includes(lowerText);
    },
  };
}
