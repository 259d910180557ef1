// What only the PostgreSQL destination has: passwords that never show, NOTIFY after each commit,
// and a database that fails under a running ingester (connections killed, a restart) without
// losing or doubling a row. The suites that run on both databases are elsewhere (backends.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSseTestServer, type SseTestServer } from '../src/simulators/sse-server.js';
import { randomAuth0Script } from '../harness/auth0-script.js';
import { seededRandom } from '../src/simulators/sanity-simulator.js';
import { keepAlive, serveAfterCursor } from './helpers/auth0.js';
import { pgClient, postgresBackend, type TestDatabase } from './helpers/backends.js';
import { collect, runCli, spawnCli, tempDir } from './helpers/cli.js';
import { startTestPostgres } from '../harness/postgres-server.js';
import type { CommitResult } from '../src/core/batch.js';
import type { ProjectionOp } from '../src/core/change.js';
import { DatabaseBusyError } from '../src/common/errors.js';
import { batchOf, userChange } from './helpers/store.js';
import { openStore, withStore } from '../src/store/open-store.js';
import { projectionGroupsJson, type TimedOp } from '../src/store/postgres/projection-groups.js';

const { url, password } = inject('postgres');
const script = randomAuth0Script({ frames: 3000, random: seededRandom(7) });
const fastScript = randomAuth0Script({ frames: 30_000, random: seededRandom(8) });

function ingestArgs(server: SseTestServer, db: TestDatabase, ...extra: string[]): string[] {
  return ['ingest', 'auth0', '--stream', 'tenant', '--domain', 'tenant.eu.auth0.com', '--url', server.url, ...db.args, ...extra];
}

