// The shape every benchmark returns, so that `npm run bench` can print one table of ratios.

export interface BenchResult {
  /** What was measured, e.g. "batch writer". */
  name: string;
  /** Unit of `value` and `baselineValue`, e.g. "events/s" or "MB/s". */
  unit: string;
  value: number;
  /** What the value is compared against, measured in the same process, e.g. "raw better-sqlite3 inserts". */
  baselineName: string;
  baselineValue: number;
  /** The ratio value / baselineValue that the issue asks for at least. */
  target: number;
  peakRssMb?: number;
}
