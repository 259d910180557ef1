// Sanity catch-up against the History API as Sanity documents it (the simulator's strict contract):
// the dataset-wide transaction list, excludeContent, pages capped below the limit asked for, error
// lines, 429s and 500s, documents entering and leaving the filter, release versions and publishes.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IngestSummary } from '../src/ingest/run-ingest.js';
import { runIngestOnFile, type FileIngestOptions } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import type { SanityListenConfig } from '../src/sources/sanity/requests.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import {
  randomScript,
  SanitySimulator,
  startSanitySimulator,
  timestampAt,
  type SanitySimulatorOptions,
  type ScriptTransaction,
  type SimulatedDocument,
} from '../src/simulators/sanity-simulator.js';
import { tempDir } from './helpers/cli.js';
import { expectedDocuments, expectedMutations, expectedMutationTexts, readRows, readSanityTables, storedEvents, until } from './helpers/sanity.js';

const STREAM = 'blog';
const SINCE = '2026-03-01T08:00:00.000000Z';
// Patches add 1 to n: documents enter and leave this filter as they are edited.
const QUERY = '*[_type in ["post", "author", "page"] && n % 2 == 0]';
const matches = (doc: SimulatedDocument) => ['post', 'author', 'page'].includes(String(doc._type)) && typeof doc.n === 'number' && doc.n % 2 === 0;
const options = { includeResult: true, includePreviousRevision: true };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface World {
  sim: SanitySimulator;
  url: string;
  db: string;
}

async function world(simulator: SanitySimulatorOptions = {}): Promise<World> {
  const sim = new SanitySimulator({ keepAliveMs: 50, matches, ...simulator });
  const server = await startSanitySimulator(sim);
  cleanups.push(server.close);
  return { sim, url: server.url, db: join(tempDir(), 'sink.db') };
}

interface Run {
  since?: string;
  historyAttempts?: number;
  config?: Partial<SanityListenConfig>;
  batchSize?: number;
  onCommit?: FileIngestOptions['onCommit'];
}

function ingest(w: World, run: Run = {}): Promise<IngestSummary> {
  const config = simulatedDatasetConfig(w.url, { query: QUERY, includePreviousRevision: true, ...run.config });
  const source = new SanitySource({
    config,
    resume: 'enable-resume',
    token: () => 'sk-test',
    sse: { initialBackoffMs: 5, maxBackoffMs: 40 },
    historyRetryDelayMs: 5,
    historyAttempts: run.historyAttempts,
  });
  return runIngestOnFile({
    dbPath: w.db,
    stream: STREAM,
    source,
    since: run.since ?? null,
    untilIdleMs: 1000,
    batchSize: run.batchSize,
    onCommit: run.onCommit,
    log: createLogger({ format: 'json', level: 'error', write: () => {} }),
  });
}



/**
 * A release `r9`: its version of `spring` is created, then the release is published (the version
 * goes, the published document takes its content); and a draft created and deleted in between,
 * which only the dataset-wide list can show. Timestamps are set by `inOrder`.
 */
const releaseAndEphemeral: ScriptTransaction[] = [
  { id: 'rel-create', timestamp: '', mutations: [{ create: { _id: '_.releases.r9', _type: 'system.release', state: 'active' } }] },
  { id: 'rel-version', timestamp: '', mutations: [{ createOrReplace: { _id: 'versions.r9.spring', _type: 'post', title: 'spring', n: 40 } }] },
  { id: 'ephemeral-create', timestamp: '', mutations: [{ create: { _id: 'drafts.ephemeral', _type: 'post', title: 'gone soon', n: 2 } }] },
  { id: 'ephemeral-delete', timestamp: '', mutations: [{ delete: { id: 'drafts.ephemeral' } }] },
  {
    id: 'rel-publish',
    timestamp: '',
    mutations: [
      { createOrReplace: { _id: 'spring', _type: 'post', title: 'spring', n: 40 } },
      { delete: { id: 'versions.r9.spring' } },
      { patch: { id: '_.releases.r9', set: { state: 'published' } } },
    ],
  },
];

/** The transactions with increasing timestamps, as Sanity commits them. */
function inOrder(transactions: ScriptTransaction[]): ScriptTransaction[] {
  return transactions.map((tx, i) => ({ ...tx, timestamp: timestampAt('2026-03-01T09:00:00.000000Z', i) }));
}

