// The Store of src/core/store.ts on PostgreSQL: the same exactly-once promise as SQLite. A batch is
// one transaction of a few set-based statements (events and detail rows from unnest(), the
// projection ops in one call of sse_sink_write, the cursor with the lease check), then NOTIFY.
// The lease uses the database's clock, never the host's.
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { DatabaseBusyError, LeaseLostError, UsageError } from '../../common/errors.js';
import { backoffDelayMs, pause } from '../../common/retry.js';
import { nowTime } from '../../common/time.js';
import type { Batch, CommitResult, RevisionMismatch } from '../../core/batch.js';
import { isNormalizeFailure, PROJECTION_TABLES, type ColumnValue } from '../../core/change.js';
import type { GapRecord } from '../../core/source-event.js';
import type { OpenGap, SourceKind, StoredDocument, StoredStreamView } from '../../core/source.js';
import type {
  ExportFilter,
  FleetMembership,
  LeaseOptions,
  QueryResult,
  RebuildReport,
  Store,
  StoredEvent,
  StoredEventNormalizer,
  StreamDefinition,
  StreamStatus,
  StreamWriter,
} from '../../core/store.js';
import { migrationsFolder } from '../package-root.js';
import { exportLine } from '../export-line.js';
import { compareRows } from '../rebuild-report.js';
import { STATUS_SQL, toStreamStatus, type StreamStatusRow } from '../stream-status.js';
import { LATEST_SNAPSHOT_SQL, RESET_SNAPSHOTS_SQL, rowsWrittenBeforeSql, saveSnapshotSql, snapshotValues, toStoredSnapshot, type SnapshotRow } from '../snapshot-rows.js';
import {
  canonicalJson,
  checkDefinition,
  isDeadLocalProcess,
  isHeldByOther,
  LEASE_TTL_MS,
  newLeaseOwner,
  streamBusyError,
  type LeaseHolder,
} from '../stream-rules.js';
import { isRetryable, maskedUrl, type PostgresTarget } from './connection.js';
import { createPool } from './pool.js';
import { projectionGroupsJson, withoutNul, type TimedOp } from './projection-groups.js';

/** The channel a commit notifies: `{"schema": …, "stream": …, "seq": …}`, the newest seq it stored. */
export const NOTIFY_CHANNEL = 'sse_sink';

const INGEST_STATEMENT_TIMEOUT_MS = 60_000;
const QUERY_STATEMENT_TIMEOUT_MS = 30_000;
const EXPORT_PAGE = 1000;
const REBUILD_PAGE = 1000;

export interface OpenPostgresOptions {
  /** Create the schema and run migrations (writers); readers only check the tables are there. */
  migrate: boolean;
  /** The lease length: also how long a session may sit idle inside a transaction. */
  leaseTtlMs?: number;
}

export async function openPostgresStore(target: PostgresTarget, options: OpenPostgresOptions): Promise<PostgresStore> {
  // Only writers: a reader's export sits in its transaction as long as its consumer is slow.
  const idleInTransactionMs = options.migrate ? (options.leaseTtlMs ?? LEASE_TTL_MS) : 0;
  const pool = createPool(target, { statementTimeoutMs: INGEST_STATEMENT_TIMEOUT_MS, idleInTransactionMs });
  const store = new PostgresStore(pool, target);
  try {
    await whileDatabaseAway(() => (options.migrate ? store.migrate() : store.checkTables()));
    return store;
  } catch (error) {
    await pool.end();
    throw error;
  }
}

export class PostgresStore implements Store {
  readonly description: string;

  constructor(
    private readonly pool: pg.Pool,
    private readonly target: PostgresTarget,
  ) {
    this.description = `${maskedUrl(target.url)} (schema ${target.schema})`;
  }