describe('the PostgreSQL destination', () => {
  let paced: SseTestServer;
  let unpaced: SseTestServer;
  let fast: SseTestServer;
  beforeAll(async () => {
    paced = await startSseTestServer(serveAfterCursor(script.entries, { pace: { framesPerTick: 10, tickMs: 10 }, tail: keepAlive(5000) }));
    unpaced = await startSseTestServer(serveAfterCursor(script.entries, { tail: keepAlive(5000) }));
    fast = await startSseTestServer(serveAfterCursor(fastScript.entries, { pace: { framesPerTick: 100, tickMs: 10 }, tail: keepAlive(5000) }));
  });
  afterAll(async () => {
    await paced?.close();
    await unpaced?.close();
    await fast?.close();
  });

  it('refuses a --db URL that holds a password, before connecting, and never prints it', async () => {
    const withPassword = url.replace('postgres@', 'postgres:hunter2-secret@');
    const result = await runCli(['status', '--db', withPassword]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/holds a password, which ps would show; put it in PGPASSWORD/);
    expect(result.stderr).not.toContain('hunter2-secret');
    expect(result.stderr).toContain('postgres:***@');
  });

  it('says in one line that the login was refused, without the password', async () => {
    const db = postgresBackend.fresh();
    const result = await runCli(['migrate', ...db.args], { PGPASSWORD: 'wrong-secret' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/PostgreSQL refused the login .*PGPASSWORD, ~\/\.pgpass or --db-password-file/);
    expect(result.stderr).not.toContain('wrong-secret');
  });

  it('reads the password from --db-password-file, and migrate names the schema it brought up to date', async () => {
    const db = postgresBackend.fresh();
    const file = join(tempDir(), 'pg.password');
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    const result = await runCli(['migrate', ...db.args, '--db-password-file', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`(schema ${db.target.schema}): schema up to date`);
  });

  it('notifies sse_sink after each commit with the schema, the stream and its newest seq', async () => {
    const db = postgresBackend.fresh();
    const listener = pgClient(url, password);
    await listener.connect();
    const notes: { schema: string; stream: string; seq: number }[] = [];
    listener.on('notification', (note) => notes.push(JSON.parse(note.payload ?? '{}')));
    await listener.query('LISTEN sse_sink');
    const result = await runCli(ingestArgs(unpaced, db, '--until-idle', '1'), { AUTH0_TOKEN: 't', ...db.env });
    expect(result.code, result.stderr).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await listener.end();
    const [{ max }] = await db.rows<{ max: number }>('SELECT max(seq) AS max FROM events');
    // The other suites write streams named tenant into other schemas of the same database.
    const mine = notes.filter((note) => note.schema === db.target.schema && note.stream === 'tenant');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.at(-1)).toEqual({ schema: db.target.schema, stream: 'tenant', seq: max });
    // Each notification names a seq that was committed when it was sent: they only grow.
    expect(mine.map((note) => note.seq)).toEqual([...mine.map((note) => note.seq)].sort((a, b) => a - b));
  });

  // Paced, batches close by age and commit one at a time. Fast, full batches come faster than they
  // commit, so a batch's rows go in while the one before it commits (two transactions open); the
  // reader then waits for the database far longer than --until-idle, which is not idle time.
  it.each([
    { pace: 'paced', script, overlapping: false },
    { pace: 'fast', script: fastScript, overlapping: true },
  ])('loses and doubles nothing when its connections are killed, during and between batches ($pace)', async ({ script: told, overlapping }) => {
    // A server of its own: killing every sse-sink session of the shared one would kill the other
    // tests' sessions too (they run beside this one).
    const own = await startTestPostgres();
    try {
      const schema = 'killed';
      const query = async <T extends pg.QueryResultRow>(sql: string, inSchema = true): Promise<T[]> => {
        const client = pgClient(own.url, own.password, inSchema ? schema : undefined);
        await client.connect();
        try {
          return (await client.query<T>(sql)).rows;
        } finally {
          await client.end();
        }
      };
      const args = ingestArgs(overlapping ? fast : paced, { args: ['--db', own.url, '--db-schema', schema] } as TestDatabase, '--until-idle', '2');
      const child = spawnCli(args, { AUTH0_TOKEN: 't', PGPASSWORD: own.password });
      const exited = collect(child);
      let done = false;
      void exited.then(() => (done = true));
      let killed = 0;
      let mostOpen = 0;
      // Transactions that have written: before the first kill (after it, held batches commit one
      // at a time until the database answers again).
      for (const end = Date.now() + 5000; overlapping && mostOpen < 2 && Date.now() < end && !done; ) {
        const [open] = await query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sse-sink' AND backend_xid IS NOT NULL",
          false,
        );
        mostOpen = Math.max(mostOpen, Number(open.n));
      }
      // pg_terminate_backend is what a failover, an admin or a restarting pooler does to a session.
      for (let round = 0; round < 12 && !done; round++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        const rows = await query<{ killed: boolean }>(
          "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'sse-sink' AND pid <> pg_backend_pid()",
          false,
        );
        killed += rows.filter((row) => row.killed).length;
      }
      const result = await exited;
      expect(result.code, result.stderr).toBe(0);
      expect(killed).toBeGreaterThan(0);
      if (overlapping) expect(mostOpen).toBe(2);
      const [events] = await query<{ n: string; distinct_ids: string }>('SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM events');
      expect(events).toEqual({ n: String(told.firstArrival.size), distinct_ids: String(told.firstArrival.size) });
      const [letters] = await query<{ n: string }>('SELECT count(*) AS n FROM dead_letters');
      expect(Number(letters.n)).toBe(told.deadLetterPositions.length);
      const emails = await query<{ user_id: string; email: string }>('SELECT user_id, email FROM users');
      expect(new Map(emails.map((row) => [row.user_id, row.email]))).toEqual(told.expectedEmails);
    } finally {
      await own.stop();
    }
  });

  it('loses and doubles nothing when the server restarts under it', async () => {
    // A server of its own: the one the other tests share must not go away under them.
    const own = await startTestPostgres();
    try {
      const schema = 'restarted';
      const args = ingestArgs(paced, { args: ['--db', own.url, '--db-schema', schema] } as TestDatabase, '--until-idle', '3');
      const child = spawnCli(args, { AUTH0_TOKEN: 't', PGPASSWORD: own.password });
      const exited = collect(child);
      // Restart once the ingester is committing, so that commits meet the server going away.
      const committed = async () => {
        const client = pgClient(own.url, own.password, schema);
        try {
          await client.connect();
          return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0].n);
        } catch {
          return 0;
        } finally {
          await client.end().catch(() => undefined);
        }
      };
      while ((await committed()) < 300) await new Promise((resolve) => setTimeout(resolve, 50));
      // Down for longer than a batch may wait, so that commits meet the server gone.
      await own.restart(1500);
      const result = await exited;
      expect(result.code, result.stderr).toBe(0);
      const client = pgClient(own.url, own.password, schema);
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string; distinct_ids: string }>('SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM events');
        expect(rows[0]).toEqual({ n: String(script.firstArrival.size), distinct_ids: String(script.firstArrival.size) });
      } finally {
        await client.end();
      }
      expect(result.stderr).toMatch(/PostgreSQL failed .*; holding the batch and retrying/);
    } finally {
      await own.stop();
    }
  });
});

