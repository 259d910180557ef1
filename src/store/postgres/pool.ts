// The connection pool of a PostgreSQL store: the URL (libpq's spelling, `sslmode` and
// `sslrootcert` included), the password from PGPASSWORD, PGPASSFILE / ~/.pgpass (both read by
// node-postgres itself) or --db-password-file, and sessions that speak sse-sink's forms: UTC times
// as canonical text, bigint as number, JSON as the text PostgreSQL prints.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { UsageError } from '../../common/errors.js';
import type { PostgresTarget } from './connection.js';

const TIMESTAMPTZ = 1184;
const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;

/**
 * PostgreSQL prints a timestamptz in a UTC session as `2026-01-31 12:00:00.123456+00`, without the
 * fraction when it is zero: the canonical form is `2026-01-31T12:00:00.123456Z`.
 */
export function canonicalFromPostgres(text: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (!match) return text;
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`;
}

const sseSinkTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === TIMESTAMPTZ) return canonicalFromPostgres;
    if (oid === INT8) return (text: string) => Number(text);
    if (oid === JSON_OID || oid === JSONB) return (text: string) => text;
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

export interface PoolOptions {
  /** Longest a statement may run before the server cancels it (a stalled server or lock). */
  statementTimeoutMs: number;
  /** Longest a session may sit idle inside a transaction (its process paused) before the server ends it. */
  idleInTransactionMs: number;
  max?: number;
}

export function createPool(target: PostgresTarget, { statementTimeoutMs, idleInTransactionMs, max = 10 }: PoolOptions): pg.Pool {
  const password = target.passwordFile ? readPasswordFile(target.passwordFile) : undefined;
  // The URL's own fields (host, port, database, user, TLS), but the password from a file or, left
  // unset, from PGPASSWORD or ~/.pgpass: node-postgres would let the URL's empty one win.
  // A `statement_timeout` (milliseconds) in the URL replaces the default.
  const { password: _inUrl, statement_timeout: inUrl, ...fromUrl } = parse(target.url) as ReturnType<typeof parse> & { statement_timeout?: string };
  const timeoutMs = inUrl === undefined ? statementTimeoutMs : Number(inUrl);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
    throw new UsageError(`statement_timeout=${inUrl} in the --db URL is not a number of milliseconds; write e.g. statement_timeout=30000`);
  }
  const pool = new pg.Pool({
    ...(fromUrl as pg.PoolConfig),
    password,
    application_name: 'sse-sink',
    options: `-c search_path=${target.schema} -c TimeZone=UTC -c statement_timeout=${timeoutMs} -c idle_in_transaction_session_timeout=${idleInTransactionMs}`,
    types: sseSinkTypes,
    max,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  // A connection the server drops (a restart, pg_terminate_backend), idle or checked out, is
  // replaced on the next checkout; a query that was using it fails and says so. It must not
  // crash the process.
  pool.on('connect', (client) => client.on('error', () => {}));
  pool.on('error', () => {});
  return pool;
}

function readPasswordFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').split(/\r?\n/)[0];
  } catch (error) {
    throw new UsageError(`cannot read --db-password-file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
