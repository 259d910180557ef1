// The batch writer alone (normalized changes in memory -> SQLite) against raw better-sqlite3
// (the same event and user rows, plain statements, one transaction) and a naive writer that
// commits each event alone; and the writer's throughput by batch size, for the chart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NormalizedChange } from '../src/core/change.js';
import { BatchWriter } from '../src/store/sqlite/batch-writer.js';
import { emptyBatch } from '../src/core/batch.js';
import type { SinkDatabase } from '../src/store/sqlite/database.js';
import { acquireLease } from '../src/store/sqlite/lease.js';
import { registerStream } from '../src/store/sqlite/streams.js';
import { bestOf, freshDatabase, peakRssDuring, SQLITE_DEFAULT_PAGE_BYTES } from './measure.js';
import type { ScenarioResult } from './result.js';

const EVENTS = 100_000;
const BATCH = 500;
const NAIVE_SAMPLE = 10_000;
/** The chart's batch sizes, each over the first CHART_EVENTS changes. */
export const CHART_BATCH_SIZES = [1, 10, 50, 100, 500, 1000, 5000];
const CHART_EVENTS = 20_000;

function makeChanges(): NormalizedChange[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const userId = `auth0|${i % 5000}`;
    const time = `2026-01-01T00:00:${String(Math.floor(i / 10_000)).padStart(2, '0')}.${String(i % 1_000_000).padStart(6, '0')}Z`;
    const object = JSON.stringify({ user_id: userId, email: `user${i}@example.com`, name: `User ${i}`, logins_count: i });
    return {
      history: { eventId: `evt_${i}`, type: 'user.updated', subjectKind: 'user', subjectId: userId, occurredAt: time, payload: object, projected: true },
      projections: [{ op: 'put', table: 'users', key: { user_id: userId }, values: { email: `user${i}@example.com`, name: `User ${i}`, object } }],
    };
  });
}

function freshSink(dir: string, name: string, pageBytes?: number) {
  const sink = freshDatabase(dir, name, { pageBytes });
  registerStream(sink, { name: 'bench', source: 'auth0', definition: {} });
  return sink;
}

/** What both baselines write for one change: the event row and the user upsert, plain statements. */
function plainRowWriter(sink: SinkDatabase): (change: NormalizedChange, cursor: string) => void {
  const insertEvent = sink.sqlite.prepare(
    `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const upsertUser = sink.sqlite.prepare(
    `INSERT OR REPLACE INTO users (stream, user_id, email, name, object, event_time, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const receivedAt = new Date().toISOString();
  return ({ history, projections }, cursor) => {
    const seq = insertEvent.run('bench', history.eventId, history.type, history.subjectKind, history.subjectId, history.occurredAt, receivedAt, cursor, history.payload).lastInsertRowid;
    const { values } = projections[0] as { values: Record<string, string> };
    upsertUser.run('bench', history.subjectId, values.email, values.name, values.object, history.occurredAt, seq);
  };
}

/** The ceiling: the same rows, plain statements, one transaction, no guards or bookkeeping. */
function rawInsert(dir: string, changes: NormalizedChange[]): void {
  const sink = freshSink(dir, 'raw');
  const writeRow = plainRowWriter(sink);
  sink.sqlite.transaction(() => changes.forEach((change, i) => writeRow(change, `c${i}`)))();
  sink.close();
}

/** The floor: each change and its cursor committed in its own transaction. */
function naiveInsert(dir: string, changes: NormalizedChange[], pageBytes?: number): void {
  const sink = freshSink(dir, 'naive', pageBytes);
  const writeRow = plainRowWriter(sink);
  const saveCursor = sink.sqlite.prepare(`UPDATE streams SET cursor = ? WHERE name = 'bench'`);
  const commitChange = sink.sqlite.transaction((change: NormalizedChange, cursor: string) => {
    writeRow(change, cursor);
    saveCursor.run(cursor);
  });
  changes.forEach((change, i) => commitChange(change, `c${i}`));
  sink.close();
}

function batchWriter(dir: string, changes: NormalizedChange[], batchSize = BATCH): void {
  const sink = freshSink(dir, 'writer');
  const writer = new BatchWriter(sink, acquireLease(sink, 'bench'));
  const receivedAt = new Date().toISOString();
  for (let start = 0; start < changes.length; start += batchSize) {
    const batch = emptyBatch();
    batch.changes = changes.slice(start, start + batchSize).map((change, i) => ({ change, cursor: `c${start + i}`, receivedAt }));
    batch.cursor = `c${start + batch.changes.length - 1}`;
    writer.commit(batch);
  }
  sink.close();
}

export async function benchWriter(): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-'));
  try {
    const changes = makeChanges();
    const payloadBytes = changes.reduce((sum, { history }) => sum + history.payload.length, 0);
    const raw = await bestOf(3, () => rawInsert(dir, changes));
    const naive = await bestOf(1, () => naiveInsert(dir, changes.slice(0, NAIVE_SAMPLE)));
    const naiveSmallPages = await bestOf(1, () => naiveInsert(dir, changes.slice(0, NAIVE_SAMPLE), SQLITE_DEFAULT_PAGE_BYTES));
    const { result: writer, peakRssMb } = await peakRssDuring(() => bestOf(3, () => batchWriter(dir, changes)));
    return {
      name: 'batch writer alone',
      detail: `${EVENTS / 1000}k normalized changes from memory, ${BATCH}/batch, users projection, synchronous=NORMAL; RSS includes the changes`,
      sseSink: { events: EVENTS, seconds: writer, payloadBytes, peakRssMb },
      raw: { events: EVENTS, seconds: raw },
      naive: { events: NAIVE_SAMPLE, seconds: naive },
      naiveSmallPages: { events: NAIVE_SAMPLE, seconds: naiveSmallPages },
      targets: { vsRaw: 0.5, vsNaive: 3 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The writer's events/s for each of CHART_BATCH_SIZES, best of two runs each. */
export async function writerByBatchSize(): Promise<{ batchSize: number; eventsPerSecond: number }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-'));
  try {
    const changes = makeChanges().slice(0, CHART_EVENTS);
    const points = [];
    for (const batchSize of CHART_BATCH_SIZES) {
      const seconds = await bestOf(2, () => batchWriter(dir, changes, batchSize));
      points.push({ batchSize, eventsPerSecond: CHART_EVENTS / seconds });
    }
    return points;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
