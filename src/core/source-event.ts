// The seam between source adapters and the rest of the pipeline: what an upstream frame meant,
// after control frames (welcome, errors, disconnects) have been handled by the adapter.

/** An upstream event to normalize and store. */
export interface UpstreamEvent {
  kind: 'event';
  /** The SSE `event:` field (Auth0: the event type; Sanity: "mutation"). */
  frameEvent: string;
  /** The raw `data:` text. */
  data: string;
  /** The stream position after this event, if the upstream gives one. */
  cursor: string | null;
  /** More events of the same upstream transaction follow: a batch does not end after this one. */
  moreInTransaction?: boolean;
}

/** A frame that only moves the cursor (Auth0 `offset-only`). */
export interface Heartbeat {
  kind: 'heartbeat';
  cursor: string;
}

/** A frame the adapter could not make sense of: it is dead-lettered, the cursor moves past it. */
export interface UnreadableFrame {
  kind: 'unreadable';
  frameEvent: string | null;
  raw: string;
  reason: string;
  cursor: string | null;
}


/** History the stream may have missed, and what was done about it: stored in `gaps`. */
export interface GapRecord {
  kind: 'gap';
  /** e.g. reset, downtime, cursor-expired */
  reason: string;
  documentId?: string;
  fromTime: string | null;
  toTime: string | null;
  status: 'repaired' | 'unrepairable' | 'open';
  changesFound: number | null;
  detail: string | null;
  /**
   * The outcome of repairing gaps already recorded as `open` (same reason and document): those
   * rows take this status, changes found and detail instead of a new row being added.
   */
  resolvesOpen?: boolean;
}

/**
 * Where an initial snapshot stands after the rows yielded before it: committed with them, so a
 * snapshot stopped part-way resumes after its last committed page. Stored in `snapshots`.
 */
export interface SnapshotProgress {
  kind: 'snapshot';
  /** 1 for a stream's first snapshot, then one more for each `sse-sink snapshot`. */
  snapshotId: number;
  startedAt: string;
  status: 'running' | 'finished';
  finishedAt: string | null;
  /** The last document (or entity) id read: the next page starts after it. */
  position: string | null;
  rowsRead: number;
  pages: number;
  /** Stored rows the upstream no longer has, marked deleted by the snapshot. */
  rowsDeleted: number;
  /** How many rows the upstream says there are, when it says: for the progress estimate, not stored. */
  total: number | null;
}

export type SourceEvent<E extends UpstreamEvent = UpstreamEvent> = E | Heartbeat | UnreadableFrame | GapRecord | SnapshotProgress;
