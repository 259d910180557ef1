import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_CHANGES, demoTenant } from '../src/simulators/demo-tenant.js';
import { runCli, tempDir } from './helpers/cli.js';
import { queryRows } from './helpers/auth0.js';
import { postgresBackend } from './helpers/backends.js';

describe('sse-sink demo', () => {
  it('ingests the simulated tenant and dataset, prints query results and what to try next', async () => {
    const db = join(tempDir(), 'demo.db');
    const result = await runCli(['demo', '--db', db]);
    expect(result.code).toBe(0);

    // The tenant as the demo leaves it, worked out by the simulator alone: the same seed, the same changes.
    const tenant = demoTenant();
    for (let i = 0; i < DEMO_CHANGES.during; i++) tenant.change();
    const deleted = tenant.log.filter((event) => event.type === 'user.deleted').length;
    const [{ auth0Snapshot }] = queryRows<{ auth0Snapshot: number }>(db, "SELECT count(*) AS auth0Snapshot FROM events WHERE stream = 'demo-auth0' AND type LIKE 'snapshot.%'");
    expect(auth0Snapshot).toBeGreaterThan(48);
    expect(queryRows(db, "SELECT events_total FROM streams WHERE name = 'demo-auth0'")).toEqual([{ events_total: tenant.log.length + auth0Snapshot }]);
    expect(queryRows(db, 'SELECT count(*) AS n, count(deleted_at) AS deleted FROM users')).toEqual([{ n: tenant.users.size + deleted, deleted }]);
    expect(queryRows(db, 'SELECT count(*) AS n FROM organizations WHERE deleted_at IS NULL')).toEqual([{ n: tenant.organizations.size }]);
    expect(queryRows(db, "SELECT status FROM snapshots WHERE stream = 'demo-auth0'")).toEqual([{ status: 'finished' }]);
    // The dataset's documents from before the stream come from its snapshot; the changes after, from the listener.
    const [{ mutations }] = queryRows<{ mutations: number }>(db, "SELECT count(*) AS mutations FROM document_mutations WHERE stream = 'demo-sanity'");
    const [{ snapshotRows }] = queryRows<{ snapshotRows: number }>(db, "SELECT count(*) AS snapshotRows FROM events WHERE stream = 'demo-sanity' AND type = 'snapshot.document'");
    expect(queryRows(db, "SELECT events_total FROM streams WHERE name = 'demo-sanity'")).toEqual([{ events_total: mutations + snapshotRows }]);
    expect(snapshotRows).toBeGreaterThan(30);
    expect(mutations).toBeGreaterThan(20);
    expect(queryRows(db, "SELECT status FROM snapshots WHERE stream = 'demo-sanity'")).toEqual([{ status: 'finished' }]);

    expect(result.stdout).toContain(`ingested ${tenant.log.length + auth0Snapshot} events from demo-auth0 and ${mutations + snapshotRows} events from demo-sanity`);
    expect(result.stdout).toContain('Auth0 history: the snapshot of the tenant that existed before the stream');
    expect(result.stdout).toContain('Sanity history: the snapshot of what existed before the stream');
    const usersTable = result.stdout.split('Users: active, deleted, verified:\n')[1].split('\n');
    expect(usersTable[2].split(/\s+/).slice(0, 2)).toEqual([String(tenant.users.size), String(deleted)]);
    expect(result.stdout).toContain('Members of each organization by role:');
    expect(result.stdout).toContain('Sanity documents by type and kind');
    expect(result.stdout).toContain(`npx sse-sink status --db ${db}`);
  });

  it('runs again on its own database, and refuses one that holds other streams', async () => {
    const dir = tempDir();
    const db = join(dir, 'demo.db');
    expect((await runCli(['demo', '--db', db])).code).toBe(0);
    expect((await runCli(['demo', '--db', db])).code).toBe(0);
    expect(queryRows(db, 'SELECT count(*) AS n FROM streams')).toEqual([{ n: 2 }]);

    const other = join(dir, 'other.db');
    expect((await runCli(['migrate', '--db', other])).code).toBe(0);
    const sqlite = (await import('better-sqlite3')).default;
    const handle = new sqlite(other);
    handle.prepare("INSERT INTO streams (name, source, definition) VALUES ('prod', 'auth0', '{}')").run();
    handle.close();
    const refused = await runCli(['demo', '--db', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/holds other streams \(prod\)/);
  });

  it('runs on PostgreSQL, twice, into the schema it is given', async () => {
    const db = postgresBackend.fresh();
    const tenant = demoTenant();
    for (let i = 0; i < DEMO_CHANGES.during; i++) tenant.change();
    for (let run = 0; run < 2; run++) {
      const result = await runCli(['demo', ...db.args], db.env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`(schema ${db.target.schema})`);
      expect(result.stdout).toContain(`--db-schema ${db.target.schema}`);
    }
    // The second run replays the same events (duplicates) and, the stream being reset, takes a second snapshot.
    expect(await db.rows("SELECT count(*) AS n FROM events WHERE stream = 'demo-auth0' AND type NOT LIKE 'snapshot.%'")).toEqual([{ n: tenant.log.length }]);
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'demo-auth0' ORDER BY snapshot_id")).toEqual([
      { snapshot_id: 1, status: 'reset' },
      { snapshot_id: 2, status: 'finished' },
    ]);
    expect(await db.rows('SELECT count(*) AS n FROM organizations WHERE deleted_at IS NULL')).toEqual([{ n: tenant.organizations.size }]);
  });
});
