// Opens the SQLite file with the pragmas sse-sink relies on and applies pending migrations.
// Writers and read-only readers (query, status) both come through here.
import { closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { UsageError } from '../../common/errors.js';
import { migrationsFolder } from '../package-root.js';
import { BackgroundCheckpointer } from './checkpointer.js';
import * as schema from './schema.js';

export type SinkDb = BetterSQLite3Database<typeof schema>;

export interface SinkDatabase {
  sqlite: Database.Database;
  db: SinkDb;
  close(): void;
  /** Called after each commit: hands the WAL to the background checkpointer, if there is one. */
  walGrew(): void;
}

export interface OpenOptions {
  path: string;
  /** synchronous=FULL instead of NORMAL: a committed batch survives power loss, at some speed. */
  durable?: boolean;
  busyTimeoutMs?: number;
  /** Refuse to create the file: for commands that only make sense on an existing database. */
  mustExist?: boolean;
  /**
   * Checkpoint from a worker thread instead of inside commits (for ingesters, which commit all
   * the time); if that fails, `onFailure` hears why and the writer checkpoints itself again.
   */
  backgroundCheckpoints?: { onFailure: (message: string) => void };
}

const PAGE_SIZE = 16_384;

/**
 * drizzle-kit rebuilds a SQLite table to change it (create, copy, drop, rename). With foreign keys
 * on, dropping a table that `events` points at fails, and the migration's own `PRAGMA
 * foreign_keys=OFF` is ignored inside the transaction drizzle runs it in: SQLite's procedure for
 * schema changes turns them off around it, then checks every reference.
 */
function migrateWithForeignKeysOff(sqlite: Database.Database, db: BetterSQLite3Database<typeof schema>): void {
  sqlite.pragma('foreign_keys = OFF');
  try {
    const applied = appliedMigrations(sqlite);
    migrate(db, { migrationsFolder: migrationsFolder('sqlite') });
    // The check reads every row that points elsewhere: only after migrations that ran, not at every open.
    if (appliedMigrations(sqlite) === applied) return;
    const broken = sqlite.pragma('foreign_key_check') as { table: string }[];
    if (broken.length > 0) throw new Error(`migrating left ${broken.length} rows pointing at nothing (first in ${broken[0].table})`);
  } finally {
    sqlite.pragma('foreign_keys = ON');
  }
}

/** How many migrations drizzle has recorded as applied (0 in a new file). */
function appliedMigrations(sqlite: Database.Database): number {
  const table = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get();
  return table ? (sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n : 0;
}

/** Opens (creating with mode 0600 if needed) and migrates the database for writing. */
export function openDatabase({ path, durable = false, busyTimeoutMs = 5000, mustExist = false, backgroundCheckpoints }: OpenOptions): SinkDatabase {
  if (path !== ':memory:' && !existsSync(path)) {
    if (mustExist) throw missingDatabase(path);
    createPrivateFile(path);
  }
  const sqlite = new Database(path);
  // Takes effect only while the file is new and empty. Larger pages than SQLite's 4 KB mean fewer
  // WAL frames, each a write call, per commit and per checkpoint: +10-30% events/s in the benchmarks.
  sqlite.pragma(`page_size = ${PAGE_SIZE}`);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
  sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const db = drizzle(sqlite, { schema });
  migrateWithForeignKeysOff(sqlite, db);
  const checkpointer = backgroundCheckpoints && path !== ':memory:' ? new BackgroundCheckpointer(sqlite, path, backgroundCheckpoints.onFailure) : undefined;
  return {
    sqlite,
    db,
    walGrew: () => checkpointer?.walGrew(),
    close: () => {
      checkpointer?.stop();
      sqlite.close();
    },
  };
}

/** Another process holds the write lock for longer than busy_timeout (a backup, a second writer). */
export function isDatabaseBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}

/**
 * One line for the SQLite failures a user can act on, saying what to do; undefined for the rest.
 * A failed commit wrote nothing, so each says that what was committed is safe.
 */
export function explainSqliteError(error: unknown): string | undefined {
  if (!(error instanceof Database.SqliteError)) return undefined;
  const safe = 'everything committed is kept and the next run resumes from the stored cursor';
  if (error.code.startsWith('SQLITE_FULL')) {
    return `the disk holding the database is full (SQLite: ${error.message}); free some space and start again: ${safe}`;
  }
  if (isDatabaseBusy(error)) {
    return `the database is locked by another process (SQLite: ${error.message}); stop that process or wait for it, then start again: ${safe}`;
  }
  if (error.code.startsWith('SQLITE_READONLY')) {
    return `the database cannot be written (SQLite: ${error.message}); check the permissions of the file and its folder (the WAL lives next to it): ${safe}`;
  }
  return undefined;
}

/** Opens an existing database for reading only: `query` and `status` can never change it. */
export function openDatabaseReadOnly(path: string): SinkDatabase {
  if (!existsSync(path)) throw missingDatabase(path);
  const sqlite = new Database(path, { readonly: true, fileMustExist: true });
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  return { sqlite, db, walGrew: () => undefined, close: () => sqlite.close() };
}

// The history may hold personal data: only the owner may read the file.
function createPrivateFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    throw new UsageError(`cannot create database ${path} (${code ?? String(error)}); check that the folder exists and is writable`);
  }
}

function missingDatabase(path: string): UsageError {
  return new UsageError(`database ${path} does not exist; pass --db <file> or run an ingest first`);
}