describe('set-based projection writes on PostgreSQL', () => {
  // The same ops, once one by one (sse_sink_apply) and once grouped into runs (sse_sink_write):
  // the tables, tombstones and revision mismatches must come out the same.
  function randomOps(seed: number): TimedOp[] {
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const ops: TimedOp[] = [];
    for (let seq = 1; seq <= 400; seq++) {
      // Times that go backwards now and then: late events must lose to newer rows and tombstones.
      const time = `2026-01-01T00:00:${String(Math.floor(random() * 60)).padStart(2, '0')}.000000Z`;
      const documentId = pick(['a', 'b', 'c', 'drafts.a', 'd']);
      const roll = random();
      let op: ProjectionOp;
      if (roll < 0.45) {
        const rev = `r${seq}`;
        op = {
          op: 'put', table: 'documents', key: { document_id: documentId },
          values: { doc_type: 'post', rev, result: JSON.stringify({ _id: documentId, _rev: rev, n: seq }), updated_at: time, deleted_at: null },
          derived: { id_kind: documentId.startsWith('drafts.') ? 'draft' : 'published', published_id: documentId.replace('drafts.', ''), release_id: null },
          expect: { column: 'rev', value: random() < 0.3 ? null : `r${Math.max(1, seq - Math.floor(random() * 4))}` },
        };
      } else if (roll < 0.55) {
        op = { op: 'remove', table: 'documents', key: { document_id: documentId } };
      } else if (roll < 0.85) {
        op = { op: 'put', table: 'organization_members', key: { org_id: pick(['o1', 'o2']), user_id: pick(['u1', 'u2', 'u3']) }, values: { added_at: time } };
      } else if (roll < 0.95) {
        op = { op: 'remove', table: 'organization_members', key: { org_id: pick(['o1', 'o2']), user_id: pick(['u1', 'u2', 'u3']) } };
      } else {
        op = { op: 'remove-matching', table: 'organization_members', match: { user_id: pick(['u1', 'u2', 'u3']) } };
      }
      ops.push({ op, time, seq });
    }
    return ops;
  }

  async function tablesOf(client: pg.Client): Promise<unknown> {
    const read = async (sql: string) => (await client.query(sql)).rows;
    return {
      documents: await read('SELECT * FROM documents ORDER BY document_id'),
      members: await read('SELECT * FROM organization_members ORDER BY org_id, user_id'),
      tombstones: await read('SELECT * FROM projection_tombstones ORDER BY table_name, row_key'),
    };
  }

  it.each([1, 2, 3, 4])('runs of puts write what the ops one by one write (seed %i)', async (seed) => {
    const ops = randomOps(seed);
    const [oneByOne, grouped] = [postgresBackend.fresh(), postgresBackend.fresh()];
    const results: { tables: unknown; mismatches: unknown[] }[] = [];
    for (const [db, write] of [
      // A single op is never a run: sse_sink_write hands it to sse_sink_apply.
      [oneByOne, (client: pg.Client) => ops.map((op) => client.query<{ m: unknown[] }>('SELECT sse_sink_write($1, $2::jsonb) AS m', ['s', projectionGroupsJson([op])]))],
      [grouped, (client: pg.Client) => [client.query<{ m: unknown[] }>('SELECT sse_sink_write($1, $2::jsonb) AS m', ['s', projectionGroupsJson(ops)])]],
    ] as const) {
      await withStore(openStore(db.target), async () => undefined);
      const client = pgClient(url, password, db.target.schema);
      await client.connect();
      try {
        await client.query('BEGIN');
        const mismatches: unknown[] = [];
        for (const pending of write(client)) mismatches.push(...(await pending).rows[0].m);
        await client.query('COMMIT');
        results.push({ tables: await tablesOf(client), mismatches });
      } finally {
        await client.end();
      }
    }
    expect(JSON.parse(projectionGroupsJson(ops)).some((group: { run?: boolean }) => group.run)).toBe(true);
    expect(results[1]).toEqual(results[0]);
    expect(results[0].mismatches.length).toBeGreaterThan(0);
  });
});

