// The Sanity ingester end to end (test server in a child process -> 127.0.0.1 -> SSE client ->
// Sanity source -> normalizer -> batch writer -> SQLite) against raw better-sqlite3 writes of the
// same rows (`events`, `document_mutations`, the `documents` upsert) in one transaction, and a
// naive ingester that commits each mutation alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreTarget } from '../src/store/open-store.js';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import type { SinkDatabase } from '../src/store/sqlite/database.js';
import { registerStream } from '../src/store/sqlite/streams.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import type { ScriptStep } from '../src/simulators/sse-server.js';
import { bestInTurns, freshDatabase, peakRssDuring, RssCheckpoints, SQLITE_DEFAULT_PAGE_BYTES } from './measure.js';
import type { ScenarioResult } from './result.js';
import { startStreamServer } from './stream-server.js';

const MUTATIONS = 100_000;
const DOCUMENTS = 2_000;
const NAIVE_SAMPLE = 10_000;
/** RSS is sampled when the ingest passes these fractions of the stream, to see that it stays flat. */

interface GeneratedMutation {
  eventId: string;
  transactionId: string;
  documentId: string;
  idKind: string;
  publishedId: string;
  transition: string;
  previousRev: string | null;
  timestamp: string;
  mutations: string;
  result: string;
  /** The frame's data, as the ingester stores it. */
  data: string;
}

const transactionIdOf = (i: number) => `tx${i.toString(36).padStart(20, '0')}`;

/** Mutation i of an editorial dataset: edits of 2,000 posts, drafts and published, with results. */
export function generatedMutation(i: number): GeneratedMutation {
  const n = i % DOCUMENTS;
  const publishedId = `post-${n.toString(36).padStart(6, '0')}`;
  const documentId = n % 3 === 0 ? publishedId : `drafts.${publishedId}`;
  const transactionId = transactionIdOf(i);
  const first = i < DOCUMENTS;
  const previousRev = first ? null : transactionIdOf(i - DOCUMENTS);
  const micros = i * 250;
  const timestamp = `${new Date(Date.UTC(2026, 0, 1) + Math.floor(micros / 1000)).toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`;
  // Built as text (ids and titles need no escaping): the server's share of the work stays small.
  const title = `Post number ${n}, revision ${Math.floor(i / DOCUMENTS)}`;
  const result =
    `{"_id":"${documentId}","_type":"post","_rev":"${transactionId}","_createdAt":"2025-12-01T00:00:00Z",` +
    `"_updatedAt":"${timestamp.slice(0, 19)}Z","title":"${title}","slug":{"_type":"slug","current":"post-number-${n}"},` +
    `"author":{"_type":"reference","_ref":"author-${n % 40}"},"body":[{"_type":"block","_key":"k${n}","style":"normal",` +
    `"children":[{"_type":"span","_key":"s${n}","text":"${'x'.repeat((i * 31) % 400)}"}]}]}`;
  const mutations = first ? `[{"create":${result}}]` : `[{"patch":{"id":"${documentId}","set":{"title":"${title}"}}}]`;
  const transition = first ? 'appear' : 'update';
  const eventId = `${transactionId}#${documentId}`;
  const data =
    `{"eventId":${JSON.stringify(eventId)},"documentId":${JSON.stringify(documentId)},"transactionId":"${transactionId}",` +
    `"transition":"${transition}","identity":"p${n % 7}","mutations":${mutations},"result":${result},` +
    `"previousRev":${JSON.stringify(previousRev)},"resultRev":"${transactionId}","timestamp":"${timestamp}",` +
    `"visibility":"transaction","transactionTotalEvents":1,"transactionCurrentEvent":1}`;
  return {
    eventId, transactionId, documentId, idKind: documentId === publishedId ? 'published' : 'draft', publishedId,
    transition, previousRev, timestamp, mutations, result, data,
  };
}

/** The stream, 100 frames per write, generated lazily like Auth0's. */
export function* listenSteps(events: number): Generator<ScriptStep> {
  yield { frame: { event: 'welcome', data: '{"listenerName":"bench"}' } };
  let batch = '';
  for (let i = 0; i < events; i++) {
    const mutation = generatedMutation(i);
    batch += `event: mutation\nid: ${mutation.eventId}\ndata: ${mutation.data}\n\n`;
    if (i % 100 === 99) {
      yield { raw: batch };
      batch = '';
    }
  }
  if (batch) yield { raw: batch };
  // Stay open: the ingester stops itself at --max-events.
  yield { sleep: 60_000 };
}

