// `npm run bench [-- --chart] [-- --million]`: runs every scenario in this process against
// baselines measured in the same run, prints a table and writes bench/results.json (and the chart).
import { benchCatchUp, catchUpLine } from './catch-up.bench.js';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import Database from 'better-sqlite3';
import { benchAuth0, ingestAuth0, ingestAuth0Scenario } from './auth0.bench.js';
import { componentLine, markdownTable, scenarioSummary, throughputSvg, type Machine, type MillionResult } from './report.js';
import type { ScenarioResult } from './result.js';
import { benchSanity, ingestSanity } from './sanity.bench.js';
import { startTestPostgres } from '../harness/postgres-server.js';
import { benchPostgres, type PostgresLine } from './postgres.bench.js';
import { benchExport } from './export.bench.js';
import { auth0SnapshotLine, benchAuth0Snapshot, benchSanityReadPaths, benchSnapshot, sanityReadPathsLine, snapshotLine } from './snapshot.bench.js';
import { benchSseClient } from './sse-client.bench.js';
import { benchWriter, writerByBatchSize } from './writer.bench.js';

const args = new Set(process.argv.slice(2));
const benchDir = new URL('../../bench/', import.meta.url);

const machine: Machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model.trim() ?? 'unknown',
  node: process.version,
  sqlite: (new Database(':memory:').prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
  date: new Date().toISOString(),
};
console.log(`sse-sink bench: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, SQLite ${machine.sqlite}`);

// First, while the process holds nothing else: its peak RSS is the ingester's (and the server thread's).
let million: MillionResult | undefined;
if (args.has('--million')) {
  console.log('Auth0 end-to-end, 1,000,000 events (peak RSS check)…');
  const { rss, ...throughput } = await ingestAuth0(1_000_000);
  million = { throughput, rss: rss.describe(), targetPeakRssMb: 150 };
  console.log(`  ${Math.round(throughput.events / throughput.seconds)} events/s, peak RSS ${throughput.peakRssMb.toFixed(0)} MB; ${million.rss}`);
}

// The ingests next, before any baseline: rows a baseline held stay in RSS for a while after.
console.log('Auth0 end-to-end…');
const auth0 = await ingestAuth0Scenario();
console.log('Auth0 end-to-end --durable…');
const auth0Durable = await ingestAuth0Scenario(true);
console.log('Sanity end-to-end…');
const sanity = await ingestSanity();
console.log('baselines and batch writer alone…');
const scenarios: ScenarioResult[] = [
  await benchWriter(),
  await benchAuth0(auth0),
  await benchSanity(sanity),
  await benchAuth0(auth0Durable, { durable: true }),
];
console.log('SSE client…');
const sseClient = await benchSseClient();
console.log('export…');
const exportHistory = await benchExport();
console.log('Sanity catch-up…');
const catchUp = await benchCatchUp();
console.log('Sanity snapshot…');
const snapshot = await benchSnapshot();
console.log('Sanity snapshot read paths…');
const sanityReadPaths = await benchSanityReadPaths();
console.log('Auth0 snapshot…');
const auth0Snapshot = await benchAuth0Snapshot();

console.log('PostgreSQL end-to-end (a throw-away server, fsync on)…');
const postgresServer = await startTestPostgres({ durable: true });
let postgres: PostgresLine[];
try {
  postgres = await benchPostgres(postgresServer);
} finally {
  await postgresServer.stop();
}

let chart: { batchSize: number; eventsPerSecond: number }[] | undefined;
if (args.has('--chart')) {
  console.log('batch writer by batch size…');
  chart = await writerByBatchSize();
  writeFileSync(new URL('throughput-by-batch-size.svg', benchDir), throughputSvg(chart, machine));
}

console.log('');
console.log(markdownTable(scenarios, million));
console.log('');
for (const s of scenarios) console.log(`- ${s.name}: ${s.detail}`);
if (million) console.log(`- Auth0 end-to-end, 1,000,000 events: ${million.rss}`);
console.log(`- ${componentLine(sseClient)}`);
console.log(`- ${componentLine(exportHistory)}`);
console.log(`- ${catchUpLine(catchUp)}`);
console.log(`- ${snapshotLine(snapshot)}`);
console.log(`- ${sanityReadPathsLine(sanityReadPaths)}`);
console.log(`- ${auth0SnapshotLine(auth0Snapshot)}`);
for (const p of postgres) {
  console.log(
    `- ${p.name} (100k events, 500/batch, one transaction each): ${Math.round(p.eventsPerSecond)} events/s, peak RSS ${Math.round(p.peakRssMb)} MB (${p.rss}); ` +
      `${p.vsPlain.toFixed(2)}x of plain statements in one transaction (${Math.round(p.plainEventsPerSecond)}/s; target >= ${p.targets.vsPlain}x), ` +
      `${p.vsNaive.toFixed(1)}x of a commit per event (${Math.round(p.naiveEventsPerSecond)}/s; target >= ${p.targets.vsNaive}x): ${p.pass ? 'pass' : 'FAIL'}`,
  );
}
if (chart) console.log(`- writer events/s by batch size: ${chart.map((p) => `${p.batchSize}: ${Math.round(p.eventsPerSecond)}`).join(', ')}`);

writeFileSync(
  new URL('results.json', benchDir),
  `${JSON.stringify(
    {
      machine,
      scenarios: scenarios.map(scenarioSummary),
      million: million && {
        eventsPerSecond: Math.round(million.throughput.events / million.throughput.seconds),
        peakRssMb: Math.round(million.throughput.peakRssMb),
        rss: million.rss,
        targetPeakRssMb: million.targetPeakRssMb,
        pass: million.throughput.peakRssMb < million.targetPeakRssMb,
      },
      sseClient,
      export: exportHistory,
      catchUp,
      snapshot,
      auth0Snapshot,
      sanityReadPaths,
      postgres,
      writerByBatchSize: chart,
    },
    null,
    2,
  )}\n`,
);
const failed =
  scenarios.map(scenarioSummary).filter((s) => !s.pass).length +
  postgres.filter((p) => !p.pass).length +
  (million && million.throughput.peakRssMb >= million.targetPeakRssMb ? 1 : 0);
console.log(failed ? `\n${failed} scenario(s) below target` : '\nall targets met');
