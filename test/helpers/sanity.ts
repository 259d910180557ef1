// The Sanity expectations and table readers live in src/testing/ so that the fault harness shares them.
import { readRows } from '../../harness/sanity-expected.js';

export * from '../../harness/sanity-expected.js';


/** Waits until `condition` holds, polling; fails with `what` after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rows in `events` so far; 0 before the database exists. */
export function storedEvents(db: string): number {
  try {
    return Number(readRows(db, 'SELECT count(*) AS n FROM events')[0].n);
  } catch {
    return 0;
  }
}
