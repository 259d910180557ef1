// The SQLite schema of sse-sink as drizzle values: the history log, stream bookkeeping and the
// projections users query. drizzle-kit generates migrations/ from this file.
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { DocumentMutationRow } from '../../core/rows.js';
import type { Columns, Fits, SqlRow, WrittenRow } from '../rows-fit-schema.js';
import { SOURCE_KINDS } from '../../core/source.js';

/** The moment a row is written, in the canonical form of every stored time (src/normalize/time.ts): microseconds. */
const nowIso = sql`(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')`;

/** One row per configured stream: what defines it, where it stands, who is ingesting it. */
export const streams = sqliteTable('streams', {
  name: text('name').primaryKey(),
  source: text('source', { enum: SOURCE_KINDS }).notNull(),
  /**
   * Canonical JSON of the options that define the stream (endpoint, filters, query). NULL after
   * `sse-sink reset`: the next ingest adopts its own definition.
   */
  definition: text('definition'),
  cursor: text('cursor'),
  cursorUpdatedAt: text('cursor_updated_at'),
  /** Upstream time of the newest event stored. */
  lastEventAt: text('last_event_at'),
  lastReceivedAt: text('last_received_at'),
  lastHeartbeatAt: text('last_heartbeat_at'),
  eventsTotal: integer('events_total').notNull().default(0),
  duplicatesTotal: integer('duplicates_total').notNull().default(0),
  unknownTotal: integer('unknown_total').notNull().default(0),
  deadLettersTotal: integer('dead_letters_total').notNull().default(0),
  /** live | stopped; `state_reason` says why it stopped. */
  state: text('state').notNull().default('idle'),
  stateReason: text('state_reason'),
  stateUpdatedAt: text('state_updated_at'),
  /** The ingester that holds the stream: `host:pid:nonce`, valid until `lease_expires_at`. */
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: text('lease_expires_at'),
  /** The fencing token: grows by one on every take-over; a commit names the token it holds. */
  leaseToken: integer('lease_token').notNull().default(0),
  createdAt: text('created_at').notNull().default(nowIso),
});

/** The append-only history of every event received, in arrival order. */
export const events = sqliteTable(
  'events',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    stream: text('stream').notNull().references(() => streams.name),
    /** Upstream id: Auth0 `evt_…`, Sanity `<transactionId>#<documentId>`. */
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    subjectKind: text('subject_kind'),
    subjectId: text('subject_id'),
    occurredAt: text('occurred_at'),
    receivedAt: text('received_at').notNull(),
    /** The stream cursor right after this event. */
    cursor: text('cursor'),
    /** 0 for a type sse-sink does not project (stored, counted, otherwise left alone). */
    projected: integer('projected', { mode: 'boolean' }).notNull(),
    /** The event's JSON exactly as received. */
    payload: text('payload').notNull(),
  },
  (t) => [
    uniqueIndex('events_stream_event_id').on(t.stream, t.eventId),
    index('events_stream_seq').on(t.stream, t.seq),
    index('events_type').on(t.type),
    index('events_subject_id').on(t.subjectId),
    index('events_occurred_at').on(t.occurredAt),
  ],
);

/** Input that could not be parsed or normalized: kept with the reason, never dropped. */
export const deadLetters = sqliteTable(
  'dead_letters',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    stream: text('stream').notNull().references(() => streams.name),
    receivedAt: text('received_at').notNull(),
    /** The SSE `event:` field, when there was one. */
    eventType: text('event_type'),
    reason: text('reason').notNull(),
    cursor: text('cursor'),
    raw: text('raw').notNull(),
  },
  (t) => [index('dead_letters_stream').on(t.stream, t.id)],
);

/**
 * Every projection row remembers the event that last wrote it, so an older event arriving late
 * never overwrites newer state: compare (event time, arrival seq).
 */
