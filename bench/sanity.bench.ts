// The Sanity ingester end to end (test server on 127.0.0.1 -> SSE client -> Sanity source ->
// normalizer -> batch writer -> SQLite) against raw better-sqlite3 writes of the same rows
// (`events`, `document_mutations`, the `documents` upsert) in one transaction.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIngest } from '../src/ingest/run-ingest.js';
import { createLogger } from '../src/log.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import { openDatabase } from '../src/store/database.js';
import { registerStream } from '../src/store/streams.js';
import { startSseTestServer, type ScriptStep } from '../src/testing/sse-server.js';
import type { BenchResult } from './result.js';

const MUTATIONS = 100_000;
const DOCUMENTS = 2_000;
/** RSS is sampled when the ingest passes these fractions of the stream, to see that it stays flat. */
const CHECKPOINTS = [0.25, 0.5, 0.75, 1];

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
function generatedMutation(i: number): GeneratedMutation {
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

/** The stream, generated as it is sent so that the server holds no copy of it. */
function* listenSteps(): Generator<ScriptStep> {
  yield { frame: { event: 'welcome', data: '{"listenerName":"bench"}' } };
  let batch = '';
  for (let i = 0; i < MUTATIONS; i++) {
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

/** The ceiling: the same rows, prepared statements, one transaction, nothing else. */
function rawWriteSeconds(dir: string): number {
  const sink = openDatabase({ path: join(dir, 'raw.db') });
  registerStream(sink, { name: 'bench', source: 'sanity', definition: {} });
  const rows = Array.from({ length: MUTATIONS }, (_, i) => generatedMutation(i));
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
  const started = performance.now();
  sink.sqlite.transaction(() => {
    for (const row of rows) {
      const seq = Number(
        insertEvent.run(row.eventId, `mutation.${row.transition}`, row.documentId, row.timestamp, receivedAt, row.eventId, row.data).lastInsertRowid,
      );
      insertMutation.run(row.eventId, seq, row.transactionId, row.documentId, row.transition, row.previousRev, row.transactionId,
        row.timestamp, row.mutations, row.result);
      upsertDocument.run(row.documentId, row.idKind, row.publishedId, row.transactionId, row.result, row.timestamp, row.timestamp, seq);
    }
  })();
  const seconds = (performance.now() - started) / 1000;
  sink.close();
  return seconds;
}

interface IngestRun {
  seconds: number;
  /** RSS in MB when the ingest passed each checkpoint. */
  rssMb: number[];
  peakRssMb: number;
}

async function ingestSeconds(dir: string): Promise<IngestRun> {
  const server = await startSseTestServer(() => ({ status: 200, steps: listenSteps() }));
  const rssMb: number[] = [];
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let inserted = 0;
  let checkpoint = 0;
  try {
    const started = performance.now();
    const summary = await runIngest({
      dbPath: join(dir, 'ingest.db'),
      stream: 'bench',
      source: new SanitySource({
        config: {
          projectId: 'bench',
          dataset: 'production',
          baseUrl: server.url,
          apiVersion: 'v2025-02-19',
          query: '*[_type == "post"]',
          params: {},
          includeResult: true,
          includePreviousRevision: false,
          includeAllVersions: true,
          visibility: 'transaction',
        },
        resume: 'enable-resume',
        token: () => 'bench-token',
      }),
      maxEvents: MUTATIONS,
      log: createLogger({ level: 'warn' }),
      onCommit: (result) => {
        inserted += result.inserted;
        if (result.revisionMismatches.length > 0) throw new Error('the Sanity bench stream should hold no revision gaps');
        while (checkpoint < CHECKPOINTS.length && inserted >= CHECKPOINTS[checkpoint] * MUTATIONS) {
          rssMb.push(process.memoryUsage().rss / 1024 / 1024);
          checkpoint++;
        }
      },
    });
    const seconds = (performance.now() - started) / 1000;
    if (summary.inserted !== MUTATIONS) throw new Error(`the Sanity bench stored ${summary.inserted} mutations, not ${MUTATIONS}`);
    return { seconds, rssMb, peakRssMb: Math.max(peak, process.memoryUsage().rss) / 1024 / 1024 };
  } finally {
    clearInterval(sampler);
    await server.close();
  }
}

export async function benchSanity(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-sanity-'));
  try {
    const raw = rawWriteSeconds(dir);
    globalThis.gc?.();
    const ingest = await ingestSeconds(dir);
    // Flat: what the process holds at the end of the stream is what it held a quarter in.
    const growthMb = ingest.rssMb.at(-1)! - ingest.rssMb[0];
    const flat = growthMb < 32;
    return {
      name: `Sanity ingest, ${MUTATIONS / 1000}k mutations via 127.0.0.1 (RSS ${flat ? 'flat' : 'GROWS'}: ` +
        `${ingest.rssMb.map((mb) => mb.toFixed(0)).join('/')} MB at ${CHECKPOINTS.map((c) => `${c * 100}%`).join('/')})`,
      unit: 'mutations/s',
      value: MUTATIONS / ingest.seconds,
      baselineName: 'raw better-sqlite3 writes of the same events, document_mutations and documents rows, one transaction',
      baselineValue: MUTATIONS / raw,
      target: 0.5,
      peakRssMb: ingest.peakRssMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
