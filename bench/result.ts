// The shapes the benchmarks return, so that `npm run bench` can print one table and write
// bench/results.json: every scenario against baselines measured in the same run.

/** One measured run of the ingester (or the writer alone). */
export interface Throughput {
  events: number;
  seconds: number;
  /** Payload bytes: the frames' data as received, what the history stores. */
  payloadBytes: number;
  peakRssMb: number;
}

export interface ScenarioResult {
  /** e.g. "Auth0 end-to-end"; `detail` says what was streamed and how. */
  name: string;
  detail: string;
  sseSink: Throughput;
  /** The same rows with plain prepared statements in one transaction, same pragmas. */
  raw: { events: number; seconds: number };
  /** Each event committed in its own transaction (a sample of the stream), same pragmas. */
  naive: { events: number; seconds: number };
  /**
   * The same naive ingester on SQLite's default 4 KB pages: sse-sink's 16 KB pages slow a commit
   * per event down more than they slow batches, so this is the stricter floor (reported, not judged).
   */
  naiveSmallPages: { events: number; seconds: number };
  /** Ratios the issue asks for at least. */
  targets: { vsRaw: number; vsNaive: number };
}

export const eventsPerSecond = ({ events, seconds }: { events: number; seconds: number }): number => events / seconds;

/** A component measured against one baseline (the SSE client against eventsource-parser). */
export interface BenchResult {
  name: string;
  /** Unit of `value` and `baselineValue`, e.g. "MB/s". */
  unit: string;
  value: number;
  baselineName: string;
  baselineValue: number;
  /** The ratio value / baselineValue asked for at least. */
  target: number;
  peakRssMb?: number;
}
