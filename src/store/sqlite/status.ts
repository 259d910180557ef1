// What `sse-sink status` reports per stream, read in one go from the bookkeeping tables.
import type { StreamStatus } from '../../core/store.js';
import { STATUS_SQL, toStreamStatus, type StreamStatusRow } from '../stream-status.js';
import type { SinkDatabase } from './database.js';

export function readStatus({ sqlite }: SinkDatabase, now = Date.now()): StreamStatus[] {
  const rows = sqlite.prepare<[], StreamStatusRow>(STATUS_SQL).all();
  const byType = sqlite.prepare<[string], { type: string; n: number }>(
    'SELECT type, count(*) AS n FROM events WHERE stream = ? GROUP BY type ORDER BY type',
  );
  return rows.map((row) => toStreamStatus(row, Object.fromEntries(byType.all(row.name).map(({ type, n }) => [type, n])), now));
}
