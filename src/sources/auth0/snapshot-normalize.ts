// Pure normalization of an Auth0 snapshot's rows: an entity or membership as the Management API
// listed it (`snapshot.user`, `snapshot.organization.member`, …), or a stored row the tenant no
// longer has (`snapshot.delete`). Every row of a snapshot is written at one time, a margin before
// the snapshot began, and the stream is read from that time: so every event after it is applied
// over the snapshot, in order, and every older one loses to it.
import type { NormalizeResult, ProjectionOp, ProjectionTable } from '../../core/change.js';
import { readSnapshotPayload } from '../../common/snapshot-payload.js';
import { canonicalTime, shiftTime } from '../../common/time.js';
import { asObject, connectionRowValues, groupRowValues, nonEmptyString, roleValues, userRowValues } from './normalize.js';

/** What a snapshot row's payload says besides the row: which snapshot, and its start. */
export interface Auth0SnapshotRowContext {
  snapshotId: number;
  startedAt: string;
}

/**
 * The margin covers a clock of ours ahead of Auth0's (as the Sanity catch-up allows); the time is
 * cut to whole seconds because `from_timestamp` takes no fractions.
 */
export const SNAPSHOT_MARGIN_MS = 60_000;

/** The time every row of a snapshot begun at `startedAt` is written at, and the stream's start. */
export function snapshotRowTime(startedAt: string): string {
  return `${shiftTime(startedAt, -SNAPSHOT_MARGIN_MS).slice(0, 19)}.000Z`;
}

type Json = Record<string, unknown>;

/** The row kinds of an Auth0 snapshot and the payload member that carries each one's object. */
export const AUTH0_SNAPSHOT_ROWS = {
  'snapshot.user': 'user',
  'snapshot.organization': 'organization',
  'snapshot.organization.member': 'member',
  'snapshot.organization.connection': 'connection',
  'snapshot.organization.group.role': 'role',
  'snapshot.group': 'group',
  'snapshot.group.member': 'member',
  'snapshot.group.role': 'role',
} as const;

export type Auth0SnapshotRowType = keyof typeof AUTH0_SNAPSHOT_ROWS;
export const AUTH0_SNAPSHOT_DELETE = 'snapshot.delete';

/** The parents a row hangs from (`organization_id`, `group_id`), as the payload names them. */
export type RowParents = { organization_id?: string; group_id?: string };

/** The payload of a snapshot row: the object as the API sent it, under its kind's member. */
export function snapshotRowPayload(context: Auth0SnapshotRowContext, type: Auth0SnapshotRowType, object: Json, parents: RowParents = {}): string {
  return JSON.stringify({ snapshot: context.snapshotId, startedAt: context.startedAt, ...parents, [AUTH0_SNAPSHOT_ROWS[type]]: object });
}

/** A stored row the tenant no longer has; an entity's carries its last known `object`. */
export function snapshotDeletePayload(context: Auth0SnapshotRowContext, table: ProjectionTable, key: Record<string, string>, object?: unknown): string {
  const reason = `not in the tenant at snapshot ${context.snapshotId}`;
  return JSON.stringify({ snapshot: context.snapshotId, startedAt: context.startedAt, table, key, ...(object === undefined ? {} : { object }), reason });
}

/** The tables whose rows are entities: a snapshot marks them deleted instead of removing them. */
export const ENTITY_TABLES: ReadonlySet<string> = new Set<ProjectionTable>(['users', 'organizations', 'groups']);

/** The tables an Auth0 snapshot writes: their key columns, and whom a row is about. */
export const AUTH0_SNAPSHOT_TABLES: Partial<Record<ProjectionTable, { keyColumns: readonly string[]; subject: 'user' | 'organization' | 'group' }>> = {
  users: { keyColumns: ['user_id'], subject: 'user' },
  organizations: { keyColumns: ['org_id'], subject: 'organization' },
  groups: { keyColumns: ['group_id'], subject: 'group' },
  organization_members: { keyColumns: ['org_id', 'user_id'], subject: 'organization' },
  organization_member_roles: { keyColumns: ['org_id', 'user_id', 'role_id'], subject: 'organization' },
  organization_connections: { keyColumns: ['org_id', 'connection_id'], subject: 'organization' },
  organization_group_roles: { keyColumns: ['org_id', 'group_id', 'role_id'], subject: 'organization' },
  group_members: { keyColumns: ['group_id', 'member_type', 'member_id'], subject: 'group' },
  group_roles: { keyColumns: ['group_id', 'role_id'], subject: 'group' },
};

