import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestSummary } from '../src/ingest/run-ingest.js';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import type { ResumeMode, SanityListenConfig } from '../src/sources/sanity/requests.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import { openDatabaseReadOnly } from '../src/store/sqlite/database.js';
import { readStatus } from '../src/store/sqlite/status.js';
import {
  randomScript,
  SanitySimulator,
  startSanitySimulator,
  type SanitySimulatorOptions,
  type ScriptTransaction,
} from '../src/simulators/sanity-simulator.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import { runCli, tempDir } from './helpers/cli.js';
import { expectedDocuments, expectedMutations, readRows, readSanityTables, storedEvents, until } from './helpers/sanity.js';

const STREAM = 'blog';
const SINCE = '2026-03-01T08:00:00.000000Z';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface World {
  sim: SanitySimulator;
  url: string;
  db: string;
  logs: string[];
}

async function world(options: SanitySimulatorOptions = {}): Promise<World> {
  const sim = new SanitySimulator({ keepAliveMs: 50, ...options });
  const server = await startSanitySimulator(sim);
  cleanups.push(server.close);
  return { sim, url: server.url, db: join(tempDir(), 'sink.db'), logs: [] };
}

function config(url: string, extra: Partial<SanityListenConfig> = {}): SanityListenConfig {
  return simulatedDatasetConfig(url, { query: '*[_type in ["post", "author", "page"]]', includePreviousRevision: true, ...extra });
}

interface IngestRun {
  resume?: ResumeMode;
  since?: string;
  untilIdleMs?: number;
  config?: Partial<SanityListenConfig>;
  source?: (source: SanitySource) => SanitySource;
}

function ingest(w: World, run: IngestRun = {}): Promise<IngestSummary> {
  const source = new SanitySource({
    config: config(w.url, run.config),
    resume: run.resume ?? 'enable-resume',
    token: () => 'sk-test',
    sse: { initialBackoffMs: 5, maxBackoffMs: 40 },
    historyRetryDelayMs: 5,
  });
  return runIngestOnFile({
    dbPath: w.db,
    stream: STREAM,
    source: run.source ? run.source(source) : source,
    since: run.since ?? null,
    untilIdleMs: run.untilIdleMs ?? 1000,
    log: createLogger({ format: 'json', level: 'debug', write: (line) => w.logs.push(line) }),
  });
}



/** The tables hold exactly the simulator's changes: nothing missing, nothing doubled. */
function expectTablesMatch(w: World, options = { includeResult: true, includePreviousRevision: true }) {
  const tables = readSanityTables(w.db, STREAM);
  expect(tables.doubled).toEqual([]);
  expect(tables.mutations).toEqual(expectedMutations(w.sim.changes, options));
  expect(tables.documents).toEqual(expectedDocuments(w.sim.changes, options));
}

const script = (seed: number, transactions = 300) => randomScript({ seed, transactions, documents: 25 });

