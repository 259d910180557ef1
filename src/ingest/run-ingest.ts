// Runs one stream: source -> normalize -> batch -> commit, until the upstream says stop, a
// --max-*/--until-idle limit is reached, or a signal arrives; then commits what is open and exits.
import { LeaseLostError } from '../errors.js';
import type { Logger } from '../log.js';
import { isNormalizeFailure } from '../normalize/change.js';
import { nowTime } from '../normalize/time.js';
import { BatchWriter, emptyBatch, isEmptyBatch, type Batch, type CommitResult } from '../store/batch-writer.js';
import { isDatabaseBusy, openDatabase, type SinkDatabase } from '../store/database.js';
import { acquireLease, type Lease } from '../store/lease.js';
import { registerStream } from '../store/streams.js';
import type { ConnectionEvent } from '../sse/types.js';
import type { Source } from '../sources/source.js';
import type { SourceEvent } from '../sources/source-event.js';

export interface IngestOptions {
  dbPath: string;
  durable?: boolean;
  /**
   * An open database to write through instead of opening `dbPath`: streams run in one process
   * share one connection, and better-sqlite3 being synchronous serializes their commits.
   */
  sink?: SinkDatabase;
  stream: string;
  source: Source;
  /** Canonical RFC-3339 start for a stream without a cursor. */
  since?: string | null;
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
  log: Logger;
  onConnectionEvent?: (event: ConnectionEvent) => void;
  /** After each commit; `commitSeconds` is how long the transaction took. */
  onCommit?: (result: CommitResult, batch: Batch, commitSeconds: number) => void;
}

/**
 * While another process holds the write lock, the batch stays in memory and a commit is tried again
 * this often (each try waits busy_timeout first); past LOCKED_BATCH_LIMIT batches' worth of events,
 * every new event waits on the lock, so memory stays bounded.
 */
const LOCKED_RETRY_MS = 1000;
const LOCKED_BATCH_LIMIT = 20;
/**
 * A batch is not ended inside an upstream transaction (Sanity's several documents in one commit),
 * so SQL never sees half of one; but it waits for the rest of one only this long, and only up to
 * this many batches' worth of events.
 */
const TRANSACTION_WAIT_MS = 2000;
const TRANSACTION_BATCH_LIMIT = 4;

export type StopReason = 'signal' | 'until-idle' | 'max-events' | 'max-duration' | 'upstream-ended';

export interface IngestSummary {
  stopReason: StopReason;
  received: number;
  inserted: number;
  duplicates: number;
  deadLetters: number;
  batches: number;
}

/**
 * Opens the database as every ingester writes it (the CLI's shared connection, or runIngest's own):
 * with the checkpoint thread, without which commits copy the WAL into the file themselves (~10% of
 * a Sanity ingest). A failed thread is logged and the writer checkpoints again.
 */
export function openIngestDatabase(path: string, { durable = false, log }: { durable?: boolean; log: Logger }): SinkDatabase {
  return openDatabase({ path, durable, backgroundCheckpoints: { onFailure: (message) => log.warn(message) } });
}

