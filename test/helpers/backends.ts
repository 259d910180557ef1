// The two databases sse-sink writes, as the tests that run against both see them: a fresh empty
// database per test, the CLI flags and environment that name it, and its rows read back through
// sse-sink's own read-only query path (so both answer in the same forms).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { inject } from 'vitest';
import { openReadableStore, withStore, type StoreTarget } from '../../src/store/open-store.js';
import { pgClient } from '../../harness/postgres-server.js';
import { tempDir } from './cli.js';

export interface TestDatabase {
  target: StoreTarget;
  /** The CLI flags that name it. */
  args: string[];
  /** What the CLI's environment needs besides PATH and HOME (PostgreSQL's password). */
  env: Record<string, string>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Runs a statement that writes (a test arranging a state no ingest would). */
  exec(sql: string): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  fresh(): TestDatabase;
}

/** Rows of a read-only query, as `sse-sink query` reads them. */
export async function rowsIn<T = Record<string, unknown>>(target: StoreTarget, sql: string): Promise<T[]> {
  return (await withStore(openReadableStore(target), (store) => store.query(sql))).rows as T[];
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  fresh() {
    const target = { db: join(tempDir(), 'sink.db') };
    return {
      target,
      args: ['--db', target.db],
      env: {},
      rows: (sql) => rowsIn(target, sql),
      exec: async (sql) => {
        const sqlite = new Database(target.db);
        try {
          sqlite.exec(sql);
        } finally {
          sqlite.close();
        }
      },
    };
  },
};

export const postgresBackend: Backend = {
  name: 'postgres',
  fresh() {
    const { url, password } = inject('postgres');
    // In-process stores (runIngest in a test) read the password as the CLI does.
    process.env.PGPASSWORD = password;
    const target = { db: url, schema: `t_${randomBytes(6).toString('hex')}` };
    return {
      target,
      args: ['--db', url, '--db-schema', target.schema],
      env: { PGPASSWORD: password },
      rows: (sql) => rowsIn(target, sql),
      exec: async (sql) => {
        const client = pgClient(url, password, target.schema);
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
    };
  },
};

export const backends: Backend[] = [sqliteBackend, postgresBackend];

export { pgClient } from '../../harness/postgres-server.js';
