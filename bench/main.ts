// `npm run bench`: runs every benchmark in this process and prints one table of ratios against
// baselines measured in the same run (never absolute timings, which depend on the machine).
import { cpus } from 'node:os';
import Database from 'better-sqlite3';
import { benchAuth0 } from './auth0.bench.js';
import type { BenchResult } from './result.js';
import { benchSanity } from './sanity.bench.js';
import { benchWriter } from './writer.bench.js';

const benches: (() => Promise<BenchResult>)[] = [benchWriter, benchSanity, benchAuth0];

function row(result: BenchResult): string {
  const ratio = result.value / result.baselineValue;
  const verdict = ratio >= result.target ? 'ok' : 'BELOW TARGET';
  return [
    result.name.padEnd(44),
    `${fmt(result.value)} ${result.unit}`.padStart(20),
    `${fmt(result.baselineValue)} ${result.unit}`.padStart(20),
    `${ratio.toFixed(2)}x`.padStart(7),
    `>= ${result.target}x`.padStart(8),
    `${result.peakRssMb?.toFixed(0) ?? '-'} MB`.padStart(8),
    `  ${verdict}  (vs ${result.baselineName})`,
  ].join(' ');
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

const sqliteVersion = (new Database(':memory:').prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
console.log(`sse-sink bench: node ${process.version}, SQLite ${sqliteVersion}, ${cpus().length} cores`);
console.log(
  ['scenario'.padEnd(44), 'sse-sink'.padStart(20), 'baseline'.padStart(20), 'ratio'.padStart(7), 'target'.padStart(8), 'peak RSS'.padStart(8)].join(' '),
);
let belowTarget = 0;
for (const bench of benches) {
  const result = await bench();
  if (result.value / result.baselineValue < result.target) belowTarget++;
  console.log(row(result));
}
if (belowTarget) console.log(`${belowTarget} scenario(s) below target`);
