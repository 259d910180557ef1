// Runs the planned streams in this process on one store until each stops. SIGINT and SIGTERM
// commit every open batch and end with exit 0; a stream that fails stops the others, and its
// error is the process's. With --standby a stream held by another ingester is waited for, and one
// whose lease is taken over is waited for again; several streams make this process a fleet member.
import { LeaseLostError } from '../common/errors.js';
import type { FleetMembership, Store } from '../core/store.js';
import { FleetShare } from '../ingest/fleet.js';
import { runIngest, type IngestSummary } from '../ingest/run-ingest.js';
import type { StreamSlot } from '../ingest/standby.js';
import { openStore, type StoreTarget } from '../store/open-store.js';
import { LEASE_TTL_MS } from '../store/stream-rules.js';
import type { IngestPlan } from './ingest-options.js';
import { observeStreams, type ObserveOptions, type StreamObserver } from './observe.js';

export interface RunPlansOptions {
  db: StoreTarget;
  durable: boolean;
  /** Logs, metrics server, progress line. */
  observe?: ObserveOptions;
  /** The lease's length; the store's default (30 s) when unset. */
  leaseTtlMs?: number;
  standby?: boolean;
}

/** A standby asks for its lease at least this often (and four times per lease). */
const STANDBY_POLL_MS = 1000;

interface Standing {
  pollMs: number;
  fleet?: FleetShare;
  /** The streams' hand-over switches: aborting one ends that stream's run so another member takes it. */
  handovers: Map<string, AbortController>;
}

export async function runIngestPlans(plans: IngestPlan[], options: RunPlansOptions): Promise<IngestSummary[]> {
  const { db, durable, observe, leaseTtlMs } = options;
  // Before the database: a metrics port that cannot be bound is a usage error that touches nothing.
  const observation = await observeStreams(observe);
  const stopAll = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    observation.log.info('stopping: committing the open batches', { signal });
    stopAll.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let membership: FleetMembership | undefined;
  let renewal: NodeJS.Timeout | undefined;
  try {
    const store = await openStore(db, { durable, ingestLog: observation.log, leaseTtlMs });
    try {
      let standing: Standing | undefined;
      if (options.standby) {
        const ttlMs = leaseTtlMs ?? LEASE_TTL_MS;
        standing = { pollMs: Math.min(STANDBY_POLL_MS, ttlMs / 4), handovers: new Map() };
        if (plans.length > 1 && store.joinFleet) {
          const fleet = new FleetShare(plans.length);
          membership = await store.joinFleet({ ttlMs });
          fleet.setMembers(await membership.renew());
          standing.fleet = fleet;
          renewal = setInterval(() => void shareAgain(membership!, fleet, standing!.handovers, observation.log), ttlMs / 3);
        }
      }
      // Settled, not all: the streams a failure stopped still commit their open batches before close.
      const results = await Promise.allSettled(
        plans.map((plan) => runPlan(plan, store, stopAll, observation.hooksFor(plan.checked.stream, { source: plan.kind }), leaseTtlMs, standing)),
      );
      const failed = results.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      return results.map((result) => (result as PromiseFulfilledResult<IngestSummary>).value);
    } finally {
      clearInterval(renewal);
      // Leaving at once lets the others' shares grow now, not when the membership runs out.
      await membership?.leave().catch(() => undefined);
      await store.close();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await observation.close();
  }
}

/** Renews the membership, and hands back the streams over this process's new share. */
async function shareAgain(membership: FleetMembership, fleet: FleetShare, handovers: Map<string, AbortController>, log: StreamObserver['log']): Promise<void> {
  try {
    fleet.setMembers(await membership.renew());
  } catch (error) {
    // The database is away: the leases say who holds what, and the next renewal counts again.
    log.warn('could not renew the fleet membership', { error: error instanceof Error ? error.message : String(error) });
    return;
  }
  for (const stream of fleet.surplus()) {
    log.info('handing the stream over: this process holds more than its share', { stream, share: fleet.share });
    handovers.get(stream)?.abort();
  }
}

async function runPlan(
  { checked, createSource }: IngestPlan,
  store: Store,
  stopAll: AbortController,
  hooks: StreamObserver,
  leaseTtlMs: number | undefined,
  standing: Standing | undefined,
): Promise<IngestSummary> {
  const slot: StreamSlot | undefined = standing?.fleet?.slotFor(checked.stream);
  // Asked for once: a stream taken over again resumes a snapshot left running, and starts none.
  let snapshot = checked.snapshot;
  for (;;) {
    const handover = new AbortController();
    standing?.handovers.set(checked.stream, handover);
    try {
      const summary = await runIngest({
        store,
        stream: checked.stream,
        source: createSource(),
        since: checked.since,
        snapshot,
        untilIdleMs: checked.untilIdleMs,
        maxEvents: checked.maxEvents,
        maxDurationMs: checked.maxDurationMs,
        signal: AbortSignal.any([stopAll.signal, handover.signal]),
        leaseTtlMs,
        standby: standing && { pollMs: standing.pollMs, slot },
        log: hooks.log,
        onCommit: hooks.onCommit,
        onConnectionEvent: hooks.onConnectionEvent,
      });
      snapshot = undefined;
      if (handover.signal.aborted && !stopAll.signal.aborted) continue;
      hooks.stopped(summary.stopReason);
      hooks.log.info('stopped', { ...summary });
      return summary;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      snapshot = undefined;
      if (standing && error instanceof LeaseLostError && !stopAll.signal.aborted) {
        hooks.log.warn('the stream was taken over; standing by again', { error: message });
        continue;
      }
      hooks.stopped(message);
      hooks.log.error('stream failed', { error: message });
      stopAll.abort();
      throw error;
    } finally {
      slot?.give();
    }
  }
}
