// Commits a stream's batches through its StreamWriter in order (as many at once as the writer
// allows, each committing only after the one before it), while the reader goes on filling the
// next one. A locked database holds the batch and tries it again; any other failure stops all
// further commits, so the cursor never runs ahead of its rows.
import { DatabaseBusyError } from '../common/errors.js';
import { pause } from '../common/retry.js';
import type { Logger } from '../core/logger.js';
import { appendBatch, batchEvents, emptyBatch, isEmptyBatch, type Batch, type CommitResult } from '../core/batch.js';
import type { StreamWriter } from '../core/store.js';

/**
 * While another process holds the write lock, the batch stays in memory and a commit is tried again
 * this often; past `heldLimit` events, every new batch waits for the lock, so memory stays bounded.
 */
const LOCKED_RETRY_MS = 1000;
/** At the end of a run, a batch the database keeps refusing is tried this many times, then the run fails. */
const FINAL_ATTEMPTS = 3;

export interface CommitterOptions {
  log: Logger;
  /** Events held while the database is locked before new batches wait for it. */
  heldLimit: number;
  /** After each commit; `commitSeconds` is how long the transaction took. */
  onCommitted: (result: CommitResult, batch: Batch, commitSeconds: number) => void;
  /** The first failure that stops the committer; the ingest loop stops reading. */
  onFailed: (error: unknown) => void;
}

export class Committer {
  /** The commits queued so far, in order; each waits for the one before it to start. */
  private queue: Promise<void> = Promise.resolve();
  /** Commits started and not yet settled, oldest first: each settles after the one before it. */
  private inFlight: { committed: Promise<CommitResult>; settled: Promise<void> }[] = [];
  private held: Batch | undefined;
  /** Set while the database refuses commits; `retryDue` once the retry timer has fired. */
  private locked: { since: number; retryDue: boolean } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly writer: StreamWriter,
    private readonly options: CommitterOptions,
  ) {}

  /**
   * Queues the batch behind the commits before it. Resolves once it is being committed (or held
   * on a locked database), so that a reader that waits for it has at most
   * `writer.commitsInFlight` batches in flight.
   */
  submit(batch: Batch): Promise<void> {
    if (isEmptyBatch(batch)) return Promise.resolve();
    let started!: () => void;
    const turn = new Promise<void>((resolve) => (started = resolve));
    this.queue = this.queue.then(() => this.commit(batch, false, started));
    return turn;
  }

  /** Commits everything queued and held; a locked database now fails instead of being waited for. */
  async finish(): Promise<void> {
    clearTimeout(this.retryTimer);
    await this.queue;
    await this.allSettled();
    for (let attempt = 1; this.held && !this.failure; attempt++) {
      await this.commit(emptyBatch(), attempt === FINAL_ATTEMPTS, () => {});
      await this.allSettled();
      if (this.held) await pause(LOCKED_RETRY_MS, undefined);
    }
    // A refused try above armed the retry timer again: nothing may commit after the run.
    clearTimeout(this.retryTimer);
    if (this.failure) throw this.failure.error;
  }

  /** Stops retrying a held batch (the run failed; what is held is not committed). */
  stop(): void {
    clearTimeout(this.retryTimer);
  }

  private async allSettled(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.at(-1)!.settled;
  }

  private async commit(batch: Batch, final: boolean, started: () => void): Promise<void> {
    const { heldLimit } = this.options;
    // A held batch or a locked database settles what is in flight first: that decides what is held.
    while (this.inFlight.length >= (this.held || this.locked || final ? 1 : this.writer.commitsInFlight)) await this.inFlight[0].settled;
    if (this.failure) return started();
    const toCommit = this.held ? appendBatch(this.held, batch) : batch;
    this.held = undefined;
    if (this.locked && !this.locked.retryDue && !final && batchEvents(toCommit) < heldLimit) {
      this.held = toCommit;
      return started();
    }
    // A held batch over its limit: the reader waits for this try, so memory stays bounded.
    const readerWaits = this.locked !== undefined;
    const before = this.inFlight.at(-1);
    const startedAt = performance.now();
    // The batch before, still in flight, must commit first: the writer rolls this one back if not.
    const committed = this.writer.commit(toCommit, before?.committed);
    const settled = (before?.settled ?? Promise.resolve()).then(() =>
      committed.then(
        (result) => this.committed(result, toCommit, startedAt),
        (error: unknown) => this.refused(error, toCommit, final),
      ),
    );
    const entry = { committed, settled };
    this.inFlight.push(entry);
    void settled.finally(() => this.inFlight.splice(this.inFlight.indexOf(entry), 1));
    if (readerWaits) await settled;
    started();
  }

  private committed(result: CommitResult, batch: Batch, startedAt: number): void {
    if (this.failure) return;
    if (this.locked) {
      this.options.log.info('the database answers again; the held batch is committed', { heldMs: Date.now() - this.locked.since });
      this.locked = undefined;
      clearTimeout(this.retryTimer);
    }
    try {
      this.options.onCommitted(result, batch, (performance.now() - startedAt) / 1000);
    } catch (error) {
      this.failure = { error };
      this.options.onFailed(error);
    }
  }

  private refused(error: unknown, batch: Batch, final: boolean): void {
    if (this.failure) return;
    if (final || !(error instanceof DatabaseBusyError)) {
      this.failure = { error };
      this.options.onFailed(error);
      return;
    }
    // Nothing was written: the same batch is tried again, after any refused before it.
    if (!this.locked) this.options.log.warn(`${error.message.split(';')[0]}; holding the batch and retrying`, { events: batchEvents(batch) });
    this.held = this.held ? appendBatch(this.held, batch) : batch;
    // The timer itself says when the retry is due: a wall-clock deadline compared with Date.now()
    // could still lie ahead when the timer fires (the clocks differ), and the held batch then
    // waited for the next event, which an idle stream never sends.
    const locked = { since: this.locked?.since ?? Date.now(), retryDue: false };
    this.locked = locked;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      locked.retryDue = true;
      this.queue = this.queue.then(() => this.commit(emptyBatch(), false, () => {}));
    }, LOCKED_RETRY_MS);
  }
}