/** What both baselines write for one mutation, with plain prepared statements and no guards. */
function plainRowWriter(sink: SinkDatabase): (row: GeneratedMutation) => void {
  registerStream(sink, { name: 'bench', source: 'sanity', definition: {} });
  const insertEvent = sink.sqlite.prepare(
    `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
     VALUES ('bench', ?, ?, 'document', ?, ?, ?, ?, 1, ?)`,
  );
  const insertMutation = sink.sqlite.prepare(
    `INSERT INTO document_mutations (stream, event_id, seq, transaction_id, document_id, doc_type, transition, previous_rev, result_rev,
       identity, visibility, timestamp, mutations, result, previous, origin)
     VALUES ('bench', ?, ?, ?, ?, 'post', ?, ?, ?, 'p0', 'transaction', ?, ?, ?, NULL, 'listen')`,
  );
  const upsertDocument = sink.sqlite.prepare(
    `INSERT INTO documents (stream, document_id, id_kind, published_id, release_id, doc_type, rev, result, updated_at, deleted_at, event_time, event_seq)
     VALUES ('bench', ?, ?, ?, NULL, 'post', ?, ?, ?, NULL, ?, ?)
     ON CONFLICT (stream, document_id) DO UPDATE SET rev = excluded.rev, result = excluded.result, updated_at = excluded.updated_at,
       event_time = excluded.event_time, event_seq = excluded.event_seq`,
  );
  const receivedAt = new Date().toISOString();
  return (row) => {
    const seq = Number(
      insertEvent.run(row.eventId, `mutation.${row.transition}`, row.documentId, row.timestamp, receivedAt, row.eventId, row.data).lastInsertRowid,
    );
    insertMutation.run(row.eventId, seq, row.transactionId, row.documentId, row.transition, row.previousRev, row.transactionId,
      row.timestamp, row.mutations, row.result);
    upsertDocument.run(row.documentId, row.idKind, row.publishedId, row.transactionId, row.result, row.timestamp, row.timestamp, seq);
  };
}

/** The ceiling: the same rows, prepared statements, one transaction, nothing else; timed from open to close. */
function rawWriteSeconds(dir: string): number {
  const rows = Array.from({ length: MUTATIONS }, (_, i) => generatedMutation(i));
  const started = performance.now();
  const sink = freshDatabase(dir, 'raw');
  const writeRow = plainRowWriter(sink);
  sink.sqlite.transaction(() => rows.forEach(writeRow))();
  sink.close();
  return (performance.now() - started) / 1000;
}

/**
 * The floor: a naive ingester that parses each mutation and commits it, with its cursor, in its
 * own transaction. Frames come from memory: no network, so the floor is if anything too high.
 */
function naiveWriteSeconds(dir: string, pageBytes?: number): number {
  const rows = Array.from({ length: NAIVE_SAMPLE }, (_, i) => generatedMutation(i));
  const started = performance.now();
  const sink = freshDatabase(dir, 'naive', { pageBytes });
  const writeRow = plainRowWriter(sink);
  const saveCursor = sink.sqlite.prepare(`UPDATE streams SET cursor = ? WHERE name = 'bench'`);
  const commitMutation = sink.sqlite.transaction((row: GeneratedMutation) => {
    // A naive ingester reads each frame too; the rows it writes are the raw baseline's.
    JSON.parse(row.data);
    writeRow(row);
    saveCursor.run(row.eventId);
  });
  rows.forEach((row) => commitMutation(row));
  sink.close();
  return (performance.now() - started) / 1000;
}

export interface SanityIngest {
  seconds: number;
  payloadBytes: number;
  peakRssMb: number;
  rss: RssCheckpoints;
}

/** The scenario's ingest into a fresh database, run first by main.ts (its peak RSS is clean then). */
export async function ingestSanity(db?: StoreTarget): Promise<SanityIngest> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-sanity-'));
  globalThis.gc?.();
  const server = await startStreamServer('sanity', MUTATIONS);
  const rss = new RssCheckpoints(MUTATIONS);
  let inserted = 0;
  let payloadBytes = 0;
  try {
    const { result: seconds, peakRssMb } = await peakRssDuring(async () => {
      const started = performance.now();
      const summary = await runIngestOnFile({
        dbPath: db ?? join(dir, 'ingest.db'),
        stream: 'bench',
        source: new SanitySource({
          config: simulatedDatasetConfig(server.url, { projectId: 'bench', query: '*[_type == "post"]' }),
          resume: 'enable-resume',
          token: () => 'bench-token',
        }),
        maxEvents: MUTATIONS,
        log: createLogger({ level: 'warn' }),
        onCommit: (result, batch) => {
          rss.progress((inserted += result.inserted));
          for (const { change } of batch.changes) payloadBytes += change.history.payload.length;
          if (result.revisionMismatches.length > 0) throw new Error('the Sanity bench stream should hold no revision gaps');
        },
      });
      if (summary.inserted !== MUTATIONS) throw new Error(`the Sanity bench stored ${summary.inserted} mutations, not ${MUTATIONS}`);
      return (performance.now() - started) / 1000;
    });
    return { seconds, payloadBytes, peakRssMb, rss };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchSanity(ingest: SanityIngest): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-sanity-'));
  try {
    globalThis.gc?.();
    const best = await bestInTurns(ingest, () => rawWriteSeconds(dir), ingestSanity);
    const naive = naiveWriteSeconds(dir);
    const naiveSmallPages = naiveWriteSeconds(dir, SQLITE_DEFAULT_PAGE_BYTES);
    return {
      name: 'Sanity end-to-end',
      detail: `${MUTATIONS / 1000}k mutations via 127.0.0.1, 500/batch, synchronous=NORMAL; ${ingest.rss.describe()}`,
      sseSink: { events: MUTATIONS, seconds: best.ingest.seconds, payloadBytes: ingest.payloadBytes, peakRssMb: ingest.peakRssMb },
      raw: { events: MUTATIONS, seconds: best.baselineSeconds },
      naive: { events: NAIVE_SAMPLE, seconds: naive },
      naiveSmallPages: { events: NAIVE_SAMPLE, seconds: naiveSmallPages },
      targets: { vsRaw: 0.5, vsNaive: 3 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
