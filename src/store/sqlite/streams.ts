// The `streams` table, every write to it: registering a stream's definition (refusing a
// conflicting one), resetting it, its lease, and the progress each commit saves.
import type Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { UsageError } from '../../common/errors.js';
import { nowTime } from '../../common/time.js';
import type { StreamDefinition } from '../../core/store.js';
import { canonicalJson, checkDefinition } from '../stream-rules.js';
import type { SinkDatabase } from './database.js';
import { streams } from './schema.js';
import { RESET_SNAPSHOTS_SQL } from '../snapshot-rows.js';

export type StreamRow = typeof streams.$inferSelect;

/** Stores the definition on first use (src/store/stream-rules.ts says when) and returns the stream's row. */
export function registerStream({ db }: SinkDatabase, wanted: StreamDefinition): StreamRow {
  const definition = canonicalJson(wanted.definition);
  return db.transaction(
    (tx) => {
      const existing = tx.select().from(streams).where(eq(streams.name, wanted.name)).get();
      if (!existing) {
        return tx.insert(streams).values({ name: wanted.name, source: wanted.source, definition }).returning().get();
      }
      if (checkDefinition(existing, wanted) === 'keep') return existing;
      return tx.update(streams).set({ definition }).where(eq(streams.name, wanted.name)).returning().get();
    },
    { behavior: 'immediate' },
  );
}

export function readStream({ db }: SinkDatabase, name: string): StreamRow | undefined {
  return db.select().from(streams).where(eq(streams.name, name)).get();
}

/**
 * Forgets the stream's cursor, definition and snapshots; history and projections stay. The next
 * ingest starts from its --since (or from now, or a new --snapshot) and stores its own definition.
 */
export function resetStream({ db, sqlite }: SinkDatabase, name: string): void {
  db.transaction((tx) => {
    const updated = tx
      .update(streams)
      .set({ cursor: null, cursorUpdatedAt: nowTime(), definition: null, state: 'idle', stateReason: 'reset' })
      .where(eq(streams.name, name))
      .returning({ name: streams.name })
      .all();
    if (updated.length === 0) throw new UsageError(`no stream named "${name}"; "sse-sink status" lists the streams`);
    sqlite.prepare(RESET_SNAPSHOTS_SQL('?')).run(name);
  });
}

/** Who holds a stream, and until when. */
export interface LeaseRow {
  lease_owner: string | null;
  lease_expires_at: string | null;
}

/** What a commit saves in the stream's row, in the same transaction as its events. */
export interface StreamProgress {
  stream: string;
  owner: string;
  /** null leaves the cursor as it is. */
  cursor: string | null;
  now: string;
  lastEventAt: string | null;
  lastReceivedAt: string | null;
  heartbeatAt: string | null;
  inserted: number;
  duplicates: number;
  unknown: number;
  deadLetters: number;
  leaseExpiresAt: string;
}

/** The prepared statements of the lease and of the commits' progress: the hot, raw-SQL part. */
export function streamStatements(sqlite: Database.Database) {
  const readLease = sqlite.prepare<[string], LeaseRow>('SELECT lease_owner, lease_expires_at FROM streams WHERE name = ?');
  const takeLease = sqlite.prepare(
    `UPDATE streams SET lease_owner = ?, lease_expires_at = ?, lease_token = lease_token + 1, state = 'live', state_reason = NULL,
       state_updated_at = ? WHERE name = ?`,
  );
  const renewLease = sqlite.prepare('UPDATE streams SET lease_expires_at = ? WHERE name = ? AND lease_owner = ?');
  const releaseLease = sqlite.prepare(
    `UPDATE streams SET lease_owner = NULL, lease_expires_at = NULL, state = 'stopped', state_reason = ?,
       state_updated_at = ? WHERE name = ? AND lease_owner = ?`,
  );
  const saveProgress = sqlite.prepare<[StreamProgress]>(
    `UPDATE streams SET
       cursor = coalesce(@cursor, cursor),
       cursor_updated_at = CASE WHEN @cursor IS NULL THEN cursor_updated_at ELSE @now END,
       last_event_at = CASE WHEN @lastEventAt IS NOT NULL AND (last_event_at IS NULL OR @lastEventAt > last_event_at)
                            THEN @lastEventAt ELSE last_event_at END,
       last_received_at = coalesce(@lastReceivedAt, last_received_at),
       last_heartbeat_at = coalesce(@heartbeatAt, last_heartbeat_at),
       events_total = events_total + @inserted,
       duplicates_total = duplicates_total + @duplicates,
       unknown_total = unknown_total + @unknown,
       dead_letters_total = dead_letters_total + @deadLetters,
       lease_expires_at = @leaseExpiresAt
     WHERE name = @stream AND lease_owner = @owner`,
  );
  return {
    readLease: (stream: string): LeaseRow | undefined => readLease.get(stream),
    takeLease: (stream: string, owner: string, expiresAt: string): void => void takeLease.run(owner, expiresAt, nowTime(), stream),
    /** False when the lease is no longer `owner`'s. */
    renewLease: (stream: string, owner: string, expiresAt: string): boolean => renewLease.run(expiresAt, stream, owner).changes === 1,
    releaseLease: (stream: string, owner: string, reason: string): void => void releaseLease.run(reason, nowTime(), stream, owner),
    /** False when the lease is no longer the committer's: nothing was saved. */
    saveProgress: (progress: StreamProgress): boolean => saveProgress.run(progress).changes === 1,
  };
}
