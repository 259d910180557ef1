// The open batch: each source event normalized into it as it arrives (a change, a dead letter,
// a gap, a cursor move), until the ingest loop takes it to commit.
import { batchEvents, emptyBatch, isEmptyBatch, type Batch } from '../core/batch.js';
import { isNormalizeFailure, type NormalizeResult } from '../core/change.js';
import type { SourceEvent, UpstreamEvent } from '../core/source-event.js';
import { nowTime } from '../common/time.js';

export class BatchBuilder<E extends UpstreamEvent> {
  private batch = emptyBatch();
  private openedAt = 0;
  /** The last event added has more of its upstream transaction to come. */
  private insideTransaction = false;

  constructor(private readonly normalize: (event: E) => NormalizeResult) {}

  /** Adds one source event; true when it counts as received (an event or a dead letter). */
  add(item: SourceEvent<E>): boolean {
    const batch = this.batch;
    if (isEmptyBatch(batch)) this.openedAt = Date.now();
    const receivedAt = nowTime();
    switch (item.kind) {
      case 'event': {
        const normalized = this.normalize(item);
        if (isNormalizeFailure(normalized)) {
          batch.deadLetters.push({ eventType: item.frameEvent, reason: normalized.error, raw: item.data, cursor: item.cursor, receivedAt });
        } else {
          batch.changes.push({ change: normalized, cursor: item.cursor, receivedAt });
        }
        break;
      }
      case 'unreadable':
        batch.deadLetters.push({ eventType: item.frameEvent, reason: item.reason, raw: item.raw, cursor: item.cursor, receivedAt });
        break;
      case 'heartbeat':
        batch.heartbeatAt = receivedAt;
        batch.cursor = item.cursor;
        return false;
      case 'gap':
        batch.gaps.push(item);
        return false;
      case 'snapshot':
        // A page's rows end with its progress: the batch ends here (the ingest loop commits it).
        batch.snapshot = item;
        this.insideTransaction = false;
        return false;
    }
    if (item.cursor !== null) batch.cursor = item.cursor;
    this.insideTransaction = item.kind === 'event' && item.moreInTransaction === true;
    return true;
  }

  /** Events and dead letters held. */
  get events(): number {
    return batchEvents(this.batch);
  }

  /** Whether the batch holds anything but cursor moves (heartbeats). */
  get holdsEvents(): boolean {
    return this.events + this.batch.gaps.length > 0;
  }

  /** Whether the last event added leaves its upstream transaction unfinished. */
  get inTransaction(): boolean {
    return this.insideTransaction;
  }

  get isEmpty(): boolean {
    return isEmptyBatch(this.batch);
  }

  /** How long ago the first item of the open batch arrived. */
  get ageMs(): number {
    return Date.now() - this.openedAt;
  }

  /** Hands the open batch over and starts a new one. */
  take(): Batch {
    const batch = this.batch;
    this.batch = emptyBatch();
    return batch;
  }
}
