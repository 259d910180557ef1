// Opens the Store a --db names. A file path is SQLite, today's only destination.
import type { Logger } from '../core/logger.js';
import type { ReadableStore } from '../core/store.js';
import { explainSqliteError } from './database.js';
import { openReadOnlySqliteStore, openSqliteStore, type SqliteStore } from './sqlite-store.js';

export interface StoreOptions {
  /** Commits survive power loss, at some speed (SQLite: synchronous=FULL). */
  durable?: boolean;
  /** Refuse to create the database: for commands that only make sense on an existing one. */
  mustExist?: boolean;
  /**
   * For ingesters, which commit all the time: with `log`, SQLite checkpoints from a worker thread
   * instead of inside commits (~10% of a Sanity ingest); a failed thread is logged and the writer
   * checkpoints itself again.
   */
  ingestLog?: Logger;
}

/** Opens (creating and migrating as needed) the database for writing. */
export function openStore(db: string, { durable = false, mustExist = false, ingestLog }: StoreOptions = {}): SqliteStore {
  return openSqliteStore({
    path: db,
    durable,
    mustExist,
    backgroundCheckpoints: ingestLog ? { onFailure: (message) => ingestLog.warn(message) } : undefined,
  });
}

/** Opens an existing database for reading only: `query`, `status` and `export` can never change it. */
export function openReadableStore(db: string): ReadableStore {
  return openReadOnlySqliteStore(db);
}

/** Runs `use` on the store and closes it, whatever happens. */
export async function withStore<S extends ReadableStore, T>(store: S, use: (store: S) => Promise<T>): Promise<T> {
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/**
 * One line for the database failures a user can act on, saying what to do; undefined for the rest.
 * A failed commit wrote nothing, so each says that what was committed is safe.
 */
export function explainStoreError(error: unknown): string | undefined {
  return explainSqliteError(error);
}
