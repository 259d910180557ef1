// Commits a batch in ONE transaction: history rows (idempotent per stream + event id), their
// projections, dead letters and the cursor after the batch. A crash never splits them.
import type Database from 'better-sqlite3';
import { LeaseLostError } from '../../common/errors.js';
import type { Batch, CommitResult } from '../../core/batch.js';
import type { GapRecord } from '../../core/source-event.js';
import { nowTime } from '../../common/time.js';
import type { SinkDatabase } from './database.js';
import type { Lease } from './lease.js';
import { ProjectionApplier } from './projections.js';
import { saveSnapshotSql, snapshotValues } from '../snapshot-rows.js';
import { streamStatements, type StreamProgress } from './streams.js';

export class BatchWriter {
  private readonly insertEvent: Database.Statement;
  private readonly insertDeadLetter: Database.Statement;
  private readonly insertGap: Database.Statement;
  private readonly resolveOpenGaps: Database.Statement;
  private readonly saveSnapshot: Database.Statement;
  private readonly saveProgress: (progress: StreamProgress) => boolean;
  private readonly projections: ProjectionApplier;
  private readonly commitInTransaction: (batch: Batch) => CommitResult;
  private readonly walGrew: () => void;

  constructor(
    { sqlite, walGrew }: SinkDatabase,
    private readonly lease: Lease,
  ) {
    this.insertEvent = sqlite.prepare(
      `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream, event_id) DO NOTHING`,
    );
    this.insertDeadLetter = sqlite.prepare(
      'INSERT INTO dead_letters (stream, received_at, event_type, reason, cursor, raw) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.insertGap = sqlite.prepare(
      `INSERT INTO gaps (stream, detected_at, reason, document_id, from_time, to_time, status, changes_found, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.resolveOpenGaps = sqlite.prepare(
      `UPDATE gaps SET status = ?, from_time = coalesce(?, from_time), to_time = coalesce(?, to_time), changes_found = ?,
         detail = coalesce(?, detail) WHERE stream = ? AND reason = ? AND document_id IS ? AND status = 'open'`,
    );
    this.saveSnapshot = sqlite.prepare(saveSnapshotSql(() => '?'));
    this.saveProgress = streamStatements(sqlite).saveProgress;
    this.projections = new ProjectionApplier(sqlite, lease.stream);
    this.commitInTransaction = sqlite.transaction((batch: Batch) => this.write(batch)).immediate;
    this.walGrew = walGrew;
  }

  /** Writes the whole batch or nothing. Throws LeaseLostError if another ingester took the stream. */
  commit(batch: Batch): CommitResult {
    const result = this.commitInTransaction(batch);
    this.walGrew();
    return result;
  }

  private write(batch: Batch): CommitResult {
    const stream = this.lease.stream;
    const result: CommitResult = { inserted: 0, duplicates: 0, deadLetters: 0, revisionMismatches: [], insertedByType: {} };
    let unknown = 0;
    let lastEventAt: string | null = null;
    for (const { change, cursor, receivedAt } of batch.changes) {
      const { history } = change;
      const inserted = this.insertEvent.run(
        stream,
        history.eventId,
        history.type,
        history.subjectKind,
        history.subjectId,
        history.occurredAt,
        receivedAt,
        cursor,
        history.projected ? 1 : 0,
        history.payload,
      );
      if (inserted.changes === 0) {
        result.duplicates++;
        continue;
      }
      result.inserted++;
      result.insertedByType[history.type] = (result.insertedByType[history.type] ?? 0) + 1;
      if (!history.projected) unknown++;
      if (lastEventAt === null || history.occurredAt > lastEventAt) lastEventAt = history.occurredAt;
      const order = { eventTime: history.occurredAt, eventSeq: Number(inserted.lastInsertRowid) };
      for (const detail of change.details ?? []) this.projections.insertDetail(detail, order);
      for (const op of change.projections) {
        const mismatch = this.projections.apply(op, order);
        if (mismatch) {
          result.revisionMismatches.push(mismatch);
          const documentId = String(mismatch.key.document_id ?? JSON.stringify(mismatch.key));
          this.recordGap({ kind: 'gap', reason: 'revision-mismatch', documentId, fromTime: null, toTime: history.occurredAt,
            status: 'open', changesFound: null, detail: JSON.stringify(mismatch) });
        }
      }
    }
    for (const gap of batch.gaps) this.recordGap(gap);
    if (batch.snapshot) this.saveSnapshot.run(snapshotValues(stream, batch.snapshot, nowTime()));
    for (const letter of batch.deadLetters) {
      this.insertDeadLetter.run(stream, letter.receivedAt, letter.eventType, letter.reason, letter.cursor, letter.raw);
      result.deadLetters++;
    }
    const saved = this.saveProgress({
      stream,
      owner: this.lease.owner,
      cursor: batch.cursor,
      now: nowTime(),
      lastEventAt,
      lastReceivedAt: batch.changes.at(-1)?.receivedAt ?? null,
      heartbeatAt: batch.heartbeatAt ?? null,
      inserted: result.inserted,
      duplicates: result.duplicates,
      unknown,
      deadLetters: result.deadLetters,
      leaseExpiresAt: this.lease.nextExpiry(),
    });
    if (!saved) throw new LeaseLostError(stream);
    return result;
  }

  private recordGap(gap: GapRecord): void {
    if (gap.resolvesOpen) {
      const resolved = this.resolveOpenGaps.run(gap.status, gap.fromTime, gap.toTime, gap.changesFound, gap.detail,
        this.lease.stream, gap.reason, gap.documentId ?? null);
      if (resolved.changes > 0) return;
    }
    this.insertGap.run(this.lease.stream, nowTime(), gap.reason, gap.documentId ?? null, gap.fromTime, gap.toTime,
      gap.status, gap.changesFound, gap.detail);
  }

}