  /** Creates the schema and applies pending migrations, one process at a time. */
  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`sse-sink migrate ${this.target.schema}`]);
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.target.schema}`);
        await migrate(drizzle(client), { migrationsFolder: migrationsFolder('postgres'), migrationsSchema: this.target.schema });
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`sse-sink migrate ${this.target.schema}`]);
      }
    } finally {
      client.release();
    }
  }

  async checkTables(): Promise<void> {
    const { rows } = await this.pool.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`${this.target.schema}.streams`]);
    if (!rows[0]?.found) {
      throw new UsageError(`${this.description} has no sse-sink tables; run "sse-sink migrate --db …" or an ingest first`);
    }
  }

  async openWriter(wanted: StreamDefinition, { ttlMs }: LeaseOptions = { ttlMs: LEASE_TTL_MS }): Promise<StreamWriter> {
    const owner = newLeaseOwner();
    const { position, token } = await whileDatabaseAway(() => this.inTransaction(async (client) => {
      await client.query('INSERT INTO streams (name, source, definition) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [
        wanted.name,
        wanted.source,
        canonicalJson(wanted.definition),
      ]);
      const { rows } = await client.query<StreamLeaseRow & { source: string; definition: string | null; cursor: string | null; last_event_at: string | null }>(
        `SELECT source, definition, cursor, last_event_at, lease_owner, lease_expires_at, lease_expires_at > now() AS live
           FROM streams WHERE name = $1 FOR UPDATE`,
        [wanted.name],
      );
      const row = rows[0];
      if (checkDefinition(row, wanted) === 'adopt') {
        await client.query('UPDATE streams SET definition = $2 WHERE name = $1', [wanted.name, canonicalJson(wanted.definition)]);
      }
      const taken = await takeLease(client, wanted.name, owner, row, ttlMs);
      return { position: { cursor: row.cursor, lastEventAt: row.last_event_at }, token: taken };
    }));
    const stream = wanted.name;
    const lease: HeldLease = { owner, token, ttlMs };
    // Resolves once the latest commit's events are inserted (or it failed). The next commit waits
    // for it before it takes a connection: its seqs follow that batch's, and commits waiting for
    // the ones before them never hold every connection of the pool.
    let eventsInserted = Promise.resolve();
    return {
      stream,
      leaseTtlMs: ttlMs,
      position,
      stored: this.storedStreamView(stream),
      // A batch's rows go in on a second connection while the one before it commits.
      commitsInFlight: 2,
      commit: (batch, after) => {
        const eventsBefore = eventsInserted;
        const order: CommitOrder = { eventsInserted: () => {}, after };
        eventsInserted = new Promise((resolve) => (order.eventsInserted = resolve));
        const committed = eventsBefore.then(() =>
          this.retryable(() => this.inTransaction((client) => commitBatch(client, { schema: this.target.schema, stream }, lease, batch, order))),
        );
        void committed.finally(order.eventsInserted).catch(() => undefined);
        return committed;
      },
      renewLease: () =>
        this.retryable(async () => {
          const result = await this.pool.query(
            `UPDATE streams SET lease_expires_at = now() + $4 * interval '1 millisecond' WHERE name = $1 AND lease_owner = $2 AND lease_token = $3`,
            [stream, owner, token, ttlMs],
          );
          return result.rowCount === 1;
        }),
      // A connection lost at the very end must not turn a clean stop into a failure.
      release: (reason) => whileDatabaseAway(() => this.releaseLease(stream, owner, reason)),
    };
  }

  private async releaseLease(stream: string, owner: string, reason: string): Promise<void> {
    await this.pool.query(
      `UPDATE streams SET lease_owner = NULL, lease_expires_at = NULL, state = 'stopped', state_reason = $3, state_updated_at = now()
         WHERE name = $1 AND lease_owner = $2`,
      [stream, owner, reason],
    );
  }

  async status(now = Date.now()): Promise<StreamStatus[]> {
    const { rows } = await this.pool.query<StreamStatusRow>(STATUS_SQL);
    const byType = await this.pool.query<{ stream: string; type: string; n: number }>(
      'SELECT stream, type, count(*) AS n FROM events GROUP BY stream, type ORDER BY stream, type',
    );
    return rows.map((row) =>
      toStreamStatus(row, Object.fromEntries(byType.rows.filter((r) => r.stream === row.name).map(({ type, n }) => [type, n])), now),
    );
  }

  async streamDefinition(stream: string) {
    const { rows } = await this.pool.query<{ source: SourceKind; definition: string | null }>('SELECT source, definition FROM streams WHERE name = $1', [stream]);
    const row = rows[0];
    return row ? { source: row.source, definition: row.definition === null ? null : (JSON.parse(row.definition) as Record<string, unknown>) } : null;
  }

  async query(sql: string): Promise<QueryResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${QUERY_STATEMENT_TIMEOUT_MS}`);
      let result: pg.QueryResult;
      try {
        // With values, node-postgres uses the extended protocol: one statement, no `; DROP …` after it.
        result = await client.query({ text: sql, values: [] });
      } catch (error) {
        throw explainQueryError(error);
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
      if (result.fields.length === 0) throw new UsageError('query only reads; the statement returns no rows (use SELECT)');
      return { columns: result.fields.map((field) => field.name), rows: result.rows as Record<string, unknown>[] };
    } finally {
      client.release();
    }
  }

  async *exportEvents(filter: ExportFilter): AsyncGenerator<string> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ');
      const conditions = ['stream = $1'];
      const values: unknown[] = [filter.stream];
      if (filter.since) conditions.push(`occurred_at >= $${values.push(filter.since)}`);
      if (filter.until) conditions.push(`occurred_at < $${values.push(filter.until)}`);
      if (filter.types?.length) conditions.push(`type = ANY ($${values.push(filter.types)})`);
      await client.query(
        `DECLARE history NO SCROLL CURSOR FOR
           SELECT seq, stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload::text AS payload
           FROM events WHERE ${conditions.join(' AND ')} ORDER BY seq`,
        values,
      );
      for (;;) {
        const { rows } = await client.query<ExportRow>(`FETCH ${EXPORT_PAGE} FROM history`);
        if (rows.length === 0) break;
        for (const { payload, ...row } of rows) yield exportLine(row, payload);
      }
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  async rebuild(stream: string, normalizerFor: StoredEventNormalizer): Promise<RebuildReport> {
    const owner = newLeaseOwner();
    const source = await this.inTransaction(async (client) => {
      const { rows } = await client.query<StreamLeaseRow & { source: StreamDefinition['source'] }>(
        'SELECT source, lease_owner, lease_expires_at, lease_expires_at > now() AS live FROM streams WHERE name = $1 FOR UPDATE',
        [stream],
      );
      if (rows.length === 0) throw new UsageError(`no stream named "${stream}"; "sse-sink status" lists the streams`);
      await takeLease(client, stream, owner, rows[0], LEASE_TTL_MS);
      return rows[0].source;
    });
    const normalize = normalizerFor(source);
    try {
      return await this.inTransaction(async (client) => {
        const before = await snapshot(client, stream);
        for (const table of PROJECTION_TABLES) await client.query(`DELETE FROM ${table} WHERE stream = $1`, [stream]);
        await client.query("DELETE FROM projection_tombstones WHERE (row_key::jsonb)->>0 = $1", [stream]);
        const report: RebuildReport = { events: 0, unreadable: 0, differences: {} };
        for (let last = 0; ; ) {
          const page = await client.query<StoredEvent>(
            `SELECT seq, type, occurred_at, payload::text AS payload FROM events
               WHERE stream = $1 AND projected AND seq > $2 ORDER BY seq LIMIT ${REBUILD_PAGE}`,
            [stream, last],
          );
          if (page.rows.length === 0) break;
          const ops: TimedOp[] = [];
          for (const event of page.rows) {
            report.events++;
            const result = normalize(event);
            if (isNormalizeFailure(result)) {
              report.unreadable++;
              continue;
            }
            for (const op of result.projections) ops.push({ op, time: event.occurred_at, seq: event.seq });
          }
          if (ops.length) await client.query('SELECT sse_sink_write($1, $2::jsonb)', [stream, projectionGroupsJson(ops)]);
          last = page.rows.at(-1)!.seq;
        }
        const after = await snapshot(client, stream);
        for (const table of PROJECTION_TABLES) {
          const difference = compareRows(before.get(table)!, after.get(table)!);
          if (difference.added + difference.removed + difference.changed > 0) report.differences[table] = difference;
        }
        return report;
      });
    } finally {
      await this.releaseLease(stream, owner, 'rebuild done');
    }
  }

  async reset(stream: string): Promise<void> {
    await this.inTransaction(async (client) => {
      const { rows } = await client.query<StreamLeaseRow>(
        'SELECT lease_owner, lease_expires_at, lease_expires_at > now() AS live FROM streams WHERE name = $1 FOR UPDATE',
        [stream],
      );
      if (rows.length === 0) throw new UsageError(`no stream named "${stream}"; "sse-sink status" lists the streams`);
      if (isHeldByOther(holder(rows[0]))) throw streamBusyError(stream, holder(rows[0]));
      await client.query(
        `UPDATE streams SET cursor = NULL, cursor_updated_at = now(), definition = NULL, state = 'idle', state_reason = 'reset' WHERE name = $1`,
        [stream],
      );
      await client.query(RESET_SNAPSHOTS_SQL('$1'), [stream]);
    });
  }

  async joinFleet({ ttlMs }: LeaseOptions): Promise<FleetMembership> {
    const member = newLeaseOwner();
    const renew = () =>
      this.retryable(async () => {
        await this.pool.query(
          `INSERT INTO ingesters (member, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
             ON CONFLICT (member) DO UPDATE SET expires_at = excluded.expires_at`,
          [member, ttlMs],
        );
        const { rows } = await this.pool.query<{ member: string }>('SELECT member FROM ingesters WHERE expires_at > now()');
        return rows.filter((row) => !isDeadLocalProcess(row.member)).length;
      });
    // Rows of members gone long ago are nobody's: a member joining clears them.
    await whileDatabaseAway(() => this.pool.query("DELETE FROM ingesters WHERE expires_at < now() - interval '1 day'"));
    await whileDatabaseAway(renew);
    return { renew, leave: () => whileDatabaseAway(async () => void (await this.pool.query('DELETE FROM ingesters WHERE member = $1', [member]))) };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private storedStreamView(stream: string): StoredStreamView {
    return {
      documents: () => whileDatabaseAway(async () => {
        const { rows } = await this.pool.query<{ document_id: string; rev: string | null; deleted_at: string | null; event_time: string | null }>(
          'SELECT document_id, rev, deleted_at, event_time FROM documents WHERE stream = $1',
          [stream],
        );
        return new Map<string, StoredDocument>(rows.map((r) => [r.document_id, { rev: r.rev, deleted: r.deleted_at !== null, updatedAt: r.event_time }]));
      }),
      openGaps: () => whileDatabaseAway(async () => {
        const { rows } = await this.pool.query<{ reason: string; document_id: string | null; detail: string | null }>(
          "SELECT reason, document_id, detail FROM gaps WHERE stream = $1 AND status = 'open' ORDER BY id",
          [stream],
        );
        return rows.map((r): OpenGap => ({ reason: r.reason, documentId: r.document_id, detail: r.detail }));
      }),
      oldestEventAt: () => whileDatabaseAway(async () => {
        const { rows } = await this.pool.query<{ at: string | null }>('SELECT min(occurred_at) AS at FROM events WHERE stream = $1', [stream]);
        return rows[0]?.at ?? null;
      }),
      latestSnapshot: () => whileDatabaseAway(async () => {
        const { rows } = await this.pool.query<SnapshotRow>(LATEST_SNAPSHOT_SQL('$1'), [stream]);
        return toStoredSnapshot(rows[0]);
      }),
      rowsWrittenBefore: (query) => whileDatabaseAway(async () => {
        const { rows } = await this.pool.query<Record<string, unknown>>(rowsWrittenBeforeSql(query, '$1', '$2::timestamptz'), [stream, query.before]);
        return rows;
      }),
    };
  }

  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = isRetryable(error) ? error : undefined;
      await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw error;
    } finally {
      // A connection that failed is not given back to the pool: the next call connects anew.
      client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  /** A lost connection, a restart, a timeout or a serialization failure: said as the typed error the ingest loop retries. */
  private async retryable<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isRetryable(error)) throw new DatabaseBusyError(`PostgreSQL failed (${(error as Error).message}); nothing was committed`);
      throw error;
    }
  }
}

