// Secrets: random tokens, their sha256 digests (tokens carry ≥128 random bits, so a fast hash is
// enough), scrypt password hashes, and constant-time comparison of both.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** 256 random bits, base64url (43 characters). */
export const newToken = (): string => randomBytes(32).toString('base64url');

/** 80 random bits as 20 lowercase hex digits: the session id format of the seed. */
export const newSessionId = (): string => randomBytes(10).toString('hex');

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** Constant-time equality of two hex digests of the same algorithm. */
export function digestsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

// scrypt parameters (RFC 7914): N=2^15, r=8, p=1 costs ~32 MB and tens of ms, stored with the hash
// (so verification follows whatever cost a hash was made with).
export const SCRYPT_DEFAULT_LOG2N = 15;
const R = 8;
const P = 1;
const KEYLEN = 32;

const derive = (password: string, salt: Buffer, n: number, r: number, p: number, len: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(password, salt, len, { N: n, r, p, maxmem: 128 * n * r * 2 }, (err, key) => (err ? reject(err) : resolve(key))),
  );

/** `scrypt$N$r$p$salt$hash` with base64 salt and hash. */
export async function hashPassword(password: string, log2N = SCRYPT_DEFAULT_LOG2N): Promise<string> {
  const N = 2 ** log2N;
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P, KEYLEN);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 2 ** 20 || r > 32 || p > 16) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const key = await derive(password, salt, n, r, p, expected.length);
  return timingSafeEqual(key, expected);
}
