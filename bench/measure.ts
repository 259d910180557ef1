// Small measuring tools shared by the benchmarks: best-of-N timing and peak RSS sampling.

/** Runs `work` `runs` times and returns the fastest duration in seconds. */
export async function bestOf(runs: number, work: () => unknown | Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    await work();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e9);
  }
  return best;
}

/** Samples RSS every 20 ms while `work` runs; returns the peak in MB. */
export async function peakRssDuring<T>(work: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakRssMb: peak / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}

/**
 * RSS each time a stream passes a quarter of its length: memory that stays flat while the stream
 * grows shows that nothing is kept per event.
 */
export class RssCheckpoints {
  readonly samplesMb: number[] = [];
  private next = 0;

  constructor(
    private readonly total: number,
    readonly fractions: readonly number[] = [0.25, 0.5, 0.75, 1],
  ) {}

  /** Told how much of the stream is done; samples RSS when that passes the next fraction. */
  progress(done: number): void {
    while (this.next < this.fractions.length && done >= this.fractions[this.next] * this.total) {
      this.samplesMb.push(process.memoryUsage().rss / 1024 / 1024);
      this.next++;
    }
  }

  /** Flat: what the process holds at the end is within `toleranceMb` of what it held at the first sample. */
  isFlat(toleranceMb = 32): boolean {
    return this.samplesMb.length > 0 && this.samplesMb.at(-1)! - this.samplesMb[0] < toleranceMb;
  }

  /** e.g. "RSS flat: 160/158/161/160 MB at 25%/50%/75%/100%". */
  describe(): string {
    return `RSS ${this.isFlat() ? 'flat' : 'GROWS'}: ${this.samplesMb.map((mb) => mb.toFixed(0)).join('/')} MB at ` +
      this.fractions.map((f) => `${f * 100}%`).join('/');
  }
}