const lastWrite = {
  eventTime: text('event_time').notNull(),
  eventSeq: integer('event_seq').notNull(),
};

// ---- Auth0 projections -------------------------------------------------------------------

export const users = sqliteTable(
  'users',
  {
    stream: text('stream').notNull(),
    userId: text('user_id').notNull(),
    email: text('email'),
    emailVerified: integer('email_verified', { mode: 'boolean' }),
    username: text('username'),
    phoneNumber: text('phone_number'),
    name: text('name'),
    nickname: text('nickname'),
    givenName: text('given_name'),
    familyName: text('family_name'),
    picture: text('picture'),
    blocked: integer('blocked', { mode: 'boolean' }),
    loginsCount: integer('logins_count'),
    lastLogin: text('last_login'),
    createdAt: text('created_at'),
    updatedAt: text('updated_at'),
    deletedAt: text('deleted_at'),
    object: text('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.userId] }), index('users_email').on(t.email)],
);

export const organizations = sqliteTable(
  'organizations',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    name: text('name'),
    displayName: text('display_name'),
    createdAt: text('created_at'),
    updatedAt: text('updated_at'),
    deletedAt: text('deleted_at'),
    object: text('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId] }), index('organizations_name').on(t.name)],
);

export const groups = sqliteTable(
  'groups',
  {
    stream: text('stream').notNull(),
    groupId: text('group_id').notNull(),
    name: text('name'),
    externalId: text('external_id'),
    /** connection | organization | tenant */
    groupType: text('group_type'),
    connectionId: text('connection_id'),
    orgId: text('org_id'),
    createdAt: text('created_at'),
    updatedAt: text('updated_at'),
    deletedAt: text('deleted_at'),
    object: text('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.groupId] })],
);

export const organizationMembers = sqliteTable(
  'organization_members',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    addedAt: text('added_at'),
    ...lastWrite,
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.orgId, t.userId] }),
    index('organization_members_user').on(t.stream, t.userId),
  ],
);

export const organizationMemberRoles = sqliteTable(
  'organization_member_roles',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    roleId: text('role_id').notNull(),
    roleName: text('role_name'),
    assignedAt: text('assigned_at'),
    ...lastWrite,
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.orgId, t.userId, t.roleId] }),
    index('organization_member_roles_user').on(t.stream, t.userId),
  ],
);

export const organizationConnections = sqliteTable(
  'organization_connections',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    connectionId: text('connection_id').notNull(),
    assignMembershipOnLogin: integer('assign_membership_on_login', { mode: 'boolean' }),
    showAsButton: integer('show_as_button', { mode: 'boolean' }),
    isSignupEnabled: integer('is_signup_enabled', { mode: 'boolean' }),
    /** Auth0 event catalog 0.7.1. */
    isEnabled: integer('is_enabled', { mode: 'boolean' }),
    organizationAccessLevel: text('organization_access_level'),
    object: text('object').notNull(),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId, t.connectionId] })],
);

export const organizationGroupRoles = sqliteTable(
  'organization_group_roles',
  {
    stream: text('stream').notNull(),
    orgId: text('org_id').notNull(),
    groupId: text('group_id').notNull(),
    roleId: text('role_id').notNull(),
    roleName: text('role_name'),
    assignedAt: text('assigned_at'),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.orgId, t.groupId, t.roleId] })],
);

export const groupMembers = sqliteTable(
  'group_members',
  {
    stream: text('stream').notNull(),
    groupId: text('group_id').notNull(),
    /** user | connection */
    memberType: text('member_type').notNull(),
    memberId: text('member_id').notNull(),
    connectionId: text('connection_id'),
    addedAt: text('added_at'),
    ...lastWrite,
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.groupId, t.memberType, t.memberId] }),
    index('group_members_member').on(t.stream, t.memberId),
  ],
);

