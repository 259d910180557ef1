// Small measuring tools shared by the benchmarks: a fresh database per measurement, best-of-N
// timing (alone, or in turns with the ingester) and peak RSS sampling.
//
// Every run is timed from opening its database to closing it, baselines as the ingester: its run
// migrates a new file and, at close, folds what is left in the WAL into the file, so theirs must too.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase, type SinkDatabase } from '../src/store/sqlite/database.js';

/** SQLite's default page size, which sse-sink's databases had before they moved to 16 KB. */
export const SQLITE_DEFAULT_PAGE_BYTES = 4096;

/**
 * A new database file in `dir`, opened as sse-sink opens it. With `pageBytes` the file is created
 * with pages of that size first (openDatabase keeps the page size of a file that exists), so that
 * a baseline can run on the pages an older database has.
 */
export function freshDatabase(dir: string, name: string, { durable = false, pageBytes }: { durable?: boolean; pageBytes?: number } = {}): SinkDatabase {
  const path = join(dir, `${name}-${process.hrtime.bigint()}.db`);
  if (pageBytes) {
    const sqlite = new Database(path);
    sqlite.pragma(`page_size = ${pageBytes}`);
    // Switching to WAL writes the header, which fixes the page size.
    sqlite.pragma('journal_mode = WAL');
    sqlite.close();
  }
  return openDatabase({ path, durable });
}

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

/** How many times each side of an end-to-end scenario is measured; the best run of each counts. */
const TURNS = 3;

/**
 * The best of `TURNS` runs of a baseline and of the ingester, taken in turns (baseline, ingest,
 * baseline, ...) so that a slow spell of a shared machine slows both alike. `first` is
 * the ingest main.ts ran before any baseline, for a clean peak RSS: it is the ingester's first turn.
 */
export async function bestInTurns<T extends { seconds: number }>(
  first: T,
  baselineSeconds: () => number | Promise<number>,
  ingest: () => Promise<T>,
): Promise<{ baselineSeconds: number; ingest: T }> {
  let baseline = await baselineSeconds();
  let best = first;
  for (let turn = 1; turn < TURNS; turn++) {
    const run = await ingest();
    if (run.seconds < best.seconds) best = run;
    baseline = Math.min(baseline, await baselineSeconds());
  }
  return { baselineSeconds: baseline, ingest: best };
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