/** A projection row by table and key, as a `snapshot.delete` event id names it. */
function rowKeyText(table: string, key: Record<string, unknown>): string {
  const columns = AUTH0_SNAPSHOT_TABLES[table as ProjectionTable]?.keyColumns ?? Object.keys(key);
  return `${table}:${columns.map((column) => String(key[column])).join(':')}`;
}

class MissingField extends Error {}

export function isAuth0SnapshotRow(type: string): boolean {
  return type === AUTH0_SNAPSHOT_DELETE || type in AUTH0_SNAPSHOT_ROWS;
}

/** A snapshot row (by its type) to its history row and projection writes. */
export function normalizeAuth0SnapshotRow(type: string, data: string): NormalizeResult {
  const payload = readSnapshotPayload(data);
  if ('error' in payload) return payload;
  const { value, startedAt } = payload;
  try {
    const written = type === AUTH0_SNAPSHOT_DELETE ? deletion(value) : rowWrites(type as Auth0SnapshotRowType, value);
    return {
      history: {
        eventId: `${type === AUTH0_SNAPSHOT_DELETE ? 'snapshot-delete' : 'snapshot'}:${payload.snapshot}:${written.idSuffix}`,
        type,
        subjectKind: written.subject.kind,
        subjectId: written.subject.id,
        occurredAt: snapshotRowTime(startedAt),
        payload: data,
        projected: true,
      },
      projections: written.projections,
    };
  } catch (error) {
    if (error instanceof MissingField) return { error: `${type}: ${error.message}` };
    throw error;
  }
}

interface RowWrites {
  idSuffix: string;
  subject: { kind: 'user' | 'organization' | 'group'; id: string };
  projections: ProjectionOp[];
}

function rowWrites(type: Auth0SnapshotRowType, payload: Json): RowWrites {
  const member = AUTH0_SNAPSHOT_ROWS[type];
  const object = asObject(payload[member]);
  if (!object) throw new MissingField(`no "${member}" object`);
  switch (type) {
    case 'snapshot.user': {
      const userId = required(object.user_id, 'user.user_id');
      return written(`user:${userId}`, 'user', userId, [{ op: 'put', table: 'users', key: { user_id: userId }, values: userRowValues(object, null) }]);
    }
    case 'snapshot.organization': {
      const orgId = required(object.id, 'organization.id');
      const values = { ...organizationValues(object), deleted_at: null };
      return written(`organization:${orgId}`, 'organization', orgId, [{ op: 'put', table: 'organizations', key: { org_id: orgId }, values }]);
    }
    case 'snapshot.organization.member': {
      const orgId = required(payload.organization_id, 'organization_id');
      const userId = required(object.user_id, 'member.user_id');
      const projections: ProjectionOp[] = [{ op: 'put', table: 'organization_members', key: { org_id: orgId, user_id: userId }, values: {} }];
      for (const role of Array.isArray(object.roles) ? object.roles : []) {
        const roleObject = asObject(role);
        const roleId = required(roleObject?.id, 'member.roles[].id');
        projections.push({ op: 'put', table: 'organization_member_roles', key: { org_id: orgId, user_id: userId, role_id: roleId }, values: { role_name: nonEmptyString(roleObject?.name) } });
      }
      return written(`organization.member:${orgId}:${userId}`, 'organization', orgId, projections);
    }
    case 'snapshot.organization.connection': {
      const orgId = required(payload.organization_id, 'organization_id');
      // `enabled_connections` items name the connection in `connection_id`; events in `connection.id`.
      const connectionId = required(object.connection_id ?? asObject(object.connection)?.id, 'connection.connection_id');
      const key = { org_id: orgId, connection_id: connectionId };
      return written(`organization.connection:${orgId}:${connectionId}`, 'organization', orgId, [{ op: 'put', table: 'organization_connections', key, values: connectionRowValues(object) }]);
    }
    case 'snapshot.organization.group.role': {
      const orgId = required(payload.organization_id, 'organization_id');
      const groupId = required(payload.group_id, 'group_id');
      const roleId = required(object.id, 'role.id');
      const key = { org_id: orgId, group_id: groupId, role_id: roleId };
      return written(`organization.group.role:${orgId}:${groupId}:${roleId}`, 'organization', orgId, [{ op: 'put', table: 'organization_group_roles', key, values: { role_name: nonEmptyString(object.name) } }]);
    }
    case 'snapshot.group': {
      const groupId = required(object.id, 'group.id');
      const values = groupRowValues(object, canonicalTime(object.updated_at), null);
      return written(`group:${groupId}`, 'group', groupId, [{ op: 'put', table: 'groups', key: { group_id: groupId }, values }]);
    }
    case 'snapshot.group.member': {
      const groupId = required(payload.group_id, 'group_id');
      const memberType = required(object.member_type, 'member.member_type');
      const memberId = required(object.id, 'member.id');
      const key = { group_id: groupId, member_type: memberType, member_id: memberId };
      const values = { connection_id: nonEmptyString(object.connection_id), added_at: canonicalTime(object.created_at) };
      return written(`group.member:${groupId}:${memberType}:${memberId}`, 'group', groupId, [{ op: 'put', table: 'group_members', key, values }]);
    }
    case 'snapshot.group.role': {
      const groupId = required(payload.group_id, 'group_id');
      const roleId = required(object.id, 'role.id');
      const { role_name } = roleValues(object, '');
      return written(`group.role:${groupId}:${roleId}`, 'group', groupId, [{ op: 'put', table: 'group_roles', key: { group_id: groupId, role_id: roleId }, values: { role_name } }]);
    }
    default:
      throw new MissingField(`unknown snapshot row type`);
  }
}