describe('commits in flight on PostgreSQL', () => {
  const T1 = '2026-01-01T00:00:01.000000Z';
  const T2 = '2026-01-01T00:00:02.000000Z';

  it('commits a batch only after the one before it, after its rows in seq, and rolls it back when that one failed', async () => {
    const db = postgresBackend.fresh();
    await withStore(openStore(db.target), async (store) => {
      const writer = await store.openWriter({ name: 'test', source: 'auth0', definition: {} });
      expect(writer.commitsInFlight).toBe(2);
      const stored = () => db.rows<{ event_id: string; seq: number }>('SELECT event_id, seq FROM events ORDER BY seq');
      const cursor = async () => (await db.rows<{ cursor: string | null }>('SELECT cursor FROM streams'))[0].cursor;

      let finishBefore!: (result: CommitResult) => void;
      const before = new Promise<CommitResult>((resolve) => (finishBefore = resolve));
      const first = writer.commit(batchOf(Array.from({ length: 300 }, (_, i) => userChange(`evt_a${i}`, `u${i}`, T1)), 'c1'));
      const second = writer.commit(batchOf([userChange('evt_b', 'u1', T2, 'second@example.com')], 'c2'), before);
      await first;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await cursor()).toBe('c1');
      expect((await stored()).some((row) => row.event_id === 'evt_b')).toBe(false);
      finishBefore(await first);
      expect(await second).toMatchObject({ inserted: 1 });
      expect(await cursor()).toBe('c2');
      expect((await stored()).at(-1)?.event_id).toBe('evt_b');
      expect((await db.rows("SELECT email FROM users WHERE user_id = 'u1'"))[0]).toEqual({ email: 'second@example.com' });

      const failed = Promise.reject(new DatabaseBusyError('refused'));
      failed.catch(() => undefined);
      const refused = writer.commit(batchOf([userChange('evt_c', 'u2', T2)], 'c3'), failed);
      await expect(refused).rejects.toThrow(/the batch before this one was not committed; nothing was committed/);
      expect(await cursor()).toBe('c2');
      expect((await stored()).some((row) => row.event_id === 'evt_c')).toBe(false);
      // A failure settled before a commit starts does not hold that one back: it is the retry.
      expect(await writer.commit(batchOf([userChange('evt_c', 'u2', T2)], 'c3'))).toMatchObject({ inserted: 1 });
      expect(await cursor()).toBe('c3');
      await writer.release('test done');
    });
  });
});
