// A concurrency gate: at most `atOnce` tasks run, at most `waiting` more wait for a turn (first come,
// first served), and a task beyond that is refused at once with the error `full()` makes. Bounds what
// a burst of expensive requests (PNG renders, scrypt verifications) can take: memory and CPU of
// `atOnce` tasks, and a queue that cannot grow without bound.

export class Gate {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    readonly atOnce: number,
    readonly waiting: number,
    private readonly full: () => Error,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.atOnce) {
      if (this.queue.length >= this.waiting) throw this.full();
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else this.running++;
    try {
      return await work();
    } finally {
      const next = this.queue.shift();
      if (next !== undefined) next(); // the turn passes on: `running` stays
      else this.running--;
    }
  }
}
