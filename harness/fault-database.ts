// The database the fault harness runs the ingester against, and the faults it injects into it:
// a SQLite file (another process holding its write lock) or a PostgreSQL server of its own (a lock
// that outlasts the statement timeout, a restart, killed connections, a deadlock).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openReadableStore, withStore, type StoreTarget } from '../src/store/open-store.js';
import { builtHarnessPath } from './cli-process.js';
import { pgClient, startTestPostgres, type TestPostgres } from './postgres-server.js';

export type DatabaseKind = 'sqlite' | 'postgres';
export type DatabaseFaultKind = 'db-locked' | 'db-restart' | 'db-connection-killed' | 'db-deadlock';

/** A statement that waits longer than this is cancelled: half the harness's long locks outlast it. */
export const FAULTS_STATEMENT_TIMEOUT_MS = 1500;

export interface FaultDatabase {
  kind: DatabaseKind;
  /** The faults this database can be given besides disk-full, which has a run of its own. */
  faults: readonly DatabaseFaultKind[];
  /** The ingester's flags and environment that name it. */
  args: string[];
  env: Record<string, string>;
  /** Where to look when a run failed. */
  where: string;
  /** Rows of a read-only query, as `sse-sink query` gives them; undefined before the tables exist. */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[] | undefined>;
  /**
   * Injects one fault lasting about `ms`; `onInjected` is called once it took effect (a lock
   * taken, the server down, a connection killed, a deadlock the server broke).
   */
  inject(kind: DatabaseFaultKind, ms: number, onInjected: () => void): Promise<void>;
  close(): Promise<void>;
}

export async function openFaultDatabase(kind: DatabaseKind, workDir: string): Promise<FaultDatabase> {
  return kind === 'sqlite' ? sqliteFaultDatabase(join(workDir, 'faults.db')) : postgresFaultDatabase(await startTestPostgres());
}

/** Rows of a read-only query through sse-sink's own query path; undefined while the database has no tables. */
export async function storedRows<T>(target: StoreTarget, sql: string): Promise<T[] | undefined> {
  let store;
  try {
    store = await openReadableStore(target);
  } catch {
    return undefined;
  }
  return (await withStore(store, (opened) => opened.query(sql))).rows as T[];
}

function sqliteFaultDatabase(db: string): FaultDatabase {
  const holders = new Set<ChildProcessWithoutNullStreams>();
  return {
    kind: 'sqlite',
    faults: ['db-locked'],
    args: ['--db', db],
    env: {},
    where: db,
    rows: (sql) => storedRows({ db }, sql),
    inject: async (_kind, ms, onInjected) => {
      if (!existsSync(db)) return;
      const holder = spawn(process.execPath, [builtHarnessPath('db-lock-holder'), db, String(ms)], { stdio: 'pipe' });
      holders.add(holder);
      holder.stderr.resume();
      holder.stdout.setEncoding('utf8').on('data', (text: string) => {
        if (text.includes('locked')) onInjected();
      });
      await new Promise((resolve) => holder.once('close', resolve));
      holders.delete(holder);
    },
    close: async () => {
      for (const holder of holders) holder.kill('SIGKILL');
    },
  };
}

const SCHEMA = 'faults';

function postgresFaultDatabase(server: TestPostgres): FaultDatabase {
  const url = `${server.url}?statement_timeout=${FAULTS_STATEMENT_TIMEOUT_MS}`;
  const target: StoreTarget = { db: url, schema: SCHEMA };
  process.env.PGPASSWORD = server.password;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T | undefined> => {
    const client = pgClient(server.url, server.password, SCHEMA);
    client.on('error', () => {});
    try {
      await client.connect();
      return await work(client);
    } catch {
      // The server restarting under a fault of another kind: this one did not happen.
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  let restarting: Promise<void> | undefined;
  return {
    kind: 'postgres',
    faults: ['db-locked', 'db-restart', 'db-connection-killed', 'db-deadlock'],
    args: ['--db', url, '--db-schema', SCHEMA],
    env: { PGPASSWORD: server.password },
    where: `${server.url} schema ${SCHEMA} (stopped with the harness)`,
    rows: (sql) => storedRows(target, sql),
    inject: async (kind, ms, onInjected) => {
      // A deadlock needs the server: it waits out a restart; the other kinds would only repeat it.
      if (restarting && kind === 'db-deadlock') await restarting.catch(() => undefined);
      else if (restarting) return;
      if (kind === 'db-restart') {
        onInjected();
        restarting = server.restart(ms);
        await restarting;
        restarting = undefined;
        return;
      }
      await admin(async (client) => {
        if (kind === 'db-locked') {
          // Every batch writes events: its commit waits for the lock, and past the statement
          // timeout it is cancelled and tried again.
          await client.query('BEGIN');
          await client.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
          onInjected();
          await pause(ms);
          await client.query('ROLLBACK');
        } else if (kind === 'db-connection-killed') {
          const { rows } = await client.query<{ killed: boolean }>(
            "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'sse-sink'",
          );
          if (rows.some((row) => row.killed)) onInjected();
        } else {
          for (const deadline = Date.now() + DEADLOCK_TRIES_MS; Date.now() < deadline; ) {
            if (await deadlock(client)) {
              onInjected();
              break;
            }
          }
        }
      });
    },
    close: () => server.stop(),
  };
}

/** How long a db-deadlock keeps trying: a try fails when no commit came, or when it came too late. */
const DEADLOCK_TRIES_MS = 8000;

/**
 * A deadlock with a commit: this transaction holds the stream rows, waits until a commit waits for
 * them, then asks for a lock on events the commit holds. The server breaks the cycle by failing
 * the commit, which waited first (deadlock_timeout is 10 s here, 1 s there). False when there was
 * no cycle: no commit waited, or the commit's own deadlock check ran before the cycle closed.
 */
async function deadlock(client: pg.Client): Promise<boolean> {
  const deadlocks = async () => Number((await client.query<{ n: string }>('SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n);
  const before = await deadlocks();
  await client.query('BEGIN');
  await client.query("SET LOCAL deadlock_timeout = '10s'");
  await client.query("SET LOCAL lock_timeout = '5s'");
  await client.query('SELECT name FROM streams FOR UPDATE');
  let waiting = false;
  // The commit waits at its first events row (the foreign key reads the stream row) or at the
  // cursor's UPDATE; either way it holds its lock on events.
  for (let tries = 0; tries < 120 && !waiting; tries++) {
    // Inside a transaction pg_stat_activity is read once and kept, unless the snapshot is cleared.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sse-sink' AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL",
    );
    waiting = Number(rows[0].n) > 0;
    if (!waiting) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (waiting) await client.query('LOCK TABLE events IN SHARE MODE').catch(() => undefined);
  await client.query('ROLLBACK');
  // pg_stat_database is updated by the failed backend itself, a moment later.
  for (let tries = 0; tries < 20; tries++) {
    if ((await deadlocks()) > before) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
