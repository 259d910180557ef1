// Which database file a command uses: --db, else $SSE_SINK_DB, else the config file's "db", else ./sse-sink.db.
import type { ConfigFile } from './config-file.js';

export const DEFAULT_DB_PATH = './sse-sink.db';

export function resolveDbPath(flag: string | undefined, config: ConfigFile | undefined): string {
  return flag ?? (process.env.SSE_SINK_DB || undefined) ?? config?.db ?? DEFAULT_DB_PATH;
}
