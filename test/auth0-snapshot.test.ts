// The initial snapshot of an Auth0 stream: a tenant with users, organizations (members, roles,
// connections) and groups from before the stream began, changes arriving while the snapshot is
// read, SIGKILLs in the middle of it, the rate limit hit. The tables must end equal to the tenant
// as the simulator holds it.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Auth0Tenant, startAuth0Tenant, type ExpectedTenantRows, type TenantShape } from '../src/simulators/auth0-tenant.js';
import { seededRandom } from '../src/simulators/sanity-simulator.js';
import { backends, type TestDatabase } from './helpers/backends.js';
import { killDuringSnapshot, statesWhile } from './helpers/snapshot.js';
import { collect, runCli, spawnCli } from './helpers/cli.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Each table as key texts, spelled as ExpectedTenantRows spells them, in SQL both databases run. */
const TABLE_SQL: Record<keyof ExpectedTenantRows, string> = {
  users: "SELECT user_id || '|' || email || '|' || name AS k FROM users WHERE stream = $s AND deleted_at IS NULL",
  organizations: "SELECT org_id || '|' || name || '|' || display_name AS k FROM organizations WHERE stream = $s AND deleted_at IS NULL",
  groups: "SELECT group_id || '|' || name AS k FROM groups WHERE stream = $s AND deleted_at IS NULL",
  organization_members: "SELECT org_id || '|' || user_id AS k FROM organization_members WHERE stream = $s",
  organization_member_roles: "SELECT org_id || '|' || user_id || '|' || role_id || '|' || role_name AS k FROM organization_member_roles WHERE stream = $s",
  organization_connections: "SELECT org_id || '|' || connection_id || '|' || CASE WHEN show_as_button THEN '1' ELSE '0' END AS k FROM organization_connections WHERE stream = $s",
  organization_group_roles: "SELECT org_id || '|' || group_id || '|' || role_id AS k FROM organization_group_roles WHERE stream = $s",
  group_members: "SELECT group_id || '|' || member_type || '|' || member_id AS k FROM group_members WHERE stream = $s",
  group_roles: "SELECT group_id || '|' || role_id AS k FROM group_roles WHERE stream = $s",
};

async function storedRows(db: TestDatabase, stream: string): Promise<ExpectedTenantRows> {
  const rows = {} as ExpectedTenantRows;
  for (const [table, sql] of Object.entries(TABLE_SQL)) {
    const found = await db.rows<{ k: string }>(sql.replace('$s', `'${stream}'`));
    rows[table as keyof ExpectedTenantRows] = found.map((row) => row.k).sort();
  }
  return rows;
}

/** The README's Auth0 snapshot examples, word for word. */
const README_SOURCE_SQL = `SELECT CASE WHEN e.type = 'snapshot.user' THEN 'snapshot' ELSE 'stream' END AS source, count(*) AS users
FROM users u JOIN events e ON e.stream = u.stream AND e.seq = u.event_seq
WHERE u.stream = 'tenant' AND u.deleted_at IS NULL
GROUP BY 1 ORDER BY 1;`;
const README_DELETED_SQL = `SELECT u.user_id, u.email, u.deleted_at
FROM users u JOIN events e ON e.stream = u.stream AND e.seq = u.event_seq
WHERE u.stream = 'tenant' AND e.type = 'snapshot.delete'
ORDER BY u.user_id;`;

const SHAPE: TenantShape = { users: 5000, organizations: 50, membersPerOrganization: 80, groups: 15, membersPerGroup: 40 };

async function startTenant(shape: TenantShape, options: ConstructorParameters<typeof Auth0Tenant>[0] = {}) {
  const tenant = new Auth0Tenant({ token: 'mgmt-token', ...options });
  tenant.populate(shape);
  const server = await startAuth0Tenant(tenant);
  cleanups.push(server.close);
  return { tenant, server };
}

function ingestArgs(stream: string, url: string, db: TestDatabase, ...extra: string[]): string[] {
  return ['ingest', 'auth0', '--stream', stream, '--domain', 'sim.eu.auth0.com', '--url', url, ...db.args, ...extra];
}

const noDoubles = (db: TestDatabase, stream: string) =>
  db.rows(`SELECT event_id FROM events WHERE stream = '${stream}' GROUP BY event_id HAVING count(*) > 1`);

