// A compile-time check shared by both schemas: each table takes the rows normalizers write
// (src/core/rows.ts) and has every column they name, so a schema and the normalizers that
// disagree fail `tsc`, not a commit.
import type { ProjectionRows } from '../core/rows.js';

/** What both drizzle dialects' tables have: an insert row, and each column's SQL name. */
interface DrizzleTable {
  $inferInsert: object;
  _: { columns: Record<string, { _: { name: string } }> };
}

/** A table's insert row by SQL column name, as drizzle types it. */
export type SqlRow<Table extends DrizzleTable> = {
  [K in keyof Table['$inferInsert'] as K extends keyof Table['_']['columns'] ? Table['_']['columns'][K]['_']['name'] : never]: Table['$inferInsert'][K];
};

/** The same row with every column required: a row that names a column not in it does not fit. */
export type Columns<Table extends DrizzleTable> = Required<SqlRow<Table>>;

/** `Row` (every column a normalizer may write, with its type) is an insert row of the table, naming no column it lacks. */
export type Fits<Row extends Insert, Insert, TableColumns extends Record<keyof Row, unknown>> = [Row, Insert, TableColumns];

/** A projection row as the store writes it: the normalizer's columns, the stream and the write order. */
export type WrittenRow<T extends keyof ProjectionRows> = ProjectionRows[T] & { stream: string; event_time: string; event_seq: number };
