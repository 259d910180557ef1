// A PostgreSQL --db, before any connection: the URL (libpq's spelling), where the password may
// come from, the schema name, and what its failures mean. node-postgres itself loads only in pool.ts.
import { UsageError } from '../../common/errors.js';

export interface PostgresTarget {
  url: string;
  /** The schema sse-sink's tables live in. */
  schema: string;
  /** A file holding the password (its first line). */
  passwordFile?: string;
}

export const DEFAULT_SCHEMA = 'sse_sink';

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** The URL as it may be printed: any password in it replaced. */
export function maskedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(an unreadable URL)';
  }
}

/** A URL given as a flag must not carry a password: `ps` shows every process's arguments. */
export function refusePasswordInFlag(url: string): void {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    throw new UsageError(`--db ${maskedUrl(url)} is not a URL; write postgres://user@host:5432/database`);
  }
  if (password) {
    throw new UsageError(
      `--db ${maskedUrl(url)} holds a password, which ps would show; put it in PGPASSWORD, ~/.pgpass (PGPASSFILE) or --db-password-file`,
    );
  }
}

export function checkSchemaName(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new UsageError(`--db-schema "${schema}" must be a lowercase SQL name (letters, digits, "_", at most 63)`);
  }
  return schema;
}

/** The SQLSTATE of a PostgreSQL error, or the Node error code of a lost connection. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Failures after which nothing was committed, or the commit's outcome is unknown, and the same
 * batch can be written again without harm (events are unique, projections guarded by order):
 * a lost or refused connection, a restarting server, a cancelled (timed out) statement, a
 * serialization failure or deadlock.
 */
export function isRetryable(error: unknown): boolean {
  const code = errorCode(error);
  if (code === undefined) return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(String((error as Error)?.message));
  return (
    code.startsWith('08') ||
    ['57P01', '57P02', '57P03', '57014', '40001', '40P01', '55P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)
  );
}

/** One line for the PostgreSQL failures a user can act on; undefined for the rest. */
export function explainPostgresError(error: unknown): string | undefined {
  const code = errorCode(error);
  if (code === undefined) return undefined;
  const message = (error as Error).message;
  const safe = 'everything committed is kept and the next run resumes from the stored cursor';
  if (code === '53100') return `the disk holding the PostgreSQL database is full (${message}); free some space and start again: ${safe}`;
  if (code === '28P01' || code === '28000') {
    return `PostgreSQL refused the login (${message}); check the user in --db and the password in PGPASSWORD, ~/.pgpass or --db-password-file`;
  }
  if (code === '42501') return `PostgreSQL refused a privilege (${message}); the README's PostgreSQL section lists what sse-sink needs`;
  if (code === '3D000') return `${message}; create the database first (createdb), or fix the name in --db`;
  if (isRetryable(error)) return `PostgreSQL could not be reached or gave up (${message}): ${safe}`;
  return undefined;
}