/** How long the calls outside a commit keep trying while the database is away (a restart, a failover). */
const DATABASE_AWAY_MS = 30_000;

/**
 * Opening, migrating, taking the lease and releasing it, and the reader's lookups, tried again
 * while the database is restarting or its connections are being killed (then the error is the
 * last one, said plainly). A commit is not: the ingest loop holds its batch and tries again.
 */
async function whileDatabaseAway<T>(work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryable(error) || Date.now() - started > DATABASE_AWAY_MS) throw error;
      await pause(backoffDelayMs({ firstMs: 250, maxMs: 4000 }, attempt), undefined);
    }
  }
}

interface StreamLeaseRow {
  lease_owner: string | null;
  lease_expires_at: string | null;
  live: boolean | null;
}

/** The lease a writer holds: its owner name, the fencing token it took, and its length. */
interface HeldLease {
  owner: string;
  token: number;
  ttlMs: number;
}

/**
 * Takes the lease of a stream whose row is locked (FOR UPDATE), or says who holds it; the new
 * fencing token. An owner that lost the lease can never write again: every write names its token.
 */
async function takeLease(client: pg.PoolClient, stream: string, owner: string, row: StreamLeaseRow, ttlMs: number): Promise<number> {
  if (isHeldByOther(holder(row))) throw streamBusyError(stream, holder(row));
  const { rows } = await client.query<{ lease_token: number }>(
    `UPDATE streams SET lease_owner = $2, lease_expires_at = now() + $3 * interval '1 millisecond', lease_token = lease_token + 1,
       state = 'live', state_reason = NULL, state_updated_at = now() WHERE name = $1 RETURNING lease_token`,
    [stream, owner, ttlMs],
  );
  return rows[0].lease_token;
}

