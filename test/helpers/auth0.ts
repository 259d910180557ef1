// Auth0 fixtures and database reads for the tests; the upstream itself is src/testing/auth0-simulator.ts.
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { eventEntry, offsetAt, type CloudEvent, type ScriptEntry } from '../../src/simulators/auth0-simulator.js';

export * from '../../src/simulators/auth0-simulator.js';
export { simulatedTenantSource } from '../../src/demo/auth0-source.js';

export const fixtureEvents = JSON.parse(
  readFileSync(new URL('../fixtures/auth0/events.json', import.meta.url), 'utf8'),
) as CloudEvent[];

/** The fixture's events as frames with cursors offsetAt(0), offsetAt(1), … */
export function fixtureScript(events: CloudEvent[] = fixtureEvents, first = 0): ScriptEntry[] {
  return events.map((event, i) => eventEntry(event, offsetAt(first + i)));
}

/** Rows of a query on a database file, read-only. */
export function queryRows<T = Record<string, unknown>>(dbPath: string, sql: string, ...params: unknown[]): T[] {
  const sqlite = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return sqlite.prepare(sql).all(...params) as T[];
  } finally {
    sqlite.close();
  }
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
