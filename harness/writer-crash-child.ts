// A writer process for crash tests: commits batches of numbered events (cursor = last number),
// resuming a little before its stored cursor so that every restart also replays committed events.
// Usage: node writer-crash-child.js <db> <total events>
import { BatchWriter } from '../src/store/sqlite/batch-writer.js';
import { emptyBatch } from '../src/core/batch.js';
import { openDatabase } from '../src/store/sqlite/database.js';
import { acquireLease } from '../src/store/sqlite/lease.js';
import { registerStream } from '../src/store/sqlite/streams.js';

const [dbPath, totalText] = process.argv.slice(2);
const total = Number(totalText);
const sink = openDatabase({ path: dbPath });
const stream = registerStream(sink, { name: 'crash', source: 'auth0', definition: { crash: true } });
const writer = new BatchWriter(sink, acquireLease(sink, 'crash'));
const REPLAY = 7;

let next = stream.cursor === null ? 0 : Math.max(0, Number(stream.cursor) + 1 - REPLAY);
while (next < total) {
  const size = 1 + Math.floor(Math.random() * 200);
  const batch = emptyBatch();
  for (let i = next; i < Math.min(total, next + size); i++) {
    const userId = `u${i % 97}`;
    batch.changes.push({
      cursor: String(i),
      receivedAt: new Date().toISOString(),
      change: {
        history: {
          eventId: `e${i}`,
          type: 'user.updated',
          subjectKind: 'user',
          subjectId: userId,
          occurredAt: `2026-01-01T00:00:00.${String(i).padStart(6, '0')}Z`,
          payload: JSON.stringify({ i }),
          projected: true,
        },
        projections: [{ op: 'put', table: 'users', key: { user_id: userId }, values: { email: `${i}@example.com`, object: '{}' } }],
      },
    });
  }
  next += batch.changes.length;
  batch.cursor = String(next - 1);
  writer.commit(batch);
  await new Promise((resolve) => setImmediate(resolve));
}
sink.close();
