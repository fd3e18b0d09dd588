// Login protection, in memory:
// - failed attempts per source address + user name (guessing one user's password) and per source
//   address alone (password spraying: a few tries on each of many user names), each in a sliding
//   window; an IPv6 address counts as its /64, which one client usually holds whole;
// - a gate on password verification: each scrypt costs ~32 MB and tens of ms of a libuv thread, so at
//   most LOGIN_VERIFY_AT_ONCE run at once and LOGIN_VERIFY_WAITING wait; a flood beyond that is
//   answered 429 at once instead of taking memory per request.
// The failure counts live in memory (FailureLimiter, one center) or, with PostgreSQL, in the database
// shared by every center (storage/postgres/login-limiter.ts).
// Bounded: at most `maxKeys` keys per limiter are tracked; the oldest are dropped first.
import net from 'node:net';
import { TunaError } from '../../core/errors.js';
import { Gate } from '../http/gate.js';

export const LOGIN_VERIFY_AT_ONCE = 2;
export const LOGIN_VERIFY_WAITING = 32;

export interface LoginLimiter {
  /** ms until the key may try again, or 0 when it may try now */
  retryAfterMs(key: string, now: number): Promise<number>;
  fail(key: string, now: number): Promise<void>;
  succeed(key: string): Promise<void>;
}

export class FailureLimiter implements LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** ms until the key may try again, or 0 when it may try now */
  async retryAfterMs(key: string, now: number): Promise<number> {
    const list = this.prune(key, now);
    if (list.length < this.maxFailures) return 0;
    return Math.max(1, list[list.length - this.maxFailures] + this.windowMs - now);
  }

  async fail(key: string, now: number): Promise<void> {
    const list = this.prune(key, now);
    list.push(now);
    this.failures.delete(key);
    this.failures.set(key, list.slice(-this.maxFailures));
    if (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  async succeed(key: string): Promise<void> {
    this.failures.delete(key);
  }

  private prune(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length === 0) this.failures.delete(key);
    return list;
  }
}

/** The rate-limit key of a source address: IPv4 as is (also when IPv4-mapped), IPv6 as its /64. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!net.isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const h = head === '' ? [] : head.split(':');
  const t = ip.includes('::') && tail !== '' ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export type LoginLimit = 'user' | 'address' | 'busy';

export class LoginGuard {
  private readonly perUser: LoginLimiter;
  private readonly perAddress: LoginLimiter;
  private readonly gate = new Gate(
    LOGIN_VERIFY_AT_ONCE,
    LOGIN_VERIFY_WAITING,
    () => {
      this.o.onLimited?.('busy');
      return new TunaError('rate_limited', 'too many logins are being checked at once; try again in a second', 1000);
    },
  );

  constructor(
    private readonly o: {
      maxFailures: number;
      maxFailuresPerAddress: number;
      windowMs: number;
      onLimited?: (limit: LoginLimit) => void;
      /** where failures are counted (max, window) → limiter; in memory when omitted */
      limiter?: (maxFailures: number, windowMs: number, scope: 'user' | 'address') => LoginLimiter;
    },
  ) {
    const make = o.limiter ?? ((max: number, windowMs: number) => new FailureLimiter(max, windowMs));
    this.perUser = make(o.maxFailures, o.windowMs, 'user');
    this.perAddress = make(o.maxFailuresPerAddress, o.windowMs, 'address');
  }

  /** Throws 429 (with the wait) when the address, or the address + user name, used up its failures. */
  async check(ip: string, username: string, now: number): Promise<void> {
    const addr = await this.perAddress.retryAfterMs(addressKey(ip), now);
    if (addr > 0) {
      this.o.onLimited?.('address');
      throw new TunaError('rate_limited', `too many failed logins from your address; try again in ${Math.ceil(addr / 1000)} s`, addr);
    }
    const user = await this.perUser.retryAfterMs(userKey(ip, username), now);
    if (user > 0) {
      this.o.onLimited?.('user');
      throw new TunaError('rate_limited', `too many failed logins; try again in ${Math.ceil(user / 1000)} s`, user);
    }
  }

  async fail(ip: string, username: string, now: number): Promise<void> {
    await this.perAddress.fail(addressKey(ip), now);
    await this.perUser.fail(userKey(ip, username), now);
  }

  /** A success clears the user's count from that address; the address's own failures run out with the window. */
  async succeed(ip: string, username: string): Promise<void> {
    await this.perUser.succeed(userKey(ip, username));
  }

  /** Runs one password verification through the gate (429 at once when it is full). */
  verify<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.run(work);
  }
}

const userKey = (ip: string, username: string): string => `${addressKey(ip)}\u0000${username}`;