function holder(row: StreamLeaseRow): LeaseHolder {
  return { owner: row.lease_owner, expiresAt: row.lease_expires_at, live: row.live === true };
}

interface ExportRow {
  seq: number;
  payload: string;
}

/** Where a commit stands among the writer's commits in flight. */
interface CommitOrder {
  /** Called once this commit's events and detail rows are in. */
  eventsInserted: () => void;
  /** The commit before this one, still in flight: this one commits only after it. */
  after?: Promise<CommitResult>;
}

/**
 * One batch: its events, their projections and detail rows, dead letters, gaps and the cursor.
 * The events and detail rows may go in while the commit before it is still in flight; everything
 * that reads or writes what that one wrote (projections, revisions, the cursor) waits for it.
 */
async function commitBatch(
  client: pg.PoolClient,
  { schema, stream }: { schema: string; stream: string },
  lease: HeldLease,
  batch: Batch,
  order: CommitOrder,
): Promise<CommitResult> {
  const result: CommitResult = { inserted: 0, duplicates: 0, deadLetters: 0, revisionMismatches: [], insertedByType: {} };
  const seqs = await insertEvents(client, stream, batch);
  let unknown = 0;
  let lastEventAt: string | null = null;
  let newestSeq = 0;
  const ops: TimedOp[] = [];
  const details: { values: Record<string, ColumnValue>; seq: number }[] = [];
  for (const { change } of batch.changes) {
    const { history } = change;
    const seq = seqs.get(history.eventId);
    if (seq === undefined) {
      result.duplicates++;
      continue;
    }
    // A second copy of the same event in one batch is a duplicate too.
    seqs.delete(history.eventId);
    result.inserted++;
    result.insertedByType[history.type] = (result.insertedByType[history.type] ?? 0) + 1;
    if (!history.projected) unknown++;
    if (lastEventAt === null || history.occurredAt > lastEventAt) lastEventAt = history.occurredAt;
    newestSeq = Math.max(newestSeq, seq);
    for (const detail of change.details ?? []) details.push({ values: detail.values, seq });
    for (const op of change.projections) ops.push({ op, time: history.occurredAt, seq });
  }
  await insertDocumentMutations(client, stream, details);
  order.eventsInserted();
  if (order.after) {
    try {
      await order.after;
    } catch {
      throw new DatabaseBusyError('the batch before this one was not committed; nothing was committed');
    }
  }
  if (ops.length) {
    const { rows } = await client.query<{ mismatches: string }>('SELECT sse_sink_write($1, $2::jsonb)::text AS mismatches', [stream, projectionGroupsJson(ops)]);
    result.revisionMismatches = JSON.parse(rows[0].mismatches) as RevisionMismatch[];
  }
  const gaps: GapRecord[] = result.revisionMismatches.map((mismatch) => ({
    kind: 'gap',
    reason: 'revision-mismatch',
    documentId: String(mismatch.key.document_id ?? JSON.stringify(mismatch.key)),
    fromTime: null,
    toTime: lastEventAt,
    status: 'open',
    changesFound: null,
    detail: JSON.stringify(mismatch),
  }));
  for (const gap of [...gaps, ...batch.gaps]) await recordGap(client, stream, gap);
  if (batch.snapshot) await client.query(saveSnapshotSql((i) => `$${i}`), snapshotValues(stream, batch.snapshot, nowTime()));
  if (batch.deadLetters.length) {
    const letters = batch.deadLetters;
    await client.query(
      `INSERT INTO dead_letters (stream, received_at, event_type, reason, cursor, raw)
       SELECT $1, d.received_at, d.event_type, d.reason, d.cursor, d.raw
       FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS d(received_at, event_type, reason, cursor, raw, ord)
       ORDER BY d.ord`,
      [stream, letters.map((l) => l.receivedAt), letters.map((l) => l.eventType), letters.map((l) => l.reason), letters.map((l) => l.cursor), letters.map((l) => withoutNul(l.raw))],
    );
    result.deadLetters = letters.length;
  }
  const saved = await client.query(
    `UPDATE streams SET
       cursor = coalesce($3, cursor),
       cursor_updated_at = CASE WHEN $3::text IS NULL THEN cursor_updated_at ELSE now() END,
       last_event_at = greatest(last_event_at, $4::timestamptz),
       last_received_at = coalesce($5::timestamptz, last_received_at),
       last_heartbeat_at = coalesce($6::timestamptz, last_heartbeat_at),
       events_total = events_total + $7,
       duplicates_total = duplicates_total + $8,
       unknown_total = unknown_total + $9,
       dead_letters_total = dead_letters_total + $10,
       lease_expires_at = now() + $11 * interval '1 millisecond'
     WHERE name = $1 AND lease_owner = $2 AND lease_token = $12`,
    [stream, lease.owner, batch.cursor, lastEventAt, batch.changes.at(-1)?.receivedAt ?? null, batch.heartbeatAt ?? null,
      result.inserted, result.duplicates, unknown, result.deadLetters, lease.ttlMs, lease.token],
  );
  if (saved.rowCount !== 1) throw new LeaseLostError(stream);
  if (newestSeq > 0) await client.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, JSON.stringify({ schema, stream, seq: newestSeq })]);
  return result;
}

