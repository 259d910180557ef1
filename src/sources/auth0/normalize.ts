// Auth0 Events API frames -> one `events` row and the projection ops for users, organizations,
// groups and their memberships. Pure: no I/O, one function per event family.
import type { NormalizeResult, ProjectionOp, ProjectionTable, PutOp, RemoveOp, RowKey, RowValues } from '../../core/change.js';
import { canonicalTime } from '../../common/time.js';

/** The 22 event types of the Auth0 spec, all projected. Others are stored and counted only. */
export const AUTH0_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'organization.created',
  'organization.updated',
  'organization.deleted',
  'organization.member.added',
  'organization.member.deleted',
  'organization.member.role.assigned',
  'organization.member.role.deleted',
  'organization.connection.added',
  'organization.connection.updated',
  'organization.connection.removed',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.member.added',
  'group.member.deleted',
  'group.role.assigned',
  'group.role.deleted',
  'organization.group.role.assigned',
  'organization.group.role.deleted',
] as const;

export type Auth0EventType = (typeof AUTH0_EVENT_TYPES)[number];

type Json = Record<string, unknown>;

/** What every family normalizer is given: the parts of the CloudEvent it needs, already checked. */
interface Auth0Event {
  type: string;
  /** Canonical `time` of the event: it orders the projection writes. */
  time: string;
  /** `data.object`, `{}` when absent. */
  object: Json;
}

/** A family's answer: who the event is about, and what it does to the projections. */
interface FamilyResult {
  subjectKind: 'user' | 'organization' | 'group';
  subjectId: string;
  projections: ProjectionOp[];
}

/** Why a known event cannot be projected (a missing id): it becomes a dead letter. */
class MissingField extends Error {}

/**
 * Normalizes one frame. `frameEvent` is the SSE `event:` field (the event type); `data` is the
 * frame's data text `{"offset": …, "event": {CloudEvent}}`, stored as received.
 */
export function normalizeAuth0Event({ frameEvent, data }: { frameEvent: string; data: string }): NormalizeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (error) {
    return { error: `data is not JSON: ${(error as Error).message}` };
  }
  const envelope = asObject(asObject(parsed)?.event);
  if (!envelope) return { error: 'data has no "event" object' };
  const id = nonEmptyString(envelope.id);
  if (!id) return { error: 'event has no "id"' };
  // The frame's `event:` field is the documented type; the CloudEvent's `type` is a fallback.
  const type = frameEvent && frameEvent !== 'message' ? frameEvent : nonEmptyString(envelope.type);
  if (!type) return { error: `event ${id} has no type (neither an SSE "event:" field nor "type")` };
  const time = canonicalTime(envelope.time);
  if (!time) return { error: `event ${id} has no RFC-3339 "time" (got ${JSON.stringify(envelope.time) ?? 'nothing'})` };
  const object = asObject(asObject(envelope.data)?.object) ?? {};

  const family = familyOf(type);
  // Test events (`a0purpose: "test"`, sent from the dashboard) carry made-up subjects: keep them in
  // the history, out of the projections.
  if (!family || envelope.a0purpose === 'test') {
    return { history: { eventId: id, type, occurredAt: time, payload: data, subjectKind: null, subjectId: null, projected: false }, projections: [] };
  }
  try {
    const result = family({ type, time, object });
    return {
      history: { eventId: id, type, occurredAt: time, payload: data, subjectKind: result.subjectKind, subjectId: result.subjectId, projected: true },
      projections: result.projections,
    };
  } catch (error) {
    if (error instanceof MissingField) return { error: `${type} event ${id}: ${error.message}` };
    throw error;
  }
}

function familyOf(type: string): ((event: Auth0Event) => FamilyResult) | undefined {
  switch (type as Auth0EventType) {
    case 'user.created':
    case 'user.updated':
    case 'user.deleted':
      return applyUserEvent;
    case 'organization.created':
    case 'organization.updated':
    case 'organization.deleted':
      return applyOrganizationEvent;
    case 'organization.member.added':
    case 'organization.member.deleted':
      return applyOrganizationMemberEvent;
    case 'organization.member.role.assigned':
    case 'organization.member.role.deleted':
      return applyOrganizationMemberRoleEvent;
    case 'organization.connection.added':
    case 'organization.connection.updated':
    case 'organization.connection.removed':
      return applyOrganizationConnectionEvent;
    case 'group.created':
    case 'group.updated':
    case 'group.deleted':
      return applyGroupEvent;
    case 'group.member.added':
    case 'group.member.deleted':
      return applyGroupMemberEvent;
    case 'group.role.assigned':
    case 'group.role.deleted':
      return applyGroupRoleEvent;
    case 'organization.group.role.assigned':
    case 'organization.group.role.deleted':
      return applyOrganizationGroupRoleEvent;
    default:
      return undefined;
  }
}

// ---- entities: the row mirrors the object of the newest event; a delete keeps it with deleted_at

