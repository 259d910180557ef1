// Expected Sanity tables computed from the simulator's own record of what happened (it imports no
// code under test), and readers that put the real tables in the same shape. Used by the tests and
// the fault harness.
import Database from 'better-sqlite3';
import type { SimulatedChange, SimulatedDocument, SimulatedMutation } from '../src/simulators/sanity-simulator.js';

export interface ExpectOptions {
  includeResult: boolean;
  includePreviousRevision: boolean;
  includeAllVersions?: boolean;
}

export type Row = Record<string, unknown>;

/**
 * One `document_mutations` row per change, without `stream`, `seq` and `origin` (arrival facts),
 * and without `mutations`: a row rebuilt from the History API has them only where Sanity sends
 * content, which `excludeContent=true` turns off (see `expectedMutationTexts`).
 */
export function expectedMutations(changes: SimulatedChange[], options: ExpectOptions): Row[] {
  return followed(changes, options).map((change) => {
    const result = options.includeResult ? change.after : null;
    const previous = options.includePreviousRevision ? change.before : null;
    return {
      event_id: `${change.transactionId}#${change.documentId}`,
      transaction_id: change.transactionId,
      document_id: change.documentId,
      doc_type: result?._type ?? previous?._type ?? createdType(change.mutations),
      transition: change.transition,
      previous_rev: change.before?._rev ?? null,
      result_rev: change.transactionId,
      identity: change.author,
      visibility: 'transaction',
      timestamp: micros(change.timestamp),
      result: result ? JSON.stringify(result) : null,
      previous: previous ? JSON.stringify(previous) : null,
    };
  }).sort(byEventId);
}

/** The `documents` rows the changes leave: the latest state of each document, deleted ones marked. */
export function expectedDocuments(changes: SimulatedChange[], options: ExpectOptions): Row[] {
  const rows = new Map<string, Row>();
  for (const change of followed(changes, options)) {
    const row = rows.get(change.documentId);
    const previous = options.includePreviousRevision ? change.before : null;
    const type = (options.includeResult ? change.after?._type : undefined) ?? previous?._type ?? createdType(change.mutations);
    const time = micros(change.timestamp);
    const [idKind, publishedId, releaseId] = idParts(change.documentId);
    rows.set(change.documentId, {
      document_id: change.documentId,
      id_kind: idKind,
      published_id: publishedId,
      release_id: releaseId,
      doc_type: type ?? row?.doc_type ?? null,
      rev: change.transactionId,
      result: options.includeResult && change.after ? JSON.stringify(change.after) : (row?.result ?? null),
      updated_at: time,
      deleted_at: change.transition === 'disappear' ? time : null,
      event_time: time,
    });
  }
  return [...rows.values()].sort((a, b) => String(a.document_id).localeCompare(String(b.document_id)));
}

/**
 * The `documents` rows of the dataset as it is now, the columns a snapshot and the events after it
 * decide: every document the stream follows (not `_.` system documents; release versions only
 * with all versions), without those deleted.
 */
export function expectedCurrentDocuments(documents: SimulatedDocument[], options: ExpectOptions): Row[] {
  return documents
    .filter((doc) => !doc._id.startsWith('_.') && (options.includeAllVersions !== false || !doc._id.startsWith('versions.')))
    .map((doc) => {
      const [idKind, publishedId, releaseId] = idParts(doc._id);
      return {
        document_id: doc._id,
        id_kind: idKind,
        published_id: publishedId,
        release_id: releaseId,
        doc_type: doc._type ?? null,
        rev: doc._rev ?? null,
        result: options.includeResult ? doc : null,
        updated_at: micros(String(doc._updatedAt)),
      };
    })
    .sort((a, b) => String(a.document_id).localeCompare(String(b.document_id)));
}

/** The same columns of the stream's `documents` rows that are not deleted. */
export const CURRENT_DOCUMENTS_SQL = (stream: string) =>
  `SELECT document_id, id_kind, published_id, release_id, doc_type, rev, result, updated_at FROM documents
     WHERE stream = '${stream}' AND deleted_at IS NULL ORDER BY document_id`;

export interface SanityTables {
  mutations: Row[];
  documents: Row[];
  /** Event ids stored more than once (in `events` or `document_mutations`): must stay empty. */
  doubled: string[];
}

