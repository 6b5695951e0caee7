/**
 * Admission control for expensive work: at most `maxRunning` at once, at most `maxWaiting` queued
 * in arrival order, and anything beyond is refused at once (the caller answers "busy") instead of
 * piling up memory and minutes of queued work.
 */
export class Admission {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private runs = 0;

  constructor(
    private readonly maxRunning: number,
    private readonly maxWaiting: number,
    private readonly busy: () => Error,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.maxRunning) this.running++;
    else if (this.waiting.length >= this.maxWaiting) throw this.busy();
    else await new Promise<void>((go) => this.waiting.push(go)); // the finishing run hands its slot over
    try {
      this.runs++;
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** How many runs have started (for tests). */
  started(): number {
    return this.runs;
  }

  /** Running now, and waiting. */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
