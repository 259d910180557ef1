// The PostgreSQL schema of sse-sink as drizzle values: the same tables, columns and indexes as
// SQLite's (src/store/sqlite/schema.ts), in PostgreSQL's own types: jsonb for JSON, timestamptz
// for times, boolean, identity bigint for `seq`. drizzle-kit generates migrations/postgres/ from
// this file; the tables live in the schema --db-schema names (default sse_sink).
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { DocumentMutationRow } from '../../core/rows.js';
import type { Columns, Fits, SqlRow, WrittenRow } from '../rows-fit-schema.js';
import { SOURCE_KINDS } from '../../core/source.js';

/** Every time is a timestamptz, read back as the canonical text (src/store/postgres/connection.ts). */
const time = <Name extends string>(name: Name) => timestamp(name, { withTimezone: true, precision: 6, mode: 'string' });
const count = <Name extends string>(name: Name) => bigint(name, { mode: 'number' });

/** One row per configured stream: what defines it, where it stands, who is ingesting it. */
export const streams = pgTable('streams', {
  name: text('name').primaryKey(),
  source: text('source', { enum: SOURCE_KINDS }).notNull(),
  /** Canonical JSON of the options that define the stream; NULL after `sse-sink reset`. */
  definition: text('definition'),
  cursor: text('cursor'),
  cursorUpdatedAt: time('cursor_updated_at'),
  lastEventAt: time('last_event_at'),
  lastReceivedAt: time('last_received_at'),
  lastHeartbeatAt: time('last_heartbeat_at'),
  eventsTotal: count('events_total').notNull().default(0),
  duplicatesTotal: count('duplicates_total').notNull().default(0),
  unknownTotal: count('unknown_total').notNull().default(0),
  deadLettersTotal: count('dead_letters_total').notNull().default(0),
  state: text('state').notNull().default('idle'),
  stateReason: text('state_reason'),
  stateUpdatedAt: time('state_updated_at'),
  /** `host:pid:nonce` of the ingester holding the stream, until `lease_expires_at` (the database's clock). */
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: time('lease_expires_at'),
  /** The fencing token: grows by one on every take-over; a commit names the token it holds. */
  leaseToken: bigint('lease_token', { mode: 'number' }).notNull().default(0),
  createdAt: time('created_at').notNull().defaultNow(),
});

/**
 * The processes of an `ingest --all --standby` fleet, each renewing its row like a lease: the
 * live ones share the config's streams between them.
 */
export const ingesters = pgTable('ingesters', {
  /** `host:pid:nonce`, as a lease owner is named. */
  member: text('member').primaryKey(),
  joinedAt: time('joined_at').notNull().defaultNow(),
  expiresAt: time('expires_at').notNull(),
});

export const events = pgTable(
  'events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    stream: text('stream').notNull().references(() => streams.name),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    subjectKind: text('subject_kind'),
    subjectId: text('subject_id'),
    occurredAt: time('occurred_at'),
    receivedAt: time('received_at').notNull(),
    cursor: text('cursor'),
    projected: boolean('projected').notNull(),
    payload: jsonb('payload').notNull(),
  },
  (t) => [
    uniqueIndex('events_stream_event_id').on(t.stream, t.eventId),
    index('events_stream_seq').on(t.stream, t.seq),
    index('events_type').on(t.type),
    index('events_subject_id').on(t.subjectId),
    index('events_occurred_at').on(t.occurredAt),
  ],
);

export const deadLetters = pgTable(
  'dead_letters',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    stream: text('stream').notNull().references(() => streams.name),
    receivedAt: time('received_at').notNull(),
    eventType: text('event_type'),
    reason: text('reason').notNull(),
    cursor: text('cursor'),
    raw: text('raw').notNull(),
  },
  (t) => [index('dead_letters_stream').on(t.stream, t.id)],
);

const lastWrite = {
  eventTime: time('event_time').notNull(),
  eventSeq: bigint('event_seq', { mode: 'number' }).notNull(),
};

