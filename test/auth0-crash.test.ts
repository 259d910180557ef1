// The Auth0 ingester killed with SIGKILL at random moments ends, after one clean run, with exactly
// the rows a single uninterrupted run makes: none missing, none doubled, the same projections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH0_SNAPSHOT_TABLES } from '../src/sources/auth0/snapshot-normalize.js';
// Seeded, so that a failing run can be replayed with AUTH0_CRASH_SEED.
import { seededRandom } from '../src/simulators/sanity-simulator.js';
import { startSseTestServer, type SseTestServer } from '../src/simulators/sse-server.js';
import { randomAuth0Script, type Auth0Script } from '../harness/auth0-script.js';
import { keepAlive, offsetAt, serveAfterCursor, waitFor } from './helpers/auth0.js';
import { backends, type TestDatabase } from './helpers/backends.js';
import { collect, runCli, spawnCli } from './helpers/cli.js';

const SEED = Number(process.env.AUTH0_CRASH_SEED ?? 20260401);
const FRAMES = 5000;
const KILLS = 24;
const tokenEnv = { AUTH0_TOKEN: 'tok-crash' };

/** Every Auth0 table by its key columns: compared whole after the crashes. */
const PROJECTIONS = Object.fromEntries(Object.entries(AUTH0_SNAPSHOT_TABLES).map(([table, described]) => [table, described!.keyColumns]));

/** Every row that matters, with the event that last wrote each projection row named by its id, not its local seq. */
async function snapshot(db: TestDatabase) {
  const events = await db.rows('SELECT event_id, type, subject_kind, subject_id, occurred_at, cursor, projected, payload FROM events ORDER BY seq');
  const projections: Record<string, Record<string, unknown>[]> = {};
  for (const [table, key] of Object.entries(PROJECTIONS)) {
    const rows = await db.rows(`SELECT t.*, e.event_id AS written_by FROM ${table} t JOIN events e ON e.seq = t.event_seq ORDER BY ${key.map((c) => `t.${c}`).join(', ')}`);
    projections[table] = rows.map((row) => ({ ...row, event_seq: undefined }));
  }
  const deadLetters = await db.rows('SELECT event_type, reason, cursor, raw FROM dead_letters ORDER BY id');
  const [stream] = await db.rows('SELECT cursor, events_total, dead_letters_total FROM streams');
  return { events, projections, deadLetters, stream };
}

/** Rows of a database a killed ingester may not have created yet: none, then. */
async function rowsIfCreated<T>(db: TestDatabase, sql: string): Promise<T[]> {
  try {
    return await db.rows<T>(sql);
  } catch (error) {
    if (/does not exist|no sse-sink tables|no such table/.test((error as Error).message)) return [];
    throw error;
  }
}

/** What the stored cursor promises: exactly the events and dead letters up to its frame. */
async function expectCursorMatchesRows(db: TestDatabase, script: Auth0Script, positions: Map<string, number>): Promise<number> {
  const [row] = await rowsIfCreated<{ cursor: string | null }>(db, 'SELECT cursor FROM streams');
  const position = row?.cursor ? positions.get(row.cursor)! : -1;
  const ids = (await rowsIfCreated<{ event_id: string }>(db, 'SELECT event_id FROM events ORDER BY seq')).map((r) => r.event_id);
  const [letters] = await rowsIfCreated<{ n: number }>(db, 'SELECT count(*) AS n FROM dead_letters');
  expect(ids).toEqual([...script.firstArrival].filter(([, first]) => first <= position).map(([id]) => id));
  expect(letters?.n ?? 0).toBe(script.deadLetterPositions.filter((p) => p <= position).length);
  return position;
}

describe.each(backends)(`Auth0 ingest under SIGKILL on $name (seed ${SEED})`, (backend) => {
  const script = randomAuth0Script({ frames: FRAMES, random: seededRandom(SEED) });
  const positions = new Map(script.entries.map((entry, i) => [entry.offset, i]));
  let paced: SseTestServer;
  let unpaced: SseTestServer;
  beforeAll(async () => {
    // ~400 frames/s: slow enough that the kills fall all along the stream.
    paced = await startSseTestServer(serveAfterCursor(script.entries, { pace: { framesPerTick: 4, tickMs: 10 }, tail: keepAlive(5000) }));
    unpaced = await startSseTestServer(serveAfterCursor(script.entries, { tail: keepAlive(5000) }));
  });
  afterAll(async () => {
    await paced?.close();
    await unpaced?.close();
  });

  const argsFor = (db: TestDatabase, url: string, ...extra: string[]) =>
    ['ingest', 'auth0', '--stream', 'tenant', '--domain', 'tenant.eu.auth0.com', '--url', url, ...db.args, ...extra];

  it('ends with exactly the expected rows after 24 kills and one clean run', async () => {
    const random = seededRandom(SEED + 1);
    const db = backend.fresh();
    const env = { ...tokenEnv, ...db.env };
    const progress: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const child = spawnCli(argsFor(db, paced.url), env);
      const exited = collect(child);
      let exitedEarly = false;
      void exited.then(() => (exitedEarly = true));
      // Mostly while streaming and committing; sometimes while starting up and migrating.
      if (random() < 0.8) {
        const connections = paced.requests.length;
        await waitFor(() => paced.requests.length > connections || exitedEarly, 'the ingester to connect');
      }
      await new Promise((resolve) => setTimeout(resolve, random() * 800));
      child.kill('SIGKILL');
      const result = await exited;
      expect(result.signal, `the ingester exited by itself: ${result.stderr}`).toBe('SIGKILL');
      progress.push(await expectCursorMatchesRows(db, script, positions));
    }
    if (process.env.AUTH0_CRASH_DEBUG) console.log('cursor position after each kill', progress);
    // The kills fell along the stream, not after it: the clean run still has frames to read.
    expect(progress.at(-1)).toBeLessThan(FRAMES - 1);
    expect(new Set(progress).size).toBeGreaterThan(KILLS / 3);

    const final = await runCli(argsFor(db, paced.url, '--until-idle', '1'), env);
    expect(final.code, final.stderr).toBe(0);
    expect(await expectCursorMatchesRows(db, script, positions)).toBe(FRAMES - 1);

    const crashed = await snapshot(db);
    expect(crashed.events).toHaveLength(script.firstArrival.size);
    expect(crashed.deadLetters).toHaveLength(script.deadLetterPositions.length);
    expect(crashed.stream).toEqual({
      cursor: offsetAt(FRAMES - 1),
      events_total: script.firstArrival.size,
      dead_letters_total: script.deadLetterPositions.length,
    });
    const emails = crashed.projections.users.map((row) => [row.user_id, row.email]);
    expect(new Map(emails as [string, string][])).toEqual(script.expectedEmails);
    const members = crashed.projections.organization_members.map((row) => `${row.org_id} ${row.user_id}`);
    expect(new Set(members)).toEqual(script.expectedMembers);

    const replayDb = backend.fresh();
    const replay = await runCli(argsFor(replayDb, unpaced.url, '--until-idle', '1'), { ...tokenEnv, ...replayDb.env });
    expect(replay.code, replay.stderr).toBe(0);
    expect(crashed).toEqual(await snapshot(replayDb));
  }, 180_000);
});
