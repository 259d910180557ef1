// The batch writer against the ceiling of raw better-sqlite3: the same event and user rows
// inserted with plain prepared statements in one transaction, in the same process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NormalizedChange } from '../src/normalize/change.js';
import { BatchWriter, emptyBatch } from '../src/store/batch-writer.js';
import { openDatabase } from '../src/store/database.js';
import { acquireLease } from '../src/store/lease.js';
import { registerStream } from '../src/store/streams.js';
import { bestOf, peakRssDuring } from './measure.js';
import type { BenchResult } from './result.js';

const EVENTS = 100_000;
const BATCH = 500;

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

function freshSink(dir: string, name: string) {
  const sink = openDatabase({ path: join(dir, `${name}-${process.hrtime.bigint()}.db`) });
  registerStream(sink, { name: 'bench', source: 'auth0', definition: {} });
  return sink;
}

/** The ceiling: the same rows, plain statements, one transaction, no guards or bookkeeping. */
function rawInsert(dir: string, changes: NormalizedChange[]): void {
  const sink = freshSink(dir, 'raw');
  const insertEvent = sink.sqlite.prepare(
    `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const upsertUser = sink.sqlite.prepare(
    `INSERT OR REPLACE INTO users (stream, user_id, email, name, object, event_time, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const receivedAt = new Date().toISOString();
  sink.sqlite.transaction(() => {
    changes.forEach(({ history, projections }, i) => {
      const seq = insertEvent.run('bench', history.eventId, history.type, history.subjectKind, history.subjectId, history.occurredAt, receivedAt, `c${i}`, history.payload).lastInsertRowid;
      const { values } = projections[0] as { values: Record<string, string> };
      upsertUser.run('bench', history.subjectId, values.email, values.name, values.object, history.occurredAt, seq);
    });
  })();
  sink.close();
}

function batchWriter(dir: string, changes: NormalizedChange[]): void {
  const sink = freshSink(dir, 'writer');
  const writer = new BatchWriter(sink, acquireLease(sink, 'bench'));
  const receivedAt = new Date().toISOString();
  for (let start = 0; start < changes.length; start += BATCH) {
    const batch = emptyBatch();
    batch.changes = changes.slice(start, start + BATCH).map((change, i) => ({ change, cursor: `c${start + i}`, receivedAt }));
    batch.cursor = `c${start + batch.changes.length - 1}`;
    writer.commit(batch);
  }
  sink.close();
}

export async function benchWriter(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-'));
  try {
    const changes = makeChanges();
    const raw = await bestOf(3, () => rawInsert(dir, changes));
    const { result: writer, peakRssMb } = await peakRssDuring(() => bestOf(3, () => batchWriter(dir, changes)));
    return {
      name: `batch writer (${BATCH}/batch, users projection)`,
      unit: 'events/s',
      value: EVENTS / writer,
      baselineName: 'raw better-sqlite3 inserts, one transaction',
      baselineValue: EVENTS / raw,
      target: 0.5,
      peakRssMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
