// Runs one stream: source -> normalize -> batch -> commit, until the upstream says stop, a
// --max-*/--until-idle limit is reached, or a signal arrives; then commits what is open and stops.
import { DatabaseBusyError, LeaseLostError, UsageError } from '../common/errors.js';
import type { Batch, CommitResult } from '../core/batch.js';
import type { ConnectionEvent } from '../core/connection-event.js';
import type { Logger } from '../core/logger.js';
import type { Source } from '../core/source.js';
import type { UpstreamEvent } from '../core/source-event.js';
import type { Store, StreamWriter } from '../core/store.js';
import { BatchBuilder } from './batch-builder.js';
import { Committer } from './committer.js';
import { IdleClock } from './idle-clock.js';
import { waitForWriter, type Standby } from './standby.js';

export interface IngestOptions<E extends UpstreamEvent = UpstreamEvent> {
  /** Where the stream is written; streams run in one process share one store. */
  store: Store;
  stream: string;
  source: Source<E>;
  /** Canonical RFC-3339 start for a stream without a cursor. */
  since?: string | null;
  /**
   * Snapshot the upstream's current state: on the stream's first run only (--snapshot), or once
   * more (`sse-sink snapshot`).
   */
  snapshot?: 'first-run' | 'again';
  /**
   * Exit after this long connected with no upstream event (heartbeats and keep-alives do not
   * count; time spent disconnected or waiting to reconnect does not either).
   */
  untilIdleMs?: number;
  maxEvents?: number;
  maxDurationMs?: number;
  /** A batch commits at this many events, or when its oldest is `batchAgeMs` old. */
  batchSize?: number;
  batchAgeMs?: number;
  /** A batch that only moves the cursor (heartbeats) commits at most this often. */
  heartbeatFlushMs?: number;
  /** Aborting it (SIGINT/SIGTERM) commits the open batch and ends the run normally. */
  signal?: AbortSignal;
  /** The lease's length (30 s by default): how long a standby waits after this process stops renewing. */
  leaseTtlMs?: number;
  /** Wait for the stream while another ingester holds it, instead of failing with StreamBusyError. */
  standby?: Standby;
  log: Logger;
  onConnectionEvent?: (event: ConnectionEvent) => void;
  /** After each commit; `commitSeconds` is how long the transaction took. */
  onCommit?: (result: CommitResult, batch: Batch, commitSeconds: number) => void;
}

/** Past this many batches' worth of events held on a locked database, every new batch waits for the lock. */
const LOCKED_BATCH_LIMIT = 20;
/**
 * A batch is not ended inside an upstream transaction (Sanity's several documents in one commit),
 * so SQL never sees half of one; but it waits for the rest of one only this long, and only up to
 * this many batches' worth of events.
 */
const TRANSACTION_WAIT_MS = 2000;
const TRANSACTION_BATCH_LIMIT = 4;
/** The lease is renewed this many times within its length (commits renew it too). */
const RENEWALS_PER_LEASE = 3;

export type StopReason = 'signal' | 'until-idle' | 'max-events' | 'max-duration' | 'upstream-ended';

export interface IngestSummary {
  stopReason: StopReason;
  received: number;
  inserted: number;
  duplicates: number;
  deadLetters: number;
  batches: number;
}

export async function runIngest<E extends UpstreamEvent>(options: IngestOptions<E>): Promise<IngestSummary> {
  const { source, log } = options;
  const definition = { name: options.stream, source: source.kind, definition: source.definition };
  const lease = options.leaseTtlMs === undefined ? undefined : { ttlMs: options.leaseTtlMs };
  const writer = options.standby
    ? await waitForWriter(options.store, definition, lease, options.standby, options.signal, log)
    : await options.store.openWriter(definition, lease);
  // Stopped while standing by: nothing was held, nothing read.
  if (!writer) return { stopReason: 'signal', received: 0, inserted: 0, duplicates: 0, deadLetters: 0, batches: 0 };
  try {
    if (options.since && writer.position.cursor) {
      log.warn('the stream already has a cursor, so --since is ignored; "sse-sink reset" starts it again', { since: options.since });
    }
    const startSnapshot = await snapshotWanted(writer, options);
    const summary = await ingestWith(writer, options, startSnapshot);
    try {
      await writer.release(summary.stopReason);
    } catch (error) {
      // Everything read is committed: a release that cannot reach the database only means the
      // lease runs out by itself instead of being handed over at once.
      log.warn('could not release the lease; it runs out by itself', { error: error instanceof Error ? error.message : String(error) });
    }
    return summary;
  } catch (error) {
    await releaseQuietly(writer, error instanceof Error ? error.message : String(error));
    throw error;
  }
}

/**
 * Whether to start a snapshot; one left running is resumed by the source either way. --snapshot
 * asks for the first run's snapshot: a stream that has one (a restart with the same flags) goes
 * on without another, and a stream that began without one is refused.
 */
async function snapshotWanted(writer: StreamWriter, { snapshot, stream, log }: IngestOptions): Promise<boolean> {
  if (!snapshot) return false;
  const latest = await writer.stored.latestSnapshot();
  if (latest?.status === 'running') return false;
  if (snapshot === 'again') return true;
  if (latest && latest.status !== 'reset') {
    log.info('the stream has its snapshot already: --snapshot takes none', { snapshot: latest.snapshotId, startedAt: latest.startedAt });
    return false;
  }
  if (writer.position.cursor !== null) {
    throw new UsageError(
      `stream "${stream}" already has a cursor and began without a snapshot; --snapshot is for a stream's first run: "sse-sink snapshot ${stream}" takes one now`,
    );
  }
  return true;
}

