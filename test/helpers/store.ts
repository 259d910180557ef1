// Opens a fresh database file with a registered, leased stream: the state an ingester is in
// right before its first commit.
import { join } from 'node:path';
import type { NormalizedChange } from '../../src/core/change.js';
import type { StoredStreamView } from '../../src/core/source.js';
import { BatchWriter } from '../../src/store/sqlite/batch-writer.js';
import { emptyBatch, type Batch } from '../../src/core/batch.js';
import { openDatabase, type OpenOptions, type SinkDatabase } from '../../src/store/sqlite/database.js';
import { acquireLease, type Lease } from '../../src/store/sqlite/lease.js';
import { registerStream } from '../../src/store/sqlite/streams.js';
import { tempDir } from './cli.js';

export interface OpenStream {
  sink: SinkDatabase;
  lease: Lease;
  writer: BatchWriter;
  path: string;
}

export function openTestStream(stream = 'test', path = join(tempDir(), 'sink.db'), options: Omit<OpenOptions, 'path'> = {}): OpenStream {
  const sink = openDatabase({ path, ...options });
  registerStream(sink, { name: stream, source: 'auth0', definition: { test: true } });
  const lease = acquireLease(sink, stream);
  return { sink, lease, writer: new BatchWriter(sink, lease), path };
}

/** A user.updated-like change at `time`, written into `users` unless `projected` is false. */
export function userChange(eventId: string, userId: string, time: string, email = `${userId}@example.com`): NormalizedChange {
  return {
    history: {
      eventId,
      type: 'user.updated',
      subjectKind: 'user',
      subjectId: userId,
      occurredAt: time,
      payload: JSON.stringify({ id: eventId, user_id: userId, email }),
      projected: true,
    },
    projections: [{ op: 'put', table: 'users', key: { user_id: userId }, values: { email, object: '{}' } }],
  };
}

export function batchOf(changes: NormalizedChange[], cursor: string | null): Batch {
  return {
    ...emptyBatch(),
    changes: changes.map((change) => ({ change, cursor, receivedAt: '2026-01-01T00:00:00.000000Z' })),
    cursor,
  };
}

/** The committed state of a stream that has stored nothing yet, for sources read without a store. */
export const nothingStored: StoredStreamView = {
  documents: async () => new Map(),
  openGaps: async () => [],
  oldestEventAt: async () => null,
  latestSnapshot: async () => null,
  rowsWrittenBefore: async () => [],
};
