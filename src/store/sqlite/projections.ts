// Applies normalizers' projection ops to the projection tables, last writer wins by
// (event time, arrival seq), with tombstones so a late "added" cannot undo a newer removal.
import type Database from 'better-sqlite3';
import type { RevisionMismatch } from '../../core/batch.js';
import type { ColumnValues, DetailRow, ProjectionTable } from '../../core/change.js';
import { checkIdentifier } from '../snapshot-rows.js';

/** Where the event that carries an op stands in the order of writes. */
export interface WriteOrder {
  eventTime: string;
  eventSeq: number;
}

/** A projection op of any table (src/core/change.ts ProjectionOp), as the store handles it: by column name. */
type StoredOp =
  | { op: 'put'; table: ProjectionTable; key: ColumnValues; values: ColumnValues; derived?: ColumnValues; expect?: { column: string; value: string | null } }
  | { op: 'remove'; table: ProjectionTable; key: ColumnValues }
  | { op: 'remove-matching'; table: ProjectionTable; match: ColumnValues };

type SqlValue = string | number | null;

/** What a prepared statement does; with its table and the columns it binds, that names it. */
type StatementKind =
  | 'insert-detail'
  | 'upsert'
  | 'update-expected'
  | 'select-expected'
  | 'delete'
  | 'select-matching'
  | 'upsert-tombstone'
  | 'any-tombstone'
  | 'newer-tombstone';

interface PreparedStatement {
  table: string;
  columns: readonly (readonly string[])[];
  statement: Database.Statement;
}

export class ProjectionApplier {
  private readonly statements = new Map<StatementKind, PreparedStatement[]>();
  /**
   * Whether each table has any tombstone, learned once per table: entity tables never do, and
   * skipping their tombstone lookup is most of a put's cost. Safe because one lease = one writer.
   */
  private readonly hasTombstones = new Map<ProjectionTable, boolean>();
  private readonly primaryKeys = new Map<ProjectionTable, string[]>();

  constructor(
    private readonly sqlite: Database.Database,
    private readonly stream: string,
  ) {}

  /** Applies one op; returns a mismatch when a `put` expected another revision than the stored one. */
  apply(op: StoredOp, order: WriteOrder): RevisionMismatch | undefined {
    switch (op.op) {
      case 'put':
        return this.put(op, order);
      case 'remove':
        return this.remove(op, order);
      case 'remove-matching':
        return this.removeMatching(op, order);
    }
  }

