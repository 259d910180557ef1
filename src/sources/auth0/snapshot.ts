// An Auth0 snapshot: the tenant's users (from a users-export job: the list endpoint stops at 1,000),
// its organizations with their members and roles, enabled connections and groups' roles, and its
// groups with their members and roles, read from the Management API. Each page is followed by its
// progress, so a stopped snapshot resumes after its last committed page. Then the stream's stored
// rows the tenant no longer has are marked deleted (entities) or removed (memberships).
import { isRecord } from '../../common/text.js';
import { nowTime } from '../../common/time.js';
import type { ProjectionTable } from '../../core/change.js';
import type { Logger } from '../../core/logger.js';
import type { StoredStreamView } from '../../core/source.js';
import type { SnapshotProgress, UnreadableFrame, UpstreamEvent } from '../../core/source-event.js';
import { pause } from '../../common/retry.js';
import {
  checkpointPage,
  exportFileLines,
  managementJson,
  ManagementRefusal,
  offsetPage,
  type ListPage,
  type ManagementContext,
} from './management-client.js';
import {
  AUTH0_SNAPSHOT_DELETE,
  AUTH0_SNAPSHOT_TABLES,
  ENTITY_TABLES,
  snapshotDeletePayload,
  snapshotRowPayload,
  snapshotRowTime,
  type Auth0SnapshotRowContext,
  type Auth0SnapshotRowType,
  type RowParents,
} from './snapshot-normalize.js';

/** Where a snapshot starts: a new one (position null), or one stopped part-way. */
export interface Auth0SnapshotStart extends Auth0SnapshotRowContext {
  /** The position committed last (JSON, see Position). */
  position: string | null;
  rowsRead: number;
  pages: number;
  rowsDeleted: number;
}

export interface Auth0SnapshotReading {
  management: ManagementContext;
  log: Logger;
  /** The committed state, for the rows the tenant no longer has. */
  stored: StoredStreamView;
  /** Items per page of a list endpoint (default 100, Auth0's most for `take`). */
  pageSize?: number;
  /** The first wait between two looks at the export job, growing to 5 s (default 1 s). */
  exportPollMs?: number;
  /**
   * The families the stream follows (`user`, `organization`, `group`: from its `--event-type`
   * filter); the others' tables would go stale at once, so they are not read. Default: all.
   */
  families?: ReadonlySet<string>;
}

/**
 * Where a snapshot stands: in which phase, and there, the job and lines read (users), or the page
 * of the outer list (`from`), the ids of that page's entities done (`done`), and the entity under
 * way (`current`) with its part and that part's page (`part`, `partFrom`). By id, not by place:
 * an entity deleted meanwhile moves the others up the page.
 */
interface Position {
  /** `deleting`: every list is read and committed; the stored rows the tenant no longer has go. */
  phase: 'users' | 'organizations' | 'groups' | 'deleting';
  job?: string;
  lines?: number;
  from?: string | null;
  done?: string[];
  current?: string;
  part?: string;
  partFrom?: string | null;
}

type SnapshotItem = UpstreamEvent | UnreadableFrame | SnapshotProgress;

/** The fields a users export is asked for: every column of `users`, and what `object` keeps besides. */
export const USER_EXPORT_FIELDS = [
  'user_id', 'email', 'email_verified', 'username', 'phone_number', 'name', 'nickname', 'given_name', 'family_name', 'picture',
  'blocked', 'logins_count', 'last_login', 'created_at', 'updated_at', 'identities', 'app_metadata', 'user_metadata',
] as const;

const LOG_EVERY_PAGES = 20;
/** Users-export lines, and deletions, committed together. */
const USERS_PER_PAGE = 1000;
const DELETES_PER_PAGE = 1000;
const COMMIT_POLL_MS = 20;

export async function* readAuth0Snapshot(start: Auth0SnapshotStart, reading: Auth0SnapshotReading): AsyncGenerator<SnapshotItem> {
  const reader = new SnapshotReader(start, reading);
  yield* reader.read();
}

