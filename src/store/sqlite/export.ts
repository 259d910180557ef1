// Streams the history log out as JSON lines in arrival order, one row in memory at a time.
import type { ExportFilter } from '../../core/store.js';
import { exportLine } from '../export-line.js';
import type { SinkDatabase } from './database.js';

interface EventRow {
  seq: number;
  stream: string;
  event_id: string;
  type: string;
  subject_kind: string | null;
  subject_id: string | null;
  occurred_at: string | null;
  received_at: string;
  cursor: string | null;
  projected: number;
  payload: string;
}

/** Yields one JSON line (without newline) per event; `payload` is embedded as stored, not re-serialized. */
export function* exportEvents({ sqlite }: SinkDatabase, filter: ExportFilter): Generator<string> {
  const conditions = ['stream = @stream'];
  if (filter.since) conditions.push('occurred_at >= @since');
  if (filter.until) conditions.push('occurred_at < @until');
  const types = filter.types ?? [];
  if (types.length) conditions.push(`type IN (${types.map((_, i) => `@type${i}`).join(', ')})`);
  const params: Record<string, string> = { stream: filter.stream };
  if (filter.since) params.since = filter.since;
  if (filter.until) params.until = filter.until;
  types.forEach((type, i) => (params[`type${i}`] = type));
  const rows = sqlite
    .prepare<Record<string, string>, EventRow>(`SELECT * FROM events WHERE ${conditions.join(' AND ')} ORDER BY seq`)
    .iterate(params);
  for (const { payload, projected, ...row } of rows) {
    yield exportLine({ ...row, projected: projected === 1 }, payload);
  }
}
