// The options every command takes, and the database they name for commands other than ingest
// (which resolves it per stream).
import { resolveDbPath } from './db-path.js';
import { loadConfig } from './ingest-commands.js';

export interface GlobalArgs {
  db?: string;
  config?: string;
}

export function dbOf(args: GlobalArgs): string {
  return resolveDbPath(args.db, loadConfig(args.config));
}