export const groupRoles = sqliteTable(
  'group_roles',
  {
    stream: text('stream').notNull(),
    groupId: text('group_id').notNull(),
    roleId: text('role_id').notNull(),
    roleName: text('role_name'),
    assignedAt: text('assigned_at'),
    ...lastWrite,
  },
  (t) => [primaryKey({ columns: [t.stream, t.groupId, t.roleId] })],
);

// ---- Sanity projections ------------------------------------------------------------------

/** Current state per document id; drafts and release versions are documents of their own. */
export const documents = sqliteTable(
  'documents',
  {
    stream: text('stream').notNull(),
    documentId: text('document_id').notNull(),
    /** published | draft | version */
    idKind: text('id_kind').notNull(),
    /** The published id a draft or version belongs to (equal to document_id when published). */
    publishedId: text('published_id').notNull(),
    releaseId: text('release_id'),
    docType: text('doc_type'),
    rev: text('rev'),
    /** The document after its latest change, when the stream includes results. */
    result: text('result'),
    updatedAt: text('updated_at'),
    deletedAt: text('deleted_at'),
    ...lastWrite,
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.documentId] }),
    index('documents_type').on(t.stream, t.docType),
    index('documents_published_id').on(t.stream, t.publishedId),
  ],
);

/** One row per mutation event: the revision history of every document. */
export const documentMutations = sqliteTable(
  'document_mutations',
  {
    stream: text('stream').notNull(),
    /** `<transactionId>#<documentId>`, also the `events.event_id`. */
    eventId: text('event_id').notNull(),
    seq: integer('seq').notNull(),
    transactionId: text('transaction_id').notNull(),
    documentId: text('document_id').notNull(),
    docType: text('doc_type'),
    /** appear | update | disappear */
    transition: text('transition').notNull(),
    previousRev: text('previous_rev'),
    resultRev: text('result_rev'),
    identity: text('identity'),
    visibility: text('visibility'),
    timestamp: text('timestamp').notNull(),
    mutations: text('mutations'),
    result: text('result'),
    previous: text('previous'),
    /** listen (received live) | history (rebuilt from the History API by a catch-up or a repair). */
    origin: text('origin').notNull().default('listen'),
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.eventId] }),
    index('document_mutations_document').on(t.stream, t.documentId, t.timestamp),
    index('document_mutations_timestamp').on(t.timestamp),
  ],
);

/** Ranges of history a stream may have missed, and how each was repaired. */
export const gaps = sqliteTable(
  'gaps',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    stream: text('stream').notNull().references(() => streams.name),
    detectedAt: text('detected_at').notNull(),
    /** e.g. reset, downtime, revision-mismatch, cursor-expired */
    reason: text('reason').notNull(),
    documentId: text('document_id'),
    fromTime: text('from_time'),
    toTime: text('to_time'),
    /** open | repaired | unrepairable */
    status: text('status').notNull(),
    changesFound: integer('changes_found'),
    detail: text('detail'),
  },
  (t) => [index('gaps_stream').on(t.stream, t.id)],
);

/** One row per snapshot of a stream's upstream state (--snapshot, `sse-sink snapshot`). */
export const snapshots = sqliteTable(
  'snapshots',
  {
    stream: text('stream').notNull().references(() => streams.name),
    snapshotId: integer('snapshot_id').notNull(),
    startedAt: text('started_at').notNull(),
    finishedAt: text('finished_at'),
    /** running | finished */
    status: text('status').notNull(),
    /** The last id read: a resumed snapshot continues after it. */
    position: text('position'),
    rowsRead: integer('rows_read').notNull(),
    pages: integer('pages').notNull(),
    rowsDeleted: integer('rows_deleted').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.snapshotId] })],
);

/**
 * Removed membership rows leave a tombstone (the time of the removal), so a late "added" event
 * that is older than the removal does not bring the row back.
 */
export const projectionTombstones = sqliteTable(
  'projection_tombstones',
  {
    tableName: text('table_name').notNull(),
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