/** Reads a stream's Sanity tables in the shape of `expectedMutations` / `expectedDocuments`. */
/** What readSanityTables reads, for a stream name sse-sink accepts (letters, digits, ".", "_", "-"). */
function sanityTableSql(stream: string): { mutations: string; documents: string; doubled: string } {
  const where = `stream = '${stream}'`;
  return {
    mutations: `SELECT event_id, transaction_id, document_id, doc_type, transition, previous_rev, result_rev, identity, visibility,
        timestamp, result, previous FROM document_mutations WHERE ${where} ORDER BY event_id`,
    documents: `SELECT document_id, id_kind, published_id, release_id, doc_type, rev, result, updated_at, deleted_at, event_time
        FROM documents WHERE ${where} ORDER BY document_id`,
    doubled: `SELECT event_id FROM events WHERE ${where} GROUP BY event_id HAVING count(*) > 1
        UNION SELECT event_id FROM document_mutations WHERE ${where} GROUP BY event_id HAVING count(*) > 1`,
  };
}

function sanityTables(mutations: Row[], documents: Row[], doubled: Row[]): SanityTables {
  return {
    mutations: mutations.sort(byEventId),
    documents: documents.sort((a, b) => String(a.document_id).localeCompare(String(b.document_id))),
    doubled: doubled.map((r) => (r as { event_id: string }).event_id),
  };
}

export function readSanityTables(dbPath: string, stream: string): SanityTables {
  const sql = sanityTableSql(stream);
  const sqlite = new Database(dbPath, { readonly: true });
  try {
    const all = (query: string) => sqlite.prepare(query).all() as Row[];
    return sanityTables(all(sql.mutations), all(sql.documents), all(sql.doubled));
  } finally {
    sqlite.close();
  }
}

/**
 * The same tables from any database, with their JSON columns parsed: PostgreSQL's jsonb prints
 * a document with its keys in its own order. Compare with `withParsedJson` of the expected rows.
 */
export async function readSanityTablesFrom(rows: (sql: string) => Promise<Row[]>, stream: string): Promise<SanityTables> {
  const sql = sanityTableSql(stream);
  const tables = sanityTables(await rows(sql.mutations), await rows(sql.documents), await rows(sql.doubled));
  return { ...tables, mutations: withParsedJson(tables.mutations), documents: withParsedJson(tables.documents) };
}

/** Rows with their `result` and `previous` JSON text parsed. */
export function withParsedJson(rows: Row[]): Row[] {
  const parsed = (value: unknown) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value);
  return rows.map((row) => ({
    ...row,
    ...('result' in row ? { result: parsed(row.result) } : {}),
    ...('previous' in row ? { previous: parsed(row.previous) } : {}),
  }));
}

export function readRows(dbPath: string, sql: string, ...params: unknown[]): Row[] {
  const sqlite = new Database(dbPath, { readonly: true });
  try {
    return sqlite.prepare(sql).all(...params) as Row[];
  } finally {
    sqlite.close();
  }
}

/** Each change's own mutations as JSON text, by event id: what a row that has them holds. */
export function expectedMutationTexts(changes: SimulatedChange[]): Map<string, string> {
  return new Map(changes.map((change) => [change.eventId, JSON.stringify(change.mutations)]));
}

/** The canonical form of a simulator timestamp: UTC with microseconds. */
function micros(timestamp: string): string {
  if (/\.\d{6}Z$/.test(timestamp)) return timestamp;
  return `${new Date(timestamp).toISOString().slice(0, 23)}000Z`;
}

function followed(changes: SimulatedChange[], options: ExpectOptions): SimulatedChange[] {
  return options.includeAllVersions === false ? changes.filter((c) => !c.documentId.startsWith('versions.')) : changes;
}

function createdType(mutations: SimulatedMutation[]): string | null {
  for (const mutation of mutations) {
    for (const kind of ['create', 'createOrReplace', 'createIfNotExists']) {
      const body = mutation[kind] as SimulatedDocument | undefined;
      if (body && typeof body._type === 'string') return body._type;
    }
  }
  return null;
}

function idParts(id: string): [string, string, string | null] {
  if (id.startsWith('drafts.')) return ['draft', id.slice(7), null];
  const version = /^versions\.([^.]+)\.(.+)$/.exec(id);
  if (version) return ['version', version[2], version[1]];
  return ['published', id, null];
}

function byEventId(a: Row, b: Row): number {
  return String(a.event_id).localeCompare(String(b.event_id));
}