describe('Sanity catch-up from the History API (strict contract)', () => {
  it('after downtime past the replay window ends equal to an uninterrupted listener, reading every page of the dataset-wide list', async () => {
    const w = await world({ replayWindow: 5 });
    const random = randomScript({ seed: 31, transactions: 380, documents: 20 });
    const script = inOrder([...random.slice(0, 250), ...releaseAndEphemeral, ...random.slice(250)]);
    const early = script.slice(0, 120);
    const away = script.slice(120, 325);
    const later = script.slice(325);

    const run = ingest(w, { since: SINCE });
    await until(() => w.sim.listens.length === 1, 'the first connection');
    w.sim.publish(...early);
    await until(() => storedEvents(w.db) >= w.sim.changes.length, 'the live transactions to be stored');
    w.sim.outage(true);
    w.sim.dropListeners();
    w.sim.publish(...away);
    const missed = w.sim.changes.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    w.sim.outage(false);
    await until(() => w.sim.listens.length === 2, 'the reconnection');
    w.sim.publish(...later);
    await run;

    expect(w.sim.listens.map((l) => l.greeting)).toEqual(['welcome', 'reset']);
    const tables = readSanityTables(w.db, STREAM);
    expect(tables.doubled).toEqual([]);
    expect(tables.mutations).toEqual(expectedMutations(w.sim.changes, options));
    expect(tables.documents).toEqual(expectedDocuments(w.sim.changes, options));
    // The script has all it claims: documents leaving the filter, a deleted draft, a published release version.
    const transitions = new Set(w.sim.changes.map((c) => c.transition));
    expect(transitions).toEqual(new Set(['appear', 'update', 'disappear']));
    expect(tables.mutations.map((r) => r.event_id)).toEqual(
      expect.arrayContaining(['ephemeral-create#drafts.ephemeral', 'ephemeral-delete#drafts.ephemeral', 'rel-publish#versions.r9.spring', 'rel-publish#spring']),
    );
    expect(tables.documents.map((r) => r.document_id)).not.toContain('_.releases.r9');
    expect(missed).toBeGreaterThan(150);

    // Every transactions request was as the Studio makes them, and the list took more than one page.
    const lists = w.sim.historyRequests.filter((r) => r.path.startsWith('/transactions'));
    expect(lists.every((r) => r.query.get('excludeContent') === 'true' && Number(r.query.get('limit')) > 0)).toBe(true);
    expect(lists.filter((r) => r.path === '/transactions').length).toBeGreaterThan(Math.ceil(200 / 50));
    expect(readRows(w.db, 'SELECT reason, status FROM gaps ORDER BY id')).toEqual([
      { reason: 'since', status: 'repaired' },
      { reason: 'reset', status: 'repaired' },
    ]);

    // The same script to a listener that never lost its connection.
    const reference = await world();
    const referenceRun = ingest(reference, { since: SINCE });
    await until(() => reference.sim.listens.length === 1, 'the reference connection');
    reference.sim.publish(...script);
    await referenceRun;
    const uninterrupted = readSanityTables(reference.db, STREAM);
    expect(tables.mutations).toEqual(uninterrupted.mutations);
    expect(tables.documents).toEqual(uninterrupted.documents);
  });

  it('reads a documents endpoint that answers 404 when any one of several documents is missing', async () => {
    const w = await world({ strictDocumentLookups: true });
    const script = randomScript({ seed: 71, transactions: 150, documents: 15, start: '2026-03-01T09:00:00.000000Z' });
    w.sim.publish(...script);
    await ingest(w, { since: SINCE });
    const tables = readSanityTables(w.db, STREAM);
    expect(tables.mutations).toEqual(expectedMutations(w.sim.changes, options));
    expect(tables.documents).toEqual(expectedDocuments(w.sim.changes, options));
  });

  it('keeps the listener\'s mutations; rows rebuilt from History have them only where Sanity sends content', async () => {
    for (const mutationsWithoutContent of [false, true]) {
      const w = await world({ mutationsWithoutContent });
      const script = randomScript({ seed: 41, transactions: 80, documents: 10, start: '2026-03-01T09:00:00.000000Z' });
      w.sim.publish(...script.slice(0, 40)); // before the start: read from History
      const run = ingest(w, { since: SINCE });
      await until(() => readRows(w.db, 'SELECT 1 FROM gaps').length > 0, 'the catch-up to finish');
      w.sim.publish(...script.slice(40));
      await run;
      const texts = expectedMutationTexts(w.sim.changes);
      const rows = readRows(w.db, 'SELECT event_id, origin, mutations FROM document_mutations');
      expect(rows.length).toBe(w.sim.changes.length);
      for (const row of rows) {
        const kept = row.origin === 'listen' || mutationsWithoutContent;
        expect(row.mutations, String(row.event_id)).toBe(kept ? texts.get(String(row.event_id)) : null);
      }
      expect(new Set(rows.map((r) => r.origin))).toEqual(new Set(['listen', 'history']));
    }
  });

  it('retries error lines, 429 with Retry-After and 500s, and still reads the whole range', async () => {
    const w = await world();
    const script = randomScript({ seed: 51, transactions: 160, documents: 15, start: '2026-03-01T09:00:00.000000Z' });
    w.sim.publish(...script);
    w.sim.injectHistoryFaults('error-line', 'http-429', 'http-500', 'error-line');
    await ingest(w, { since: SINCE });
    const tables = readSanityTables(w.db, STREAM);
    expect(tables.mutations).toEqual(expectedMutations(w.sim.changes, options));
    expect(tables.documents).toEqual(expectedDocuments(w.sim.changes, options));
    expect(readRows(w.db, 'SELECT reason, status FROM gaps')).toEqual([{ reason: 'since', status: 'repaired' }]);
    // An error line is an incomplete answer, never an event.
    expect(readRows(w.db, 'SELECT count(*) AS n FROM dead_letters')).toEqual([{ n: 0 }]);
  });

  it('stores a History line that is not JSON as a dead letter, and still reads the rest of the range', async () => {
    const w = await world();
    const script = randomScript({ seed: 52, transactions: 80, documents: 10, start: '2026-03-01T09:00:00.000000Z' });
    w.sim.publish(...script);
    w.sim.injectHistoryFaults('garbage-line');
    await ingest(w, { since: SINCE });
    expect(readSanityTables(w.db, STREAM).mutations).toEqual(expectedMutations(w.sim.changes, options));
    expect(readRows(w.db, 'SELECT event_type, raw, reason FROM dead_letters')).toEqual([
      { event_type: 'history', raw: '{"id": "cut-off', reason: expect.stringMatching(/^history line is not JSON/) },
    ]);
    expect(readRows(w.db, 'SELECT reason, status FROM gaps')).toEqual([{ reason: 'since', status: 'repaired' }]);
  });

  it('a catch-up History keeps failing stops with exit 1 and an open gap; the next start catches up and marks it repaired', async () => {
    const w = await world();
    const script = randomScript({ seed: 61, transactions: 150, documents: 15, start: '2026-03-01T09:00:00.000000Z' });
    w.sim.publish(...script);
    // The first requests are answered; then three failures in a row, more than the two attempts allowed.
    w.sim.injectHistoryFaults('ok', 'ok', 'http-500', 'http-500', 'http-500');
    await expect(ingest(w, { since: SINCE, historyAttempts: 2 })).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/incomplete.*open gap/) });
    expect(readRows(w.db, 'SELECT reason, status FROM gaps')).toEqual([{ reason: 'since', status: 'open' }]);

    // The same command again, as cron runs it.
    await ingest(w, { since: SINCE, historyAttempts: 2 });
    const tables = readSanityTables(w.db, STREAM);
    expect(tables.mutations).toEqual(expectedMutations(w.sim.changes, options));
    expect(tables.documents).toEqual(expectedDocuments(w.sim.changes, options));
    const gaps = readRows(w.db, 'SELECT reason, status FROM gaps ORDER BY id');
    expect(gaps.filter((g) => g.status !== 'repaired')).toEqual([]);
  });

  it.each(['live', 'from History'])('commits a transaction of several documents whole, %s', async (how) => {
    const w = await world();
    const wide = (n: number): ScriptTransaction => ({
      id: `wide-${n}`,
      timestamp: timestampAt('2026-03-01T09:00:00.000000Z', n),
      mutations: Array.from({ length: 7 }, (_, i) => (n === 0 ? { create: { _id: `w${i}`, _type: 'post', n: 0 } } : { patch: { id: `w${i}`, inc: { n: 2 } } })),
    });
    const script = Array.from({ length: 6 }, (_, n) => wide(n));
    const batches: string[][] = [];
    const onCommit: FileIngestOptions['onCommit'] = (_, batch) => batches.push(batch.changes.map((c) => c.change.history.eventId.split('#')[0]));
    if (how === 'from History') w.sim.publish(...script);
    const run = ingest(w, { since: SINCE, batchSize: 3, onCommit });
    await until(() => readRows(w.db, 'SELECT 1 FROM gaps').length > 0, 'the catch-up to finish');
    if (how === 'live') w.sim.publish(...script);
    await run;
    const committed = batches.filter((b) => b.length > 0);
    expect(committed.flat()).toHaveLength(42);
    expect(new Set(readRows(w.db, 'SELECT origin FROM document_mutations').map((r) => r.origin))).toEqual(new Set([how === 'live' ? 'listen' : 'history']));
    // Batches of 3 would cut each 7-document transaction in three; each batch holds whole ones.
    for (const batch of committed) {
      const counts = new Map<string, number>();
      for (const tx of batch) counts.set(tx, (counts.get(tx) ?? 0) + 1);
      expect([...counts.values()].every((n) => n === 7), JSON.stringify([...counts])).toBe(true);
    }
  });

  it('without excludeContent=true the simulated History API answers 403, as Sanity does on plans without content history', async () => {
    const w = await world();
    const response = await fetch(`${w.url}/v2025-02-19/data/history/production/transactions?fromTime=${SINCE}&limit=10`);
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/excludeContent/);
  });
});
