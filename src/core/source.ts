// What an upstream adapter provides to the ingest loop: how to read the stream from a stored
// position, and how to turn one of its events into rows (a pure normalizer).
import type { CommitResult } from './batch.js';
import type { NormalizeResult, ProjectionTable } from './change.js';
import type { ConnectionEvent } from './connection-event.js';
import type { Logger } from './logger.js';
import type { SourceEvent, UpstreamEvent } from './source-event.js';

export const SOURCE_KINDS = ['auth0', 'sanity'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** A document as the store last wrote it: the revision and upstream time of its last event. */
export interface StoredDocument {
  rev: string | null;
  deleted: boolean;
  updatedAt: string | null;
}

/** A gap an earlier run recorded as `open`: history it did not get to fill. */
export interface OpenGap {
  reason: string;
  documentId: string | null;
  detail: string | null;
}

/** The stream's newest snapshot as committed. */
export interface StoredSnapshot {
  snapshotId: number;
  startedAt: string;
  /** `reset`: taken before the stream was reset; the stream starts again as if it had none. */
  status: 'running' | 'finished' | 'reset';
  position: string | null;
  rowsRead: number;
  pages: number;
  rowsDeleted: number;
}

/** The committed state of the stream being read, for a source that must know what it stored. */
export interface StoredStreamView {
  /** The stream's documents (Sanity); empty for a stream without any. */
  documents(): Promise<Map<string, StoredDocument>>;
  /** Open gaps, oldest first. */
  openGaps(): Promise<OpenGap[]>;
  /** Upstream time of the stream's oldest stored event: history before it is not the stream's. */
  oldestEventAt(): Promise<string | null>;
  /** The newest snapshot, or null for a stream never snapshotted. */
  latestSnapshot(): Promise<StoredSnapshot | null>;
  /**
   * The keys of a projection's rows last written before an upstream time: those a re-snapshot
   * written at that time did not see. For entities, only those not deleted, with their `object`.
   */
  rowsWrittenBefore(query: RowsWrittenBefore): Promise<Record<string, unknown>[]>;
}

/** Which rows `StoredStreamView.rowsWrittenBefore` asks for. */
export interface RowsWrittenBefore {
  table: ProjectionTable;
  keyColumns: readonly string[];
  /** Upstream time: rows last written before it. */
  before: string;
  /** Entities: only those not already marked deleted, with their `object`. */
  entity: boolean;
}

/** Where the stream stands when reading starts, and how to report back while reading. */
export interface ReadContext {
  /** The stored cursor; null on a stream's first run (or after reset). */
  cursor: string | null;
  /** --since, canonical, only when the stream has no cursor yet. */
  since: string | null;
  /** Upstream time of the newest stored event (for catch-up after downtime). */
  lastEventAt: string | null;
  /**
   * Take a new snapshot of the upstream's current state (--snapshot, `sse-sink snapshot`). A
   * snapshot stopped part-way is resumed whether or not this is set.
   */
  startSnapshot?: boolean;
  /** The committed state, read on the ingester's own connection. */
  stored: StoredStreamView;
  /** Aborted on SIGINT/SIGTERM, --max-* limits, or idle: reading must end promptly, without throwing. */
  signal: AbortSignal;
  log: Logger;
  /** A source reports its connections here (`open`, `closed`, `retrying`): --until-idle counts only time connected. */
  onConnectionEvent?: (event: ConnectionEvent) => void;
  /** A source working for the stream without yielding (a History catch-up) says so: that is not idle. */
  onBusy?: (busy: boolean) => void;
}

/**
 * A source reads events of type `E` (an UpstreamEvent, possibly carrying what the reader already
 * parsed) and normalizes them; the ingest loop hands each event back to the same source.
 */
export interface Source<E extends UpstreamEvent = UpstreamEvent> {
  kind: SourceKind;
  /** The options that define the stream; stored on first use, a different one is refused. */
  definition: Record<string, unknown>;
  /**
   * Yields what the upstream sends, in order, with control frames already handled. Throws a
   * SinkError (src/common/errors.ts) when the upstream says stop; returns when the signal aborts.
   */
  read(context: ReadContext): AsyncIterable<SourceEvent<E>>;
  /** Pure: one upstream event to its history row and projection ops, or why it cannot be. */
  normalize(event: E): NormalizeResult;
  /** Told after each commit (in commit order), e.g. of revision gaps the store found. */
  afterCommit?(result: CommitResult): void;
}
