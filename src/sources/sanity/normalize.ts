// Pure Sanity normalization: one listen `mutation` event (or one rebuilt from the History API in
// the same shape) to its `events` row, `document_mutations` row and `documents` put.
import type { NormalizeFailure, NormalizeResult, PutOp, RowValues } from '../../core/change.js';
import type { DocumentMutationRow } from '../../core/rows.js';
import { memberTexts } from './json-members.js';
import { isRecord } from '../../common/text.js';
import { canonicalTime } from '../../common/time.js';

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
 * Without `checkRevision`, the put does not expect the revision the event continued from.
 */
export function normalizeSanityMutationEvent(parsed: ParsedMutationEvent | NormalizeFailure, data: string, checkRevision = true): NormalizeResult {
  if ('error' in parsed) return parsed;
  const { event, occurredAt } = parsed;
  const eventId = mutationEventId(event.transactionId, event.documentId);
  const docType = documentType(event);
  const { idKind, publishedId, releaseId } = parseDocumentId(event.documentId);
  const disappeared = event.transition === 'disappear';
  const sent = memberTexts(data, STORED_AS_SENT);
  const result = isRecord(event.result) ? sent.result! : null;

  const detail: DocumentMutationRow = {
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

  const values: RowValues<'documents'> = {
    // A document's _rev is the id of the transaction that last changed it.
    rev: event.resultRev ?? event.transactionId,
    updated_at: occurredAt,
    deleted_at: disappeared ? occurredAt : null,
  };
  // Unknown values are left out, not nulled: an event without a result must not erase the one we hold.
  if (docType !== null) values.doc_type = docType;
  if (!disappeared && result !== null) values.result = result;

  const derived: RowValues<'documents'> = { id_kind: idKind, published_id: publishedId, release_id: releaseId };
  const put: PutOp<'documents'> = { op: 'put', table: 'documents', key: { document_id: event.documentId }, values, derived };
  // An `appear` may follow changes we were never shown (the document did not match the filter):
  // only updates and disappearances are expected to continue the revision we hold.
  if (checkRevision && event.transition !== 'appear' && typeof event.previousRev === 'string') {
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
