// Runs the planned streams in this process on one store until each stops. SIGINT and SIGTERM
// commit every open batch and end with exit 0; a stream that fails stops the others, and its
// error is the process's.
import type { Store } from '../core/store.js';
import { runIngest, type IngestSummary } from '../ingest/run-ingest.js';
import { openStore, type StoreTarget } from '../store/open-store.js';
import type { IngestPlan } from './ingest-options.js';
import { observeStreams, type ObserveOptions, type StreamObserver } from './observe.js';

export interface RunPlansOptions {
  db: StoreTarget;
  durable: boolean;
  /** Logs, metrics server, progress line. */
  observe?: ObserveOptions;
}

export async function runIngestPlans(plans: IngestPlan[], { db, durable, observe }: RunPlansOptions): Promise<IngestSummary[]> {
  // Before the database: a metrics port that cannot be bound is a usage error that touches nothing.
  const observation = await observeStreams(observe);
  const stopAll = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    observation.log.info('stopping: committing the open batches', { signal });
    stopAll.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const store = await openStore(db, { durable, ingestLog: observation.log });
    try {
      // Settled, not all: the streams a failure stopped still commit their open batches before close.
      const results = await Promise.allSettled(
        plans.map((plan) => runPlan(plan, store, stopAll, observation.hooksFor(plan.checked.stream, { source: plan.source.kind }))),
      );
      const failed = results.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      return results.map((result) => (result as PromiseFulfilledResult<IngestSummary>).value);
    } finally {
      await store.close();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await observation.close();
  }
}

async function runPlan({ checked, source }: IngestPlan, store: Store, stopAll: AbortController, hooks: StreamObserver): Promise<IngestSummary> {
  try {
    const summary = await runIngest({
      store,
      stream: checked.stream,
      source,
      since: checked.since,
      untilIdleMs: checked.untilIdleMs,
      maxEvents: checked.maxEvents,
      maxDurationMs: checked.maxDurationMs,
      signal: stopAll.signal,
      log: hooks.log,
      onCommit: hooks.onCommit,
      onConnectionEvent: hooks.onConnectionEvent,
    });
    hooks.stopped(summary.stopReason);
    hooks.log.info('stopped', { ...summary });
    return summary;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    hooks.stopped(message);
    hooks.log.error('stream failed', { error: message });
    stopAll.abort();
    throw error;
  }
}
