// Caller/called identity comparison for the `from` and `to` criteria (DESIGN §5): telephone numbers
// compare on digits only, a national form matches its international form by suffix (at least
// MIN_SUFFIX_DIGITS significant digits), other users compare case-insensitively and exactly.
// It owns the normalisation of both sides; which headers feed it is criteria.ts's business.

/** Shortest suffix that may stand for a whole number (DESIGN §5: "at least 7 digits"). */
export const MIN_SUFFIX_DIGITS = 7;

/**
 * Digits of a telephone number written with visual separators (RFC 3966 §5.1.1: `-` `.` `(` `)`,
 * plus spaces and `/` as people type them), an optional leading `+`, and optional `;params` after the
 * number (`+1555;phone-context=…`, `;npdi;rn=…`). Null when anything else appears (letters, `*`, `#`)
 * or there is no digit: such users are not telephone numbers.
 */
export function telephoneDigits(user: string): string | null {
  let end = user.indexOf(';');
  if (end < 0) end = user.length;
  let i = 0;
  while (i < end && user.charCodeAt(i) === 0x20) i++;
  if (i < end && user.charCodeAt(i) === 0x2b /* + */) i++;
  let digits = '';
  let plain = true;
  const start = i;
  for (; i < end; i++) {
    const c = user.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (!plain) digits += user[i];
      continue;
    }
    if (c === 0x2d || c === 0x2e || c === 0x28 || c === 0x29 || c === 0x20 || c === 0x2f) {
      if (plain) {
        digits = user.slice(start, i);
        plain = false;
      }
      continue;
    }
    return null;
  }
  if (plain) digits = user.slice(start, end);
  return digits.length === 0 ? null : digits;
}

const stripLeadingZeros = (d: string): string => {
  let i = 0;
  while (i < d.length - 1 && d.charCodeAt(i) === 0x30) i++;
  return i === 0 ? d : d.slice(i);
};

/**
 * ASCII letters lowercased, everything else as is. User names fold only A–Z (as `text` does on
 * packets): `ALICE` = `alice`, but `MÜLLER` ≠ `müller`; the raw pre-check (byte search, ASCII-only
 * case-insensitive) then agrees with the full comparison.
 */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}

/** A compiled `from`/`to` criterion: test(user) → does that URI user denote the same party? */
export interface UserMatcher {
  readonly numeric: boolean;
  test(user: string | undefined): boolean;
}

/**
 * Compiles a criterion value. A value made of digits and visual separators (optionally `tel:` or
 * `+`) is a telephone number; anything else is a user name compared case-insensitively.
 * Number rule: equal digit strings match; otherwise, after dropping leading zeros on both sides
 * (trunk `0` and international `00` prefixes), the shorter must have ≥ 7 digits and be a suffix
 * of the longer (`5554430191` ~ `+1 555 443 0191`, `020 7946 0018` ~ `+44 20 7946 0018`).
 */
export function compileUserMatcher(value: string): UserMatcher {
  let v = value.trim();
  if (/^(tel|sips?):/i.test(v)) {
    v = v.slice(v.indexOf(':') + 1);
    const at = v.indexOf('@');
    if (at >= 0) v = v.slice(0, at);
  }
  const digits = telephoneDigits(v);
  if (digits === null) {
    const lower = asciiLower(v);
    return {
      numeric: false,
      test: (user) => user !== undefined && user.length === lower.length && asciiLower(user) === lower,
    };
  }
  const sig = stripLeadingZeros(digits);
  return {
    numeric: true,
    test: (user) => {
      if (user === undefined) return false;
      const d = telephoneDigits(user);
      if (d === null) return false;
      if (d === digits) return true;
      const s = stripLeadingZeros(d);
      if (s.length >= sig.length) return sig.length >= MIN_SUFFIX_DIGITS && s.endsWith(sig);
      return s.length >= MIN_SUFFIX_DIGITS && sig.endsWith(s);
    },
  };
}