/** Inserts the batch's events in order; the seq of each one stored now (a duplicate gets none). */
async function insertEvents(client: pg.PoolClient, stream: string, batch: Batch): Promise<Map<string, number>> {
  if (batch.changes.length === 0) return new Map();
  const column = <T>(pick: (change: Batch['changes'][number]) => T) => batch.changes.map(pick);
  const { rows } = await client.query<{ event_id: string; seq: number }>(
    `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
     SELECT $1, e.event_id, e.type, e.subject_kind, e.subject_id, e.occurred_at, e.received_at, e.cursor, e.projected, p.payload
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[], $9::boolean[])
       WITH ORDINALITY AS e(event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, ord)
     JOIN jsonb_array_elements($10::jsonb) WITH ORDINALITY AS p(payload, ord) USING (ord)
     ORDER BY e.ord
     ON CONFLICT (stream, event_id) DO NOTHING
     RETURNING event_id, seq`,
    [
      stream,
      column((c) => c.change.history.eventId),
      column((c) => c.change.history.type),
      column((c) => c.change.history.subjectKind),
      column((c) => c.change.history.subjectId),
      column((c) => c.change.history.occurredAt),
      column((c) => c.receivedAt),
      column((c) => c.cursor),
      column((c) => c.change.history.projected),
      // The payloads as one JSON array: they are JSON already, so no array literal escapes them.
      `[${column((c) => withoutNul(c.change.history.payload)).join(',')}]`,
    ],
  );
  return new Map(rows.map((row) => [row.event_id, row.seq]));
}

