// Which database a command uses: --db, else $SSE_SINK_DB, else the config file's "db", else
// ./sse-sink.db; with --db-schema and --db-password-file for PostgreSQL.
import { UsageError } from '../common/errors.js';
import type { StoreTarget } from '../store/open-store.js';
import { checkSchemaName, isPostgresUrl, refusePasswordInFlag } from '../store/postgres/connection.js';
import type { ConfigFile } from './config-file.js';

export interface GlobalArgs {
  db?: string;
  config?: string;
  'db-schema'?: string;
  'db-password-file'?: string;
}

export const DEFAULT_DB_PATH = './sse-sink.db';

export function resolveDbPath(flag: string | undefined, config: ConfigFile | undefined): string {
  return flag ?? (process.env.SSE_SINK_DB || undefined) ?? config?.db ?? DEFAULT_DB_PATH;
}

/** The database of the flags, $SSE_SINK_DB or the config file; checked before anything is opened. */
export function storeTarget(args: GlobalArgs, config: ConfigFile | undefined): StoreTarget {
  const db = resolveDbPath(args.db, config);
  if (args.db !== undefined && isPostgresUrl(args.db)) refusePasswordInFlag(args.db);
  if (!isPostgresUrl(db)) {
    if (args['db-schema'] !== undefined || args['db-password-file'] !== undefined) {
      throw new UsageError('--db-schema and --db-password-file are for a PostgreSQL --db (postgres://…), not a SQLite file');
    }
    return { db };
  }
  return {
    db,
    schema: args['db-schema'] === undefined ? undefined : checkSchemaName(args['db-schema']),
    passwordFile: args['db-password-file'],
  };
}
