// The seam between normalizers (pure) and the store: what one upstream event means for the
// history log and for the projection tables, as plain data.

import type { DocumentMutationRow, ProjectionKeys, ProjectionRows } from './rows.js';

export type ProjectionTable = keyof ProjectionRows;

/** Names of the projection tables (src/core/rows.ts), in the order `rebuild` reports them. */
export const PROJECTION_TABLES = [
  'users',
  'organizations',
  'groups',
  'organization_members',
  'organization_member_roles',
  'organization_connections',
  'organization_group_roles',
  'group_members',
  'group_roles',
  'documents',
] as const satisfies readonly ProjectionTable[];

/** A stored value: booleans are stored as 0/1, objects must already be JSON text. */
export type ColumnValue = string | number | boolean | null;
/** Column name -> value, for code that handles any table's row (the store). */
export type ColumnValues = Record<string, ColumnValue>;

type Row<T extends ProjectionTable> = ProjectionRows[T];
/** The primary-key columns of a row of `T`. */
export type RowKey<T extends ProjectionTable> = Pick<Row<T>, ProjectionKeys[T] & keyof Row<T>>;
/** Some of the other columns of a row of `T`: those an event knows. */
export type RowValues<T extends ProjectionTable> = Partial<Omit<Row<T>, ProjectionKeys[T]>>;

/**
 * One write to a projection. Every op is guarded by (event time, arrival seq): it applies only
 * if it is newer than what last wrote that row (or, for `put`, than a tombstone of that row).
 * `key` holds the primary-key columns except `stream`, which the store adds.
 */
export type ProjectionOp = { [T in ProjectionTable]: PutOp<T> | RemoveOp<T> | RemoveMatchingOp<T> }[ProjectionTable];

/**
 * Insert or replace the row's `values` (an entity, a membership). With `expect`, the stored row's
 * `column` should hold `value` (e.g. Sanity's previousRev): a mismatch is reported as a gap.
 */
export interface PutOp<T extends ProjectionTable> {
  op: 'put';
  table: T;
  key: RowKey<T>;
  values: RowValues<T>;
  /**
   * Columns that follow from the key (a draft's published id): written when the row is created
   * and never again, so an update leaves their indexes alone.
   */
  derived?: RowValues<T>;
  expect?: { column: keyof Row<T> & string; value: string | null };
}

/** Delete the row and leave a tombstone (a membership removed). */
export interface RemoveOp<T extends ProjectionTable> {
  op: 'remove';
  table: T;
  key: RowKey<T>;
}

/**
 * `remove` every row whose `match` columns hold these values (the memberships and roles of a
 * deleted user, organization or group).
 */
export interface RemoveMatchingOp<T extends ProjectionTable> {
  op: 'remove-matching';
  table: T;
  match: Partial<Row<T>>;
}

/** The history-log part of an event: one row of `events`. */
export interface HistoryEntry {
  eventId: string;
  type: string;
  subjectKind: string | null;
  subjectId: string | null;
  /** Upstream time, ISO-8601 UTC. Also the time that orders projection writes. */
  occurredAt: string;
  /** The event JSON as received (not re-serialized). */
  payload: string;
  /** False for a type sse-sink stores but does not project. */
  projected: boolean;
}

/** Rows a source keeps besides `events` and the projections, e.g. Sanity's `document_mutations`. */
export interface DetailRow {
  table: 'document_mutations';
  values: DocumentMutationRow;
}

export interface NormalizedChange {
  history: HistoryEntry;
  projections: ProjectionOp[];
  details?: DetailRow[];
}

/** Why an event could not be normalized: it goes to `dead_letters` with this reason. */
export interface NormalizeFailure {
  error: string;
}

export type NormalizeResult = NormalizedChange | NormalizeFailure;

export function isNormalizeFailure(result: NormalizeResult): result is NormalizeFailure {
  return 'error' in result;
}