  /** Inserts a source's detail row (e.g. one `document_mutations` row), tagged with the event's seq. */
  insertDetail(detail: DetailRow, order: WriteOrder): void {
    const valueColumns = Object.keys(detail.values);
    // Identifiers are checked once, when the statement is prepared, not per row.
    this.statement('insert-detail', detail.table, [valueColumns], () => {
      const columns = ['stream', ...valueColumns, 'seq'].map(checkIdentifier);
      return `INSERT INTO ${checkIdentifier(detail.table)} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    }).run(this.stream, sqlValues(detail.values), order.eventSeq);
  }

  private put(op: Extract<StoredOp, { op: 'put' }>, order: WriteOrder): RevisionMismatch | undefined {
    const { keyColumns, keyValues } = this.rowKey(op.key);
    if (this.isTombstoneNewer(op.table, keyValues, order)) return undefined;
    const valueColumns = Object.keys(op.values);
    if (op.expect && this.updateIfExpected(op, keyColumns, keyValues, valueColumns, order)) return undefined;
    const mismatch = op.expect ? this.checkExpected(op, keyColumns, keyValues, order) : undefined;
    const derived = op.derived ?? {};
    const derivedColumns = Object.keys(derived);
    const statement = this.statement('upsert', op.table, [keyColumns, derivedColumns, valueColumns], () => {
      const allColumns = [...keyColumns, ...derivedColumns, ...valueColumns, 'event_time', 'event_seq'].map(checkIdentifier);
      const updates = [...valueColumns, 'event_time', 'event_seq'].map((c) => `${c} = excluded.${c}`);
      return `INSERT INTO ${checkIdentifier(op.table)} (${allColumns.join(', ')})
        VALUES (${allColumns.map(() => '?').join(', ')})
        ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET ${updates.join(', ')}
        WHERE (excluded.event_time, excluded.event_seq) > (${op.table}.event_time, ${op.table}.event_seq)`;
    });
    statement.run(keyValues, sqlValues(derived), sqlValues(op.values), order.eventTime, order.eventSeq);
    return mismatch;
  }

  private remove(op: Extract<StoredOp, { op: 'remove' }>, order: WriteOrder): undefined {
    const { keyColumns, keyValues } = this.rowKey(op.key);
    const remove = this.statement('delete', op.table, [keyColumns], () => {
      return `DELETE FROM ${checkIdentifier(op.table)} WHERE ${whereKey(keyColumns)} AND (event_time, event_seq) < (?, ?)`;
    });
    remove.run(keyValues, order.eventTime, order.eventSeq);
    this.statement(
      'upsert-tombstone',
      'projection_tombstones',
      [],
      () => `INSERT INTO projection_tombstones (table_name, row_key, event_time, event_seq) VALUES (?, ?, ?, ?)
        ON CONFLICT (table_name, row_key) DO UPDATE SET event_time = excluded.event_time, event_seq = excluded.event_seq
        WHERE (excluded.event_time, excluded.event_seq) > (projection_tombstones.event_time, projection_tombstones.event_seq)`,
    ).run(op.table, JSON.stringify(keyValues), order.eventTime, order.eventSeq);
    this.hasTombstones.set(op.table, true);
    return undefined;
  }

  /** Each older row that matches is removed as a `remove` of its key would: deleted, with a tombstone. */
  private removeMatching(op: Extract<StoredOp, { op: 'remove-matching' }>, order: WriteOrder): undefined {
    const keyColumns = this.primaryKeyColumns(op.table).filter((column) => column !== 'stream');
    const matchColumns = Object.keys(op.match);
    const rows = this.statement('select-matching', op.table, [matchColumns], () => {
      const where = ['stream', ...matchColumns].map((c) => `${checkIdentifier(c)} = ?`).join(' AND ');
      return `SELECT ${keyColumns.map(checkIdentifier).join(', ')} FROM ${checkIdentifier(op.table)}
        WHERE ${where} AND (event_time, event_seq) < (?, ?)`;
    }).all(this.stream, sqlValues(op.match), order.eventTime, order.eventSeq) as ColumnValues[];
    for (const key of rows) this.remove({ op: 'remove', table: op.table, key }, order);
    return undefined;
  }

  private primaryKeyColumns(table: ProjectionTable): string[] {
    let columns = this.primaryKeys.get(table);
    if (!columns) {
      const info = this.sqlite.pragma(`table_info(${checkIdentifier(table)})`) as { name: string; pk: number }[];
      columns = info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk).map((column) => column.name);
      this.primaryKeys.set(table, columns);
    }
    return columns;
  }

  private isTombstoneNewer(table: ProjectionTable, keyValues: SqlValue[], order: WriteOrder): boolean {
    let hasTombstones = this.hasTombstones.get(table);
    if (hasTombstones === undefined) {
      const anyTombstone = this.statement('any-tombstone', 'projection_tombstones', [], () => 'SELECT 1 FROM projection_tombstones WHERE table_name = ? LIMIT 1');
      hasTombstones = anyTombstone.get(table) !== undefined;
      this.hasTombstones.set(table, hasTombstones);
    }
    if (!hasTombstones) return false;
    const row = this.statement(
      'newer-tombstone',
      'projection_tombstones',
      [],
      () => `SELECT 1 FROM projection_tombstones WHERE table_name = ? AND row_key = ? AND (event_time, event_seq) > (?, ?)`,
    ).get(table, JSON.stringify(keyValues), order.eventTime, order.eventSeq);
    return row !== undefined;
  }

  /**
   * The common case of a `put` with `expect`, in one statement: the row is there, older, and holds
   * the expected value. False when it is not (nothing was written): the caller finds out why.
   */
  private updateIfExpected(
    op: Extract<StoredOp, { op: 'put' }>,
    keyColumns: string[],
    keyValues: SqlValue[],
    valueColumns: string[],
    order: WriteOrder,
  ): boolean {
    const expect = op.expect!;
    const update = this.statement('update-expected', op.table, [[expect.column], keyColumns, valueColumns], () => {
      const updates = [...valueColumns, 'event_time', 'event_seq'].map((c) => `${checkIdentifier(c)} = ?`);
      return `UPDATE ${checkIdentifier(op.table)} SET ${updates.join(', ')}
        WHERE ${whereKey(keyColumns)} AND (event_time, event_seq) < (?, ?) AND ${checkIdentifier(expect.column)} = ?`;
    });
    return update.run(sqlValues(op.values), order.eventTime, order.eventSeq, keyValues, order.eventTime, order.eventSeq, expect.value).changes === 1;
  }

  private checkExpected(
    op: Extract<StoredOp, { op: 'put' }>,
    keyColumns: string[],
    keyValues: SqlValue[],
    order: WriteOrder,
  ): RevisionMismatch | undefined {
    const expect = op.expect!;
    const row = this.statement('select-expected', op.table, [[expect.column], keyColumns], () => {
      return `SELECT ${checkIdentifier(expect.column)} AS found, (event_time, event_seq) < (?, ?) AS older
        FROM ${checkIdentifier(op.table)} WHERE ${whereKey(keyColumns)}`;
    }).get(order.eventTime, order.eventSeq, keyValues) as { found: string | null; older: number } | undefined;
    // A newer row: this event is late, not a gap. No row at all: what came before it (its creation) was never stored.
    if (row ? !row.older || row.found === expect.value : expect.value === null) return undefined;
    return { table: op.table, key: op.key, column: expect.column, expected: expect.value, found: row?.found ?? null };
  }

  /** The primary key as columns and values, `stream` first and the rest sorted, so equal keys compare equal. */
  private rowKey(key: ColumnValues): { keyColumns: string[]; keyValues: SqlValue[] } {
    const columns = Object.keys(key);
    // Most keys have one column: nothing to sort. Column names are distinct, so the order is total.
    if (columns.length > 1) columns.sort();
    const keyColumns = ['stream'];
    const keyValues: SqlValue[] = [this.stream];
    for (const column of columns) {
      keyColumns.push(column);
      keyValues.push(toSql(key[column]));
    }
    return { keyColumns, keyValues };
  }

  /**
   * The statement of this kind for this table and these columns, prepared on first use. Found by
   * comparing column names, not through a key string built per row: those strings were a quarter
   * of what a Sanity ingest allocated.
   */
  private statement(kind: StatementKind, table: string, columns: readonly (readonly string[])[], build: () => string): Database.Statement {
    let prepared = this.statements.get(kind);
    if (!prepared) this.statements.set(kind, (prepared = []));
    for (const entry of prepared) {
      if (entry.table === table && sameColumns(entry.columns, columns)) return entry.statement;
    }
    const statement = this.sqlite.prepare(build());
    prepared.push({ table, columns, statement });
    return statement;
  }
}

function sameColumns(a: readonly (readonly string[])[], b: readonly (readonly string[])[]): boolean {
  return a.length === b.length && a.every((list, i) => list.length === b[i].length && list.every((column, j) => column === b[i][j]));
}

/** A row's values in column order, as SQLite binds them; better-sqlite3 binds an array as its items. */
function sqlValues(values: ColumnValues): SqlValue[] {
  return Object.values(values).map(toSql);
}

function whereKey(keyColumns: string[]): string {
  return keyColumns.map((c) => `${checkIdentifier(c)} = ?`).join(' AND ');
}

function toSql(value: string | number | boolean | null): SqlValue {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}