async function ingestWith<E extends UpstreamEvent>(writer: StreamWriter, options: IngestOptions<E>, startSnapshot: boolean): Promise<IngestSummary> {
  const { source, log } = options;
  const batchSize = options.batchSize ?? 500;
  const batchAgeMs = options.batchAgeMs ?? 200;
  const heartbeatFlushMs = options.heartbeatFlushMs ?? 1000;
  const summary: IngestSummary = { stopReason: 'upstream-ended', received: 0, inserted: 0, duplicates: 0, deadLetters: 0, batches: 0 };

  const stop = new AbortController();
  const stopWith = (reason: StopReason) => {
    if (stop.signal.aborted) return;
    summary.stopReason = reason;
    stop.abort();
  };
  const onExternalAbort = () => stopWith('signal');
  if (options.signal?.aborted) stopWith('signal');
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  const builder = new BatchBuilder<E>((event) => source.normalize(event));
  const committer = new Committer(writer, {
    log,
    heldLimit: batchSize * LOCKED_BATCH_LIMIT,
    onCommitted: (result, batch, commitSeconds) => {
      summary.batches++;
      summary.inserted += result.inserted;
      summary.duplicates += result.duplicates;
      summary.deadLetters += result.deadLetters;
      log.debug('batch committed', {
        ...result,
        revisionMismatches: result.revisionMismatches.length,
        cursor: batch.cursor,
        commitMs: Math.round(commitSeconds * 1e4) / 10,
      });
      source.afterCommit?.(result);
      options.onCommit?.(result, batch, commitSeconds);
    },
    onFailed: () => stop.abort(),
  });
  const idle = new IdleClock(options.untilIdleMs, () => stopWith('until-idle'));
  // While the reader waits for the database to take a batch, the upstream is not idle.
  const submitWaiting = async (batch: Batch) => {
    idle.busy(true);
    try {
      await committer.submit(batch);
    } finally {
      idle.busy(false);
    }
  };

  const ageTimer = setInterval(() => {
    if (builder.isEmpty) return;
    const age = builder.ageMs;
    if (builder.inTransaction && age < TRANSACTION_WAIT_MS) return;
    if (age >= (builder.holdsEvents ? batchAgeMs : heartbeatFlushMs)) void committer.submit(builder.take());
  }, Math.max(10, Math.min(batchAgeMs, heartbeatFlushMs) / 2));
  let leaseFailure: unknown;
  const leaseTimer = setInterval(() => {
    writer.renewLease().then(
      (held) => {
        if (held) return;
        leaseFailure = new LeaseLostError(options.stream);
        stop.abort();
      },
      (error: unknown) => {
        // A locked database delays the renewal; the next commit renews the lease too.
        if (error instanceof DatabaseBusyError) return;
        leaseFailure = error;
        stop.abort();
      },
    );
  }, writer.leaseTtlMs / RENEWALS_PER_LEASE);
  const durationTimer = options.maxDurationMs ? setTimeout(() => stopWith('max-duration'), options.maxDurationMs) : undefined;

  let readFailure: { error: unknown } | undefined;
  try {
    const stream = source.read({
      cursor: writer.position.cursor,
      since: writer.position.cursor ? null : (options.since ?? null),
      lastEventAt: writer.position.lastEventAt,
      startSnapshot,
      stored: writer.stored,
      signal: stop.signal,
      log,
      onConnectionEvent: (event) => {
        idle.connectionEvent(event);
        options.onConnectionEvent?.(event);
      },
      onBusy: (busy) => idle.busy(busy),
    });
    for await (const item of stream) {
      if (builder.add(item)) {
        summary.received++;
        idle.eventReceived();
        const held = builder.events;
        if (held >= batchSize && !(builder.inTransaction && held < batchSize * TRANSACTION_BATCH_LIMIT)) await submitWaiting(builder.take());
        if (options.maxEvents !== undefined && summary.received >= options.maxEvents) stopWith('max-events');
      } else if (item.kind === 'snapshot') {
        // A snapshot's page commits with its progress, so that a restart resumes after it.
        await submitWaiting(builder.take());
      }
      if (stop.signal.aborted) break;
    }
  } catch (error) {
    readFailure = { error };
  } finally {
    clearInterval(ageTimer);
    clearInterval(leaseTimer);
    clearTimeout(durationTimer);
    idle.stop();
    options.signal?.removeEventListener('abort', onExternalAbort);
  }

  // What was read before a failure is valid: keep it, then report the failure. If keeping it fails
  // too, that is the failure to report: the exit code must not claim a clean stop.
  if (leaseFailure) {
    committer.stop();
    throw leaseFailure;
  }
  try {
    await committer.submit(builder.take());
    await committer.finish();
  } catch (commitError) {
    if (readFailure) {
      log.error('reading stopped, then the last batch could not be committed', {
        readError: readFailure.error instanceof Error ? readFailure.error.message : String(readFailure.error),
      });
    }
    throw commitError;
  }
  if (readFailure) throw readFailure.error;
  return summary;
}

// Releasing after a failure is a courtesy (the lease also expires): it must not hide the failure.
async function releaseQuietly(writer: StreamWriter, reason: string): Promise<void> {
  try {
    await writer.release(reason);
  } catch {
    // The database is what failed; the original error says why.
  }
}