const MUTATION_COLUMNS = [
  'event_id', 'transaction_id', 'document_id', 'doc_type', 'transition', 'previous_rev', 'result_rev', 'identity', 'visibility',
  'timestamp', 'mutations', 'result', 'previous', 'origin',
] as const;
const MUTATION_TYPES: Record<(typeof MUTATION_COLUMNS)[number], string> = {
  event_id: 'text', transaction_id: 'text', document_id: 'text', doc_type: 'text', transition: 'text', previous_rev: 'text',
  result_rev: 'text', identity: 'text', visibility: 'text', timestamp: 'timestamptz', mutations: 'jsonb', result: 'jsonb',
  previous: 'jsonb', origin: 'text',
};

async function insertDocumentMutations(client: pg.PoolClient, stream: string, details: { values: Record<string, ColumnValue>; seq: number }[]): Promise<void> {
  if (details.length === 0) return;
  const arrays = MUTATION_COLUMNS.map((column) =>
    details.map(({ values }) => {
      const value = values[column];
      return typeof value === 'string' && MUTATION_TYPES[column] === 'jsonb' ? withoutNul(value) : (value ?? null);
    }),
  );
  const unnestArgs = MUTATION_COLUMNS.map((column, i) => `$${i + 3}::${MUTATION_TYPES[column]}[]`).join(', ');
  await client.query(
    `INSERT INTO document_mutations (stream, seq, ${MUTATION_COLUMNS.join(', ')})
     SELECT $1, m.seq, ${MUTATION_COLUMNS.map((c) => `m.${c}`).join(', ')}
     FROM unnest($2::bigint[], ${unnestArgs}) AS m(seq, ${MUTATION_COLUMNS.join(', ')})
     ON CONFLICT (stream, event_id) DO NOTHING`,
    [stream, details.map((d) => d.seq), ...arrays],
  );
}

