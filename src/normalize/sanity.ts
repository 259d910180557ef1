// Pure Sanity normalization: one listen `mutation` event (or one document's part of a History API
// transaction, rebuilt into the same shape) to its `events` row, `document_mutations` row and `documents` put.
import type { ColumnValues, NormalizeFailure, NormalizeResult, ProjectionOp } from './change.js';
import { memberTexts } from './json-members.js';
import { canonicalTime } from './time.js';

export type Transition = 'appear' | 'update' | 'disappear';
const TRANSITIONS: readonly string[] = ['appear', 'update', 'disappear'];

/** A document as Sanity returns it: `_id`, `_type`, `_rev`, and its fields. */
export type SanityDocument = { _id: string; _type?: string; _rev?: string } & Record<string, unknown>;

/** One raw mutation of a transaction: an object with a single key (`create`, `patch`, `delete`, ...). */
export type SanityMutation = Record<string, unknown>;

/** The `data:` of a listen `mutation` event, as documented; catch-up events use the same shape. */
export interface SanityMutationEvent {
  eventId?: string;
  documentId: string;
  transactionId: string;
  transition: Transition;
  identity?: string;
  mutations?: SanityMutation[];
  result?: SanityDocument | null;
  previous?: SanityDocument | null;
  previousRev?: string | null;
  resultRev?: string | null;
  timestamp: string;
  visibility?: string;
  transactionTotalEvents?: number;
  transactionCurrentEvent?: number;
  /** Set by sse-sink on events rebuilt from the History API during a catch-up or a repair. */
  origin?: 'history';
}

/** A transaction as the History API's transactions endpoint returns it (one NDJSON line). */
export interface HistoryTransaction {
  id: string;
  timestamp: string;
  author?: string;
  documentIDs: string[];
  mutations: SanityMutation[];
}

export type IdKind = 'published' | 'draft' | 'version';

export interface DocumentIdParts {
  idKind: IdKind;
  /** The published document a draft or release version belongs to. */
  publishedId: string;
  releaseId: string | null;
}

/** `drafts.<id>` is a draft, `versions.<release>.<id>` a release version, anything else published. */
export function parseDocumentId(documentId: string): DocumentIdParts {
  if (documentId.startsWith('drafts.') && documentId.length > 'drafts.'.length) {
    return { idKind: 'draft', publishedId: documentId.slice('drafts.'.length), releaseId: null };
  }
  const version = /^versions\.([^.]+)\.(.+)$/.exec(documentId);
  if (version) return { idKind: 'version', publishedId: version[2], releaseId: version[1] };
  return { idKind: 'published', publishedId: documentId, releaseId: null };
}

/** The `<transactionId>#<documentId>` id that Sanity gives the event and sse-sink dedupes on. */
export function mutationEventId(transactionId: string, documentId: string): string {
  return `${transactionId}#${documentId}`;
}

const CREATE_KINDS = ['create', 'createOrReplace', 'createIfNotExists'] as const;

/** The document id a raw mutation targets, when it names one (a patch by query does not). */
export function mutationTarget(mutation: SanityMutation): string | undefined {
  for (const kind of CREATE_KINDS) {
    const body = mutation[kind];
    if (isRecord(body) && typeof body._id === 'string') return body._id;
  }
  for (const kind of ['patch', 'delete']) {
    const body = mutation[kind];
    if (isRecord(body) && typeof body.id === 'string') return body.id;
  }
  return undefined;
}

/** The mutations of a transaction that touch `documentId`, in their order. */
export function mutationsFor(mutations: SanityMutation[], documentId: string): SanityMutation[] {
  return mutations.filter((m) => mutationTarget(m) === documentId);
}

/** `_type` from the result, the previous version, or a create mutation, whichever is known. */
export function documentType(event: Pick<SanityMutationEvent, 'result' | 'previous' | 'mutations'>): string | null {
  for (const doc of [event.result, event.previous]) {
    if (isRecord(doc) && typeof doc._type === 'string') return doc._type;
  }
  for (const mutation of event.mutations ?? []) {
    for (const kind of CREATE_KINDS) {
      const body = mutation[kind];
      if (isRecord(body) && typeof body._type === 'string') return body._type;
    }
  }
  return null;
}

