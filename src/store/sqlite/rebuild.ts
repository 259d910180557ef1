// Recomputes a stream's projections from its history log in one transaction, and says what it
// changed: the proof (or the repair) that the tables are exactly what the events imply.
import { PROJECTION_TABLES, isNormalizeFailure, type NormalizeResult, type ProjectionTable } from '../../core/change.js';
import type { RebuildReport, StoredEvent } from '../../core/store.js';
import { compareRows } from '../rebuild-report.js';
import type { SinkDatabase } from './database.js';
import { ProjectionApplier } from './projections.js';

const PAGE = 1000;

export function rebuildProjections(
  { sqlite }: SinkDatabase,
  stream: string,
  normalize: (event: StoredEvent) => NormalizeResult,
): RebuildReport {
  const page = sqlite.prepare<[string, number, number], StoredEvent>(
    'SELECT seq, type, occurred_at, payload FROM events WHERE stream = ? AND projected = 1 AND seq > ? ORDER BY seq LIMIT ?',
  );
  return sqlite
    .transaction(() => {
      const before = snapshot(sqlite, stream);
      for (const table of PROJECTION_TABLES) sqlite.prepare(`DELETE FROM ${table} WHERE stream = ?`).run(stream);
      sqlite.prepare("DELETE FROM projection_tombstones WHERE json_extract(row_key, '$[0]') = ?").run(stream);
      const applier = new ProjectionApplier(sqlite, stream);
      const report: RebuildReport = { events: 0, unreadable: 0, differences: {} };
      // Pages, not one iterator: better-sqlite3 cannot write while an iterator is open.
      for (let last = 0, rows = page.all(stream, last, PAGE); rows.length > 0; rows = page.all(stream, last, PAGE)) {
        for (const event of rows) {
          report.events++;
          const result = normalize(event);
          if (isNormalizeFailure(result)) {
            report.unreadable++;
            continue;
          }
          for (const op of result.projections) applier.apply(op, { eventTime: event.occurred_at, eventSeq: event.seq });
        }
        last = rows.at(-1)!.seq;
      }
      const after = snapshot(sqlite, stream);
      for (const table of PROJECTION_TABLES) {
        const difference = compareRows(before.get(table)!, after.get(table)!);
        if (difference.added + difference.removed + difference.changed > 0) report.differences[table] = difference;
      }
      return report;
    })
    .immediate();
}

/** Every projection row of the stream as text, keyed by its primary key. */
function snapshot(sqlite: SinkDatabase['sqlite'], stream: string): Map<ProjectionTable, Map<string, string>> {
  const tables = new Map<ProjectionTable, Map<string, string>>();
  for (const table of PROJECTION_TABLES) {
    const keyColumns = (sqlite.pragma(`table_info(${table})`) as { name: string; pk: number }[])
      .filter((c) => c.pk > 0)
      .map((c) => c.name);
    const rows = sqlite.prepare(`SELECT * FROM ${table} WHERE stream = ?`).all(stream) as Record<string, unknown>[];
    tables.set(table, new Map(rows.map((row) => [JSON.stringify(keyColumns.map((c) => row[c])), JSON.stringify(row)])));
  }
  return tables;
}
