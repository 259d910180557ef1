import { afterAll, describe, expect, it } from 'vitest';
import { randomScript, SanitySimulator, seededRandom, startSanitySimulator } from '../src/simulators/sanity-simulator.js';
import { backends, type TestDatabase } from './helpers/backends.js';
import { collect, runCli, spawnCli } from './helpers/cli.js';
import { expectedDocuments, expectedMutations, readSanityTablesFrom, withParsedJson, type Row } from './helpers/sanity.js';

const TRANSACTIONS = 5000;
const KILLS = 24;
const options = { includeResult: true, includePreviousRevision: false };

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** The tables, or none when the ingester was killed before it first created them. */
async function tablesIfCreated(db: TestDatabase) {
  try {
    return await readSanityTablesFrom((sql) => db.rows(sql), 'crash');
  } catch (error) {
    if (/does not exist|no sse-sink tables|no such table/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** Every stored row is a real change stored once, exactly as it happened (nothing wrong, nothing doubled). */
async function expectOnlyTrueRowsStoredOnce(db: TestDatabase, expectedById: Map<unknown, Row>): Promise<number> {
  const tables = await tablesIfCreated(db);
  if (!tables) return 0;
  expect(tables.doubled).toEqual([]);
  for (const row of tables.mutations) expect(row).toEqual(expectedById.get(row.event_id));
  return tables.mutations.length;
}

describe.each(backends)('sse-sink ingest sanity under SIGKILL on $name', (backend) => {
  it('loses nothing and doubles nothing when killed at random moments over a 5,000-mutation script', async () => {
    const random = seededRandom(20261123);
    const sim = new SanitySimulator({ keepAliveMs: 200 });
    const server = await startSanitySimulator(sim);
    cleanups.push(server.close);
    const script = randomScript({ seed: 7, transactions: TRANSACTIONS, documents: 60, keepPublished: true });
    const db = backend.fresh();
    const args = ['ingest', 'sanity', '--stream', 'crash', '--project', 'abc123', '--dataset', 'production',
      '--query', '*[!(_id in path("_.**"))]', '--include-result', '--since', '2026-03-01T00:00:00Z',
      '--url', server.url, ...db.args];
    const env = { SANITY_TOKEN: 'sk-crash', ...db.env };

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
      const expectedById = new Map(withParsedJson(expectedMutations(sim.changes, options)).map((row) => [row.event_id, row]));
      const now = await expectOnlyTrueRowsStoredOnce(db, expectedById);
      expect(now).toBeGreaterThanOrEqual(stored);
      stored = now;
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    while (published < script.length) await new Promise((resolve) => setTimeout(resolve, 20));

    sim.setReplayWindow(0); // the last run catches up whatever the last kill left
    const final = await runCli([...args, '--until-idle', '2'], env);
    expect(final.code, final.stderr).toBe(0);
    const tables = (await tablesIfCreated(db))!;
    expect(tables.doubled).toEqual([]);
    expect(tables.mutations).toEqual(withParsedJson(expectedMutations(sim.changes, options)));
    expect(tables.documents).toEqual(withParsedJson(expectedDocuments(sim.changes, options)));
    // Both ways back were taken: resumed replays and catch-ups after resets.
    expect(sim.listens.some((l) => l.greeting === 'welcomeback')).toBe(true);
    expect(sim.listens.some((l) => l.greeting === 'reset')).toBe(true);
    const gaps = await db.rows<{ status: string }>("SELECT reason, status, count(*) AS n FROM gaps WHERE stream = 'crash' GROUP BY reason, status");
    expect(gaps.filter((g) => g.status !== 'repaired')).toEqual([]);
  }, 240_000);
});
