// Opens the Store a --db names: a postgres:// or postgresql:// URL is PostgreSQL, anything else a
// SQLite file.
import type { Logger } from '../core/logger.js';
import type { ReadableStore, Store } from '../core/store.js';
import { DEFAULT_SCHEMA, explainPostgresError, isPostgresUrl, type PostgresTarget } from './postgres/connection.js';
import { explainSqliteError } from './sqlite/database.js';
import { openReadOnlySqliteStore, openSqliteStore } from './sqlite/sqlite-store.js';

export interface StoreTarget {
  /** A SQLite file path, or a PostgreSQL URL (its password never in it when it came from a flag). */
  db: string;
  /** PostgreSQL: the schema of sse-sink's tables (default sse_sink). */
  schema?: string;
  /** PostgreSQL: a file holding the password, when PGPASSWORD and ~/.pgpass do not. */
  passwordFile?: string;
}

export interface StoreOptions {
  /** SQLite: commits survive power loss, at some speed (synchronous=FULL). PostgreSQL commits always do. */
  durable?: boolean;
  /** Refuse to create the database: for commands that only make sense on an existing one. */
  mustExist?: boolean;
  /**
   * For ingesters, which commit all the time: with `log`, SQLite checkpoints from a worker thread
   * instead of inside commits (~10% of a Sanity ingest); a failed thread is logged and the writer
   * checkpoints itself again.
   */
  ingestLog?: Logger;
  /**
   * PostgreSQL: the ingesters' lease length. A session idle inside a transaction that long (its
   * process paused) is ended by the server, so that it cannot hold a stream's row from a standby.
   */
  leaseTtlMs?: number;
}

/** Opens (creating and migrating as needed) the database for writing. */
export async function openStore(target: StoreTarget | string, { durable = false, mustExist = false, ingestLog, leaseTtlMs }: StoreOptions = {}): Promise<Store> {
  const { db, schema, passwordFile } = typeof target === 'string' ? { db: target } : target;
  if (isPostgresUrl(db)) return openPostgres({ url: db, schema: schema ?? DEFAULT_SCHEMA, passwordFile }, !mustExist, leaseTtlMs);
  return openSqliteStore({
    path: db,
    durable,
    mustExist,
    backgroundCheckpoints: ingestLog ? { onFailure: (message) => ingestLog.warn(message) } : undefined,
  });
}

/** Opens an existing database for reading only: `query`, `status` and `export` can never change it. */
export async function openReadableStore(target: StoreTarget | string): Promise<ReadableStore> {
  const { db, schema, passwordFile } = typeof target === 'string' ? { db: target } : target;
  if (isPostgresUrl(db)) return openPostgres({ url: db, schema: schema ?? DEFAULT_SCHEMA, passwordFile }, false);
  return openReadOnlySqliteStore(db);
}

/** node-postgres and its drizzle driver load only for a PostgreSQL --db: a SQLite run starts without them. */
async function openPostgres(target: PostgresTarget, migrate: boolean, leaseTtlMs?: number): Promise<Store> {
  const { openPostgresStore } = await import('./postgres/postgres-store.js');
  return openPostgresStore(target, { migrate, leaseTtlMs });
}

/** Runs `use` on the store and closes it, whatever happens. */
export async function withStore<S extends ReadableStore, T>(store: S | Promise<S>, use: (store: S) => Promise<T>): Promise<T> {
  const opened = await store;
  try {
    return await use(opened);
  } finally {
    await opened.close();
  }
}

/**
 * One line for the database failures a user can act on, saying what to do; undefined for the rest.
 * A failed commit wrote nothing, so each says that what was committed is safe.
 */
export function explainStoreError(error: unknown): string | undefined {
  return explainSqliteError(error) ?? explainPostgresError(error);
}