export const users = pgTable(
  'users',
  {
    stream: text('stream').notNull(),
    userId: text('user_id').notNull(),
    email: text('email'),
    emailVerified: boolean('email_verified'),
    username: text('username'),
    phoneNumber: text('phone_number'),
    name: text('name'),
    nickname: text('nickname'),
    givenName: text('given_name'),
    familyName: text('family_name'),
    picture: text('picture'),
    blocked: boolean('blocked'),
    loginsCount: integer('logins_count'),
    lastLogin: time('last_login'),
    createdAt: time('created_at'),
    updatedAt: time('updated_at'),
    deletedAt: time('deleted_at'),
    object: jsonb('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.userId] }), index('users_email').on(t.email)],
);

export const organizations = pgTable(
  'organizations',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    name: text('name'),
    displayName: text('display_name'),
    createdAt: time('created_at'),
    updatedAt: time('updated_at'),
    deletedAt: time('deleted_at'),
    object: jsonb('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId] }), index('organizations_name').on(t.name)],
);

export const groups = pgTable(
  'groups',
  {
    stream: text('stream').notNull(),
    groupId: text('group_id').notNull(),
    name: text('name'),
    externalId: text('external_id'),
    groupType: text('group_type'),
    connectionId: text('connection_id'),
    orgId: text('org_id'),
    createdAt: time('created_at'),
    updatedAt: time('updated_at'),
    deletedAt: time('deleted_at'),
    object: jsonb('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.groupId] })],
);

export const organizationMembers = pgTable(
  'organization_members',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    addedAt: time('added_at'),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId, t.userId] }), index('organization_members_user').on(t.stream, t.userId)],
);

export const organizationMemberRoles = pgTable(
  'organization_member_roles',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    roleId: text('role_id').notNull(),
    roleName: text('role_name'),
    assignedAt: time('assigned_at'),
    ...lastWrite,
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.orgId, t.userId, t.roleId] }),
    index('organization_member_roles_user').on(t.stream, t.userId),
  ],
);

export const organizationConnections = pgTable(
  'organization_connections',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    connectionId: text('connection_id').notNull(),
    assignMembershipOnLogin: boolean('assign_membership_on_login'),
    showAsButton: boolean('show_as_button'),
    isSignupEnabled: boolean('is_signup_enabled'),
    isEnabled: boolean('is_enabled'),
    organizationAccessLevel: text('organization_access_level'),
    object: jsonb('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId, t.connectionId] })],
);

export const organizationGroupRoles = pgTable(
  'organization_group_roles',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    groupId: text('group_id').notNull(),
    roleId: text('role_id').notNull(),
    roleName: text('role_name'),
    assignedAt: time('assigned_at'),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId, t.groupId, t.roleId] })],
);

export const groupMembers = pgTable(
  'group_members',
  {
    stream: text('stream').notNull(),
    groupId: text('group_id').notNull(),
    memberType: text('member_type').notNull(),
    memberId: text('member_id').notNull(),
    connectionId: text('connection_id'),
    addedAt: time('added_at'),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.groupId, t.memberType, t.memberId] }), index('group_members_member').on(t.stream, t.memberId)],
);

export const groupRoles = pgTable(
  'group_roles',
  {
    stream: text('stream').notNull(),
    groupId: text('group_id').notNull(),
    roleId: text('role_id').notNull(),
    roleName: text('role_name'),
    assignedAt: time('assigned_at'),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.groupId, t.roleId] })],
);

export const documents = pgTable(
  'documents',
  {
    stream: text('stream').notNull(),
    documentId: text('document_id').notNull(),
    idKind: text('id_kind').notNull(),
    publishedId: text('published_id').notNull(),
    releaseId: text('release_id'),
    docType: text('doc_type'),
    rev: text('rev'),
    result: jsonb('result'),
    updatedAt: time('updated_at'),
    deletedAt: time('deleted_at'),
    ...lastWrite,
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.documentId] }),
    index('documents_type').on(t.stream, t.docType),
    index('documents_published_id').on(t.stream, t.publishedId),
  ],
);

