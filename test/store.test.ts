import { cpSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generateDrizzleJson, generateMigration, generateSQLiteDrizzleJson, generateSQLiteMigration } from 'drizzle-kit/api';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { describe, expect, it } from 'vitest';
import { StreamBusyError, UsageError } from '../src/common/errors.js';
import { migrationsFolder as migrationsFolderOf } from '../src/store/package-root.js';
import * as postgresSchema from '../src/store/postgres/schema.js';
import { openDatabase } from '../src/store/sqlite/database.js';
import { acquireLease } from '../src/store/sqlite/lease.js';
import * as schema from '../src/store/sqlite/schema.js';
import { readStream, registerStream, resetStream } from '../src/store/sqlite/streams.js';

const migrationsFolder = migrationsFolderOf('sqlite');

/** drizzle-kit's snapshot after the last committed migration of a database. */
function lastSnapshot(folder: string): unknown {
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as { entries: { idx: number }[] };
  const last = String(journal.entries.at(-1)!.idx).padStart(4, '0');
  return JSON.parse(readFileSync(join(folder, `meta/${last}_snapshot.json`), 'utf8'));
}
import { tempDir } from './helpers/cli.js';

describe('schema and migrations', () => {
  it('the committed SQLite migrations produce exactly the schema in src/store/sqlite/schema.ts', async () => {
    const current = await generateSQLiteDrizzleJson(schema as Record<string, unknown>);
    const pending = await generateSQLiteMigration(lastSnapshot(migrationsFolder) as Awaited<ReturnType<typeof generateSQLiteDrizzleJson>>, current);
    expect(pending, 'schema.ts changed without "npm run db:generate"').toEqual([]);
  });

  it('the committed PostgreSQL migrations produce exactly the schema in src/store/postgres/schema.ts', async () => {
    const current = generateDrizzleJson(postgresSchema as Record<string, unknown>);
    const pending = await generateMigration(lastSnapshot(migrationsFolderOf('postgres')) as ReturnType<typeof generateDrizzleJson>, current);
    expect(pending, 'schema.ts changed without "npm run db:generate"').toEqual([]);
  });

  it('creates every table and the indexes users query by', () => {
    const { sqlite, close } = openDatabase({ path: join(tempDir(), 'sink.db') });
    const names = (type: string) =>
      (sqlite.prepare('SELECT name FROM sqlite_master WHERE type = ? ORDER BY name').all(type) as { name: string }[]).map((r) => r.name);
    expect(names('table')).toEqual(expect.arrayContaining([
      'streams', 'events', 'dead_letters', 'gaps', 'users', 'organizations', 'groups', 'organization_members',
      'organization_member_roles', 'organization_connections', 'organization_group_roles', 'group_members', 'group_roles',
      'documents', 'document_mutations',
    ]));
    expect(names('index')).toEqual(expect.arrayContaining([
      'events_stream_seq', 'events_type', 'events_subject_id', 'events_occurred_at', 'events_stream_event_id', 'documents_type',
    ]));
    close();
  });
});

describe('timestamps', () => {
  const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

  it('every time in streams has microseconds, from the schema default and the lease alike', () => {
    const path = join(tempDir(), 'sink.db');
    const sink = openDatabase({ path });
    registerStream(sink, { name: 'acme', source: 'auth0', definition: { test: 1 } });
    acquireLease(sink, 'acme').release('done');
    acquireLease(sink, 'acme');
    const row = sink.sqlite.prepare('SELECT created_at, state_updated_at, lease_expires_at FROM streams').get() as Record<string, string>;
    for (const [column, value] of Object.entries(row)) expect(value, column).toMatch(CANONICAL);
    sink.close();
  });

  it('a database written before the migration keeps its rows, and their millisecond times get microseconds', () => {
    // The database as the first release left it: only migration 0000 applied, with a stream and an event.
    const oldMigrations = join(tempDir(), 'migrations');
    cpSync(migrationsFolder, oldMigrations, { recursive: true });
    const journalPath = join(oldMigrations, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: unknown[] };
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }));
    const path = join(tempDir(), 'sink.db');
    const old = new Database(path);
    old.pragma('foreign_keys = ON');
    migrate(drizzle(old), { migrationsFolder: oldMigrations });
    old.prepare("INSERT INTO streams (name, source, lease_expires_at, created_at) VALUES ('acme', 'auth0', '2026-01-02T03:04:05.678Z', '2026-01-01T00:00:30.186Z')").run();
    old.prepare("INSERT INTO events (stream, event_id, type, received_at, projected, payload) VALUES ('acme', 'evt_1', 'user.created', '2026-01-01T00:00:31.000000Z', 1, '{}')").run();
    old.close();

    const { sqlite, close } = openDatabase({ path });
    expect(sqlite.prepare('SELECT created_at, lease_expires_at FROM streams').get()).toEqual({
      created_at: '2026-01-01T00:00:30.186000Z',
      lease_expires_at: '2026-01-02T03:04:05.678000Z',
    });
    expect(sqlite.prepare('SELECT stream, event_id FROM events').all()).toEqual([{ stream: 'acme', event_id: 'evt_1' }]);
    expect(sqlite.pragma('foreign_key_check')).toEqual([]);
    close();
  });
});