describe('Sanity resume and catch-up', () => {
  it('sends Last-Event-ID on a reconnect, and the welcomeback replay leaves nothing out (no catch-up needed)', async () => {
    const w = await world();
    const txs = script(1);
    const run = ingest(w);
    await until(() => w.sim.listens.length === 1, 'the first connection');
    w.sim.publish(...txs.slice(0, 100));
    w.sim.dropListeners();
    w.sim.publish(...txs.slice(100));
    await run;

    expect(w.sim.listens.map((l) => [l.lastEventId, l.greeting])).toEqual([
      [null, 'welcome'],
      [w.sim.changes.filter((c) => c.transactionId === txs[99].id).at(-1)!.eventId, 'welcomeback'],
    ]);
    expect(w.sim.historyRequests).toEqual([]);
    expectTablesMatch(w);
  });

  it('catches up from the History API after a reset, recording the catch-up, and ends equal to an uninterrupted run', async () => {
    const w = await world({ replayWindow: 10 });
    const txs = script(2);
    const run = ingest(w, { untilIdleMs: 1500 });
    await until(() => w.sim.listens.length === 1, 'the first connection');
    w.sim.publish(...txs.slice(0, 100));
    await until(() => storedEvents(w.db) >= w.sim.changes.length, 'the first 100 transactions to be stored');
    const lastStored = w.sim.changes.at(-1)!;
    w.sim.outage(true);
    w.sim.dropListeners();
    w.sim.publish(...txs.slice(100, 250)); // while sse-sink cannot connect
    await new Promise((resolve) => setTimeout(resolve, 100));
    w.sim.outage(false);
    await until(() => w.sim.listens.length === 2, 'the reconnection');
    const missedWhileAway = w.sim.changes.filter((c) => c.position > lastStored.position).map((c) => c.eventId);
    w.sim.publish(...txs.slice(250));
    await run;

    expect(w.sim.listens.map((l) => [l.lastEventId, l.greeting])).toEqual([
      [null, 'welcome'],
      [lastStored.eventId, 'reset'],
    ]);
    expectTablesMatch(w);
    // What changed while sse-sink was away came from the History API.
    const origins = readRows(w.db, 'SELECT event_id, origin FROM document_mutations');
    const missedOrigins = new Set(origins.filter((r) => missedWhileAway.includes(String(r.event_id))).map((r) => r.origin));
    expect(missedWhileAway.length).toBeGreaterThan(100);
    expect([...missedOrigins]).toEqual(['history']);

    // The same script, published to a listener that never lost its connection.
    const reference = await world();
    const referenceRun = ingest(reference);
    await until(() => reference.sim.listens.length === 1, 'the reference connection');
    reference.sim.publish(...txs);
    await referenceRun;
    const actual = readSanityTables(w.db, STREAM);
    const uninterrupted = readSanityTables(reference.db, STREAM);
    expect(actual.mutations).toEqual(uninterrupted.mutations);
    expect(actual.documents).toEqual(uninterrupted.documents);

    // The README's gaps example shows the catch-up: from the last stored event, with what it found.
    const gapsSql = [...readFileSync(new URL('./fixtures/sanity/readme-sql.md', import.meta.url), 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)]
      .map((m) => m[1].trim())
      .find((sql) => sql.includes('FROM gaps'))!;
    const gaps = readRows(w.db, gapsSql);
    expect(gaps).toEqual([
      { reason: 'reset', document_id: null, from_time: lastStored.timestamp, to_time: expect.any(String), status: 'repaired', changes_found: expect.any(Number) },
    ]);
    expect(gaps[0].changes_found).toBeGreaterThanOrEqual(missedWhileAway.length);
  });

  // Which switch turns resume on is not documented: each reading of it must end complete.
  it.each<[SanitySimulatorOptions['resume'], ResumeMode, 'welcomeback' | 'welcome']>([
    ['enable-resume', 'enable-resume', 'welcomeback'],
    ['last-event-id', 'last-event-id', 'welcomeback'],
    ['last-event-id', 'enable-resume', 'welcomeback'],
    ['enable-resume', 'last-event-id', 'welcome'],
    ['none', 'enable-resume', 'welcome'],
    ['enable-resume', 'off', 'welcome'],
  ])('after downtime, a server resuming on %s and sse-sink asking with %s end complete (greeting: %s)', async (serverMode, clientMode, greeting) => {
    const w = await world({ resume: serverMode });
    const txs = script(3, 240);
    w.sim.publish(...txs.slice(0, 80)); // before the first start: found by --since
    const first = ingest(w, { resume: clientMode, since: SINCE });
    await until(() => w.sim.listens.length === 1, 'the first connection');
    w.sim.publish(...txs.slice(80, 160));
    await first;
    const historyBefore = w.sim.historyRequests.length;
    w.sim.publish(...txs.slice(160)); // downtime
    await ingest(w, { resume: clientMode, since: SINCE });

    const second = w.sim.listens[1];
    const lastLive = w.sim.changes.filter((c) => c.transactionId === txs[159].id).at(-1)!;
    expect(second.lastEventId).toBe(clientMode === 'off' ? null : lastLive.eventId);
    expect(second.query.get('enableResume')).toBe(clientMode === 'enable-resume' ? 'true' : null);
    expect(second.greeting).toBe(greeting);
    if (greeting === 'welcomeback') expect(w.sim.historyRequests.length).toBe(historyBefore);
    else expect(w.sim.historyRequests.length).toBeGreaterThan(historyBefore);
    expectTablesMatch(w);
    const gaps = readRows(w.db, 'SELECT reason, status FROM gaps ORDER BY id');
    expect(gaps).toEqual([{ reason: 'since', status: 'repaired' }, ...(greeting === 'welcome' ? [{ reason: 'no-resume', status: 'repaired' }] : [])]);
  });

  it('says in status and in the log that it could not catch up when the token has no History access, and goes on live', async () => {
    const w = await world({ historyAccess: false });
    const txs = script(4, 60);
    w.sim.publish(...txs.slice(0, 30));
    const run = ingest(w, { since: SINCE });
    await until(() => w.sim.listens.length === 1, 'the connection');
    w.sim.publish(...txs.slice(30));
    await run;

    const [since, ...later] = readRows(w.db, "SELECT reason, document_id, from_time, status, changes_found, detail FROM gaps ORDER BY reason = 'since' DESC, id");
    expect(since).toEqual({
      reason: 'since', document_id: null, from_time: SINCE, status: 'unrepairable', changes_found: 0, detail: expect.stringMatching(/HTTP 403.*History API access/),
    });
    // Live edits of documents created before the stream began (the catch-up could not see them) are
    // holes of their own: their creation is missing, and History cannot be asked either.
    expect(later.length).toBeGreaterThan(0);
    for (const gap of later) expect(gap).toMatchObject({ reason: 'revision-mismatch', document_id: expect.any(String), status: 'unrepairable' });
    const sink = openDatabaseReadOnly(w.db);
    const [status] = readStatus(sink);
    sink.close();
    expect(status.gapsUnrepairable).toBe(1 + later.length);
    const table = await runCli(['status', '--db', w.db]);
    const [header, , row] = table.stdout.split('\n');
    const column = header.indexOf('gaps_unrepairable');
    expect(column).toBeGreaterThan(0);
    expect(row.slice(column, column + 'gaps_unrepairable'.length).trim()).toBe(String(1 + later.length));
    // Sanity's own words for the refusal, in status too.
    expect(status.lastGapProblem).toMatch(/HTTP 403.*token lacks history access/);
    expect(header).toContain('last_gap_problem');
    expect(row).toContain('Sanity refused the history');
    expect(w.logs.some((line) => /cannot catch up/.test(line) && /"level":"warn"/.test(line))).toBe(true);
    // What came live after the failed catch-up is stored.
    const liveTransactions = new Set(txs.slice(30).map((tx) => tx.id));
    const live = w.sim.changes.filter((c) => liveTransactions.has(c.transactionId)).map((c) => c.eventId).sort();
    expect(readRows(w.db, 'SELECT event_id FROM document_mutations ORDER BY event_id').map((r) => r.event_id)).toEqual(live);
  });

  it('repairs a revision gap from the History API when an event never arrived', async () => {
    const w = await world();
    const txs: ScriptTransaction[] = [
      { id: 'ta', timestamp: '2026-03-01T09:00:00.000001Z', author: 'pAlice', mutations: [{ create: { _id: 'post-1', _type: 'post', title: 'A' } }] },
      { id: 'tb', timestamp: '2026-03-01T09:00:01.000001Z', author: 'pBob', mutations: [{ patch: { id: 'post-1', set: { title: 'B' } } }] },
      { id: 'tc', timestamp: '2026-03-01T09:00:02.000001Z', author: 'pAlice', mutations: [{ patch: { id: 'post-1', set: { title: 'C' } } }] },
      { id: 'td', timestamp: '2026-03-01T09:00:03.000001Z', author: 'pCarol', mutations: [{ patch: { id: 'post-1', set: { title: 'D' } } }] },
    ];
    w.sim.hideFromListeners('tb#post-1');
    w.sim.hideFromListeners('tc#post-1');
    const run = ingest(w);
    await until(() => w.sim.listens.length === 1, 'the connection');
    w.sim.publish(...txs);
    await run;

    expectTablesMatch(w);
    expect(readRows(w.db, 'SELECT event_id, origin FROM document_mutations ORDER BY timestamp')).toEqual([
      { event_id: 'ta#post-1', origin: 'listen' },
      { event_id: 'tb#post-1', origin: 'history' },
      { event_id: 'tc#post-1', origin: 'history' },
      { event_id: 'td#post-1', origin: 'listen' },
    ]);
    expect(readRows(w.db, 'SELECT reason, document_id, status, changes_found FROM gaps')).toEqual([
      { reason: 'revision-mismatch', document_id: 'post-1', status: 'repaired', changes_found: 2 },
    ]);
    expect(w.sim.historyRequests[0].query.get('fromTransaction')).toBe('ta');
    expect(w.sim.historyRequests[0].query.get('toTransaction')).toBe('tc');
  });

  it('repairs at the next start a revision gap an earlier run found but did not repair', async () => {
    const w = await world();
    const txs: ScriptTransaction[] = [
      { id: 'ta', timestamp: '2026-03-01T09:00:00.000001Z', mutations: [{ create: { _id: 'drafts.p', _type: 'post', title: 'A' } }] },
      { id: 'tb', timestamp: '2026-03-01T09:00:01.000001Z', mutations: [{ patch: { id: 'drafts.p', set: { title: 'B' } } }] },
      { id: 'tc', timestamp: '2026-03-01T09:00:02.000001Z', mutations: [{ patch: { id: 'drafts.p', set: { title: 'C' } } }] },
    ];
    w.sim.hideFromListeners('tb#drafts.p');
    // As if killed between the commit that found the gap and its repair.
    const withoutRepair = (source: SanitySource) => Object.assign(source, { afterCommit: () => {} });
    const first = ingest(w, { source: withoutRepair });
    await until(() => w.sim.listens.length === 1, 'the connection');
    w.sim.publish(...txs);
    await first;
    expect(readRows(w.db, 'SELECT status FROM gaps')).toEqual([{ status: 'open' }]);

    await ingest(w);
    expect(readRows(w.db, 'SELECT status, changes_found FROM gaps')).toEqual([{ status: 'repaired', changes_found: 1 }]);
    expectTablesMatch(w);
  });
});
