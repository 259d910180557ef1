import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNormalizeFailure, type NormalizedChange, type NormalizeResult } from '../src/core/change.js';
import { normalizeSanityMutation, parseDocumentId } from '../src/sources/sanity/normalize.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/sanity/${name}`, import.meta.url), 'utf8').trim();

function normalized(result: NormalizeResult): NormalizedChange {
  if (isNormalizeFailure(result)) throw new Error(result.error);
  return result;
}

describe('Sanity document ids', () => {
  it('tells published, draft and release version ids apart and finds the published id', () => {
    expect(parseDocumentId('post-1')).toEqual({ idKind: 'published', publishedId: 'post-1', releaseId: null });
    expect(parseDocumentId('drafts.post-1')).toEqual({ idKind: 'draft', publishedId: 'post-1', releaseId: null });
    expect(parseDocumentId('versions.rSpring.post-1')).toEqual({ idKind: 'version', publishedId: 'post-1', releaseId: 'rSpring' });
    expect(parseDocumentId('versions.r1.image.with.dots')).toEqual({ idKind: 'version', publishedId: 'image.with.dots', releaseId: 'r1' });
  });
});

describe('normalizing a listen mutation event', () => {
  it('turns an update of a draft into an events row, a document_mutations row and a documents put that expects the previous revision', () => {
    const data = fixture('mutation-update-draft.json');
    const change = normalized(normalizeSanityMutation(data));
    expect(change.history).toEqual({
      eventId: 'lqgiok-skp-eja-k6z-9wrng7k5e#drafts.post-1',
      type: 'mutation.update',
      subjectKind: 'document',
      subjectId: 'drafts.post-1',
      occurredAt: '2017-11-22T10:24:01.801339Z',
      payload: data,
      projected: true,
    });
    const event = JSON.parse(data);
    expect(change.details).toEqual([
      {
        table: 'document_mutations',
        values: {
          event_id: 'lqgiok-skp-eja-k6z-9wrng7k5e#drafts.post-1',
          transaction_id: 'lqgiok-skp-eja-k6z-9wrng7k5e',
          document_id: 'drafts.post-1',
          doc_type: 'post',
          transition: 'update',
          previous_rev: 'r1-previous',
          result_rev: 'lqgiok-skp-eja-k6z-9wrng7k5e',
          identity: 'pJNdYiKyA',
          visibility: 'transaction',
          timestamp: '2017-11-22T10:24:01.801339Z',
          mutations: JSON.stringify(event.mutations),
          result: JSON.stringify(event.result),
          previous: JSON.stringify(event.previous),
          origin: 'listen',
        },
      },
    ]);
    expect(change.projections).toEqual([
      {
        op: 'put',
        table: 'documents',
        key: { document_id: 'drafts.post-1' },
        values: {
          rev: 'lqgiok-skp-eja-k6z-9wrng7k5e',
          updated_at: '2017-11-22T10:24:01.801339Z',
          deleted_at: null,
          doc_type: 'post',
          result: JSON.stringify(event.result),
        },
        derived: { id_kind: 'draft', published_id: 'post-1', release_id: null },
        expect: { column: 'rev', value: 'r1-previous' },
      },
    ]);
  });

  it('stores the result, the mutations and the previous version as the upstream sent them, not serialized again', () => {
    const result = '{ "_id": "post-1", "_type": "post", "price": 1.50, "title": "caf\\u00e9" }';
    const mutations = '[ {"patch": {"id": "post-1", "set": {"price": 1.50}}} ]';
    const previous = '{"_id":"post-1","_type":"post","price":1.0}';
    const data = `{"documentId":"post-1","transactionId":"tx2","transition":"update","timestamp":"2026-01-01T00:00:00Z",
      "mutations": ${mutations}, "result": ${result}, "previous": ${previous}, "previousRev": "tx1", "resultRev": "tx2"}`;
    const change = normalized(normalizeSanityMutation(data));
    expect(change.details?.[0].values).toMatchObject({ result, mutations, previous });
    expect(change.projections[0]).toMatchObject({ values: { result } });
  });

  it('marks a disappeared release version deleted and keeps the result and type it had', () => {
    const change = normalized(normalizeSanityMutation(fixture('mutation-disappear-version.json')));
    expect(change.history.type).toBe('mutation.disappear');
    expect(change.projections[0]).toEqual({
      op: 'put',
      table: 'documents',
      key: { document_id: 'versions.rSpring.post-1' },
      values: {
        rev: 'tx-del-9',
        updated_at: '2017-11-22T11:00:00.500000Z',
        deleted_at: '2017-11-22T11:00:00.500000Z',
      },
      derived: { id_kind: 'version', published_id: 'post-1', release_id: 'rSpring' },
      expect: { column: 'rev', value: 'tx-ver-3' },
    });
    expect(change.details?.[0].values).toMatchObject({ doc_type: null, result: null, previous: null, visibility: 'query' });
  });

  it('takes the type of a new document from its create mutation and does not expect a revision on appear', () => {
    const change = normalized(normalizeSanityMutation(fixture('mutation-appear-published.json')));
    expect(change.history.occurredAt).toBe('2017-11-22T11:00:00.000000Z');
    expect(change.projections[0]).toEqual({
      op: 'put',
      table: 'documents',
      key: { document_id: 'author-7' },
      values: {
        rev: 'tx-new-1',
        updated_at: '2017-11-22T11:00:00.000000Z',
        deleted_at: null,
        doc_type: 'author',
      },
      derived: { id_kind: 'published', published_id: 'author-7', release_id: null },
    });
  });

  it.each([
    ['not JSON', '{"documentId":', /not JSON/],
    ['no document id', JSON.stringify({ transactionId: 't', transition: 'update', timestamp: '2026-01-01T00:00:00Z' }), /documentId/],
    ['an unknown transition', JSON.stringify({ documentId: 'd', transactionId: 't', transition: 'moved', timestamp: '2026-01-01T00:00:00Z' }), /transition/],
    ['no timestamp', JSON.stringify({ documentId: 'd', transactionId: 't', transition: 'update' }), /timestamp/],
  ])('refuses an event with %s, saying why', (_what, data, reason) => {
    const result = normalizeSanityMutation(data);
    expect(isNormalizeFailure(result) && result.error).toMatch(reason);
  });
});
