// Sanity catch-up from the History API: a dataset whose transactions all happened before the
// stream started (`--since`), rebuilt from the simulator's History endpoints, against the same
// transactions sent by the live listener, same process, same database settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import { randomScript, SanitySimulator, startSanitySimulator } from '../src/simulators/sanity-simulator.js';

const TRANSACTIONS = 5_000;

export interface CatchUpResult {
  transactions: number;
  /** Mutation events stored. */
  changes: number;
  historyTransactionsPerSecond: number;
  liveTransactionsPerSecond: number;
  requestsPer1000Transactions: number;
}

export async function benchCatchUp(): Promise<CatchUpResult> {
  const script = randomScript({ seed: 5, transactions: TRANSACTIONS, documents: 500, start: '2026-03-01T09:00:00.000000Z' });
  const history = await ingestOnce(script, 'history');
  const live = await ingestOnce(script, 'live');
  return {
    transactions: TRANSACTIONS,
    changes: history.changes,
    historyTransactionsPerSecond: TRANSACTIONS / history.seconds,
    liveTransactionsPerSecond: TRANSACTIONS / live.seconds,
    requestsPer1000Transactions: (history.requests / TRANSACTIONS) * 1000,
  };
}

export function catchUpLine(result: CatchUpResult): string {
  const ratio = result.historyTransactionsPerSecond / result.liveTransactionsPerSecond;
  return `Sanity catch-up from History (${result.transactions} transactions, ${result.changes} changes, simulator on 127.0.0.1): ` +
    `${result.historyTransactionsPerSecond.toFixed(0)} transactions/s, ${ratio.toFixed(2)}x of the same transactions from the live listener ` +
    `(${result.liveTransactionsPerSecond.toFixed(0)}/s); ${result.requestsPer1000Transactions.toFixed(0)} History requests per 1,000 transactions`;
}

async function ingestOnce(script: ReturnType<typeof randomScript>, how: 'history' | 'live'): Promise<{ seconds: number; changes: number; requests: number }> {
  const sim = new SanitySimulator({ keepAliveMs: 200 });
  if (how === 'history') sim.publish(...script);
  const server = await startSanitySimulator(sim);
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-catch-up-'));
  const db = join(dir, 'bench.db');
  let requests = 0;
  try {
    const source = new SanitySource({
      config: simulatedDatasetConfig(server.url, { projectId: 'bench', query: '*[_type in ["post", "author", "page"]]' }),
      resume: 'enable-resume',
      token: () => undefined,
      onHistoryRequest: () => requests++,
    });
    const started = performance.now();
    // Live: a stream without --since starts at the first welcome, with nothing to catch up.
    const since = how === 'history' ? '2026-03-01T00:00:00Z' : null;
    const run = runIngestOnFile({ dbPath: db, stream: 'bench', source, since, untilIdleMs: 300, log: createLogger({ level: 'error', format: 'json', write: () => {} }) });
    if (how === 'live') {
      while (sim.listens.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      sim.publish(...script);
    }
    await run;
    // The run waited --until-idle after the last event: that wait is not the ingest's work.
    const seconds = (performance.now() - started) / 1000 - 0.3;
    return { seconds, changes: sim.changes.length, requests };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