/** One part of an entity read page by page (an organization's members, a group's roles…). */
interface Part {
  name: string;
  page: (from: string | null) => Promise<{ rows: SnapshotItem[]; next: string | null }>;
}

class SnapshotReader {
  private readonly progress: SnapshotProgress;
  private readonly take: number;
  private readonly began = Date.now();
  private rowsThisRun = 0;

  constructor(
    private readonly start: Auth0SnapshotStart,
    private readonly reading: Auth0SnapshotReading,
  ) {
    this.take = reading.pageSize ?? 100;
    this.progress = {
      kind: 'snapshot',
      snapshotId: start.snapshotId,
      startedAt: start.startedAt,
      status: 'running',
      finishedAt: null,
      position: start.position,
      rowsRead: start.rowsRead,
      pages: start.pages,
      rowsDeleted: start.rowsDeleted,
      total: null,
    };
  }

  async *read(): AsyncGenerator<SnapshotItem> {
    const { log } = this.reading;
    let position: Position = this.start.position ? (JSON.parse(this.start.position) as Position) : { phase: 'users' };
    // Committed at once: `status` shows the snapshot, and a restart resumes this one.
    if (this.start.pages === 0) yield { ...this.progress };
    log.info(this.start.pages === 0 ? 'snapshot started' : 'snapshot resumed', { snapshot: this.start.snapshotId, phase: position.phase, rowsRead: this.progress.rowsRead });
    if (position.phase === 'users') {
      if (this.follows('users')) yield* this.users(position);
      position = { phase: 'organizations' };
    }
    if (position.phase === 'organizations') {
      if (this.follows('organizations')) yield* this.entities(position, '/organizations', 'organizations', 'snapshot.organization', (id) => this.organizationParts(id));
      position = { phase: 'groups' };
    }
    if (position.phase === 'groups') {
      if (this.follows('groups')) yield* this.entities(position, '/groups', 'groups', 'snapshot.group', (id) => this.groupParts(id));
      yield this.checkpoint({ phase: 'deleting' });
    }
    if (!(await this.committed('deleting'))) return;
    yield* this.vanished();
    this.progress.status = 'finished';
    this.progress.finishedAt = nowTime();
    yield { ...this.progress };
    log.info('snapshot finished', { snapshot: this.start.snapshotId, rowsRead: this.progress.rowsRead, pages: this.progress.pages, rowsDeleted: this.progress.rowsDeleted });
  }

  /** Whether the stream follows the family a table (or phase) belongs to. */
  private follows(table: string): boolean {
    const family = table === 'users' ? 'user' : table.startsWith('organization') ? 'organization' : 'group';
    return this.reading.families === undefined || this.reading.families.has(family);
  }

  /** The users export: a job of its own, or the one a stopped snapshot was reading, its lines read after those committed. */
  private async *users(position: Position): AsyncGenerator<SnapshotItem> {
    this.progress.total = await this.userCount();
    let job = position.job ?? null;
    let skip = position.lines ?? 0;
    // A stopped snapshot's job, if Auth0 still has its file: else a new job, read from its first line.
    let location = job === null ? null : await this.exportLocation(job, false);
    for (let resumed = location !== null; ; resumed = false) {
      if (location === null) {
        job = await this.startExport();
        skip = 0;
        location = await this.exportLocation(job, true);
      }
      let lines = 0;
      let inPage = 0;
      try {
        for await (const line of exportFileLines(location!, this.reading.management.signal)) {
          if (++lines <= skip) continue;
          let user: unknown;
          try {
            user = JSON.parse(line);
          } catch (error) {
            yield { kind: 'unreadable', frameEvent: 'snapshot.user', raw: line, reason: `users export line is not JSON: ${(error as Error).message}`, cursor: null };
            continue;
          }
          yield this.row('snapshot.user', user);
          if (++inPage >= USERS_PER_PAGE) {
            inPage = 0;
            yield this.checkpoint({ phase: 'users', job: job!, lines });
          }
        }
        break;
      } catch (error) {
        // The file's signed address expired since the stop: a new export.
        if (!resumed || lines > 0 || !(error instanceof ManagementRefusal)) throw error;
        this.reading.log.warn('the stopped snapshot\'s users export can no longer be downloaded; exporting again', { job, error: error.message });
        location = null;
      }
    }
    this.progress.total = null;
    yield this.checkpoint({ phase: 'organizations' });
  }

