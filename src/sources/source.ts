// What an upstream adapter provides to the ingest runner: how to read the stream from a stored
// position, and how to turn one of its events into rows (a pure normalizer).
import type { Logger } from '../log.js';
import type { NormalizeResult } from '../normalize/change.js';
import type { CommitResult } from '../store/batch-writer.js';
import type { SourceKind } from '../store/streams.js';
import type { ConnectionEvent } from '../sse/types.js';
import type { SourceEvent, UpstreamEvent } from './source-event.js';

/** Where the stream stands when reading starts, from the `streams` row. */
export interface ReadContext {
  /** The stored cursor; null on a stream's first run (or after reset). */
  cursor: string | null;
  /** --since, canonical, only when the stream has no cursor yet. */
  since: string | null;
  /** Upstream time of the newest stored event (for catch-up after downtime). */
  lastEventAt: string | null;
  /** Aborted on SIGINT/SIGTERM, --max-* limits, or idle: reading must end promptly, without throwing. */
  signal: AbortSignal;
  log: Logger;
  /** A source reports its connections here (`open`, `closed`, `retrying`): --until-idle counts only time connected. */
  onConnectionEvent?: (event: ConnectionEvent) => void;
  /** A source working for the stream without yielding (a History catch-up) says so: that is not idle. */
  onBusy?: (busy: boolean) => void;
}

export interface Source {
  kind: SourceKind;
  /** The options that define the stream; stored on first use, a different one is refused. */
  definition: Record<string, unknown>;
  /**
   * Yields what the upstream sends, in order, with control frames already handled. Throws a
   * SinkError (src/errors.ts) when the upstream says stop; returns when the signal aborts.
   */
  read(context: ReadContext): AsyncIterable<SourceEvent>;
  /** Pure: one upstream event to its history row and projection ops, or why it cannot be. */
  normalize(event: UpstreamEvent): NormalizeResult;
  /** Told after each commit, e.g. to repair revision gaps the writer found. */
  afterCommit?(result: CommitResult): void;
}