/** Normalizes the JSON text of a mutation event (live or rebuilt from history). */
export function normalizeSanityMutation(data: string): NormalizeResult {
  return normalizeSanityMutationEvent(parseMutationEvent(data), data);
}

/** A mutation event parsed and checked, with its canonical time. */
export interface ParsedMutationEvent {
  event: SanityMutationEvent;
  occurredAt: string;
}

/** Parses and checks the JSON text of a mutation event, or says why it is not one. */
export function parseMutationEvent(data: string): ParsedMutationEvent | NormalizeFailure {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    return { error: `mutation data is not JSON: ${(error as Error).message}` };
  }
  return checkMutationEvent(value);
}

// Stored as the upstream sent them (sliced from `data`, not serialized again): they are most of a frame.
const STORED_AS_SENT = ['mutations', 'result', 'previous'] as const;

/**
 * Normalizes a parsed mutation event (the reader parses every frame once, to follow revisions and
 * times, and hands the result on); `data`, the text it was parsed from, is the history payload.
 */
export function normalizeSanityMutationEvent(parsed: ParsedMutationEvent | NormalizeFailure, data: string): NormalizeResult {
  if ('error' in parsed) return parsed;
  const { event, occurredAt } = parsed;
  const eventId = mutationEventId(event.transactionId, event.documentId);
  const docType = documentType(event);
  const { idKind, publishedId, releaseId } = parseDocumentId(event.documentId);
  const disappeared = event.transition === 'disappear';
  const sent = memberTexts(data, STORED_AS_SENT);
  const result = isRecord(event.result) ? sent.result! : null;

  const detail: ColumnValues = {
    event_id: eventId,
    transaction_id: event.transactionId,
    document_id: event.documentId,
    doc_type: docType,
    transition: event.transition,
    previous_rev: event.previousRev ?? null,
    result_rev: event.resultRev ?? null,
    identity: event.identity ?? null,
    visibility: event.visibility ?? null,
    timestamp: occurredAt,
    mutations: event.mutations === undefined ? null : sent.mutations!,
    result,
    previous: isRecord(event.previous) ? sent.previous! : null,
    origin: event.origin ?? 'listen',
  };

  const values: ColumnValues = {
    // A document's _rev is the id of the transaction that last changed it.
    rev: event.resultRev ?? event.transactionId,
    updated_at: occurredAt,
    deleted_at: disappeared ? occurredAt : null,
  };
  // Unknown values are left out, not nulled: an event without a result must not erase the one we hold.
  if (docType !== null) values.doc_type = docType;
  if (!disappeared && result !== null) values.result = result;

  const derived: ColumnValues = { id_kind: idKind, published_id: publishedId, release_id: releaseId };
  const put: ProjectionOp = { op: 'put', table: 'documents', key: { document_id: event.documentId }, values, derived };
  // An `appear` may follow changes we were never shown (the document did not match the filter):
  // only updates and disappearances are expected to continue the revision we hold.
  if (event.transition !== 'appear' && typeof event.previousRev === 'string') {
    put.expect = { column: 'rev', value: event.previousRev };
  }

  return {
    history: {
      eventId,
      type: `mutation.${event.transition}`,
      subjectKind: 'document',
      subjectId: event.documentId,
      occurredAt,
      payload: data,
      projected: true,
    },
    projections: [put],
    details: [{ table: 'document_mutations', values: detail }],
  };
}

function checkMutationEvent(value: unknown): ParsedMutationEvent | NormalizeFailure {
  if (!isRecord(value)) return { error: 'mutation data is not a JSON object' };
  if (typeof value.documentId !== 'string' || value.documentId === '') return { error: 'mutation has no documentId' };
  if (typeof value.transactionId !== 'string' || value.transactionId === '') return { error: 'mutation has no transactionId' };
  if (typeof value.transition !== 'string' || !TRANSITIONS.includes(value.transition)) {
    return { error: `mutation has an unknown transition ${JSON.stringify(value.transition)}` };
  }
  const occurredAt = canonicalTime(value.timestamp);
  if (occurredAt === null) return { error: `mutation has no RFC-3339 timestamp (${JSON.stringify(value.timestamp)})` };
  if (value.mutations !== undefined && !(Array.isArray(value.mutations) && value.mutations.every(isRecord))) {
    return { error: 'mutation "mutations" is not an array of objects' };
  }
  // These are stored as columns as they are: anything but text would fail the whole batch's commit.
  for (const field of ['previousRev', 'resultRev', 'identity', 'visibility', 'origin'] as const) {
    const text = value[field];
    if (text !== undefined && text !== null && typeof text !== 'string') return { error: `mutation "${field}" is not a string` };
  }
  return { event: value as unknown as SanityMutationEvent, occurredAt };
}

