// Sanity snapshot: a dataset's documents read from the simulator's query API into a fresh
// database, against the same documents arriving as live `appear` events (one create each), same
// process, same database settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import { SanitySimulator, startSanitySimulator, timestampAt, type ScriptTransaction } from '../src/simulators/sanity-simulator.js';

const DOCUMENTS = 20_000;
const IDLE_MS = 300;

export interface SnapshotResult {
  documents: number;
  snapshotRowsPerSecond: number;
  /** The same, without the time the simulator spent evaluating the queries (groq-js over every document, per page). */
  snapshotRowsPerSecondWithoutSimulator: number;
  liveEventsPerSecond: number;
  queryRequests: number;
}

export async function benchSnapshot(): Promise<SnapshotResult> {
  const script: ScriptTransaction[] = Array.from({ length: DOCUMENTS }, (_, i) => ({
    id: `tx${String(i).padStart(8, '0')}`,
    timestamp: timestampAt('2026-03-01T09:00:00.000000Z', i),
    mutations: [{ create: { _id: `doc-${String(i).padStart(6, '0')}`, _type: i % 2 ? 'post' : 'author', title: `document ${i}`, n: i, tags: ['a', 'b'] } }],
  }));
  const snapshot = await ingestOnce(script, 'snapshot');
  const live = await ingestOnce(script, 'live');
  return {
    documents: DOCUMENTS,
    snapshotRowsPerSecond: DOCUMENTS / snapshot.seconds,
    snapshotRowsPerSecondWithoutSimulator: DOCUMENTS / (snapshot.seconds - snapshot.simulatorSeconds),
    liveEventsPerSecond: DOCUMENTS / live.seconds,
    queryRequests: snapshot.queryRequests,
  };
}

export function snapshotLine(result: SnapshotResult): string {
  const ratio = result.snapshotRowsPerSecondWithoutSimulator / result.liveEventsPerSecond;
  return `Sanity snapshot (${result.documents} documents, 1000 per page, simulator on 127.0.0.1, fresh SQLite file): ` +
    `${result.snapshotRowsPerSecond.toFixed(0)} rows/s end to end; ${result.snapshotRowsPerSecondWithoutSimulator.toFixed(0)} rows/s without the ` +
    `simulator's own query evaluation, ${ratio.toFixed(2)}x of the same documents as live appear events (${result.liveEventsPerSecond.toFixed(0)}/s); ` +
    `${result.queryRequests} query requests`;
}

async function ingestOnce(script: ScriptTransaction[], how: 'snapshot' | 'live'): Promise<{ seconds: number; simulatorSeconds: number; queryRequests: number }> {
  const sim = new SanitySimulator({ keepAliveMs: 200 });
  if (how === 'snapshot') sim.publish(...script);
  const server = await startSanitySimulator(sim);
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-snapshot-'));
  try {
    const source = new SanitySource({
      config: simulatedDatasetConfig(server.url, { projectId: 'bench', query: '*[_type in ["post", "author"]]' }),
      resume: 'enable-resume',
      token: () => undefined,
    });
    const started = performance.now();
    const run = runIngestOnFile({
      dbPath: join(dir, 'bench.db'),
      stream: 'bench',
      source,
      snapshot: how === 'snapshot' ? 'first-run' : undefined,
      untilIdleMs: IDLE_MS,
      log: createLogger({ level: 'error', format: 'json', write: () => {} }),
    });
    if (how === 'live') {
      while (sim.listens.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      sim.publish(...script);
    }
    await run;
    // The run waited --until-idle after the last row: that wait is not the ingest's work.
    return {
      seconds: (performance.now() - started) / 1000 - IDLE_MS / 1000,
      simulatorSeconds: sim.queryEvaluationMs / 1000,
      queryRequests: sim.queryRequests.length,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