function deletion(payload: Json): RowWrites {
  const table = payload.table as ProjectionTable;
  const described = AUTH0_SNAPSHOT_TABLES[table];
  const key = asObject(payload.key);
  if (!described || !key) throw new MissingField(`no table and key of an Auth0 projection`);
  const keyValues: Record<string, string> = {};
  for (const column of described.keyColumns) keyValues[column] = required(key[column], `key.${column}`);
  const deletedAt = snapshotRowTime(canonicalTime(payload.startedAt)!);
  const op = ENTITY_TABLES.has(table) ? entityDeletion(table, keyValues, asObject(payload.object) ?? {}, deletedAt) : ({ op: 'remove', table, key: keyValues } as ProjectionOp);
  // Every table's first key column names its subject (a user, an organization, a group).
  return { idSuffix: rowKeyText(table, keyValues), subject: { kind: described.subject, id: keyValues[described.keyColumns[0]] }, projections: [op] };
}

/** An entity marked deleted: its row as last known, with the snapshot's time as when. */
function entityDeletion(table: ProjectionTable, key: Record<string, string>, object: Json, deletedAt: string): ProjectionOp {
  switch (table) {
    case 'users':
      return { op: 'put', table, key: { user_id: key.user_id }, values: userRowValues(object, deletedAt) };
    case 'groups':
      return { op: 'put', table, key: { group_id: key.group_id }, values: groupRowValues(object, canonicalTime(object.updated_at), deletedAt) };
    default:
      return { op: 'put', table: 'organizations', key: { org_id: key.org_id }, values: { ...organizationValues(object), deleted_at: deletedAt } };
  }
}

function organizationValues(object: Json) {
  return { name: nonEmptyString(object.name), display_name: nonEmptyString(object.display_name), object: JSON.stringify(object) };
}

function written(idSuffix: string, kind: RowWrites['subject']['kind'], id: string, projections: ProjectionOp[]): RowWrites {
  return { idSuffix, subject: { kind, id }, projections };
}

function required(value: unknown, path: string): string {
  const text = nonEmptyString(value);
  if (text === null) throw new MissingField(`no ${path}`);
  return text;
}
