// Login rate limit: failed attempts per key (IP + username) in a sliding window, in memory.
// Bounded: at most `maxKeys` keys are tracked; the oldest are dropped first.

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** ms until the key may try again, or 0 when it may try now */
  retryAfterMs(key: string, now: number): number {
    const list = this.prune(key, now);
    if (list.length < this.maxFailures) return 0;
    return Math.max(1, list[list.length - this.maxFailures] + this.windowMs - now);
  }

  fail(key: string, now: number): void {
    const list = this.prune(key, now);
    list.push(now);
    this.failures.delete(key);
    this.failures.set(key, list.slice(-this.maxFailures));
    if (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private prune(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length === 0) this.failures.delete(key);
    return list;
  }
}
