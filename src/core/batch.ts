// What the ingest loop hands a store to commit in one transaction, and what the store answers.
import type { ColumnValues, NormalizedChange, ProjectionTable } from './change.js';
import type { GapRecord, SnapshotProgress } from './source-event.js';

export interface ReceivedChange {
  change: NormalizedChange;
  /** The stream cursor right after this event. */
  cursor: string | null;
  receivedAt: string;
}

export interface DeadLetter {
  eventType: string | null;
  reason: string;
  raw: string;
  cursor: string | null;
  receivedAt: string;
}

export interface Batch {
  changes: ReceivedChange[];
  deadLetters: DeadLetter[];
  gaps: GapRecord[];
  /** The cursor after everything in the batch, heartbeats included; null leaves it as it is. */
  cursor: string | null;
  /** When the batch holds a heartbeat, the time the latest one arrived. */
  heartbeatAt?: string;
  /** Where the stream's snapshot stands after the batch's rows. */
  snapshot?: SnapshotProgress;
}

/** A `put` whose `expect` did not match the row the store holds: history upstream is missing here. */
export interface RevisionMismatch {
  table: ProjectionTable;
  key: ColumnValues;
  column: string;
  expected: string | null;
  found: string | null;
}

export interface CommitResult {
  inserted: number;
  /** Events already in the history (upstream redelivery, or a replay after a crash): no-ops. */
  duplicates: number;
  deadLetters: number;
  revisionMismatches: RevisionMismatch[];
  /** `inserted` by history type (e.g. `user.created`), for metrics. */
  insertedByType: Record<string, number>;
}

export function emptyBatch(): Batch {
  return { changes: [], deadLetters: [], gaps: [], cursor: null };
}

export function isEmptyBatch(batch: Batch): boolean {
  return (
    batch.changes.length === 0 &&
    batch.deadLetters.length === 0 &&
    batch.gaps.length === 0 &&
    batch.cursor === null &&
    !batch.heartbeatAt &&
    !batch.snapshot
  );
}

/** Events and dead letters: what counts towards a batch's size. */
export function batchEvents(batch: Batch): number {
  return batch.changes.length + batch.deadLetters.length;
}

/** `later` appended to `earlier`: one batch that commits both, in order. */
export function appendBatch(earlier: Batch, later: Batch): Batch {
  const merged: Batch = {
    changes: earlier.changes.concat(later.changes),
    deadLetters: earlier.deadLetters.concat(later.deadLetters),
    gaps: earlier.gaps.concat(later.gaps),
    cursor: later.cursor ?? earlier.cursor,
  };
  const heartbeatAt = later.heartbeatAt ?? earlier.heartbeatAt;
  if (heartbeatAt) merged.heartbeatAt = heartbeatAt;
  const snapshot = later.snapshot ?? earlier.snapshot;
  if (snapshot) merged.snapshot = snapshot;
  return merged;
}