function applyUserEvent({ type, time, object }: Auth0Event): FamilyResult {
  const userId = required(object.user_id, 'data.object.user_id');
  const values = userRowValues(object, type === 'user.deleted' ? (canonicalTime(object.deleted_at) ?? time) : null);
  const projections: ProjectionOp[] = [{ op: 'put', table: 'users', key: { user_id: userId }, values }];
  if (type === 'user.deleted') {
    projections.push(
      { op: 'remove-matching', table: 'organization_members', match: { user_id: userId } },
      { op: 'remove-matching', table: 'organization_member_roles', match: { user_id: userId } },
      { op: 'remove-matching', table: 'group_members', match: { member_type: 'user', member_id: userId } },
    );
  }
  return { subjectKind: 'user', subjectId: userId, projections };
}

/** A user's row from a user object (an event's, or a users export line). */
export function userRowValues(object: Json, deletedAt: string | null): RowValues<'users'> {
  return {
    email: nonEmptyString(object.email),
    email_verified: booleanOrNull(object.email_verified),
    username: nonEmptyString(object.username),
    phone_number: nonEmptyString(object.phone_number),
    name: nonEmptyString(object.name),
    nickname: nonEmptyString(object.nickname),
    given_name: nonEmptyString(object.given_name),
    family_name: nonEmptyString(object.family_name),
    picture: nonEmptyString(object.picture),
    blocked: booleanOrNull(object.blocked),
    logins_count: integerOrNull(object.logins_count),
    last_login: canonicalTime(object.last_login),
    created_at: canonicalTime(object.created_at),
    updated_at: canonicalTime(object.updated_at),
    deleted_at: deletedAt,
    object: JSON.stringify(object),
  };
}

function applyOrganizationEvent({ type, time, object }: Auth0Event): FamilyResult {
  const orgId = required(object.id, 'data.object.id');
  // Organization objects carry no timestamps: the events' times are the organization's.
  const times: RowValues<'organizations'> =
    type === 'organization.created'
      ? { created_at: time, updated_at: time, deleted_at: null }
      : type === 'organization.updated'
        ? { updated_at: time, deleted_at: null }
        : { deleted_at: time };
  const values: RowValues<'organizations'> = {
    name: nonEmptyString(object.name),
    display_name: nonEmptyString(object.display_name),
    ...times,
    object: JSON.stringify(object),
  };
  const projections: ProjectionOp[] = [{ op: 'put', table: 'organizations', key: { org_id: orgId }, values }];
  // A deleted organization takes its members, roles and connections with it: Auth0 sends no removal
  // events for these, and a row of a deleted parent is no current member, role or connection.
  if (type === 'organization.deleted') {
    projections.push(
      { op: 'remove-matching', table: 'organization_members', match: { org_id: orgId } },
      { op: 'remove-matching', table: 'organization_member_roles', match: { org_id: orgId } },
      { op: 'remove-matching', table: 'organization_connections', match: { org_id: orgId } },
      { op: 'remove-matching', table: 'organization_group_roles', match: { org_id: orgId } },
    );
  }
  return { subjectKind: 'organization', subjectId: orgId, projections };
}

function applyGroupEvent({ type, time, object }: Auth0Event): FamilyResult {
  const groupId = required(object.id, 'data.object.id');
  const createdAt = canonicalTime(object.created_at);
  const updatedAt = canonicalTime(object.updated_at) ?? (type === 'group.created' ? (createdAt ?? time) : time);
  const values = groupRowValues(object, updatedAt, type === 'group.deleted' ? (canonicalTime(object.deleted_at) ?? time) : null);
  const projections: ProjectionOp[] = [{ op: 'put', table: 'groups', key: { group_id: groupId }, values }];
  if (type === 'group.deleted') {
    projections.push(
      { op: 'remove-matching', table: 'group_members', match: { group_id: groupId } },
      { op: 'remove-matching', table: 'group_roles', match: { group_id: groupId } },
      { op: 'remove-matching', table: 'organization_group_roles', match: { group_id: groupId } },
    );
  }
  return { subjectKind: 'group', subjectId: groupId, projections };
}

/** A group's row from a group object (an event's, or a Management API list item). */
export function groupRowValues(object: Json, updatedAt: string | null, deletedAt: string | null): RowValues<'groups'> {
  return {
    name: nonEmptyString(object.name),
    external_id: nonEmptyString(object.external_id),
    group_type: nonEmptyString(object.type),
    connection_id: nonEmptyString(object.connection_id),
    org_id: nonEmptyString(object.organization_id),
    created_at: canonicalTime(object.created_at),
    updated_at: updatedAt,
    deleted_at: deletedAt,
    object: JSON.stringify(object),
  };
}

// ---- memberships: a row while it exists; removal deletes it (the history stays in `events`)