describe.each(backends)('sse-sink ingest auth0 --snapshot on $name', (backend) => {
  it('ends with every table equal to the tenant after one run with --until-idle 5, changes arriving meanwhile', async () => {
    const { tenant, server } = await startTenant(SHAPE, { managementDelayMs: 1, exportDelayMs: 300 });
    const db = backend.fresh();
    const env = { AUTH0_TOKEN: 'mgmt-token', ...db.env };
    const changer = setInterval(() => tenant.change(), 10);
    cleanups.push(async () => clearInterval(changer));
    const run = collect(spawnCli(ingestArgs('once', server.url, db, '--snapshot', '--until-idle', '5'), env));
    setTimeout(() => clearInterval(changer), 2000);
    const result = await run;
    expect(result.code, result.stderr).toBe(0);
    expect(tenant.log.length).toBeGreaterThan(100);
    expect(await storedRows(db, 'once')).toEqual(tenant.expectedRows());
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'once'")).toEqual([{ snapshot_id: 1, status: 'finished' }]);
  }, 120_000);

  it('ends with every table equal to the tenant, with changes arriving, the rate limit hit and 20 SIGKILLs during the snapshot', async () => {
    const { tenant, server } = await startTenant(SHAPE, { rateLimitPerSecond: 50, managementDelayMs: 2, exportDelayMs: 300 });
    const existing = tenant.expectedRows();
    expect(existing.users).toHaveLength(5000);
    expect(existing.organizations).toHaveLength(50);
    expect(existing.organization_member_roles.length).toBeGreaterThan(1000);
    expect(existing.organization_group_roles.length).toBeGreaterThan(0);
    const db = backend.fresh();
    const args = ingestArgs('tenant', server.url, db, '--snapshot', '--snapshot-page-size', '20');
    const env = { AUTH0_TOKEN: 'mgmt-token', ...db.env };

    // Changes keep arriving from the first run on, killed or not.
    const changer = setInterval(() => tenant.change(), 10);
    cleanups.push(async () => clearInterval(changer));
    const killedMidSnapshot = await killDuringSnapshot(db, 'tenant', {
      args, env, requests: () => tenant.managementRequests(), least: 2, spread: 8, random: seededRandom(5),
    });
    expect(killedMidSnapshot).toBe(20);

    // The same command, as a restart runs it: it resumes the snapshot, then follows the stream;
    // meanwhile `status` says so. Changes go on for a while, then the tenant is quiet.
    tenant.injectManagementFaults('http-500', 'http-429');
    const finalRun = collect(spawnCli([...args, '--until-idle', '5'], env));
    setTimeout(() => clearInterval(changer), 1500);
    const { states, result: final } = await statesWhile(db, 'tenant', finalRun);
    expect(final.code, final.stderr).toBe(0);
    expect(states).toContain('snapshotting');
    expect(await storedRows(db, 'tenant')).toEqual(tenant.expectedRows());
    expect(await noDoubles(db, 'tenant')).toEqual([]);
    // The rate limit was used up again and again, and never gone over: each answer's
    // X-RateLimit-Remaining: 0 made the next request wait for X-RateLimit-Reset.
    expect(tenant.rateLimited.exhaustedSeconds).toBeGreaterThan(3);
    expect(tenant.rateLimited.refused).toBe(0);
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'tenant'")).toEqual([{ snapshot_id: 1, status: 'finished' }]);
    const [users] = await db.rows<{ n: number }>("SELECT count(DISTINCT subject_id) AS n FROM events WHERE stream = 'tenant' AND type = 'snapshot.user'");
    expect(Number(users.n)).toBeGreaterThanOrEqual(5000);
    const [deadLetters] = await db.rows<{ n: number }>("SELECT count(*) AS n FROM dead_letters WHERE stream = 'tenant'");
    expect(Number(deadLetters.n)).toBe(0);

    // The history alone gives the same tables.
    const rebuilt = await runCli(['rebuild', 'tenant', ...db.args], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain('no differences');
  }, 300_000);

  it('sse-sink snapshot marks deleted the users, and removes the memberships, the tenant no longer has', async () => {
    const { tenant, server } = await startTenant({ users: 400, organizations: 6, membersPerOrganization: 30, groups: 4, membersPerGroup: 20 });
    const db = backend.fresh();
    const env = { AUTH0_TOKEN: 'mgmt-token', ...db.env };
    const first = collect(spawnCli(ingestArgs('again', server.url, db, '--snapshot', '--until-idle', '2'), env));
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (let i = 0; i < 20; i++) tenant.change();
    const firstRun = await first;
    expect(firstRun.code, firstRun.stderr).toBe(0);
    expect(await storedRows(db, 'again')).toEqual(tenant.expectedRows());
    const [{ cursor }] = await db.rows<{ cursor: string | null }>("SELECT cursor FROM streams WHERE name = 'again'");
    expect(cursor).not.toBeNull();

    const before = tenant.expectedRows();
    tenant.removeQuietly(5);
    const after = tenant.expectedRows();
    const userIdOf = (row: string) => row.split('|').slice(0, 2).join('|');
    const goneUsers = before.users.filter((row) => !after.users.includes(row)).map(userIdOf).sort();
    const deletedSql = "SELECT user_id FROM users WHERE stream = 'again' AND deleted_at IS NOT NULL ORDER BY user_id";
    const deletedBefore = new Set((await db.rows<{ user_id: string }>(deletedSql)).map((row) => row.user_id));
    expect(goneUsers).toHaveLength(5);
    const snapshot = await runCli(['snapshot', 'again', '--url', server.url, '--until-idle', '1', ...db.args], env);
    expect(snapshot.code, snapshot.stderr).toBe(0);
    expect(await storedRows(db, 'again')).toEqual(after);
    const deleted = (await db.rows<{ user_id: string }>(deletedSql)).map((row) => row.user_id).filter((id) => !deletedBefore.has(id));
    expect(deleted).toEqual(goneUsers);
    const reasons = await db.rows<{ event_id: string; payload: unknown }>("SELECT event_id, payload FROM events WHERE stream = 'again' AND type = 'snapshot.delete' AND subject_kind = 'user' ORDER BY event_id");
    expect(reasons.map((row) => row.event_id)).toEqual(goneUsers.map((id) => `snapshot-delete:2:users:${id}`));
    const payload = typeof reasons[0].payload === 'string' ? JSON.parse(reasons[0].payload) : reasons[0].payload;
    expect(payload).toMatchObject({ snapshot: 2, table: 'users', reason: 'not in the tenant at snapshot 2' });

    // The README's examples, as a user runs them (with the stream's name), on either database.
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(README_SOURCE_SQL);
    expect(readme).toContain(README_DELETED_SQL);
    const query = async (sql: string) => {
      const out = await runCli(['query', sql.replaceAll("'tenant'", "'again'"), '--format', 'json', ...db.args], env);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as Record<string, unknown>[];
    };
    const bySource = (await query(README_SOURCE_SQL)).map((row) => ({ source: String(row.source), users: Number(row.users) }));
    expect(bySource.map((row) => row.source)).toEqual(['snapshot', 'stream']);
    expect(bySource.reduce((sum, row) => sum + row.users, 0)).toBe(after.users.length);
    expect((await query(README_DELETED_SQL)).map((row) => row.user_id)).toEqual(goneUsers);
    const rebuilt = await runCli(['rebuild', 'again', ...db.args], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain('no differences');
  }, 120_000);

  it('reads a Management API that ignores fields=roles and include_totals: roles fetched per member, bare arrays paged', async () => {
    const { tenant, server } = await startTenant({ users: 200, organizations: 3, membersPerOrganization: 25, groups: 2, membersPerGroup: 5 }, { plainAnswers: true });
    const db = backend.fresh();
    const env = { AUTH0_TOKEN: 'mgmt-token', ...db.env };
    const run = await runCli(ingestArgs('plain', server.url, db, '--snapshot', '--snapshot-page-size', '2', '--until-idle', '1'), env);
    expect(run.code, run.stderr).toBe(0);
    const expected = tenant.expectedRows();
    expect(expected.organization_member_roles.length).toBeGreaterThan(10);
    expect(expected.organization_connections.length).toBeGreaterThan(2);
    expect(await storedRows(db, 'plain')).toEqual(expected);
  }, 120_000);

  it('snapshots only the families an --event-type filter follows', async () => {
    const { tenant, server } = await startTenant({ users: 150, organizations: 3, membersPerOrganization: 20, groups: 2, membersPerGroup: 5 });
    const db = backend.fresh();
    const env = { AUTH0_TOKEN: 'mgmt-token', ...db.env };
    const run = await runCli(ingestArgs('users-only', server.url, db, '--event-type', 'user.created', '--event-type', 'user.updated', '--snapshot', '--until-idle', '1'), env);
    expect(run.code, run.stderr).toBe(0);
    expect((await storedRows(db, 'users-only')).users).toEqual(tenant.expectedRows().users);
    expect(await db.rows("SELECT DISTINCT type FROM events WHERE stream = 'users-only'")).toEqual([{ type: 'snapshot.user' }]);
  }, 60_000);

  it('stops with exit 3 naming the scopes when the Management API refuses the token, exit 2 on a request it finds malformed, and resumes once it reads again', async () => {
    const { tenant, server } = await startTenant({ users: 300, organizations: 4, membersPerOrganization: 20, groups: 3, membersPerGroup: 10 });
    const db = backend.fresh();
    const env = { AUTH0_TOKEN: 'mgmt-token', ...db.env };
    const args = ingestArgs('refused', server.url, db, '--snapshot', '--until-idle', '1');
    // The first request only asks for the users' count (an estimate, done without); the second starts the export.
    tenant.injectManagementFaults('http-403', 'http-403');
    const refused = await runCli(args, env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/the snapshot could not read Auth0's Management API \(.*HTTP 403.*the token needs the scopes read:users, read:organizations/);
    expect(refused.stderr).not.toContain('mgmt-token');
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'refused'")).toEqual([{ snapshot_id: 1, status: 'running' }]);
    // A request Auth0 finds malformed is a usage error (exit 2), and the snapshot still resumes.
    tenant.injectManagementFaults('http-400', 'http-400');
    const malformed = await runCli(args, env);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/Auth0's Management API refused the snapshot's request \(.*HTTP 400.*check --snapshot-page-size/);
    const resumed = await runCli(args, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'refused'")).toEqual([{ snapshot_id: 1, status: 'finished' }]);
    expect(await storedRows(db, 'refused')).toEqual(tenant.expectedRows());
  }, 120_000);
});
