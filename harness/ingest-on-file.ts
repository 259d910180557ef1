// runIngest into a SQLite file of its own (the tests' and benchmarks' usual case), or into an
// open store that several runs share.
import type { UpstreamEvent } from '../src/core/source-event.js';
import type { Store } from '../src/core/store.js';
import { runIngest, type IngestOptions, type IngestSummary } from '../src/ingest/run-ingest.js';
import { openStore, type StoreOptions, type StoreTarget } from '../src/store/open-store.js';

export type FileIngestOptions<E extends UpstreamEvent = UpstreamEvent> = Omit<IngestOptions<E>, 'store'> & {
  /** A SQLite file, or any database openStore takes. */
  dbPath: string | StoreTarget;
  /** An open store to write through instead of opening `dbPath` (it is not closed). */
  store?: Store;
  storeOptions?: StoreOptions;
};

export async function runIngestOnFile<E extends UpstreamEvent>(options: FileIngestOptions<E>): Promise<IngestSummary> {
  const store = options.store ?? (await openStore(options.dbPath, { ingestLog: options.log, ...options.storeOptions }));
  try {
    return await runIngest({ ...options, store });
  } finally {
    if (!options.store) await store.close();
  }
}