export async function runIngest(options: IngestOptions): Promise<IngestSummary> {
  const { source, log } = options;
  const batchSize = options.batchSize ?? 500;
  const batchAgeMs = options.batchAgeMs ?? 200;
  const heartbeatFlushMs = options.heartbeatFlushMs ?? 1000;

  const sink = options.sink ?? openIngestDatabase(options.dbPath, { durable: options.durable, log });
  let lease: Lease | undefined;
  try {
    const row = registerStream(sink, { name: options.stream, source: source.kind, definition: source.definition });
    lease = acquireLease(sink, options.stream);
    const writer = new BatchWriter(sink, lease);
    const summary: IngestSummary = { stopReason: 'upstream-ended', received: 0, inserted: 0, duplicates: 0, deadLetters: 0, batches: 0 };

    if (options.since && row.cursor) {
      log.warn('the stream already has a cursor, so --since is ignored; "sse-sink reset" starts it again', {
        since: options.since,
      });
    }

    const stop = new AbortController();
    let stopReason: StopReason = 'upstream-ended';
    const stopWith = (reason: StopReason) => {
      if (stop.signal.aborted) return;
      stopReason = reason;
      stop.abort();
    };
    const onExternalAbort = () => stopWith('signal');
    if (options.signal?.aborted) stopWith('signal');
    options.signal?.addEventListener('abort', onExternalAbort, { once: true });

    let pending = emptyBatch();
    let pendingSince = 0;
    /** The last event added has more of its transaction to come. */
    let insideTransaction = false;
    let commitError: unknown;
    let locked: { since: number; retryAt: number } | undefined;
    /** Commits the open batch; `final` (at the end of the run) fails rather than keep waiting on a lock. */
    const flush = (final = false) => {
      if (isEmptyBatch(pending)) return;
      const held = pending.changes.length + pending.deadLetters.length;
      if (locked && !final && Date.now() < locked.retryAt && held < batchSize * LOCKED_BATCH_LIMIT) return;
      const batch = pending;
      pending = emptyBatch();
      const startedAt = performance.now();
      let result: CommitResult;
      try {
        result = writer.commit(batch);
      } catch (error) {
        if (final || !isDatabaseBusy(error)) throw error;
        // Nothing was written (the transaction could not begin): the same batch is tried again.
        pending = batch;
        if (!locked) log.warn('the database is locked by another process; holding the batch and retrying', { events: held });
        locked = { since: locked?.since ?? Date.now(), retryAt: Date.now() + LOCKED_RETRY_MS };
        return;
      }
      if (locked) {
        log.info('the database lock was released; the held batch is committed', { lockedMs: Date.now() - locked.since });
        locked = undefined;
      }
      const commitSeconds = (performance.now() - startedAt) / 1000;
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
    };
    // Commits from timers run between reads; a failure there must end the read loop, not vanish.
    const flushOrStop = () => {
      try {
        flush();
      } catch (error) {
        commitError = error;
        stop.abort();
      }
    };

    const ageTimer = setInterval(() => {
      if (isEmptyBatch(pending)) return;
      const age = Date.now() - pendingSince;
      const holdsEvents = pending.changes.length + pending.deadLetters.length + pending.gaps.length > 0;
      if (insideTransaction && age < TRANSACTION_WAIT_MS) return;
      if (age >= (holdsEvents ? batchAgeMs : heartbeatFlushMs)) flushOrStop();
    }, Math.max(10, Math.min(batchAgeMs, heartbeatFlushMs) / 2));
    const leaseTimer = setInterval(() => {
      try {
        if (lease!.renew()) return;
        commitError = new LeaseLostError(options.stream);
      } catch (error) {
        // A locked database delays the renewal; the next commit renews the lease too.
        if (isDatabaseBusy(error)) return;
        commitError = error;
      }
      stop.abort();
    }, 10_000);
    const durationTimer = options.maxDurationMs ? setTimeout(() => stopWith('max-duration'), options.maxDurationMs) : undefined;
    // Idle is time the upstream was reachable with nothing to send, added up since the last event:
    // it stops while reconnecting after a failure (backoff, Retry-After, a refusal) and starts again
    // when a connection opens. A clean end of stream and the reconnect after it count as reachable.
    // A source busy for the stream without yielding (a History catch-up) holds the clock too.
    let idleTimer: NodeJS.Timeout | undefined;
    let reachableSince: number | undefined;
    let idleSpentMs = 0;
    let sourceBusy = false;
    const armIdle = () => {
      clearTimeout(idleTimer);
      if (options.untilIdleMs === undefined || reachableSince === undefined || sourceBusy) return;
      const idleMs = idleSpentMs + (Date.now() - reachableSince);
      idleTimer = setTimeout(() => stopWith('until-idle'), Math.max(0, options.untilIdleMs - idleMs));
    };
    const resetIdle = () => {
      idleSpentMs = 0;
      if (reachableSince !== undefined) reachableSince = Date.now();
      armIdle();
    };
    const onConnectionEvent = (event: ConnectionEvent) => {
      if (event.type === 'open' && reachableSince === undefined) {
        reachableSince = Date.now();
        armIdle();
      } else if (isConnectionFailure(event) && reachableSince !== undefined) {
        idleSpentMs += Date.now() - reachableSince;
        reachableSince = undefined;
        armIdle();
      }
      options.onConnectionEvent?.(event);
    };
    const onBusy = (busy: boolean) => {
      sourceBusy = busy;
      if (!busy) resetIdle();
      else clearTimeout(idleTimer);
    };

    const add = (item: SourceEvent) => {
      if (isEmptyBatch(pending)) pendingSince = Date.now();
      const receivedAt = nowTime();
      switch (item.kind) {
        case 'event': {
          const normalized = source.normalize(item);
          if (isNormalizeFailure(normalized)) {
            pending.deadLetters.push({ eventType: item.frameEvent, reason: normalized.error, raw: item.data, cursor: item.cursor, receivedAt });
          } else {
            pending.changes.push({ change: normalized, cursor: item.cursor, receivedAt });
          }
          break;
        }
        case 'unreadable':
          pending.deadLetters.push({ eventType: item.frameEvent, reason: item.reason, raw: item.raw, cursor: item.cursor, receivedAt });
          break;
        case 'heartbeat':
          pending.heartbeatAt = receivedAt;
          break;
        case 'gap':
          pending.gaps.push(item);
          return;
      }
      if (item.cursor !== null) pending.cursor = item.cursor;
      if (item.kind === 'heartbeat') return;
      summary.received++;
      resetIdle();
      insideTransaction = item.kind === 'event' && item.moreInTransaction === true;
      const held = pending.changes.length + pending.deadLetters.length;
      if (held >= batchSize && !(insideTransaction && held < batchSize * TRANSACTION_BATCH_LIMIT)) flush();
      if (options.maxEvents !== undefined && summary.received >= options.maxEvents) stopWith('max-events');
    };

    try {
      const stream = source.read({
        cursor: row.cursor,
        since: row.cursor ? null : (options.since ?? null),
        lastEventAt: row.lastEventAt,
        signal: stop.signal,
        log,
        onConnectionEvent,
        onBusy,
      });
      for await (const item of stream) {
        add(item);
        if (stop.signal.aborted) break;
      }
      if (commitError) throw commitError;
      flush(true);
    } catch (error) {
      // What was read before the failure is valid: keep it, then report the failure. If keeping
      // it fails too, that is the failure to report: the exit code must not claim a clean stop.
      if (commitError) throw commitError;
      try {
        flush(true);
      } catch (flushError) {
        log.error('reading stopped, then the last batch could not be committed', {
          readError: error instanceof Error ? error.message : String(error),
        });
        throw flushError;
      }
      throw error;
    } finally {
      clearInterval(ageTimer);
      clearInterval(leaseTimer);
      clearTimeout(durationTimer);
      clearTimeout(idleTimer);
      options.signal?.removeEventListener('abort', onExternalAbort);
    }
    summary.stopReason = stopReason;
    lease.release(stopReason);
    return summary;
  } catch (error) {
    releaseQuietly(lease, error instanceof Error ? error.message : String(error));
    throw error;
  } finally {
    if (!options.sink) sink.close();
  }
}

/** A connection event after which the upstream is not known to be reachable until the next `open`. */
function isConnectionFailure(event: ConnectionEvent): boolean {
  if (event.type === 'closed') return event.reason !== 'end' && event.reason !== 'error-frame';
  if (event.type !== 'retrying') return false;
  return event.status !== undefined || event.error !== undefined || (event.reason !== 'end' && event.reason !== 'paced');
}

// Releasing after a failure is a courtesy (the lease also expires): it must not hide the failure.
function releaseQuietly(lease: Lease | undefined, reason: string): void {
  try {
    lease?.release(reason);
  } catch {
    // The database is what failed; the original error says why.
  }
}