export const documentMutations = pgTable(
  'document_mutations',
  {
    stream: text('stream').notNull(),
    eventId: text('event_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    transactionId: text('transaction_id').notNull(),
    documentId: text('document_id').notNull(),
    docType: text('doc_type'),
    transition: text('transition').notNull(),
    previousRev: text('previous_rev'),
    resultRev: text('result_rev'),
    identity: text('identity'),
    visibility: text('visibility'),
    timestamp: time('timestamp').notNull(),
    mutations: jsonb('mutations'),
    result: jsonb('result'),
    previous: jsonb('previous'),
    origin: text('origin').notNull().default('listen'),
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.eventId] }),
    index('document_mutations_document').on(t.stream, t.documentId, t.timestamp),
    index('document_mutations_timestamp').on(t.timestamp),
  ],
);

export const gaps = pgTable(
  'gaps',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    stream: text('stream').notNull().references(() => streams.name),
    detectedAt: time('detected_at').notNull(),
    reason: text('reason').notNull(),
    documentId: text('document_id'),
    fromTime: time('from_time'),
    toTime: time('to_time'),
    status: text('status').notNull(),
    changesFound: integer('changes_found'),
    detail: text('detail'),
  },
  (t) => [index('gaps_stream').on(t.stream, t.id)],
);

/** One row per snapshot of a stream's upstream state (--snapshot, `sse-sink snapshot`). */
export const snapshots = pgTable(
  'snapshots',
  {
    stream: text('stream').notNull().references(() => streams.name),
    snapshotId: integer('snapshot_id').notNull(),
    startedAt: time('started_at').notNull(),
    finishedAt: time('finished_at'),
    status: text('status').notNull(),
    position: text('position'),
    rowsRead: count('rows_read').notNull(),
    pages: count('pages').notNull(),
    rowsDeleted: count('rows_deleted').notNull(),
    updatedAt: time('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.snapshotId] })],
);

export const projectionTombstones = pgTable(
  'projection_tombstones',
  {
    tableName: text('table_name').notNull(),
    /** JSON array of the row's primary key, `stream` first. */
    rowKey: text('row_key').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.tableName, t.rowKey] })],
);

// ---- the rows normalizers write (src/core/rows.ts) must fit these tables -------------------

/** Compile-time only: a column of src/core/rows.ts missing here, or of another type, fails `tsc`. */
export type RowsFitSchema = [
  Fits<WrittenRow<'users'>, SqlRow<typeof users>, Columns<typeof users>>,
  Fits<WrittenRow<'organizations'>, SqlRow<typeof organizations>, Columns<typeof organizations>>,
  Fits<WrittenRow<'groups'>, SqlRow<typeof groups>, Columns<typeof groups>>,
  Fits<WrittenRow<'organization_members'>, SqlRow<typeof organizationMembers>, Columns<typeof organizationMembers>>,
  Fits<WrittenRow<'organization_member_roles'>, SqlRow<typeof organizationMemberRoles>, Columns<typeof organizationMemberRoles>>,
  Fits<WrittenRow<'organization_connections'>, SqlRow<typeof organizationConnections>, Columns<typeof organizationConnections>>,
  Fits<WrittenRow<'organization_group_roles'>, SqlRow<typeof organizationGroupRoles>, Columns<typeof organizationGroupRoles>>,
  Fits<WrittenRow<'group_members'>, SqlRow<typeof groupMembers>, Columns<typeof groupMembers>>,
  Fits<WrittenRow<'group_roles'>, SqlRow<typeof groupRoles>, Columns<typeof groupRoles>>,
  Fits<WrittenRow<'documents'>, SqlRow<typeof documents>, Columns<typeof documents>>,
  Fits<DocumentMutationRow & { stream: string; seq: number }, SqlRow<typeof documentMutations>, Columns<typeof documentMutations>>,
];