// ---- History API transactions, rebuilt as mutation events --------------------------------------

/** What sse-sink knows of a document before the transactions being rebuilt. */
export interface KnownRevision {
  rev: string | null;
  deleted: boolean;
}

export interface RebuildOptions {
  /** Only these documents get events (the transactions may touch others the stream does not follow). */
  documentIds: ReadonlySet<string>;
  /** The revision each document had before the first transaction; absent means not known to exist. */
  before: ReadonlyMap<string, KnownRevision>;
}

/**
 * History transactions (any order) to the mutation events the listener would have sent, oldest
 * first: one per (transaction, document), `previousRev` chained per document, the transition
 * from the mutations (delete => disappear, a document that did not exist => appear, else update).
 * Results are not in the History feed; the caller adds them when the stream includes them.
 */
export function rebuildMutationEvents(transactions: HistoryTransaction[], options: RebuildOptions): SanityMutationEvent[] {
  const ordered = uniqueTransactions(transactions).sort(byTimestamp);
  // Where the list holds a document's stored revision, that revision and everything before it
  // is history we already have.
  const heldAt = new Map<string, number>();
  ordered.forEach((tx, index) => {
    for (const id of tx.documentIDs) if (options.before.get(id)?.rev === tx.id) heldAt.set(id, index);
  });
  const state = new Map<string, KnownRevision>(options.before);
  const events: SanityMutationEvent[] = [];
  ordered.forEach((tx, txIndex) => {
    const touched = tx.documentIDs.filter((id) => options.documentIds.has(id) && txIndex > (heldAt.get(id) ?? -1));
    touched.forEach((documentId, index) => {
      const mutations = mutationsFor(tx.mutations, documentId);
      const prior = state.get(documentId);
      const deletes = mutations.some((m) => 'delete' in m);
      const existed = prior !== undefined && !prior.deleted && prior.rev !== null;
      const transition: Transition = deletes ? 'disappear' : existed ? 'update' : 'appear';
      events.push({
        eventId: mutationEventId(tx.id, documentId),
        documentId,
        transactionId: tx.id,
        transition,
        identity: tx.author,
        mutations,
        previousRev: existed ? prior.rev : null,
        resultRev: tx.id,
        timestamp: tx.timestamp,
        visibility: 'transaction',
        transactionTotalEvents: touched.length,
        transactionCurrentEvent: index + 1,
        origin: 'history',
      });
      state.set(documentId, { rev: tx.id, deleted: deletes });
    });
  });
  return events;
}

/** Parses one NDJSON line of the transactions endpoint, or says why it is not a transaction. */
export function parseHistoryTransaction(line: string): HistoryTransaction | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: `history line is not JSON: ${(error as Error).message}` };
  }
  if (!isRecord(value) || typeof value.id !== 'string') return { error: 'history line has no transaction id' };
  if (canonicalTime(value.timestamp) === null) return { error: `transaction ${value.id} has no RFC-3339 timestamp` };
  const mutations = Array.isArray(value.mutations) ? value.mutations.filter(isRecord) : [];
  const documentIDs = Array.isArray(value.documentIDs)
    ? value.documentIDs.filter((id): id is string => typeof id === 'string')
    : [...new Set(mutations.map(mutationTarget).filter((id): id is string => id !== undefined))];
  return {
    id: value.id,
    timestamp: value.timestamp as string,
    author: typeof value.author === 'string' ? value.author : undefined,
    documentIDs,
    mutations,
  };
}

function uniqueTransactions(transactions: HistoryTransaction[]): HistoryTransaction[] {
  const seen = new Map<string, HistoryTransaction>();
  for (const tx of transactions) if (!seen.has(tx.id)) seen.set(tx.id, tx);
  return [...seen.values()];
}

function byTimestamp(a: HistoryTransaction, b: HistoryTransaction): number {
  const ta = canonicalTime(a.timestamp) ?? '';
  const tb = canonicalTime(b.timestamp) ?? '';
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