  /** An estimate for the progress line: the list endpoint's total, when it gives one. */
  private async userCount(): Promise<number | null> {
    try {
      const body = await managementJson(this.reading.management, '/users', { per_page: 1, page: 0, include_totals: true, fields: 'user_id' });
      return isRecord(body) && typeof body.total === 'number' ? body.total : null;
    } catch (error) {
      if (this.reading.management.signal.aborted) throw error;
      return null;
    }
  }

  private async startExport(): Promise<string> {
    const job = await managementJson(this.reading.management, '/jobs/users-exports', {}, { format: 'json', fields: USER_EXPORT_FIELDS.map((name) => ({ name })) });
    if (!isRecord(job) || typeof job.id !== 'string') throw new Error(`Auth0 answered the users export request without a job id: ${JSON.stringify(job)?.slice(0, 200)}`);
    this.reading.log.info('users export job started', { job: job.id });
    return job.id;
  }

  /**
   * The export's file once the job is done. A job of a stopped snapshot that is gone or failed
   * gives null (`wait` false), so that a new one is started; a new job that fails stops the snapshot.
   */
  private async exportLocation(job: string, wait: boolean): Promise<string | null> {
    let delayMs = this.reading.exportPollMs ?? 1000;
    for (;;) {
      let status: Record<string, unknown>;
      try {
        const body = await managementJson(this.reading.management, `/jobs/${encodeURIComponent(job)}`);
        status = isRecord(body) ? body : {};
      } catch (error) {
        if (!wait && error instanceof ManagementRefusal && error.status === 404) return null;
        throw error;
      }
      if (status.status === 'completed' && typeof status.location === 'string') return status.location;
      if (status.status === 'failed' || status.status === 'completed') {
        if (!wait) return null;
        throw new Error(`the users export job ${job} ${status.status === 'failed' ? 'failed' : 'completed without a file'}: ${JSON.stringify(status).slice(0, 300)}`);
      }
      if (!(await pause(delayMs, this.reading.management.signal))) throw new Error('stopped while waiting for the users export');
      delayMs = Math.min(5000, delayMs * 1.5);
    }
  }

  /**
   * An entity list (organizations, groups) read with checkpoint pages; after each entity's row, its
   * parts. A tenant whose API has no such list (404: groups are not on every plan) has none.
   */
  private async *entities(position: Position, path: string, key: string, rowType: Auth0SnapshotRowType, partsOf: (id: string) => Part[]): AsyncGenerator<SnapshotItem> {
    const phase = position.phase;
    let from = position.from ?? null;
    let done = new Set(position.done ?? []);
    let resume = position.part && position.current ? { id: position.current, part: position.part, partFrom: position.partFrom ?? null } : null;
    for (;;) {
      const page = await this.listOrNone(path, () => checkpointPage(this.reading.management, path, key, from, this.take));
      for (const entity of page.items) {
        if (typeof entity.id !== 'string' || entity.id === '') {
          yield { kind: 'unreadable', frameEvent: rowType, raw: JSON.stringify(entity), reason: `${key} list item has no id`, cursor: null };
          continue;
        }
        if (done.has(entity.id)) continue;
        const here: Position = { phase, from, done: [...done], current: entity.id };
        yield this.row(rowType, entity);
        // A stopped entity resumes in its part; one gone meanwhile leaves nothing to resume.
        yield* this.parts(partsOf(entity.id), here, resume?.id === entity.id ? resume : null);
        resume = null;
        done.add(entity.id);
        yield this.checkpoint({ phase, from, done: [...done] });
      }
      if (page.next === null) return;
      from = page.next;
      done = new Set();
    }
  }

