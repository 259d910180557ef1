// The `snapshots` table as every store writes and reads it: one row per snapshot, saved with the
// rows of each page (src/core/source-event.ts, SnapshotProgress), in SQL both SQLite and PostgreSQL run.
import type { RowsWrittenBefore, StoredSnapshot } from '../core/source.js';
import type { SnapshotProgress } from '../core/source-event.js';

const SNAPSHOT_COLUMNS = [
  'stream', 'snapshot_id', 'started_at', 'finished_at', 'status', 'position', 'rows_read', 'pages', 'rows_deleted', 'updated_at',
] as const;

/** The upsert of a snapshot's row, with the store's placeholders (`?` or `$1`…) in SNAPSHOT_COLUMNS' order. */
export function saveSnapshotSql(placeholder: (index: number) => string): string {
  const updated = SNAPSHOT_COLUMNS.slice(3).map((column) => `${column} = excluded.${column}`).join(', ');
  return `INSERT INTO snapshots (${SNAPSHOT_COLUMNS.join(', ')}) VALUES (${SNAPSHOT_COLUMNS.map((_, i) => placeholder(i + 1)).join(', ')})
    ON CONFLICT (stream, snapshot_id) DO UPDATE SET ${updated}`;
}

/** The values of saveSnapshotSql. */
export function snapshotValues(stream: string, progress: SnapshotProgress, now: string): (string | number | null)[] {
  return [stream, progress.snapshotId, progress.startedAt, progress.finishedAt, progress.status, progress.position,
    progress.rowsRead, progress.pages, progress.rowsDeleted, now];
}

/** Run by `reset`: the stream's snapshots no longer describe it (their rows in `events` stay). */
export const RESET_SNAPSHOTS_SQL = (placeholder: string) => `UPDATE snapshots SET status = 'reset' WHERE stream = ${placeholder}`;

export const LATEST_SNAPSHOT_SQL = (placeholder: string) => `SELECT snapshot_id, started_at, status, position, rows_read, pages, rows_deleted
  FROM snapshots WHERE stream = ${placeholder} ORDER BY snapshot_id DESC LIMIT 1`;

export interface SnapshotRow {
  snapshot_id: number;
  started_at: string;
  status: string;
  position: string | null;
  rows_read: number | string;
  pages: number | string;
  rows_deleted: number | string;
}

export function toStoredSnapshot(row: SnapshotRow | undefined): StoredSnapshot | null {
  if (!row) return null;
  return {
    snapshotId: Number(row.snapshot_id),
    startedAt: row.started_at,
    status: row.status === 'running' || row.status === 'reset' ? row.status : 'finished',
    position: row.position,
    rowsRead: Number(row.rows_read),
    pages: Number(row.pages),
    rowsDeleted: Number(row.rows_deleted),
  };
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Table and column names come from normalizers, not users; checking them keeps SQL built from
 * them safe even if that ever changes.
 */
export function checkIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  return name;
}

/** The select of rowsWrittenBefore, with the store's placeholders for the stream and the time. */
export function rowsWrittenBeforeSql({ table, keyColumns, entity }: RowsWrittenBefore, stream: string, before: string): string {
  for (const name of [table, ...keyColumns]) checkIdentifier(name);
  const columns = entity ? [...keyColumns, 'object'] : keyColumns;
  return `SELECT ${columns.join(', ')} FROM ${table} WHERE stream = ${stream} AND event_time < ${before}${entity ? ' AND deleted_at IS NULL' : ''}`;
}
