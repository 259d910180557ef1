// The seam between sse-sink's commands (ingest, status, query, export, rebuild, reset) and a
// database. SQLite (src/store/sqlite-store.ts) is the first implementation; every method is
// asynchronous so that a networked database fits the same interface.
import type { Batch, CommitResult } from './batch.js';
import type { NormalizeResult, ProjectionTable } from './change.js';
import type { SourceKind, StoredStreamView } from './source.js';

export interface StreamDefinition {
  name: string;
  source: SourceKind;
  /** The options that define what the stream receives; compared as canonical JSON. */
  definition: Record<string, unknown>;
}

/** Where a stream stands when an ingester takes it. */
export interface StreamPosition {
  /** The stored cursor; null on a first run or after a reset. */
  cursor: string | null;
  /** Upstream time of the newest stored event. */
  lastEventAt: string | null;
}

/** How an ingester holds a stream. */
export interface LeaseOptions {
  /** How long the lease lasts after the last commit or renewal: a standby takes over after that. */
  ttlMs: number;
}

/** One ingester's hold on one stream (the lease): every write of the stream goes through it. */
export interface StreamWriter {
  readonly stream: string;
  /** The lease's length, which the holder renews well within. */
  readonly leaseTtlMs: number;
  readonly position: StreamPosition;
  /** The committed state a source may consult (a Sanity catch-up's documents and open gaps). */
  readonly stored: StoredStreamView;
  /** How many commits may be in flight at once (`commit`'s `after`); 1 where commits are serial. */
  readonly commitsInFlight: number;
  /**
   * Writes the batch, its projections and its cursor in one transaction, or nothing. Throws
   * LeaseLostError when another ingester took the stream, DatabaseBusyError when the database
   * stayed locked (nothing was written: the same batch may be committed again). With `after`,
   * the commit of the batch before it, still in flight: commits only once that one has, and
   * rolls back (DatabaseBusyError) when that one failed. A writer whose `commitsInFlight` is 1 is
   * never given one.
   */
  commit(batch: Batch, after?: Promise<CommitResult>): Promise<CommitResult>;
  /** Extends the lease; false when another ingester has taken the stream over. */
  renewLease(): Promise<boolean>;
  /** Gives the stream up, saying why (`until-idle`, `signal`, an error): `status` shows it. */
  release(reason: string): Promise<void>;
}

export interface StreamStatus {
  name: string;
  source: string;
  /**
   * live (an ingester holds the stream and is up to date), snapshotting (it holds the stream and is
   * reading the upstream's current state), catching up (it holds the stream and is storing old
   * events or repairing a gap), stopped (with the reason), or idle (never run, or reset).
   */
  state: string;
  stateReason: string | null;
  cursor: string | null;
  cursorUpdatedAt: string | null;
  createdAt: string;
  lastEventAt: string | null;
  /** Seconds between the newest stored event's upstream time and now. */
  lagSeconds: number | null;
  lastHeartbeatAt: string | null;
  eventsTotal: number;
  eventsByType: Record<string, number>;
  duplicatesSkipped: number;
  unknownTypes: number;
  deadLetters: number;
  gapsOpen: number;
  gapsUnrepairable: number;
  /** The newest gap not repaired, in the upstream's own words (`<reason>: <detail>`), or null. */
  lastGapProblem: string | null;
  catchUps: number;
  /** The newest snapshot of the upstream's state (`running` while it is being read), or null. */
  snapshot: { id: number; status: string; rowsRead: number; pages: number; rowsDeleted: number } | null;
  /** The ingester holding the stream (by its lease), or null. */
  leaseOwner: { host: string; pid: number } | null;
  leaseExpiresAt: string | null;
  /** Grows by one each time an ingester takes the stream. */
  leaseToken: number;
}

export interface ExportFilter {
  stream: string;
  /** Upstream time bounds, canonical ISO text: since inclusive, until exclusive. */
  since?: string | null;
  until?: string | null;
  types?: string[];
}

export interface QueryResult {
  columns: string[];
  rows: Record<string, unknown>[];
}

/** The stored fields of one history row that a normalizer needs again. */
export interface StoredEvent {
  seq: number;
  type: string;
  occurred_at: string;
  payload: string;
}

/** The pure normalizer of a stream's source, applied again to its stored history. */
export type StoredEventNormalizer = (source: SourceKind) => (event: StoredEvent) => NormalizeResult;

export interface TableDifference {
  added: number;
  removed: number;
  changed: number;
}

export interface RebuildReport {
  events: number;
  /** Stored events the normalizer now refuses (they are left out of the projections). */
  unreadable: number;
  differences: Partial<Record<ProjectionTable, TableDifference>>;
}

/** One process's place in a fleet, renewed like a lease. */
export interface FleetMembership {
  /** Renews the membership; how many members are live, this one included. */
  renew(): Promise<number>;
  leave(): Promise<void>;
}

/** What `query`, `status` and `export` need: a store opened for reading can never change anything. */
export interface ReadableStore {
  /** A printable name of the database (a file path; a URL with its password masked). */
  readonly description: string;
  status(now?: number): Promise<StreamStatus[]>;
  /** What a stream was stored as (its definition is null after a reset), or null for no such stream. */
  streamDefinition(stream: string): Promise<{ source: SourceKind; definition: Record<string, unknown> | null } | null>;
  /** One read-only SQL statement; a statement that does not read, or does not compile, is a UsageError. */
  query(sql: string): Promise<QueryResult>;
  /** One JSON line (without newline) per event, oldest first, one row in memory at a time. */
  exportEvents(filter: ExportFilter): AsyncIterable<string>;
  close(): Promise<void>;
}

export interface Store extends ReadableStore {
  /**
   * Stores the stream's definition on first use (a different one under the same name is a
   * UsageError) and takes its lease (StreamBusyError while a live ingester holds it).
   */
  openWriter(definition: StreamDefinition, lease?: LeaseOptions): Promise<StreamWriter>;
  /**
   * Makes this process a member of the fleet that shares a config's streams (`ingest --all
   * --standby`); undefined where the store serves one host only (SQLite).
   */
  joinFleet?(lease: LeaseOptions): Promise<FleetMembership>;
  /** Recomputes the stream's projections from its history, in one transaction, under its lease. */
  rebuild(stream: string, normalizerFor: StoredEventNormalizer): Promise<RebuildReport>;
  /** Forgets the stream's cursor and definition (history stays); refused while it is leased. */
  reset(stream: string): Promise<void>;
}
