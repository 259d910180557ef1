// Auth0 current-state tables in a real SQLite file: what a deleted user, organization or group
// leaves (Auth0 sends no removal events for their memberships and roles, so "current members" must
// not list them), and the organization connection columns of event catalog 0.7.1.
import { describe, expect, it } from 'vitest';
import { normalizeAuth0Event } from '../src/sources/auth0/normalize.js';
import type { NormalizedChange } from '../src/core/change.js';
import { batchOf, openTestStream } from './helpers/store.js';

let sequence = 0;

/** One Auth0 frame as the Events API sends it, normalized as the ingester does. */
function auth0(type: string, time: string, object: Record<string, unknown>): NormalizedChange {
  const id = `evt_${++sequence}`;
  const data = JSON.stringify({ offset: `o${sequence}`, event: { id, type, time, data: { object } } });
  const result = normalizeAuth0Event({ frameEvent: type, data });
  if ('error' in result) throw new Error(result.error);
  return result;
}

const at = (second: number) => `2026-05-01T00:00:${String(second).padStart(2, '0')}.000000Z`;
const org = (id: string) => ({ id, name: id });
const user = (id: string) => ({ user_id: id });
const role = { id: 'rol_admin', name: 'Admin' };
const group = { id: 'grp_eng', type: 'tenant' };

/** Alice and Bob in org_acme (both admins) and in grp_eng; org_acme has a connection and a group role. */
function memberships(): NormalizedChange[] {
  return [
    auth0('organization.created', at(1), org('org_acme')),
    auth0('group.created', at(1), { ...group, name: 'Engineering' }),
    ...['auth0|alice', 'auth0|bob'].flatMap((id) => [
      auth0('user.created', at(1), { ...user(id), email: `${id.slice(6)}@example.com` }),
      auth0('organization.member.added', at(2), { organization: org('org_acme'), user: user(id) }),
      auth0('organization.member.role.assigned', at(3), { organization: org('org_acme'), user: user(id), role }),
      auth0('group.member.added', at(3), { group, member: { member_type: 'user', id } }),
    ]),
    auth0('organization.connection.added', at(3), { organization: org('org_acme'), connection: { id: 'con_1' } }),
    auth0('group.role.assigned', at(3), { group, role }),
    auth0('organization.group.role.assigned', at(3), { organization: org('org_acme'), group, role }),
  ];
}

function rowCounts(sqlite: ReturnType<typeof openTestStream>['sink']['sqlite']) {
  const count = (sql: string) => (sqlite.prepare(sql).get() as { n: number }).n;
  return {
    orgMembers: count('SELECT count(*) AS n FROM organization_members'),
    orgMemberRoles: count('SELECT count(*) AS n FROM organization_member_roles'),
    orgConnections: count('SELECT count(*) AS n FROM organization_connections'),
    orgGroupRoles: count('SELECT count(*) AS n FROM organization_group_roles'),
    groupMembers: count('SELECT count(*) AS n FROM group_members'),
    groupRoles: count('SELECT count(*) AS n FROM group_roles'),
  };
}

describe('organization connections (event catalog 0.7.1)', () => {
  it('stores is_enabled and organization_access_level, and an older event\'s absence of them as NULL', () => {
    const { sink, writer } = openTestStream();
    const connection = { organization: org('org_acme'), connection: { id: 'con_1' } };
    writer.commit(batchOf([
      auth0('organization.connection.added', at(1), { ...connection, is_enabled: true, organization_access_level: 'full' }),
      auth0('organization.connection.added', at(1), { organization: org('org_acme'), connection: { id: 'con_2' } }),
    ], 'c1'));
    writer.commit(batchOf([auth0('organization.connection.updated', at(2), { ...connection, is_enabled: false, organization_access_level: 'readonly' })], 'c2'));
    expect(sink.sqlite.prepare('SELECT connection_id, is_enabled, organization_access_level FROM organization_connections ORDER BY connection_id').all()).toEqual([
      { connection_id: 'con_1', is_enabled: 0, organization_access_level: 'readonly' },
      { connection_id: 'con_2', is_enabled: null, organization_access_level: null },
    ]);
  });
});

describe('deleting an Auth0 entity', () => {
  it('a deleted user is in no organization, role or group any more; the user row stays with deleted_at', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([...memberships(), auth0('user.deleted', at(9), user('auth0|alice'))], 'c1'));
    expect(sink.sqlite.prepare('SELECT user_id FROM organization_members').all()).toEqual([{ user_id: 'auth0|bob' }]);
    expect(sink.sqlite.prepare('SELECT user_id FROM organization_member_roles').all()).toEqual([{ user_id: 'auth0|bob' }]);
    expect(sink.sqlite.prepare('SELECT member_id FROM group_members').all()).toEqual([{ member_id: 'auth0|bob' }]);
    expect(sink.sqlite.prepare("SELECT deleted_at FROM users WHERE user_id = 'auth0|alice'").get()).toEqual({ deleted_at: at(9) });
  });

  it('a deleted organization takes its members, their roles, its connections and group roles with it', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([...memberships(), auth0('organization.deleted', at(9), org('org_acme'))], 'c1'));
    expect(rowCounts(sink.sqlite)).toEqual({ orgMembers: 0, orgMemberRoles: 0, orgConnections: 0, orgGroupRoles: 0, groupMembers: 2, groupRoles: 1 });
  });

  it('a deleted group takes its members, its roles and its organization roles with it', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([...memberships(), auth0('group.deleted', at(9), group)], 'c1'));
    expect(rowCounts(sink.sqlite)).toEqual({ orgMembers: 2, orgMemberRoles: 2, orgConnections: 1, orgGroupRoles: 0, groupMembers: 0, groupRoles: 0 });
  });

  it('a late membership event older than the deletion does not bring the row back; a newer one does', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([...memberships(), auth0('organization.deleted', at(9), org('org_acme'))], 'c1'));
    writer.commit(batchOf([auth0('organization.member.added', at(5), { organization: org('org_acme'), user: user('auth0|alice') })], 'c2'));
    expect(rowCounts(sink.sqlite).orgMembers).toBe(0);
    writer.commit(batchOf([auth0('organization.member.added', at(20), { organization: org('org_acme'), user: user('auth0|carol') })], 'c3'));
    expect(sink.sqlite.prepare('SELECT user_id FROM organization_members').all()).toEqual([{ user_id: 'auth0|carol' }]);
  });

  it('a deletion older than a membership leaves that membership alone', () => {
    const { sink, writer } = openTestStream();
    writer.commit(batchOf([...memberships()], 'c1'));
    // Arrives late: deleted at 2.5 s by Auth0's clock, before the roles (3 s) but after the members (2 s).
    writer.commit(batchOf([auth0('user.deleted', '2026-05-01T00:00:02.500000Z', user('auth0|alice'))], 'c2'));
    expect(sink.sqlite.prepare("SELECT count(*) AS n FROM organization_members WHERE user_id = 'auth0|alice'").get()).toEqual({ n: 0 });
    expect(sink.sqlite.prepare("SELECT count(*) AS n FROM organization_member_roles WHERE user_id = 'auth0|alice'").get()).toEqual({ n: 1 });
  });
});
