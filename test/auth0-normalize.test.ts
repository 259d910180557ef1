import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNormalizeFailure, type NormalizedChange, type NormalizeResult } from '../src/core/change.js';
import { AUTH0_EVENT_TYPES, normalizeAuth0Event } from '../src/sources/auth0/normalize.js';

type CloudEvent = { id: string; type: string; [key: string]: unknown };
const fixture = JSON.parse(readFileSync(new URL('./fixtures/auth0/events.json', import.meta.url), 'utf8')) as CloudEvent[];

function frameData(event: unknown, offset = 'b2Zmc2V0'): string {
  return JSON.stringify({ offset, event });
}

function normalize(event: CloudEvent): NormalizeResult {
  return normalizeAuth0Event({ frameEvent: event.type, data: frameData(event) });
}

function normalized(result: NormalizeResult): NormalizedChange {
  if (isNormalizeFailure(result)) throw new Error(`expected a change, got: ${result.error}`);
  return result;
}

function firstOfType(type: string): CloudEvent {
  const event = fixture.find((e) => e.type === type);
  if (!event) throw new Error(`fixture has no ${type}`);
  return event;
}

describe('Auth0 normalizer', () => {
  it('covers every one of the 22 documented event types with the fixture', () => {
    expect(new Set(fixture.map((e) => e.type))).toEqual(new Set([...AUTH0_EVENT_TYPES, 'connection.created']));
    expect(AUTH0_EVENT_TYPES).toHaveLength(22);
  });

  // One row per family: the subject, and the projection op it produces.
  it.each([
    ['user.created', 'user', 'auth0|alice', { op: 'put', table: 'users', key: { user_id: 'auth0|alice' } }],
    ['user.updated', 'user', 'auth0|alice', { op: 'put', table: 'users', key: { user_id: 'auth0|alice' } }],
    ['user.deleted', 'user', 'auth0|carol', { op: 'put', table: 'users', key: { user_id: 'auth0|carol' } }],
    ['organization.created', 'organization', 'org_acme', { op: 'put', table: 'organizations', key: { org_id: 'org_acme' } }],
    ['organization.updated', 'organization', 'org_acme', { op: 'put', table: 'organizations', key: { org_id: 'org_acme' } }],
    ['organization.deleted', 'organization', 'org_globex', { op: 'put', table: 'organizations', key: { org_id: 'org_globex' } }],
    ['organization.member.added', 'organization', 'org_acme',
      { op: 'put', table: 'organization_members', key: { org_id: 'org_acme', user_id: 'auth0|alice' } }],
    ['organization.member.deleted', 'organization', 'org_acme',
      { op: 'remove', table: 'organization_members', key: { org_id: 'org_acme', user_id: 'auth0|carol' } }],
    ['organization.member.role.assigned', 'organization', 'org_acme',
      { op: 'put', table: 'organization_member_roles', key: { org_id: 'org_acme', user_id: 'auth0|alice', role_id: 'rol_admin' } }],
    ['organization.member.role.deleted', 'organization', 'org_acme',
      { op: 'remove', table: 'organization_member_roles', key: { org_id: 'org_acme', user_id: 'auth0|bob', role_id: 'rol_admin' } }],
    ['organization.connection.added', 'organization', 'org_acme',
      { op: 'put', table: 'organization_connections', key: { org_id: 'org_acme', connection_id: 'con_db' } }],
    ['organization.connection.updated', 'organization', 'org_acme',
      { op: 'put', table: 'organization_connections', key: { org_id: 'org_acme', connection_id: 'con_db' } }],
    ['organization.connection.removed', 'organization', 'org_acme',
      { op: 'remove', table: 'organization_connections', key: { org_id: 'org_acme', connection_id: 'con_google' } }],
    ['group.created', 'group', 'grp_eng', { op: 'put', table: 'groups', key: { group_id: 'grp_eng' } }],
    ['group.updated', 'group', 'grp_eng', { op: 'put', table: 'groups', key: { group_id: 'grp_eng' } }],
    ['group.deleted', 'group', 'grp_old', { op: 'put', table: 'groups', key: { group_id: 'grp_old' } }],
    ['group.member.added', 'group', 'grp_eng',
      { op: 'put', table: 'group_members', key: { group_id: 'grp_eng', member_type: 'user', member_id: 'auth0|alice' } }],
    ['group.member.deleted', 'group', 'grp_eng',
      { op: 'remove', table: 'group_members', key: { group_id: 'grp_eng', member_type: 'user', member_id: 'auth0|bob' } }],
    ['group.role.assigned', 'group', 'grp_eng', { op: 'put', table: 'group_roles', key: { group_id: 'grp_eng', role_id: 'rol_viewer' } }],
    ['group.role.deleted', 'group', 'grp_eng', { op: 'remove', table: 'group_roles', key: { group_id: 'grp_eng', role_id: 'rol_admin' } }],
    ['organization.group.role.assigned', 'organization', 'org_acme',
      { op: 'put', table: 'organization_group_roles', key: { org_id: 'org_acme', group_id: 'grp_eng', role_id: 'rol_viewer' } }],
    ['organization.group.role.deleted', 'organization', 'org_acme',
      { op: 'remove', table: 'organization_group_roles', key: { org_id: 'org_acme', group_id: 'grp_sso', role_id: 'rol_admin' } }],
  ])('%s is about %s %s and projects %o', (type, subjectKind, subjectId, op) => {
    const event = firstOfType(type);
    const change = normalized(normalize(event));
    expect(change.history).toMatchObject({ eventId: event.id, type, subjectKind, subjectId, projected: true });
    expect(change.projections[0]).toEqual(expect.objectContaining(op));
    // Only an entity's deletion, or a member leaving (with the organization's roles), touches more than one row.
    const cascade = change.projections.slice(1);
    expect(cascade.every((extra) => extra.op === 'remove-matching')).toBe(true);
    expect(cascade.length > 0).toBe(['user.deleted', 'organization.deleted', 'group.deleted', 'organization.member.deleted'].includes(type));
    if (type === 'organization.member.deleted') {
      expect(cascade).toEqual([{ op: 'remove-matching', table: 'organization_member_roles', match: { org_id: 'org_acme', user_id: 'auth0|carol' } }]);
    }
  });

  it('projects is_enabled and organization_access_level of organization.connection.* (event catalog 0.7.1)', () => {
    const event = { id: 'evt_conn', type: 'organization.connection.updated', time: '2026-03-01T10:00:00Z',
      data: { object: { organization: { id: 'org_acme' }, connection: { id: 'con_1' }, is_enabled: false, organization_access_level: 'readonly' } } };
    expect(normalized(normalize(event)).projections[0]).toMatchObject({
      values: { is_enabled: false, organization_access_level: 'readonly' },
    });
    const older = { ...event, data: { object: { organization: { id: 'org_acme' }, connection: { id: 'con_1' } } } };
    expect(normalized(normalize(older)).projections[0]).toMatchObject({ values: { is_enabled: null, organization_access_level: null } });
  });

  it('keeps the frame data as the payload, byte for byte', () => {
    const data = '{ "offset" : "b2Zm",  "event": {"time":"2026-03-01T09:00:00Z","id":"evt_x", "data":{"object":{"user_id":"auth0|x"}}} }';
    const change = normalized(normalizeAuth0Event({ frameEvent: 'user.created', data }));
    expect(change.history.payload).toBe(data);
  });

  it('stores times in the canonical UTC form, whatever offset Auth0 wrote', () => {
    const event = { id: 'evt_tz', type: 'user.updated', time: '2026-03-01T10:00:00.5+01:00',
      data: { object: { user_id: 'auth0|tz', created_at: '2026-02-01T00:00:00+02:00', last_login: '2026-03-01T08:00:00Z' } } };
    const change = normalized(normalize(event));
    expect(change.history.occurredAt).toBe('2026-03-01T09:00:00.500000Z');
    expect(change.projections[0]).toMatchObject({
      values: { created_at: '2026-01-31T22:00:00.000000Z', last_login: '2026-03-01T08:00:00.000000Z' },
    });
  });

  it('projects the columns people filter on and the whole object as JSON', () => {
    const event = firstOfType('user.updated');
    const [op] = normalized(normalize(event)).projections;
    expect(op).toMatchObject({
      values: {
        email: 'alice@acme.example',
        email_verified: true,
        name: 'Alice Liddell',
        logins_count: 3,
        blocked: false,
        deleted_at: null,
        updated_at: '2026-03-02T09:00:00.000000Z',
      },
    });
    expect(op.op === 'put' && op.table === 'users' && JSON.parse(String(op.values.object))).toEqual((event.data as { object: unknown }).object);
  });

  it('marks deleted entities with deleted_at instead of removing them', () => {
    const [user] = normalized(normalize(firstOfType('user.deleted'))).projections;
    expect(user).toMatchObject({ op: 'put', values: { deleted_at: '2026-03-03T08:00:00.000000Z' } });
    const [org] = normalized(normalize(firstOfType('organization.deleted'))).projections;
    expect(org).toMatchObject({ op: 'put', values: { deleted_at: '2026-03-03T12:00:00.000000Z' } });
    const [group] = normalized(normalize(firstOfType('group.deleted'))).projections;
    expect(group).toMatchObject({ op: 'put', values: { deleted_at: '2026-03-03T09:00:00.000000Z' } });
  });

  it('takes organization timestamps from the event time, and keeps created_at out of updates', () => {
    const [created] = normalized(normalize(firstOfType('organization.created'))).projections;
    expect(created).toMatchObject({ values: { created_at: '2026-03-01T11:00:00.000000Z', updated_at: '2026-03-01T11:00:00.000000Z' } });
    const [updated] = normalized(normalize(firstOfType('organization.updated'))).projections;
    expect(updated).toMatchObject({ values: { updated_at: '2026-03-02T11:00:00.000000Z', display_name: 'Acme Corporation' } });
    expect((updated as { values: object }).values).not.toHaveProperty('created_at');
  });

  it('keeps connection members of groups with their connection id', () => {
    const event = fixture.find((e) => e.id === 'evt_29')!;
    expect(normalized(normalize(event)).projections).toEqual([
      {
        op: 'put',
        table: 'group_members',
        key: { group_id: 'grp_eng', member_type: 'connection', member_id: 'grp_sso' },
        values: { connection_id: 'con_okta', added_at: '2026-03-02T15:02:00.000000Z' },
      },
    ]);
  });

  it('stores an unknown type in the history without projecting it', () => {
    const change = normalized(normalize(firstOfType('connection.created')));
    expect(change).toEqual({
      history: expect.objectContaining({ eventId: 'evt_37con', type: 'connection.created', subjectKind: null, subjectId: null, projected: false }),
      projections: [],
    });
  });

  it('keeps Auth0 test events (a0purpose "test") out of the projections', () => {
    const change = normalized(normalize({ ...firstOfType('user.created'), id: 'evt_test', a0purpose: 'test' }));
    expect(change.history).toMatchObject({ eventId: 'evt_test', projected: false });
    expect(change.projections).toEqual([]);
  });

  it('takes the type from the CloudEvent when the frame has no event field', () => {
    const event = firstOfType('group.created');
    const change = normalized(normalizeAuth0Event({ frameEvent: 'message', data: frameData(event) }));
    expect(change.history.type).toBe('group.created');
  });

  it.each([
    ['malformed JSON', '{"offset":"x","event":{"id":"evt_1"', /not JSON/],
    ['no event', '{"offset":"x"}', /no "event"/],
    ['an event without id', frameData({ type: 'user.created', time: '2026-03-01T00:00:00Z', data: { object: { user_id: 'u' } } }), /no "id"/],
    ['an event without time', frameData({ id: 'evt_1', type: 'user.created', data: { object: { user_id: 'u' } } }), /evt_1 has no RFC-3339 "time"/],
    ['a user event without user_id', frameData({ id: 'evt_2', time: '2026-03-01T00:00:00Z', data: { object: {} } }), /user\.created event evt_2: no data\.object\.user_id/],
  ])('refuses %s with a reason for the dead letter', (_case, data, reason) => {
    const result = normalizeAuth0Event({ frameEvent: 'user.created', data });
    expect(isNormalizeFailure(result) && result.error).toMatch(reason);
  });

  it('refuses a membership event that does not say whose membership it is', () => {
    const event = { id: 'evt_m', type: 'organization.member.added', time: '2026-03-01T00:00:00Z', data: { object: { organization: { id: 'org_1' } } } };
    expect(normalize(event)).toEqual({ error: 'organization.member.added event evt_m: no data.object.user.user_id' });
  });
});
