import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '../src/common/errors.js';
import type { NormalizedChange, RowValues } from '../src/core/change.js';
import { emptyBatch } from '../src/core/batch.js';
import { batchOf, openTestStream, userChange } from './helpers/store.js';

const T1 = '2026-01-01T00:00:01.000000Z';
const T2 = '2026-01-01T00:00:02.000000Z';
const T3 = '2026-01-01T00:00:03.000000Z';

function membership(eventId: string, op: 'put' | 'remove', time: string): NormalizedChange {
  const key = { org_id: 'org_1', user_id: 'u1' };
  return {
    history: { eventId, type: `organization.member.${op === 'put' ? 'added' : 'deleted'}`, subjectKind: 'organization', subjectId: 'org_1', occurredAt: time, payload: '{}', projected: true },
    projections: [op === 'put' ? { op, table: 'organization_members', key, values: { added_at: time } } : { op, table: 'organization_members', key }],
  };
}

describe('batch writer', () => {
  it('commits events, projections and the cursor together', () => {
    const { sink, writer } = openTestStream();
    const result = writer.commit(batchOf([userChange('evt_1', 'u1', T1), userChange('evt_2', 'u2', T2)], 'c2'));
    expect(result).toMatchObject({ inserted: 2, duplicates: 0 });
    expect(sink.sqlite.prepare('SELECT event_id, cursor FROM events ORDER BY seq').all()).toEqual([
      { event_id: 'evt_1', cursor: 'c2' },
      { event_id: 'evt_2', cursor: 'c2' },
    ]);
    expect(sink.sqlite.prepare('SELECT user_id, email FROM users ORDER BY user_id').all()).toEqual([
      { user_id: 'u1', email: 'u1@example.com' },
      { user_id: 'u2', email: 'u2@example.com' },
    ]);
    expect(sink.sqlite.prepare("SELECT cursor, events_total, last_event_at FROM streams WHERE name = 'test'").get()).toEqual({
      cursor: 'c2',
      events_total: 2,
      last_event_at: T2,
    });
  });

  it('inserts nothing when a committed batch is replayed, and counts the duplicates', () => {
    const { sink, writer } = openTestStream();
    const batch = batchOf([userChange('evt_1', 'u1', T1), userChange('evt_2', 'u1', T2, 'new@example.com')], 'c2');
    writer.commit(batch);
    const replay = writer.commit(batchOf([userChange('evt_1', 'u1', T1, 'replayed@example.com')], 'c1'));
    expect(replay).toMatchObject({ inserted: 0, duplicates: 1 });
    expect(sink.sqlite.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 2 });
    expect(sink.sqlite.prepare('SELECT email FROM users').get()).toEqual({ email: 'new@example.com' });
    expect(sink.sqlite.prepare('SELECT duplicates_total FROM streams').get()).toEqual({ duplicates_total: 1 });
  });

  it('never lets an older event overwrite newer state, and breaks time ties by arrival', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([userChange('evt_new', 'u1', T2, 'newer@example.com')], 'c1'));
    writer.commit(batchOf([userChange('evt_old', 'u1', T1, 'older@example.com')], 'c2'));
    expect(sink.sqlite.prepare('SELECT email FROM users').get()).toEqual({ email: 'newer@example.com' });
    writer.commit(batchOf([userChange('evt_tie', 'u1', T2, 'tie-arrived-later@example.com')], 'c3'));
    expect(sink.sqlite.prepare('SELECT email FROM users').get()).toEqual({ email: 'tie-arrived-later@example.com' });
  });

  it('removes a membership and keeps a late, older "added" from bringing it back', () => {
    const { sink, writer } = openTestStream();
    const members = () => sink.sqlite.prepare('SELECT org_id, user_id FROM organization_members').all();
    writer.commit(batchOf([membership('evt_add', 'put', T1), membership('evt_del', 'remove', T3)], 'c2'));
    expect(members()).toEqual([]);
    writer.commit(batchOf([membership('evt_late_add', 'put', T2)], 'c3'));
    expect(members()).toEqual([]);
    writer.commit(batchOf([membership('evt_readd', 'put', '2026-01-01T00:00:04.000000Z')], 'c4'));
    expect(members()).toEqual([{ org_id: 'org_1', user_id: 'u1' }]);
  });

  it('stores dead letters with their reason and still moves the cursor past them', () => {
    const { sink, writer } = openTestStream();
    writer.commit({
      ...emptyBatch(),
      deadLetters: [{ eventType: 'user.created', reason: 'data is not JSON', raw: '{nope', cursor: 'c9', receivedAt: T1 }],
      cursor: 'c9',
    });
    expect(sink.sqlite.prepare('SELECT event_type, reason, raw, cursor FROM dead_letters').all()).toEqual([
      { event_type: 'user.created', reason: 'data is not JSON', raw: '{nope', cursor: 'c9' },
    ]);
    expect(sink.sqlite.prepare('SELECT cursor, dead_letters_total FROM streams').get()).toEqual({ cursor: 'c9', dead_letters_total: 1 });
  });

  it('writes nothing at all when any part of the batch fails', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([userChange('evt_1', 'u1', T1)], 'c1'));
    const broken: NormalizedChange = {
      ...userChange('evt_2', 'u2', T2),
      // A column the compiler refuses (src/core/rows.ts), forced through to make the commit fail half-way.
      projections: [{ op: 'put', table: 'users', key: { user_id: 'u2' }, values: { no_such_column: 1 } as RowValues<'users'> }],
    };
    expect(() => writer.commit(batchOf([userChange('evt_3', 'u3', T2), broken], 'c2'))).toThrow(/no_such_column/);
    expect(sink.sqlite.prepare('SELECT event_id FROM events').all()).toEqual([{ event_id: 'evt_1' }]);
    expect(sink.sqlite.prepare('SELECT cursor FROM streams').get()).toEqual({ cursor: 'c1' });
  });

  it('refuses to commit once another ingester has taken the stream over', () => {
    const { sink, writer } = openTestStream();
    sink.sqlite.prepare("UPDATE streams SET lease_owner = 'elsewhere:1:x'").run();
    expect(() => writer.commit(batchOf([userChange('evt_1', 'u1', T1)], 'c1'))).toThrow(LeaseLostError);
    expect(sink.sqlite.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 0 });
  });

  const doc = (eventId: string, rev: string, previous: string | null, time: string, publishedId = 'd1'): NormalizedChange => ({
    history: { eventId, type: 'mutation', subjectKind: 'document', subjectId: 'd1', occurredAt: time, payload: '{}', projected: true },
    projections: [{
      op: 'put', table: 'documents', key: { document_id: 'd1' },
      values: { rev }, derived: { id_kind: 'published', published_id: publishedId }, expect: { column: 'rev', value: previous },
    }],
  });

  it('writes derived columns when it creates a row and never changes them after', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([doc('tx1#d1', 'r1', null, T1)], 'c1'));
    const update = writer.commit(batchOf([doc('tx2#d1', 'r2', 'r1', T2, 'not-d1')], 'c2'));
    expect(update.revisionMismatches).toEqual([]);
    expect(sink.sqlite.prepare('SELECT rev, id_kind, published_id FROM documents').all()).toEqual([
      { rev: 'r2', id_kind: 'published', published_id: 'd1' },
    ]);
  });

  it('lets no older event overwrite a document, even one that continues the stored revision', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([doc('tx2#d1', 'r2', null, T2)], 'c1'));
    const late = writer.commit(batchOf([doc('tx0#d1', 'r-late', 'r2', T1)], 'c2'));
    expect(late.revisionMismatches).toEqual([]);
    expect(sink.sqlite.prepare('SELECT rev, event_time FROM documents').all()).toEqual([{ rev: 'r2', event_time: T2 }]);
  });

  it('an update of a document it never stored is a gap too: what came before it (its creation) is missing', () => {
    const { sink, writer } = openTestStream();
    const result = writer.commit(batchOf([doc('tx5#d1', 'r5', 'r4', T2)], 'c1'));
    expect(result.revisionMismatches).toEqual([{ table: 'documents', key: { document_id: 'd1' }, column: 'rev', expected: 'r4', found: null }]);
    expect(sink.sqlite.prepare('SELECT rev FROM documents').all()).toEqual([{ rev: 'r5' }]);
  });

  it('records a revision mismatch as an open gap', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([doc('tx1#d1', 'r1', null, T1)], 'c1'));
    const result = writer.commit(batchOf([doc('tx3#d1', 'r3', 'r2', T2)], 'c2'));
    expect(result.revisionMismatches).toEqual([
      { table: 'documents', key: { document_id: 'd1' }, column: 'rev', expected: 'r2', found: 'r1' },
    ]);
    expect(sink.sqlite.prepare('SELECT reason, document_id, status FROM gaps').all()).toEqual([
      { reason: 'revision-mismatch', document_id: 'd1', status: 'open' },
    ]);
  });
});
