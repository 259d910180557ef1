import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { randomScript, SanitySimulator, seededRandom, startSanitySimulator } from '../src/simulators/sanity-simulator.js';
import { collect, runCli, spawnCli, tempDir } from './helpers/cli.js';
import { expectedDocuments, expectedMutations, readSanityTables, type Row } from './helpers/sanity.js';

const TRANSACTIONS = 5000;
const KILLS = 24;
const options = { includeResult: true, includePreviousRevision: false };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Every stored row is a real change stored once, exactly as it happened (nothing wrong, nothing doubled). */
function expectOnlyTrueRowsStoredOnce(db: string, expectedById: Map<unknown, Row>): number {
  if (!existsSync(db)) return 0;
  const sqlite = new Database(db, { readonly: true });
  const migrated = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE name = 'document_mutations'").get() !== undefined;
  sqlite.close();
  if (!migrated) return 0; // killed before the first migration
  const tables = readSanityTables(db, 'crash');
  expect(tables.doubled).toEqual([]);
  for (const row of tables.mutations) expect(row).toEqual(expectedById.get(row.event_id));
  return tables.mutations.length;
}

describe('sse-sink ingest sanity under SIGKILL', () => {
  it('loses nothing and doubles nothing when killed at random moments over a 5,000-mutation script', async () => {
    const random = seededRandom(20261123);
    const sim = new SanitySimulator({ keepAliveMs: 200 });
    const server = await startSanitySimulator(sim);
    cleanups.push(server.close);
    const script = randomScript({ seed: 7, transactions: TRANSACTIONS, documents: 60, keepPublished: true });
    const db = join(tempDir(), 'crash.db');
    const args = ['ingest', 'sanity', '--stream', 'crash', '--project', 'abc123', '--dataset', 'production',
      '--query', '*[!(_id in path("_.**"))]', '--include-result', '--since', '2026-03-01T00:00:00Z',
      '--url', server.url, '--db', db];
    const env = { SANITY_TOKEN: 'sk-crash' };

    // From the first connection on, the dataset keeps changing whether or not sse-sink runs:
    // ~300 transactions a second.
    let published = 0;
    let publisher: NodeJS.Timeout | undefined;
    const startPublishing = () => {
      publisher ??= setInterval(() => {
        const next = script.slice(published, published + 3);
        published += next.length;
        sim.publish(...next);
        if (published >= script.length) clearInterval(publisher);
      }, 10);
    };
    cleanups.push(async () => clearInterval(publisher));

    let kills = 0;
    let stored = 0;
    for (let round = 0; round < KILLS; round++) {
      // Every third restart finds the replay window passed (reset => catch-up); the others resume.
      sim.setReplayWindow(round % 3 === 2 ? 0 : Number.POSITIVE_INFINITY);
      const child = spawnCli(args, env);
      const done = collect(child);
      if (round === 0) {
        while (sim.listens.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        startPublishing();
      }
      // Even rounds are killed at any moment from the start (also before they connect); odd rounds
      // at a moment after they connected, so that resumes and catch-ups are reached however slow
      // the machine starts a process.
      const listensBefore = sim.listens.length;
      let timer: NodeJS.Timeout | undefined;
      if (round % 2 === 0) {
        timer = setTimeout(() => child.kill('SIGKILL'), 250 + Math.floor(random() * 900));
      } else {
        const deadline = Date.now() + 15_000;
        while (sim.listens.length === listensBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
        timer = setTimeout(() => child.kill('SIGKILL'), Math.floor(random() * 900));
      }
      const result = await done;
      clearTimeout(timer);
      expect(result.signal, result.stderr).toBe('SIGKILL');
      kills++;
      const expectedById = new Map(expectedMutations(sim.changes, options).map((row) => [row.event_id, row]));
      const now = expectOnlyTrueRowsStoredOnce(db, expectedById);
      expect(now).toBeGreaterThanOrEqual(stored);
      stored = now;
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    while (published < script.length) await new Promise((resolve) => setTimeout(resolve, 20));

    sim.setReplayWindow(0); // the last run catches up whatever the last kill left
    const final = await runCli([...args, '--until-idle', '2'], env);
    expect(final.code, final.stderr).toBe(0);
    const tables = readSanityTables(db, 'crash');
    expect(tables.doubled).toEqual([]);
    expect(tables.mutations).toEqual(expectedMutations(sim.changes, options));
    expect(tables.documents).toEqual(expectedDocuments(sim.changes, options));
    // Both ways back were taken: resumed replays and catch-ups after resets.
    expect(sim.listens.some((l) => l.greeting === 'welcomeback')).toBe(true);
    expect(sim.listens.some((l) => l.greeting === 'reset')).toBe(true);
    const sqlite = new Database(db, { readonly: true });
    const gaps = sqlite.prepare("SELECT reason, status, count(*) AS n FROM gaps WHERE stream = 'crash' GROUP BY reason, status").all();
    sqlite.close();
    expect(gaps.filter((g) => (g as { status: string }).status !== 'repaired')).toEqual([]);
  }, 240_000);
});
