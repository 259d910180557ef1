// A live Auth0 tenant on the project's SSE test server: users, organizations (members, their roles,
// enabled connections), groups (members, roles) and organization groups' roles, some of which
// existed before any event was recorded. Every change updates the tenant and appends the event
// Auth0 would send; `/api/v2/events` streams them (from a cursor or a time), and the Management API
// lists the tenant as it is now: checkpoint pages (`from` / `take` → `{<list>, next}`), offset
// pages (`page` / `per_page` / `include_totals`), the users list's 1,000 cap, users-export jobs with
// a gzipped NDJSON file, and the rate-limit headers. Shapes as in auth0/node-auth0's generated
// Management client and the Management API reference. The expected tables come from this state
// alone, never from the code under test.
import { gzipSync } from 'node:zlib';
import { offsetAt } from './auth0-simulator.js';
import { seededRandom } from './sanity-simulator.js';
import { startSseTestServer, type PlainReply, type RecordedRequest, type Reply, type ScriptStep } from './sse-server.js';

type Json = Record<string, unknown>;

export interface TenantUser {
  user_id: string;
  email: string;
  email_verified: boolean;
  name: string;
  given_name: string;
  family_name: string;
  nickname: string;
  logins_count: number;
  created_at: string;
  updated_at: string;
  identities: Json[];
}

export interface TenantGroup {
  id: string;
  name: string;
  type: 'tenant' | 'organization';
  organization_id?: string;
  created_at: string;
  updated_at: string;
}

interface Connection {
  connection_id: string;
  assign_membership_on_login: boolean;
  show_as_button: boolean;
  is_signup_enabled: boolean;
  connection: { name: string; strategy: string };
}

interface Role {
  id: string;
  name: string;
}

const ROLES: Role[] = [
  { id: 'rol_admin', name: 'admin' },
  { id: 'rol_editor', name: 'editor' },
  { id: 'rol_viewer', name: 'viewer' },
  { id: 'rol_billing', name: 'billing' },
];
const CONNECTIONS = [
  { id: 'con_db', name: 'Username-Password-Authentication', strategy: 'auth0' },
  { id: 'con_google', name: 'google-oauth2', strategy: 'google-oauth2' },
  { id: 'con_saml', name: 'acme-saml', strategy: 'samlp' },
];

export interface TenantShape {
  users: number;
  organizations: number;
  /** Members per organization (at most the users there are). */
  membersPerOrganization: number;
  groups: number;
  membersPerGroup: number;
}

export type ManagementFault = 'http-500' | 'http-429' | 'http-403' | 'http-400';

export interface Auth0TenantOptions {
  seed?: number;
  /** Bearer token every `/api/v2` request must carry (none: any). */
  token?: string;
  /** Management API requests per second before a 429 (default: no limit). */
  rateLimitPerSecond?: number;
  /** Delay before each Management API answer (default 0). */
  managementDelayMs?: number;
  /** How long a users-export job takes (default 200 ms). */
  exportDelayMs?: number;
  /**
   * Answer as an API that ignores `fields` (members listed without their roles) and
   * `include_totals` (offset lists as bare arrays): the other reading of what the docs leave open.
   */
  plainAnswers?: boolean;
}

/** The tenant's projection rows as sse-sink's tables should hold them, by table: sorted key texts. */
export interface ExpectedTenantRows {
  users: string[];
  organizations: string[];
  groups: string[];
  organization_members: string[];
  organization_member_roles: string[];
  organization_connections: string[];
  organization_group_roles: string[];
  group_members: string[];
  group_roles: string[];
}

interface LoggedEvent {
  offset: string;
  time: string;
  type: string;
  data: string;
}