  /** An entity's parts in order, each page followed by where the next one starts. */
  private async *parts(parts: Part[], here: Position, resume: { part: string; partFrom: string | null } | null): AsyncGenerator<SnapshotItem> {
    const first = resume === null ? 0 : Math.max(0, parts.findIndex((part) => part.name === resume.part));
    for (let p = first; p < parts.length; p++) {
      let from = resume !== null && p === first ? resume.partFrom : null;
      for (;;) {
        const page = await this.goneOnNotFound(() => parts[p].page(from));
        // The entity was deleted since its list was read: the stream's event for that says the rest.
        if (page === 'gone') return;
        const { rows, next } = page;
        yield* rows;
        const after = next !== null ? { part: parts[p].name, partFrom: next } : p + 1 < parts.length ? { part: parts[p + 1].name, partFrom: null } : null;
        if (after) yield this.checkpoint({ ...here, ...after });
        if (next === null) break;
        from = next;
      }
    }
  }

  private organizationParts(orgId: string): Part[] {
    const management = this.reading.management;
    const base = `/organizations/${encodeURIComponent(orgId)}`;
    const parents: RowParents = { organization_id: orgId };
    return [
      {
        name: 'members',
        page: async (from) => {
          // `fields` must name roles for them to be listed; a member answered without them has them fetched.
          const page = await checkpointPage(management, `${base}/members`, 'members', from, this.take, { fields: 'user_id,roles', include_fields: true });
          const rows: SnapshotItem[] = [];
          for (const member of page.items) {
            if (!Array.isArray(member.roles) && typeof member.user_id === 'string') {
              const roles = await this.goneOnNotFound(() => this.allItems(`${base}/members/${encodeURIComponent(member.user_id as string)}/roles`, 'roles', 'offset'));
              // A member who left since the page was read: the stream's event says so.
              if (roles === 'gone') continue;
              member.roles = roles;
            }
            rows.push(this.row('snapshot.organization.member', member, parents));
          }
          return { rows, next: page.next };
        },
      },
      {
        // Offset pages move when a connection goes: read whole (an organization has a few), never resumed part-way.
        name: 'connections',
        page: async () => {
          const connections = await this.allItems(`${base}/enabled_connections`, 'enabled_connections', 'offset');
          return { rows: connections.map((connection) => this.row('snapshot.organization.connection', connection, parents)), next: null };
        },
      },
      {
        name: 'groups',
        page: async (from) => {
          const page = await this.listOrNone(`${base}/groups`, () => checkpointPage(management, `${base}/groups`, 'groups', from, this.take));
          const rows: SnapshotItem[] = [];
          for (const group of page.items) {
            if (typeof group.id !== 'string') continue;
            const roles = await this.goneOnNotFound(() => this.allItems(`${base}/groups/${encodeURIComponent(group.id as string)}/roles`, 'roles', 'checkpoint'));
            if (roles === 'gone') continue;
            for (const role of roles) rows.push(this.row('snapshot.organization.group.role', role, { ...parents, group_id: group.id }));
          }
          return { rows, next: page.next };
        },
      },
    ];
  }

  private groupParts(groupId: string): Part[] {
    const base = `/groups/${encodeURIComponent(groupId)}`;
    const parents: RowParents = { group_id: groupId };
    const part = (name: string, type: Auth0SnapshotRowType): Part => ({
      name,
      page: async (from) => {
        const page = await checkpointPage(this.reading.management, `${base}/${name}`, name, from, this.take);
        return { rows: page.items.map((item) => this.row(type, item, parents)), next: page.next };
      },
    });
    return [part('members', 'snapshot.group.member'), part('roles', 'snapshot.group.role')];
  }

