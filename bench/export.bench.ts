// `sse-sink export` of a 100,000-event history: its memory must stay flat however long the log
// is (rows stream one at a time), and its speed is compared with reading the same rows into memory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BatchWriter } from '../src/store/sqlite/batch-writer.js';
import { emptyBatch } from '../src/core/batch.js';
import { openDatabase, type SinkDatabase } from '../src/store/sqlite/database.js';
import { exportEvents } from '../src/store/sqlite/export.js';
import { acquireLease } from '../src/store/sqlite/lease.js';
import { registerStream } from '../src/store/sqlite/streams.js';
import { bestOf, RssCheckpoints } from './measure.js';
import type { BenchResult } from './result.js';

const EVENTS = 100_000;

function fillHistory(sink: SinkDatabase): void {
  registerStream(sink, { name: 'bench', source: 'auth0', definition: {} });
  const writer = new BatchWriter(sink, acquireLease(sink, 'bench'));
  const receivedAt = new Date().toISOString();
  for (let start = 0; start < EVENTS; start += 1000) {
    const batch = emptyBatch();
    for (let i = start; i < start + 1000; i++) {
      const payload = JSON.stringify({ offset: `o${i}`, event: { id: `evt_${i}`, type: 'user.updated', data: { object: { user_id: `u${i % 5000}`, notes: 'x'.repeat(i % 400) } } } });
      batch.changes.push({
        cursor: `o${i}`,
        receivedAt,
        change: {
          history: { eventId: `evt_${i}`, type: 'user.updated', subjectKind: 'user', subjectId: `u${i % 5000}`, occurredAt: `2026-01-01T00:00:00.${String(i).padStart(6, '0')}Z`, payload, projected: true },
          projections: [],
        },
      });
    }
    batch.cursor = `o${start + 999}`;
    writer.commit(batch);
  }
}

/** Exports to a sink that discards, sampling RSS at each quarter of the stream. */
async function exportAll(sink: SinkDatabase, rss: RssCheckpoints): Promise<void> {
  let lines = 0;
  await pipeline(
    Readable.from(exportEvents(sink, { stream: 'bench' })),
    new Writable({
      objectMode: true,
      write(_line: string, _encoding, done) {
        // Collect garbage at each sample: what is left is what export holds, not what it dropped.
        if (++lines % (EVENTS / 4) === 0) global.gc?.();
        rss.progress(lines);
        done();
      },
    }),
  );
}

export async function benchExport(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-export-'));
  const sink = openDatabase({ path: join(dir, 'export.db') });
  try {
    fillHistory(sink);
    global.gc?.();
    const rss = new RssCheckpoints(EVENTS);
    const exported = await bestOf(1, () => exportAll(sink, rss));
    const readAll = await bestOf(2, () => sink.sqlite.prepare("SELECT * FROM events WHERE stream = 'bench' ORDER BY seq").all().map((row) => JSON.stringify(row)));
    return {
      name: `export, ${EVENTS.toLocaleString('en-US')} events (${rss.describe()})`,
      unit: 'events/s',
      value: EVENTS / exported,
      baselineName: 'all rows read into memory and serialized',
      baselineValue: EVENTS / readAll,
      target: 0.5,
      peakRssMb: Math.max(...rss.samplesMb),
    };
  } finally {
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