export class Auth0Tenant {
  readonly users = new Map<string, TenantUser>();
  readonly organizations = new Map<string, { id: string; name: string; display_name: string }>();
  /** org -> user -> role id -> role */
  readonly members = new Map<string, Map<string, Map<string, Role>>>();
  readonly connections = new Map<string, Map<string, Connection>>();
  readonly groups = new Map<string, TenantGroup>();
  /** group -> user id -> when */
  readonly groupMembers = new Map<string, Map<string, string>>();
  readonly groupRoles = new Map<string, Map<string, Role>>();
  /** org -> group -> role id -> role */
  readonly organizationGroupRoles = new Map<string, Map<string, Map<string, Role>>>();
  /** Every event, in the order the stream sends them. */
  readonly log: LoggedEvent[] = [];
  /** Management API answers by status, for tests. */
  readonly managementStatuses = new Map<number, number>();
  /** `/api/v2/events` requests answered with a stream. */
  eventStreamsOpened = 0;
  /** Seconds in which the rate limit was used up, and requests refused (429) for going over it. */
  readonly rateLimited = { exhaustedSeconds: 0, refused: 0 };
  private readonly random: () => number;
  private readonly faults: ManagementFault[] = [];
  private readonly jobs = new Map<string, { readyAt: number; file?: Buffer }>();
  private readonly wakers = new Set<() => void>();
  private window = { second: 0, used: 0 };
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: Auth0TenantOptions = {}) {
    this.random = seededRandom(options.seed ?? 20261203);
  }

  /** A tenant that existed before the stream: no events for any of it. */
  populate(shape: TenantShape): void {
    const at = new Date(Date.now() - 86_400_000).toISOString();
    for (let i = 0; i < shape.users; i++) this.addUser(at);
    const userIds = [...this.users.keys()];
    for (let i = 0; i < shape.organizations; i++) {
      const org = this.addOrganization();
      for (const userId of this.sample(userIds, shape.membersPerOrganization)) {
        const roles = this.orgMembers(org.id).set(userId, new Map()).get(userId)!;
        for (const role of this.sample(ROLES, Math.floor(this.random() * 3))) roles.set(role.id, role);
      }
      for (const connection of this.sample(CONNECTIONS, 1 + Math.floor(this.random() * 3))) this.orgConnections(org.id).set(connection.id, this.connection(connection));
    }
    const orgIds = [...this.organizations.keys()];
    for (let i = 0; i < shape.groups; i++) {
      const orgId = i % 3 === 0 ? this.pick(orgIds) : undefined;
      const group = this.addGroup(at, orgId);
      for (const userId of this.sample(userIds, shape.membersPerGroup)) this.groupMembersOf(group.id).set(userId, at);
      for (const role of this.sample(ROLES, 1 + Math.floor(this.random() * 2))) {
        if (orgId) this.orgGroupRoles(orgId, group.id).set(role.id, role);
        else this.rolesOf(group.id).set(role.id, role);
      }
    }
  }

  /** One random change to the tenant, with its event. */
  change(): void {
    const roll = this.random();
    const userIds = [...this.users.keys()];
    const orgIds = [...this.organizations.keys()];
    const groupIds = [...this.groups.keys()];
    const now = new Date().toISOString();
    if (roll < 0.12 || userIds.length < 5) {
      const user = this.addUser(now);
      this.emit('user.created', { ...user });
    } else if (roll < 0.3) {
      const user = this.users.get(this.pick(userIds))!;
      user.logins_count++;
      user.email_verified = true;
      user.email = `${user.nickname}.${user.logins_count}@example.com`;
      user.updated_at = now;
      this.emit('user.updated', { ...user });
    } else if (roll < 0.34) {
      const userId = this.pick(userIds);
      const user = this.users.get(userId)!;
      this.users.delete(userId);
      for (const members of this.members.values()) members.delete(userId);
      for (const members of this.groupMembers.values()) members.delete(userId);
      this.emit('user.deleted', { ...user, deleted_at: now });
    } else if (roll < 0.44 && orgIds.length > 0) {
      const orgId = this.pick(orgIds);
      const userId = this.pick(userIds);
      const members = this.orgMembers(orgId);
      if (members.has(userId)) {
        members.delete(userId);
        this.emit('organization.member.deleted', { organization: { id: orgId }, user: { user_id: userId } });
      } else {
        members.set(userId, new Map());
        this.emit('organization.member.added', { organization: { id: orgId, name: this.organizations.get(orgId)!.name }, user: { user_id: userId } });
      }
    } else if (roll < 0.56 && orgIds.length > 0) {
      const orgId = this.pick(orgIds);
      const memberIds = [...this.orgMembers(orgId).keys()];
      if (memberIds.length === 0) return this.change();
      const userId = this.pick(memberIds);
      const roles = this.orgMembers(orgId).get(userId)!;
      const role = this.pick(ROLES);
      const assigned = !roles.has(role.id);
      if (assigned) roles.set(role.id, role);
      else roles.delete(role.id);
      this.emit(assigned ? 'organization.member.role.assigned' : 'organization.member.role.deleted', { organization: { id: orgId }, user: { user_id: userId }, role });
    } else if (roll < 0.62 && orgIds.length > 0) {
      const orgId = this.pick(orgIds);
      const template = this.pick(CONNECTIONS);
      const connections = this.orgConnections(orgId);
      const existing = connections.get(template.id);
      const object = (connection: Connection) => ({ organization: { id: orgId }, connection: { id: template.id, ...connection.connection }, ...flags(connection) });
      if (!existing) {
        const connection = this.connection(template);
        connections.set(template.id, connection);
        this.emit('organization.connection.added', object(connection));
      } else if (this.random() < 0.5) {
        existing.show_as_button = !existing.show_as_button;
        this.emit('organization.connection.updated', object(existing));
      } else {
        connections.delete(template.id);
        this.emit('organization.connection.removed', object(existing));
      }
    } else if (roll < 0.66) {
      if (orgIds.length > 0 && this.random() < 0.6) {
        const org = this.organizations.get(this.pick(orgIds))!;
        org.display_name = `Organization ${org.id.slice('org_'.length).replace(/^0+/, '')} ${this.pick(['Inc.', 'Ltd', 'GmbH', 'SA'])}`;
        this.emit('organization.updated', { ...org });
      } else {
        const org = this.addOrganization();
        this.emit('organization.created', { ...org });
      }
    } else if (roll < 0.67 && orgIds.length > 1) {
      const orgId = this.pick(orgIds);
      if ([...this.groups.values()].some((group) => group.organization_id === orgId)) return this.change();
      const org = this.organizations.get(orgId)!;
      this.organizations.delete(orgId);
      this.members.delete(orgId);
      this.connections.delete(orgId);
      this.organizationGroupRoles.delete(orgId);
      this.emit('organization.deleted', { ...org });
    } else if (roll < 0.8 && groupIds.length > 0) {
      const groupId = this.pick(groupIds);
      const userId = this.pick(userIds);
      const members = this.groupMembersOf(groupId);
      const member = { member_type: 'user', id: userId };
      if (members.has(userId)) {
        members.delete(userId);
        this.emit('group.member.deleted', { group: { id: groupId }, member });
      } else {
        members.set(userId, now);
        this.emit('group.member.added', { group: { id: groupId }, member });
      }
    } else if (roll < 0.88 && groupIds.length > 0) {
      const group = this.groups.get(this.pick(groupIds))!;
      const role = this.pick(ROLES);
      const roles = group.organization_id ? this.orgGroupRoles(group.organization_id, group.id) : this.rolesOf(group.id);
      const assigned = !roles.has(role.id);
      if (assigned) roles.set(role.id, role);
      else roles.delete(role.id);
      const prefix = group.organization_id ? 'organization.group.role' : 'group.role';
      const object: Json = { group: { id: group.id }, role, ...(group.organization_id ? { organization: { id: group.organization_id } } : {}) };
      this.emit(`${prefix}.${assigned ? 'assigned' : 'deleted'}`, object);
    } else if (roll < 0.95 || groupIds.length === 0) {
      if (groupIds.length > 0 && this.random() < 0.5) {
        const group = this.groups.get(this.pick(groupIds))!;
        group.name = `${group.name.split(' ')[0]} ${Math.floor(this.random() * 1000)}`;
        group.updated_at = now;
        this.emit('group.updated', { ...group });
      } else {
        const group = this.addGroup(now, undefined);
        this.emit('group.created', { ...group });
      }
    } else {
      const groupId = this.pick(groupIds);
      const group = this.groups.get(groupId)!;
      this.groups.delete(groupId);
      this.groupMembers.delete(groupId);
      this.groupRoles.delete(groupId);
      if (group.organization_id) this.organizationGroupRoles.get(group.organization_id)?.delete(groupId);
      this.emit('group.deleted', { ...group, deleted_at: now });
    }
  }

  /**
   * The tenant as it stands, told as events (`….created`, `….added`, `….assigned`): a tenant whose
   * whole history is in the stream, for comparing a snapshot with the same rows arriving live.
   */
  announceAll(): void {
    for (const user of this.users.values()) this.emit('user.created', { ...user });
    for (const org of this.organizations.values()) {
      this.emit('organization.created', { ...org });
      for (const [userId, roles] of this.orgMembers(org.id)) {
        this.emit('organization.member.added', { organization: { id: org.id, name: org.name }, user: { user_id: userId } });
        for (const role of roles.values()) this.emit('organization.member.role.assigned', { organization: { id: org.id }, user: { user_id: userId }, role });
      }
      for (const c of this.orgConnections(org.id).values()) {
        this.emit('organization.connection.added', { organization: { id: org.id }, connection: { id: c.connection_id, ...c.connection }, ...flags(c) });
      }
    }
    for (const group of this.groups.values()) {
      this.emit('group.created', { ...group });
      for (const userId of this.groupMembersOf(group.id).keys()) this.emit('group.member.added', { group: { id: group.id }, member: { member_type: 'user', id: userId } });
      for (const role of this.rolesOf(group.id).values()) this.emit('group.role.assigned', { group: { id: group.id }, role });
      if (group.organization_id) {
        for (const role of this.orgGroupRoles(group.organization_id, group.id).values()) {
          this.emit('organization.group.role.assigned', { organization: { id: group.organization_id }, group: { id: group.id }, role });
        }
      }
    }
  }

  /**
   * Removals the stream never reports (events lost upstream, or older than its retention): some
   * users with their memberships, organization members and group roles. Only a snapshot finds them.
   */
  removeQuietly(count: number): void {
    for (let i = 0; i < count; i++) {
      const userId = this.pick([...this.users.keys()]);
      this.users.delete(userId);
      for (const members of this.members.values()) members.delete(userId);
      for (const members of this.groupMembers.values()) members.delete(userId);
      const orgId = this.pick([...this.members.keys()]);
      const memberId = [...this.orgMembers(orgId).keys()][0];
      if (memberId !== undefined) this.orgMembers(orgId).delete(memberId);
      const roles = [...this.groupRoles.values()].find((list) => list.size > 0);
      if (roles) roles.delete([...roles.keys()][0]);
    }
  }

  /** How many Management API requests were answered, whatever the status. */
  managementRequests(): number {
    let total = 0;
    for (const count of this.managementStatuses.values()) total += count;
    return total;
  }

  /** Management API requests to fail, in order, before answering normally again. */
  injectManagementFaults(...faults: ManagementFault[]): void {
    this.faults.push(...faults);
  }

  /** Ends the event streams: the test server can then close. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** What every projection table should hold: the current tenant, as key texts with their main values. */
  expectedRows(): ExpectedTenantRows {
    const rows: ExpectedTenantRows = {
      users: [...this.users.values()].map((u) => `${u.user_id}|${u.email}|${u.name}`),
      organizations: [...this.organizations.values()].map((o) => `${o.id}|${o.name}|${o.display_name}`),
      groups: [...this.groups.values()].map((g) => `${g.id}|${g.name}`),
      organization_members: [],
      organization_member_roles: [],
      organization_connections: [],
      organization_group_roles: [],
      group_members: [],
      group_roles: [],
    };
    for (const [orgId, members] of this.members) {
      for (const [userId, roles] of members) {
        rows.organization_members.push(`${orgId}|${userId}`);
        for (const role of roles.values()) rows.organization_member_roles.push(`${orgId}|${userId}|${role.id}|${role.name}`);
      }
    }
    for (const [orgId, connections] of this.connections) {
      for (const c of connections.values()) rows.organization_connections.push(`${orgId}|${c.connection_id}|${c.show_as_button ? 1 : 0}`);
    }
    for (const [orgId, groups] of this.organizationGroupRoles) {
      for (const [groupId, roles] of groups) for (const role of roles.values()) rows.organization_group_roles.push(`${orgId}|${groupId}|${role.id}`);
    }
    for (const [groupId, members] of this.groupMembers) for (const userId of members.keys()) rows.group_members.push(`${groupId}|user|${userId}`);
    for (const [groupId, roles] of this.groupRoles) for (const role of roles.values()) rows.group_roles.push(`${groupId}|${role.id}`);
    for (const list of Object.values(rows)) (list as string[]).sort();
    return rows;
  }

  /** The test server's handler. */
  handle = async (request: RecordedRequest): Promise<Reply> => {
    const { path } = request;
    if (path.startsWith('/exports/')) return this.download(path.slice('/exports/'.length));
    if (this.options.token !== undefined && request.headers.authorization !== `Bearer ${this.options.token}`) {
      return json(401, { statusCode: 401, error: 'Unauthorized', message: 'Invalid token' });
    }
    if (path === '/api/v2/events') return this.events(request.query);
    if (!path.startsWith('/api/v2/')) return json(404, { message: `no route ${path}` });
    if (this.options.managementDelayMs) await new Promise((resolve) => setTimeout(resolve, this.options.managementDelayMs));
    const reply = this.management(request) ?? json(404, { statusCode: 404, error: 'Not Found', message: `no route ${path}` });
    this.managementStatuses.set(reply.status ?? 200, (this.managementStatuses.get(reply.status ?? 200) ?? 0) + 1);
    return reply;
  };

  private management(request: RecordedRequest): (PlainReply) | undefined {
    const limited = this.rateLimit();
    if (limited) return limited.reply;
    const withHeaders = (reply: PlainReply) => ({ ...reply, headers: { ...reply.headers, ...this.rateHeaders() } });
    const fault = this.faults.shift();
    if (fault === 'http-500') return withHeaders(json(500, { message: 'injected fault' }));
    if (fault === 'http-403') return withHeaders(json(403, { statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: read:users' }));
    if (fault === 'http-400') return withHeaders(json(400, { statusCode: 400, error: 'Bad Request', message: 'Query validation error: take must be at most 100' }));
    if (fault === 'http-429') return { ...json(429, { message: 'Too Many Requests' }), headers: { 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)) } };
    const reply = this.route(request);
    return reply && withHeaders(reply);
  }

  private route({ method, path, query, headers }: RecordedRequest): (PlainReply) | undefined {
    const parts = path.slice('/api/v2/'.length).split('/').map(decodeURIComponent);
    const [root, id, sub, subId, subSub] = parts;
    if (root === 'users' && parts.length === 1) return this.userList(query);
    if (root === 'jobs' && id === 'users-exports' && method === 'POST') return this.startExport();
    if (root === 'jobs' && id && parts.length === 2) return this.job(id, headers);
    if (root === 'organizations' && parts.length === 1) return checkpoint([...this.organizations.values()], (o) => o.id, query, 'organizations');
    if (root === 'organizations' && id) {
      if (!this.organizations.has(id)) return json(404, { statusCode: 404, message: 'No organization found by that id' });
      if (sub === 'members' && parts.length === 3) {
        const withRoles = !this.options.plainAnswers && (query.get('fields') ?? '').split(',').includes('roles');
        const members = [...this.orgMembers(id)].map(([userId, roles]) => ({
          user_id: userId,
          email: this.users.get(userId)?.email,
          name: this.users.get(userId)?.name,
          ...(withRoles ? { roles: [...roles.values()] } : {}),
        }));
        return checkpoint(members, (m) => m.user_id, query, 'members');
      }
      if (sub === 'members' && subId && subSub === 'roles') return this.offset([...(this.orgMembers(id).get(subId)?.values() ?? [])], query, 'roles');
      if (sub === 'enabled_connections' && parts.length === 3) return this.offset([...this.orgConnections(id).values()], query, 'enabled_connections');
      if (sub === 'groups' && parts.length === 3) return checkpoint([...this.groups.values()].filter((g) => g.organization_id === id), (g) => g.id, query, 'groups');
      if (sub === 'groups' && subId && subSub === 'roles') return checkpoint([...this.orgGroupRoles(id, subId).values()], (r) => r.id, query, 'roles');
    }
    if (root === 'groups' && parts.length === 1) return checkpoint([...this.groups.values()], (g) => g.id, query, 'groups');
    if (root === 'groups' && id) {
      if (!this.groups.has(id)) return json(404, { statusCode: 404, message: 'No group found by that id' });
      if (sub === 'members') return checkpoint([...this.groupMembersOf(id)].map(([userId, at]) => ({ id: userId, member_type: 'user', created_at: at })), (m) => m.id, query, 'members');
      if (sub === 'roles') return checkpoint([...this.rolesOf(id).values()], (r) => r.id, query, 'roles');
    }
    return undefined;
  }

  /** `GET /api/v2/users`: offset pages, refusing past the first 1,000 results as Auth0 does. */
  private userList(query: URLSearchParams): PlainReply {
    const page = Number(query.get('page') ?? 0);
    const perPage = Number(query.get('per_page') ?? 50);
    if ((page + 1) * perPage > 1000) return json(400, { statusCode: 400, message: 'You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation' });
    const users = [...this.users.values()].sort((a, b) => compare(a.user_id, b.user_id));
    const slice = users.slice(page * perPage, (page + 1) * perPage);
    if (query.get('include_totals') !== 'true') return json(200, slice);
    return json(200, { start: page * perPage, limit: perPage, length: slice.length, total: users.length, users: slice });
  }

  private startExport(): PlainReply {
    // Jobs count apart from the tenant's ids: when a job starts must not change what the tenant becomes.
    const id = `job_${String(this.jobs.size + 1).padStart(6, '0')}`;
    this.jobs.set(id, { readyAt: Date.now() + (this.options.exportDelayMs ?? 200) });
    return json(201, { type: 'users_export', status: 'pending', format: 'json', created_at: new Date().toISOString(), id });
  }

  /** A job is done once its time has come; its file is the tenant's users at that moment. */
  private job(id: string, headers: RecordedRequest['headers']): PlainReply {
    const job = this.jobs.get(id);
    if (!job) return json(404, { statusCode: 404, message: 'The job does not exist' });
    const base = { type: 'users_export', id, format: 'json', created_at: new Date(job.readyAt).toISOString() };
    if (Date.now() < job.readyAt) return json(200, { ...base, status: 'processing', percentage_done: 50, time_left_seconds: 1 });
    job.file ??= gzipSync([...this.users.values()].map((user) => `${JSON.stringify(user)}\n`).join(''));
    return json(200, { ...base, status: 'completed', location: `http://${String(headers.host)}/exports/${id}.json.gz?X-Amz-Signature=sim` });
  }

  private download(name: string): Reply {
    const job = this.jobs.get(name.replace(/\.json\.gz$/, ''));
    if (!job?.file) return { status: 403, body: '<Error><Code>AccessDenied</Code></Error>' };
    return { status: 200, headers: { 'content-type': 'application/gzip' }, body: job.file };
  }

  /** Offset pages with `include_totals`: `{<key>, start, limit, total}`; without (or plainAnswers), a bare array. */
  private offset<T>(items: T[], query: URLSearchParams, key: string): PlainReply {
    const page = Number(query.get('page') ?? 0);
    const perPage = Math.min(100, Number(query.get('per_page') ?? 50));
    const slice = items.slice(page * perPage, (page + 1) * perPage);
    if (this.options.plainAnswers || query.get('include_totals') !== 'true') return json(200, slice);
    return json(200, { start: page * perPage, limit: perPage, total: items.length, [key]: slice });
  }

  /** The rate limit: per second, as Auth0's Management API limits are. */
  private rateLimit(): { reply: PlainReply } | null {
    const limit = this.options.rateLimitPerSecond;
    if (limit === undefined) return null;
    const second = Math.floor(Date.now() / 1000);
    if (this.window.second !== second) this.window = { second, used: 0 };
    if (++this.window.used < limit) return null;
    if (this.window.used === limit) {
      this.rateLimited.exhaustedSeconds++;
      return null;
    }
    this.rateLimited.refused++;
    return { reply: { ...json(429, { statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached' }), headers: this.rateHeaders() } };
  }

  private rateHeaders(): Record<string, string> {
    const limit = this.options.rateLimitPerSecond;
    if (limit === undefined) return { 'x-ratelimit-limit': '1000', 'x-ratelimit-remaining': '999', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)) };
    return {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - this.window.used)),
      'x-ratelimit-reset': String(this.window.second + 1),
    };
  }

  /** `GET /api/v2/events`: the log after `from` (a cursor) or from `from_timestamp`, then live. */
  private events(query: URLSearchParams): Reply {
    const from = query.get('from');
    const fromTime = query.get('from_timestamp');
    const types = query.getAll('event_type');
    let first = this.log.length;
    if (from !== null) {
      const index = this.log.findIndex((entry) => entry.offset === from);
      if (index < 0) return json(400, { message: `invalid cursor ${from}` });
      first = index + 1;
    } else if (fromTime !== null) {
      const since = Date.parse(fromTime);
      if (Number.isNaN(since)) return json(400, { message: `invalid from_timestamp ${fromTime}` });
      first = this.log.findIndex((entry) => Date.parse(entry.time) >= since);
      if (first < 0) first = this.log.length;
    }
    this.eventStreamsOpened++;
    return { status: 200, headers: { 'content-type': 'text/event-stream' }, steps: this.eventSteps(first, types) };
  }

  private async *eventSteps(first: number, types: string[]): AsyncGenerator<ScriptStep> {
    yield { comment: 'connected' };
    for (let next = first; !this.closed; ) {
      while (next < this.log.length) {
        const entry = this.log[next++];
        if (types.length === 0 || types.includes(entry.type)) yield { frame: { event: entry.type, id: entry.offset, data: entry.data } };
        else yield { frame: { event: 'offset-only', id: entry.offset, data: JSON.stringify({ offset: entry.offset }) } };
      }
      const woken = new Promise<void>((resolve) => {
        const waker = () => resolve();
        this.wakers.add(waker);
        setTimeout(() => {
          this.wakers.delete(waker);
          resolve();
        }, 500);
      });
      await woken;
      if (next >= this.log.length) yield { comment: ' heartbeat' };
    }
    yield { end: true };
  }

  private emit(type: string, object: Json): void {
    const offset = offsetAt(this.log.length);
    const event = { specversion: '1.0', id: `evt_${String(this.log.length).padStart(7, '0')}`, type, time: new Date().toISOString(), source: 'urn:auth0:sim.auth0.com', data: { object } };
    this.log.push({ offset, time: event.time, type, data: JSON.stringify({ offset, event }) });
    this.wake();
  }

  private wake(): void {
    for (const waker of this.wakers) waker();
    this.wakers.clear();
  }

  private addUser(at: string): TenantUser {
    const n = ++this.nextId;
    const given = this.pick(['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia']);
    const family = this.pick(['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson']);
    const nickname = `${given}.${family}.${n}`.toLowerCase();
    const user: TenantUser = {
      user_id: `auth0|u${String(n).padStart(7, '0')}`,
      email: `${nickname}@example.com`,
      email_verified: this.random() < 0.5,
      name: `${given} ${family}`,
      given_name: given,
      family_name: family,
      nickname,
      logins_count: Math.floor(this.random() * 50),
      created_at: at,
      updated_at: at,
      identities: [{ provider: 'auth0', user_id: `u${n}`, connection: 'Username-Password-Authentication', isSocial: false }],
    };
    this.users.set(user.user_id, user);
    return user;
  }

  private addOrganization(): { id: string; name: string; display_name: string } {
    const n = ++this.nextId;
    const org = { id: `org_${String(n).padStart(7, '0')}`, name: `org-${n}`, display_name: `Organization ${n}` };
    this.organizations.set(org.id, org);
    return org;
  }

  private addGroup(at: string, orgId: string | undefined): TenantGroup {
    const n = ++this.nextId;
    const group: TenantGroup = { id: `grp_${String(n).padStart(7, '0')}`, name: `Group${n}`, type: orgId ? 'organization' : 'tenant', created_at: at, updated_at: at };
    if (orgId) group.organization_id = orgId;
    this.groups.set(group.id, group);
    return group;
  }

  private connection(template: { id: string; name: string; strategy: string }): Connection {
    return {
      connection_id: template.id,
      assign_membership_on_login: this.random() < 0.5,
      show_as_button: this.random() < 0.5,
      is_signup_enabled: this.random() < 0.3,
      connection: { name: template.name, strategy: template.strategy },
    };
  }

  private orgMembers(orgId: string) {
    return getOrAdd(this.members, orgId, () => new Map<string, Map<string, Role>>());
  }

  private orgConnections(orgId: string) {
    return getOrAdd(this.connections, orgId, () => new Map<string, Connection>());
  }

  private orgGroupRoles(orgId: string, groupId: string) {
    return getOrAdd(getOrAdd(this.organizationGroupRoles, orgId, () => new Map<string, Map<string, Role>>()), groupId, () => new Map<string, Role>());
  }

  private groupMembersOf(groupId: string) {
    return getOrAdd(this.groupMembers, groupId, () => new Map<string, string>());
  }

  private rolesOf(groupId: string) {
    return getOrAdd(this.groupRoles, groupId, () => new Map<string, Role>());
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private sample<T>(items: readonly T[], count: number): T[] {
    const chosen = new Set<T>();
    while (chosen.size < Math.min(count, items.length)) chosen.add(this.pick(items));
    return [...chosen];
  }
}

function flags(connection: Connection): Json {
  return { assign_membership_on_login: connection.assign_membership_on_login, show_as_button: connection.show_as_button, is_signup_enabled: connection.is_signup_enabled };
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checkpoint pages: items ordered by id, `from` an opaque token of the last id of the page before. */
function checkpoint<T>(items: T[], idOf: (item: T) => string, query: URLSearchParams, key: string): PlainReply {
  const take = Math.min(100, Number(query.get('take') ?? 50));
  const sorted = [...items].sort((a, b) => compare(idOf(a), idOf(b)));
  const from = query.get('from');
  const after = from === null ? null : Buffer.from(from, 'base64url').toString();
  const start = after === null ? 0 : sorted.findIndex((item) => idOf(item) > after);
  const page = start < 0 ? [] : sorted.slice(start, start + take);
  const more = start >= 0 && start + take < sorted.length;
  return json(200, { [key]: page, ...(more ? { next: Buffer.from(idOf(page.at(-1)!)).toString('base64url') } : {}) });
}

function json(status: number, body: unknown): PlainReply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** A tenant on a fresh test server; `url` is what `--url` takes. */
export async function startAuth0Tenant(tenant: Auth0Tenant): Promise<{ url: string; close(): Promise<void> }> {
  const server = await startSseTestServer(tenant.handle);
  return {
    url: server.url,
    close: async () => {
      tenant.close();
      await server.close();
    },
  };
}