  /** Every item of a small list (a member's or a group's roles), all pages. */
  private async allItems(path: string, key: string, paging: 'offset' | 'checkpoint'): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (let from: string | null = null; ; ) {
      const page: ListPage = paging === 'offset'
        ? await offsetPage(this.reading.management, path, key, Number(from ?? 0), this.take)
        : await checkpointPage(this.reading.management, path, key, from, this.take);
      items.push(...page.items);
      if (page.next === null) return items;
      from = page.next;
    }
  }

  /** A read answered 404: what it was about (an entity, a member, a group) is gone since it was listed. */
  private async goneOnNotFound<T>(read: () => Promise<T>): Promise<T | 'gone'> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof ManagementRefusal) || error.status !== 404) throw error;
      this.reading.log.info('an entity the snapshot listed is gone (404); going on with the next', { path: error.path });
      return 'gone';
    }
  }

  /** A list the tenant does not have (404) is an empty one: groups are not on every plan. */
  private async listOrNone(path: string, read: () => Promise<ListPage>): Promise<ListPage> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof ManagementRefusal) || error.status !== 404) throw error;
      this.reading.log.warn('the Management API has no such list on this tenant (404); the snapshot has none of it', { path });
      return { items: [], next: null };
    }
  }

  /**
   * Waits until the store holds this snapshot at `phase`: then every row read before it is
   * committed too (batches commit in order). False when the run stops meanwhile.
   */
  private async committed(phase: Position['phase']): Promise<boolean> {
    for (;;) {
      const latest = await this.reading.stored.latestSnapshot();
      if (latest?.snapshotId === this.start.snapshotId && latest.position !== null && (JSON.parse(latest.position) as Position).phase === phase) return true;
      if (!(await pause(COMMIT_POLL_MS, this.reading.management.signal))) return false;
    }
  }

  /**
   * Stored rows last written before the snapshot's row time: every row the snapshot listed is
   * written at that time (or by a newer event), so these were neither listed nor changed since,
   * and the tenant no longer has them. Read from what is committed, so nothing is held per row read.
   */
  private async *vanished(): AsyncGenerator<SnapshotItem> {
    const before = snapshotRowTime(this.start.startedAt);
    let inPage = 0;
    for (const [table, described] of Object.entries(AUTH0_SNAPSHOT_TABLES)) {
      if (!this.follows(table)) continue;
      const { keyColumns } = described!;
      const entity = ENTITY_TABLES.has(table);
      const rows = await this.reading.stored.rowsWrittenBefore({ table: table as ProjectionTable, keyColumns, before, entity });
      for (const row of rows) {
        const key = Object.fromEntries(keyColumns.map((column) => [column, String(row[column])]));
        // An entity's row keeps its last known state, so that the deletion alone rebuilds it.
        const object = entity ? (typeof row.object === 'string' ? (JSON.parse(row.object) as unknown) : row.object) : undefined;
        this.progress.rowsDeleted++;
        yield { kind: 'event', frameEvent: AUTH0_SNAPSHOT_DELETE, data: snapshotDeletePayload(this.start, table as ProjectionTable, key, object), cursor: null, moreInTransaction: true };
        // A stop here resumes the pass: what it committed is deleted, and is no longer found.
        if (++inPage >= DELETES_PER_PAGE) {
          inPage = 0;
          yield this.checkpoint({ phase: 'deleting' });
        }
      }
    }
  }

  /** A row of the snapshot, committed with the progress after its page. */
  private row(type: Auth0SnapshotRowType, object: unknown, parents: RowParents = {}): SnapshotItem {
    const data = snapshotRowPayload(this.start, type, object as Record<string, unknown>, parents);
    this.progress.rowsRead++;
    this.rowsThisRun++;
    return { kind: 'event', frameEvent: type, data, cursor: null, moreInTransaction: true };
  }

  private checkpoint(position: Position): SnapshotProgress {
    this.progress.position = JSON.stringify(position);
    this.progress.pages++;
    if (this.progress.pages % LOG_EVERY_PAGES === 0) {
      const perSecond = this.rowsThisRun / Math.max(0.001, (Date.now() - this.began) / 1000);
      this.reading.log.info('snapshot progress', { snapshot: this.start.snapshotId, phase: position.phase, rowsRead: this.progress.rowsRead, pages: this.progress.pages, rowsPerSecond: Math.round(perSecond) });
    }
    return { ...this.progress };
  }
}
