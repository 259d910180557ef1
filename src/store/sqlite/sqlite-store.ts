// The Store of src/core/store.ts on a SQLite file: one connection per process, shared by every
// stream it ingests (better-sqlite3 being synchronous serializes their commits).
import Database from 'better-sqlite3';
import { DatabaseBusyError, UsageError } from '../../common/errors.js';
import type { Batch, CommitResult } from '../../core/batch.js';
import type { OpenGap, StoredDocument, StoredStreamView } from '../../core/source.js';
import type {
  LeaseOptions,
  ExportFilter,
  QueryResult,
  ReadableStore,
  RebuildReport,
  Store,
  StoredEventNormalizer,
  StreamDefinition,
  StreamStatus,
  StreamWriter,
} from '../../core/store.js';
import { BatchWriter } from './batch-writer.js';
import { explainSqliteError, isDatabaseBusy, openDatabase, openDatabaseReadOnly, type OpenOptions, type SinkDatabase } from './database.js';
import { exportEvents } from './export.js';
import { LEASE_TTL_MS } from '../stream-rules.js';
import { acquireLease, assertNotLeased } from './lease.js';
import { rebuildProjections } from './rebuild.js';
import { readStatus } from './status.js';
import { readStream, registerStream, resetStream } from './streams.js';
import { LATEST_SNAPSHOT_SQL, rowsWrittenBeforeSql, toStoredSnapshot, type SnapshotRow } from '../snapshot-rows.js';

/** Opens (creating and migrating) the database for writing. */
export function openSqliteStore(options: OpenOptions): SqliteStore {
  return new SqliteStore(openDatabase(options), options.path);
}

/** Opens an existing database that nothing done through it can change. */
export function openReadOnlySqliteStore(path: string): ReadableStore {
  return new SqliteStore(openDatabaseReadOnly(path), path);
}

export class SqliteStore implements Store {
  constructor(
    /** The connection itself, for tests and benchmarks of the SQLite layer. */
    readonly sink: SinkDatabase,
    readonly description: string,
  ) {}

  async openWriter(wanted: StreamDefinition, { ttlMs }: LeaseOptions = { ttlMs: LEASE_TTL_MS }): Promise<StreamWriter> {
    const row = registerStream(this.sink, wanted);
    const lease = acquireLease(this.sink, wanted.name, ttlMs);
    const writer = new BatchWriter(this.sink, lease);
    return {
      stream: wanted.name,
      leaseTtlMs: ttlMs,
      position: { cursor: row.cursor, lastEventAt: row.lastEventAt },
      stored: storedStreamView(this.sink.sqlite, wanted.name),
      // SQLite writes one transaction at a time.
      commitsInFlight: 1,
      commit: async (batch: Batch): Promise<CommitResult> => busyAsTyped(() => writer.commit(batch)),
      renewLease: async () => busyAsTyped(() => lease.renew()),
      release: async (reason) => lease.release(reason),
    };
  }

  async status(now?: number): Promise<StreamStatus[]> {
    return readStatus(this.sink, now);
  }

  async streamDefinition(stream: string) {
    const row = readStream(this.sink, stream);
    return row ? { source: row.source, definition: row.definition === null ? null : (JSON.parse(row.definition) as Record<string, unknown>) } : null;
  }

  async query(sql: string): Promise<QueryResult> {
    let statement: Database.Statement;
    try {
      statement = this.sink.sqlite.prepare(sql);
    } catch (error) {
      throw new UsageError(`the SQL did not compile: ${(error as Error).message}`);
    }
    if (!statement.reader) throw new UsageError('query only reads; the statement returns no rows (use SELECT)');
    return { columns: statement.columns().map((c) => c.name), rows: statement.all() as Record<string, unknown>[] };
  }

  async *exportEvents(filter: ExportFilter): AsyncGenerator<string> {
    yield* exportEvents(this.sink, filter);
  }

  async rebuild(stream: string, normalizerFor: StoredEventNormalizer): Promise<RebuildReport> {
    const row = readStream(this.sink, stream);
    if (!row) throw new UsageError(`no stream named "${stream}"; "sse-sink status" lists the streams`);
    const lease = acquireLease(this.sink, stream);
    try {
      return rebuildProjections(this.sink, stream, normalizerFor(row.source));
    } finally {
      lease.release('rebuild done');
    }
  }

  async reset(stream: string): Promise<void> {
    assertNotLeased(this.sink, stream);
    resetStream(this.sink, stream);
  }

  async close(): Promise<void> {
    this.sink.close();
  }
}

/** A commit or renewal the lock kept out wrote nothing: said as the typed error the ingest loop retries. */
function busyAsTyped<T>(write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (isDatabaseBusy(error)) throw new DatabaseBusyError(explainSqliteError(error)!);
    throw error;
  }
}

function storedStreamView(sqlite: Database.Database, stream: string): StoredStreamView {
  const documents = sqlite.prepare<[string], { document_id: string; rev: string | null; deleted_at: string | null; event_time: string | null }>(
    'SELECT document_id, rev, deleted_at, event_time FROM documents WHERE stream = ?',
  );
  const openGaps = sqlite.prepare<[string], { reason: string; document_id: string | null; detail: string | null }>(
    "SELECT reason, document_id, detail FROM gaps WHERE stream = ? AND status = 'open' ORDER BY id",
  );
  const oldestEvent = sqlite.prepare<[string], { at: string | null }>('SELECT min(occurred_at) AS at FROM events WHERE stream = ?');
  const latestSnapshot = sqlite.prepare<[string], SnapshotRow>(LATEST_SNAPSHOT_SQL('?'));
  return {
    documents: async () =>
      new Map<string, StoredDocument>(
        documents.all(stream).map((r) => [r.document_id, { rev: r.rev, deleted: r.deleted_at !== null, updatedAt: r.event_time }]),
      ),
    openGaps: async () => openGaps.all(stream).map((r): OpenGap => ({ reason: r.reason, documentId: r.document_id, detail: r.detail })),
    oldestEventAt: async () => oldestEvent.get(stream)?.at ?? null,
    latestSnapshot: async () => toStoredSnapshot(latestSnapshot.get(stream)),
    rowsWrittenBefore: async (query) => sqlite.prepare<[string, string], Record<string, unknown>>(rowsWrittenBeforeSql(query, '?', '?')).all(stream, query.before),
  };
}