function applyOrganizationMemberEvent({ type, time, object }: Auth0Event): FamilyResult {
  const orgId = required(asObject(object.organization)?.id, 'data.object.organization.id');
  const key = { org_id: orgId, user_id: required(asObject(object.user)?.user_id, 'data.object.user.user_id') };
  const projections: ProjectionOp[] = [membership(type, 'organization_members', key, { added_at: time })];
  // A member who leaves loses the organization's roles with the membership, whether or not Auth0
  // also sends a role event for each.
  if (type === 'organization.member.deleted') projections.push({ op: 'remove-matching', table: 'organization_member_roles', match: key });
  return { subjectKind: 'organization', subjectId: orgId, projections };
}

function applyOrganizationMemberRoleEvent({ type, time, object }: Auth0Event): FamilyResult {
  const orgId = required(asObject(object.organization)?.id, 'data.object.organization.id');
  const role = asObject(object.role);
  const key = {
    org_id: orgId,
    user_id: required(asObject(object.user)?.user_id, 'data.object.user.user_id'),
    role_id: required(role?.id, 'data.object.role.id'),
  };
  return {
    subjectKind: 'organization',
    subjectId: orgId,
    projections: [membership(type, 'organization_member_roles', key, roleValues(role, time))],
  };
}

function applyOrganizationConnectionEvent({ type, object }: Auth0Event): FamilyResult {
  const orgId = required(asObject(object.organization)?.id, 'data.object.organization.id');
  const key = { org_id: orgId, connection_id: required(asObject(object.connection)?.id, 'data.object.connection.id') };
  const values = connectionRowValues(object);
  return { subjectKind: 'organization', subjectId: orgId, projections: [membership(type, 'organization_connections', key, values)] };
}

/** An organization connection's row from an event's object or an `enabled_connections` item. */
export function connectionRowValues(object: Json): RowValues<'organization_connections'> {
  return {
    assign_membership_on_login: booleanOrNull(object.assign_membership_on_login),
    show_as_button: booleanOrNull(object.show_as_button),
    is_signup_enabled: booleanOrNull(object.is_signup_enabled),
    is_enabled: booleanOrNull(object.is_enabled),
    organization_access_level: nonEmptyString(object.organization_access_level),
    object: JSON.stringify(object),
  };
}

function applyGroupMemberEvent({ type, time, object }: Auth0Event): FamilyResult {
  const groupId = required(asObject(object.group)?.id, 'data.object.group.id');
  const member = asObject(object.member);
  const key = {
    group_id: groupId,
    member_type: required(member?.member_type, 'data.object.member.member_type'),
    member_id: required(member?.id, 'data.object.member.id'),
  };
  const values = { connection_id: nonEmptyString(member?.connection_id), added_at: time };
  return { subjectKind: 'group', subjectId: groupId, projections: [membership(type, 'group_members', key, values)] };
}

function applyGroupRoleEvent({ type, time, object }: Auth0Event): FamilyResult {
  const groupId = required(asObject(object.group)?.id, 'data.object.group.id');
  const role = asObject(object.role);
  const key = { group_id: groupId, role_id: required(role?.id, 'data.object.role.id') };
  const values = roleValues(role, canonicalTime(object.created_at) ?? time);
  return { subjectKind: 'group', subjectId: groupId, projections: [membership(type, 'group_roles', key, values)] };
}

function applyOrganizationGroupRoleEvent({ type, time, object }: Auth0Event): FamilyResult {
  const orgId = required(asObject(object.organization)?.id, 'data.object.organization.id');
  const role = asObject(object.role);
  const key = {
    org_id: orgId,
    group_id: required(asObject(object.group)?.id, 'data.object.group.id'),
    role_id: required(role?.id, 'data.object.role.id'),
  };
  const values = roleValues(role, canonicalTime(object.created_at) ?? time);
  return { subjectKind: 'organization', subjectId: orgId, projections: [membership(type, 'organization_group_roles', key, values)] };
}

/** `….added`, `….assigned`, `….updated` put the row; `….deleted` and `….removed` remove it. */
function membership<T extends ProjectionTable>(type: string, table: T, key: RowKey<T>, values: RowValues<T>): PutOp<T> | RemoveOp<T> {
  const removed = type.endsWith('.deleted') || type.endsWith('.removed');
  return removed ? { op: 'remove', table, key } : { op: 'put', table, key, values };
}

/** A role row: the role's name when Auth0 sends it, and since when it is held. */
export function roleValues(role: Json | undefined, assignedAt: string): { role_name: string | null; assigned_at: string } {
  return { role_name: nonEmptyString(role?.name), assigned_at: assignedAt };
}

// ---- loose reading: Auth0 payloads omit fields freely; only ids are required

export function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

export function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function booleanOrNull(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

function integerOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

function required(value: unknown, path: string): string {
  const text = nonEmptyString(value);
  if (text === null) throw new MissingField(`no ${path}`);
  return text;
}
