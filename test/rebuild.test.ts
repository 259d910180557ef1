import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/cli.js';
import { queryRows } from './helpers/auth0.js';

// The demo database holds an Auth0 and a Sanity stream ingested live, with deletes and removals.
let db: string;
beforeAll(async () => {
  db = join(tempDir(), 'demo.db');
  expect((await runCli(['demo', '--db', db])).code).toBe(0);
});

const tables = ['users', 'organization_members', 'group_members', 'documents'];
const contents = () => Object.fromEntries(tables.map((t) => [t, queryRows(db, `SELECT * FROM ${t} ORDER BY 1, 2, 3`)]));

describe('sse-sink rebuild', () => {
  it('finds no difference between the live projections and a replay of the history', async () => {
    for (const stream of ['demo-auth0', 'demo-sanity']) {
      const result = await runCli(['rebuild', stream, '--db', db]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`rebuilt the tables of "${stream}" from \\d+ events: no differences`));
    }
  });

  it('repairs damaged tables and reports each difference it fixed', async () => {
    const good = contents();
    const sqlite = new Database(db);
    sqlite.prepare("UPDATE users SET email = 'wrong@example.com' WHERE user_id = (SELECT min(user_id) FROM users WHERE deleted_at IS NULL)").run();
    sqlite.prepare('DELETE FROM organization_members WHERE rowid = (SELECT min(rowid) FROM organization_members)').run();
    sqlite.prepare(
      "INSERT INTO group_members (stream, group_id, member_type, member_id, event_time, event_seq) VALUES ('demo-auth0', 'grp_x', 'user', 'u', '2026-01-01T00:00:00.000000Z', 1)",
    ).run();
    sqlite.prepare("UPDATE documents SET rev = 'bogus' WHERE document_id = 'doc-1'").run();
    sqlite.close();

    const auth0 = await runCli(['rebuild', 'demo-auth0', '--db', db]);
    expect(auth0.code).toBe(0);
    expect(auth0.stdout).toContain('fixed');
    expect(auth0.stdout).toContain('users: 0 added, 0 removed, 1 changed');
    expect(auth0.stdout).toContain('organization_members: 1 added, 0 removed, 0 changed');
    expect(auth0.stdout).toContain('group_members: 0 added, 1 removed, 0 changed');
    const sanity = await runCli(['rebuild', 'demo-sanity', '--db', db]);
    expect(sanity.stdout).toContain('documents: 0 added, 0 removed, 1 changed');
    expect(contents()).toEqual(good);
  });

  it('refuses an unknown stream with exit 2', async () => {
    const result = await runCli(['rebuild', 'nope', '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no stream named "nope"/);
  });
});
