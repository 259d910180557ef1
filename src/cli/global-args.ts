// The database named by the options of a command other than ingest (ingest resolves it per stream).
import type { StoreTarget } from '../store/open-store.js';
import { storeTarget, type GlobalArgs } from './db-path.js';
import { loadConfig } from './ingest-commands.js';

export type { GlobalArgs };

export function dbOf(args: GlobalArgs): StoreTarget {
  return storeTarget(args, loadConfig(args.config));
}