async function recordGap(client: pg.PoolClient, stream: string, gap: GapRecord): Promise<void> {
  if (gap.resolvesOpen) {
    const resolved = await client.query(
      `UPDATE gaps SET status = $1, from_time = coalesce($2, from_time), to_time = coalesce($3, to_time), changes_found = $4,
         detail = coalesce($5, detail) WHERE stream = $6 AND reason = $7 AND document_id IS NOT DISTINCT FROM $8 AND status = 'open'`,
      [gap.status, gap.fromTime, gap.toTime, gap.changesFound, gap.detail, stream, gap.reason, gap.documentId ?? null],
    );
    if ((resolved.rowCount ?? 0) > 0) return;
  }
  await client.query(
    `INSERT INTO gaps (stream, detected_at, reason, document_id, from_time, to_time, status, changes_found, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [stream, nowTime(), gap.reason, gap.documentId ?? null, gap.fromTime, gap.toTime, gap.status, gap.changesFound, gap.detail],
  );
}

function explainQueryError(error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message;
  if (code === '25006') return new UsageError('query only reads; the statement would change the database (use SELECT)');
  if (code === '57014') return new UsageError(`the query ran longer than ${QUERY_STATEMENT_TIMEOUT_MS / 1000} s and was cancelled`);
  if (typeof code === 'string' && (code.startsWith('42') || code.startsWith('22'))) return new UsageError(`the SQL did not compile: ${message}`);
  return error as Error;
}

/** Every projection row of the stream as text, keyed by its primary key. */
async function snapshot(client: pg.PoolClient, stream: string): Promise<Map<string, Map<string, string>>> {
  const tables = new Map<string, Map<string, string>>();
  for (const table of PROJECTION_TABLES) {
    const { rows: keyRows } = await client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attnum`,
      [table],
    );
    const keys = keyRows.map((r) => r.name);
    const { rows } = await client.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${table} t WHERE stream = $1`, [stream]);
    tables.set(
      table,
      new Map(rows.map(({ row }) => {
        const parsed = JSON.parse(row) as Record<string, unknown>;
        return [JSON.stringify(keys.map((k) => parsed[k])), row];
      })),
    );
  }
  return tables;
}
