import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../src/store/open-store.js';
import { backends, type TestDatabase } from './helpers/backends.js';
import { collect, runCli, spawnCli, tempDir } from './helpers/cli.js';
import { batchOf, userChange } from './helpers/store.js';

describe('sse-sink CLI', () => {
  it('prints help for every command', async () => {
    for (const command of [[], ['migrate'], ['status'], ['query'], ['reset'], ['ingest']]) {
      const result = await runCli([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout).toContain('--db');
    }
  });

  it('migrate creates the database with owner-only permissions', async () => {
    const db = join(tempDir(), 'new.db');
    const result = await runCli(['migrate', '--db', db]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(statSync(db).mode & 0o777).toBe(0o600);
  });

  it('takes the database path from SSE_SINK_DB', async () => {
    const db = join(tempDir(), 'env.db');
    expect((await runCli(['migrate'], { SSE_SINK_DB: db })).code).toBe(0);
    expect(existsSync(db)).toBe(true);
  });

  it.each([
    [['bogus']],
    [['status', '--no-such-flag']],
    [['query']],
    [['reset', 'tenant']],
  ])('rejects %j with exit 2, one line, and no database created', async (args) => {
    const dir = tempDir();
    const db = join(dir, 'untouched.db');
    const result = await runCli([...args, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^sse-sink: /);
    expect(existsSync(db)).toBe(false);
  });

  it.each([
    [['ingest', 'auth0', '--stream', 's', '--domain', 'acme.eu.auth0.com', '--snapshot', '--snapshot-page-size', '101'],
      /--snapshot-page-size must be a whole number from 1 to 100, not 101/],
    [['ingest', 'sanity', '--stream', 's', '--project', 'abc123', '--dataset', 'production', '--query', '*[_type == "post"]', '--snapshot', '--snapshot-page-size', '0'],
      /--snapshot-page-size must be a whole number from 1 to 10000, not 0/],
    [['snapshot', 'nosuch'], /does not exist; pass --db/],
  ])('refuses %j with exit 2 before writing anything', async (args, message) => {
    const db = join(tempDir(), 'untouched.db');
    const result = await runCli([...args, '--db', db], { AUTH0_TOKEN: 't' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(existsSync(db)).toBe(false);
  });

  it('rejects a bad --metrics-port before opening anything', async () => {
    const db = join(tempDir(), 'untouched.db');
    const result = await runCli(['ingest', 'auth0', '--stream', 's', '--domain', 'acme.eu.auth0.com', '--metrics-port', '70000', '--db', db], {
      AUTH0_TOKEN: 't',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--metrics-port must be a port number from 0 to 65535, not 70000/);
    expect(existsSync(db)).toBe(false);
  });


});

const TENANT = { name: 'tenant', source: 'auth0', definition: { domain: 'a.example.com' } } as const;

describe.each(backends)('sse-sink CLI on $name', (backend) => {
  /** A database with one stream holding two users and a dead letter, as an ingest would leave it. */
  async function seeded(extraUsers = 0): Promise<TestDatabase> {
    const db = backend.fresh();
    const store = await openStore(db.target);
    const writer = await store.openWriter(TENANT);
    await writer.commit(batchOf([userChange('evt_1', 'u1', '2026-01-01T00:00:01.000000Z'), userChange('evt_2', 'u2', '2026-01-01T00:00:02.000000Z', 'two, "quoted"@example.com')], 'c2'));
    await writer.commit({ changes: [], gaps: [], deadLetters: [{ eventType: 'user.created', reason: 'not JSON', raw: '{', cursor: 'c3', receivedAt: '2026-01-01T00:00:03.000000Z' }], cursor: 'c3' });
    const more = Array.from({ length: extraUsers }, (_, i) => userChange(`evt_more_${i}`, `m${i}`, '2026-01-02T00:00:00.000000Z'));
    for (let i = 0; i < more.length; i += 5000) await writer.commit(batchOf(more.slice(i, i + 5000), 'c4'));
    await writer.release('test done');
    await store.close();
    return db;
  }
  /** The CLI with the environment of whichever database its arguments name. */
  const cli = (args: string[]) => runCli(args, backend.name === 'postgres' ? backend.fresh().env : {});

  it('status lists each stream with its cursor, counts and dead letters', async () => {
    const db = await seeded();
    const table = await cli(['status', ...db.args]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/tenant\s+auth0\s+stopped \(test done\)/);
    const [status] = JSON.parse((await cli(['status', '--json', ...db.args])).stdout);
    expect(status).toMatchObject({
      name: 'tenant',
      cursor: 'c3',
      lastEventAt: '2026-01-01T00:00:02.000000Z',
      eventsTotal: 2,
      eventsByType: { 'user.updated': 2 },
      deadLetters: 1,
      duplicatesSkipped: 0,
    });
  });

  it('query prints rows as a table, JSON or CSV', async () => {
    const db = await seeded();
    const sql = 'SELECT user_id, email FROM users ORDER BY user_id';
    const table = await cli(['query', sql, ...db.args]);
    expect(table.stdout.split('\n').slice(0, 3)).toEqual([
      'user_id  email',
      '-------  -------------------------',
      'u1       u1@example.com',
    ]);
    const json = await cli(['query', sql, '--format', 'json', ...db.args]);
    expect(JSON.parse(json.stdout)).toEqual([
      { user_id: 'u1', email: 'u1@example.com' },
      { user_id: 'u2', email: 'two, "quoted"@example.com' },
    ]);
    const csv = await cli(['query', sql, '--format', 'csv', ...db.args]);
    expect(csv.stdout).toBe('user_id,email\nu1,u1@example.com\nu2,"two, ""quoted""@example.com"\n');
  });

  it('query cannot change the database', async () => {
    const db = await seeded();
    const result = await cli(['query', 'DELETE FROM users', ...db.args]);
    expect(result.code).toBe(2);
    const forced = await cli(['query', 'UPDATE users SET email = 1 RETURNING user_id', ...db.args]);
    expect(forced.code).not.toBe(0);
    expect(forced.stderr).toMatch(/readonly|read-only|only reads/i);
    expect(JSON.parse((await cli(['query', 'SELECT count(*) AS n FROM users', '--format', 'json', ...db.args])).stdout)).toEqual([{ n: 2 }]);
  });

  it('query explains SQL that does not compile', async () => {
    const result = await cli(['query', 'SELEC 1', ...(await seeded()).args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/the SQL did not compile: (near "SELEC"|syntax error at or near "SELEC")/);
  });

  it('reset needs --yes, then forgets the cursor', async () => {
    const db = await seeded();
    expect((await cli(['reset', 'tenant', ...db.args])).code).toBe(2);
    const reset = await cli(['reset', 'tenant', '--yes', ...db.args]);
    expect(reset.code).toBe(0);
    const [status] = JSON.parse((await cli(['status', '--json', ...db.args])).stdout);
    expect(status.cursor).toBeNull();
    expect(status.eventsTotal).toBe(2);
  });

  it('reset refuses while an ingester holds the stream', async () => {
    const db = await seeded();
    const store = await openStore(db.target);
    const writer = await store.openWriter(TENANT);
    const result = await cli(['reset', 'tenant', '--yes', ...db.args]);
    await writer.release('test done');
    await store.close();
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/is being ingested by pid/);
  });

  it('export writes the history as JSON lines with the payload as stored, filtered by type and time', async () => {
    const db = await seeded();
    const all = await cli(['export', '--stream', 'tenant', ...db.args]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines).toMatchObject([
      { seq: 1, event_id: 'evt_1', type: 'user.updated', subject_id: 'u1', cursor: 'c2', projected: true, payload: { user_id: 'u1' } },
      { seq: 2, event_id: 'evt_2', payload: { email: 'two, "quoted"@example.com' } },
    ]);
    const later = await cli(['export', '--stream', 'tenant', '--since', '2026-01-01T00:00:02Z', ...db.args]);
    expect(later.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).event_id)).toEqual(['evt_2']);
    const before = await cli(['export', '--stream', 'tenant', '--until', '2026-01-01T00:00:02Z', '--type', 'user.updated', ...db.args]);
    expect(before.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).event_id)).toEqual(['evt_1']);
    const none = await cli(['export', '--stream', 'tenant', '--type', 'user.deleted', ...db.args]);
    expect(none).toMatchObject({ code: 0, stdout: '' });
  });

  it.each([
    ['export', ['export', '--stream', 'tenant']],
    ['query', ['query', 'SELECT * FROM events']],
  ])('%s into a reader that stops early (| head -3) exits 0 without a message', async (_, args) => {
    const db = await seeded(50_000);
    const child = spawnCli([...args, ...db.args], db.env);
    child.stdin.end();
    // As head does: read the first lines, then close the pipe while the CLI is still writing.
    child.stdout.once('data', () => child.stdout.destroy());
    const result = await collect(child);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('export rejects a bad --since with exit 2', async () => {
    const result = await cli(['export', '--stream', 'tenant', '--since', 'yesterday', ...(await seeded()).args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--since "yesterday" is not an RFC-3339 time/);
  });

  it('status --stale-after exits 6 when a stream\'s cursor has not moved for that long', async () => {
    const db = await seeded();
    expect((await cli(['status', '--stale-after', '3600', ...db.args])).code).toBe(0);
    await db.exec("UPDATE streams SET cursor_updated_at = '2026-01-01T00:00:00.000000Z'");
    const stale = await cli(['status', '--stale-after', '3600', ...db.args]);
    expect(stale.code).toBe(6);
    expect(stale.stderr).toMatch(/stale: "tenant" \(cursor last moved 2026-01-01T00:00:00.000000Z\)/);
  });

  it('status shows a stream whose ingester died without stopping as stopped', async () => {
    const db = await seeded();
    await db.exec("UPDATE streams SET state = 'live', lease_owner = 'gone:1:x', lease_expires_at = '2026-01-01T00:00:00.000000Z'");
    const [status] = JSON.parse((await cli(['status', '--json', ...db.args])).stdout);
    expect(status).toMatchObject({ state: 'stopped', stateReason: 'ingester gone without stopping (lease expired 2026-01-01T00:00:00.000000Z)' });
  });

  it('status tells a stream catching up (old events arriving, or a gap being repaired) from a live one', async () => {
    const db = await seeded();
    const now = Date.now();
    const ago = (ms: number) => new Date(now - ms).toISOString();
    const setStream = (fields: string) =>
      db.exec(`UPDATE streams SET state = 'live', lease_owner = 'here:1:x', lease_expires_at = '${ago(-60_000)}', ${fields}`);
    const statusNow = async () => JSON.parse((await cli(['status', '--json', ...db.args])).stdout)[0];

    await setStream(`last_received_at = '${ago(2_000)}', last_event_at = '${ago(2 * 3600_000 + 2_000)}'`);
    expect(await statusNow()).toMatchObject({ state: 'catching up', stateReason: 'receiving events 2h00m behind upstream time' });
    // Up to date: events arrive about when they happened.
    await setStream(`last_received_at = '${ago(2_000)}', last_event_at = '${ago(3_000)}'`);
    expect(await statusNow()).toMatchObject({ state: 'live' });
    // Quiet: the newest event is old, but it was received long ago too.
    await setStream(`last_received_at = '${ago(600_000)}', last_event_at = '${ago(3600_000)}'`);
    expect(await statusNow()).toMatchObject({ state: 'live' });

    await db.exec(`INSERT INTO gaps (stream, detected_at, reason, status) VALUES ('tenant', '${ago(0)}', 'revision-mismatch', 'open')`);
    expect(await statusNow()).toMatchObject({ state: 'catching up', stateReason: 'repairing 1 revision gap(s) from the History API' });
  });

  it('query prints a table of 200,000 rows', async () => {
    const result = await cli(['query', 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 200000) SELECT x FROM n', ...(await seeded()).args]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 3)).toEqual(['x', '------', '1']);
    expect(lines).toContain('200000');
  });
});
