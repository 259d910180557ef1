// The `streams` table: registering a stream's definition, refusing a conflicting one, and
// resetting a stream so that it starts again.
import { eq } from 'drizzle-orm';
import { UsageError } from '../common/errors.js';
import { nowTime } from '../common/time.js';
import type { StreamDefinition } from '../core/store.js';
import type { SinkDatabase } from './database.js';
import { streams } from './schema.js';

export type StreamRow = typeof streams.$inferSelect;

/** JSON with sorted keys, so that the same options always compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Stores the definition on first use and returns the stream's row. A different definition under
 * the same name is refused: mixing two streams' histories under one cursor would corrupt both.
 */
export function registerStream({ db }: SinkDatabase, wanted: StreamDefinition): StreamRow {
  const definition = canonicalJson(wanted.definition);
  return db.transaction(
    (tx) => {
      const existing = tx.select().from(streams).where(eq(streams.name, wanted.name)).get();
      if (!existing) {
        return tx.insert(streams).values({ name: wanted.name, source: wanted.source, definition }).returning().get();
      }
      if (existing.source !== wanted.source) {
        throw new UsageError(
          `stream "${wanted.name}" is a ${existing.source} stream, not ${wanted.source}; choose another --stream name`,
        );
      }
      if (existing.definition === null) {
        return tx.update(streams).set({ definition }).where(eq(streams.name, wanted.name)).returning().get();
      }
      if (existing.definition !== definition) {
        throw new UsageError(
          `stream "${wanted.name}" was defined as ${existing.definition}, not ${definition}; ` +
            `use a new --stream name, or run "sse-sink reset ${wanted.name} --yes" to start it again`,
        );
      }
      return existing;
    },
    { behavior: 'immediate' },
  );
}

export function readStream({ db }: SinkDatabase, name: string): StreamRow | undefined {
  return db.select().from(streams).where(eq(streams.name, name)).get();
}

/**
 * Forgets the stream's cursor and definition; history and projections stay. The next ingest
 * starts from its --since (or from now) and stores its own definition.
 */
export function resetStream({ db }: SinkDatabase, name: string): void {
  const updated = db
    .update(streams)
    .set({ cursor: null, cursorUpdatedAt: nowTime(), definition: null, state: 'idle', stateReason: 'reset' })
    .where(eq(streams.name, name))
    .returning({ name: streams.name })
    .all();
  if (updated.length === 0) throw new UsageError(`no stream named "${name}"; "sse-sink status" lists the streams`);
}