describe('opening the database', () => {
  it('creates a new file readable by its owner only, in WAL mode with foreign keys on', () => {
    const path = join(tempDir(), 'sink.db');
    const { sqlite, close } = openDatabase({ path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(sqlite.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    close();
  });

  it('uses synchronous=FULL when durable', () => {
    const { sqlite, close } = openDatabase({ path: join(tempDir(), 'sink.db'), durable: true });
    expect(sqlite.pragma('synchronous', { simple: true })).toBe(2); // FULL
    close();
  });

  it('migrates an existing database again without change', () => {
    const path = join(tempDir(), 'sink.db');
    openDatabase({ path }).close();
    const { sqlite, close } = openDatabase({ path });
    const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };
    expect(sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get()).toEqual({ n: journal.entries.length });
    close();
  });
});

describe('streams', () => {
  const auth0 = (domain: string) => ({ name: 's1', source: 'auth0' as const, definition: { domain, eventTypes: ['user.created'] } });

  it('stores the definition on first use and accepts the same one in any key order', () => {
    const sink = openDatabase({ path: join(tempDir(), 'sink.db') });
    registerStream(sink, auth0('a.example.com'));
    expect(() => registerStream(sink, { ...auth0('a.example.com'), definition: { eventTypes: ['user.created'], domain: 'a.example.com' } })).not.toThrow();
    expect(readStream(sink, 's1')?.definition).toBe('{"domain":"a.example.com","eventTypes":["user.created"]}');
  });

  it('refuses a different definition under the same name, saying how to reset', () => {
    const sink = openDatabase({ path: join(tempDir(), 'sink.db') });
    registerStream(sink, auth0('a.example.com'));
    expect(() => registerStream(sink, auth0('b.example.com'))).toThrow(UsageError);
    expect(() => registerStream(sink, auth0('b.example.com'))).toThrow(/sse-sink reset s1 --yes/);
  });

  it('after a reset, forgets the cursor and adopts the next definition', () => {
    const sink = openDatabase({ path: join(tempDir(), 'sink.db') });
    registerStream(sink, auth0('a.example.com'));
    sink.sqlite.prepare("UPDATE streams SET cursor = 'c1'").run();
    resetStream(sink, 's1');
    registerStream(sink, auth0('b.example.com'));
    expect(readStream(sink, 's1')).toMatchObject({ cursor: null, definition: '{"domain":"b.example.com","eventTypes":["user.created"]}' });
  });
});

describe('stream lease', () => {
  function registered() {
    const sink = openDatabase({ path: join(tempDir(), 'sink.db') });
    registerStream(sink, { name: 's1', source: 'auth0', definition: {} });
    return sink;
  }

  it('refuses a second ingester on the same stream with a message naming the holder', () => {
    const sink = registered();
    acquireLease(sink, 's1');
    expect(() => acquireLease(sink, 's1')).toThrow(StreamBusyError);
    expect(() => acquireLease(sink, 's1')).toThrow(new RegExp(`pid ${process.pid}`));
  });

  it('takes over at once from a process on this host that no longer exists (kill -9)', () => {
    const sink = registered();
    const future = new Date(Date.now() + 60_000).toISOString();
    sink.sqlite.prepare('UPDATE streams SET lease_owner = ?, lease_expires_at = ?').run(`${hostname()}:2147483646:dead`, future);
    expect(acquireLease(sink, 's1').owner).toContain(`:${process.pid}:`);
  });

  it('takes over an expired lease, and is free again after release', () => {
    const sink = registered();
    sink.sqlite.prepare("UPDATE streams SET lease_owner = 'other-host:1:x', lease_expires_at = '2000-01-01T00:00:00.000Z'").run();
    const lease = acquireLease(sink, 's1');
    lease.release('done');
    expect(readStream(sink, 's1')).toMatchObject({ leaseOwner: null, state: 'stopped', stateReason: 'done' });
    expect(() => acquireLease(sink, 's1')).not.toThrow();
  });

  it('keeps a live lease of another host until it expires', () => {
    const sink = registered();
    const future = new Date(Date.now() + 60_000).toISOString();
    sink.sqlite.prepare("UPDATE streams SET lease_owner = 'other-host:1:x', lease_expires_at = ?").run(future);
    expect(() => acquireLease(sink, 's1')).toThrow(/pid 1 on other-host/);
  });
});
