// Pure normalization of a Sanity snapshot's rows: a document as the query API returned it
// (`snapshot.document`), or a stored document the upstream no longer has (`snapshot.delete`).
// Their payloads carry everything the row needs, so `rebuild` gets the same rows from `events` alone.
import type { NormalizeResult, PutOp, RowValues } from '../../core/change.js';
import { isRecord } from '../../common/text.js';
import { readSnapshotPayload } from '../../common/snapshot-payload.js';
import { canonicalTime } from '../../common/time.js';
import { memberTexts } from './json-members.js';
import { parseDocumentId, type SanityDocument } from './normalize.js';

export const SNAPSHOT_DOCUMENT = 'snapshot.document';
export const SNAPSHOT_DELETE = 'snapshot.delete';

/** What a snapshot row's payload says besides the document: which snapshot, and its start. */
export interface SnapshotRowContext {
  snapshotId: number;
  startedAt: string;
  /** The stream stores documents' bodies (--include-result): the snapshot's body is kept too. */
  storeResult: boolean;
}

/** The payload of a `snapshot.document` event; `documentJson` is the document as the API sent it. */
export function snapshotDocumentPayload(context: SnapshotRowContext, documentJson: string): string {
  return `{"snapshot":${context.snapshotId},"startedAt":${JSON.stringify(context.startedAt)},"storeResult":${context.storeResult},"document":${documentJson}}`;
}

export function snapshotDeletePayload(context: SnapshotRowContext, documentId: string): string {
  return JSON.stringify({
    snapshot: context.snapshotId,
    startedAt: context.startedAt,
    documentId,
    reason: `not in the upstream at snapshot ${context.snapshotId}`,
  });
}

/** `snapshot:<n>:<id>`: a resumed snapshot that reads a page again stores nothing twice. */
export function snapshotEventId(type: string, snapshotId: number, documentId: string): string {
  return `${type === SNAPSHOT_DELETE ? 'snapshot-delete' : 'snapshot'}:${snapshotId}:${documentId}`;
}

/** A snapshot row's event (by its type) to its history row and `documents` put. */
export function normalizeSnapshotRow(type: string, data: string): NormalizeResult {
  const payload = readSnapshotPayload(data);
  if ('error' in payload) return payload;
  const { value, startedAt } = payload;
  if (type === SNAPSHOT_DELETE) {
    if (typeof value.documentId !== 'string' || value.documentId === '') return { error: 'snapshot.delete has no documentId' };
    return documentChange(type, payload.snapshot, value.documentId, startedAt, data, { updated_at: startedAt, deleted_at: startedAt });
  }
  const doc = value.document;
  if (!isRecord(doc) || typeof doc._id !== 'string' || doc._id === '') return { error: 'snapshot.document has no document with an _id' };
  const document = doc as SanityDocument;
  // The document's own time orders it against the stream's events: an older event never overwrites it.
  const occurredAt = canonicalTime(document._updatedAt) ?? startedAt;
  const values: RowValues<'documents'> = {
    rev: typeof document._rev === 'string' ? document._rev : null,
    doc_type: typeof document._type === 'string' ? document._type : null,
    updated_at: occurredAt,
    deleted_at: null,
  };
  if (value.storeResult === true) values.result = memberTexts(data, ['document']).document!;
  return documentChange(type, payload.snapshot, document._id, occurredAt, data, values);
}

function documentChange(
  type: string,
  snapshotId: number,
  documentId: string,
  occurredAt: string,
  payload: string,
  values: RowValues<'documents'>,
): NormalizeResult {
  const { idKind, publishedId, releaseId } = parseDocumentId(documentId);
  const put: PutOp<'documents'> = {
    op: 'put',
    table: 'documents',
    key: { document_id: documentId },
    values,
    derived: { id_kind: idKind, published_id: publishedId, release_id: releaseId },
  };
  return {
    history: {
      eventId: snapshotEventId(type, snapshotId, documentId),
      type,
      subjectKind: 'document',
      subjectId: documentId,
      occurredAt,
      payload,
      projected: true,
    },
    projections: [put],
  };
}
