// Many hosts, one PostgreSQL database: a stream owned by exactly one ingester at a time, a standby
// that takes over when the owner dies or stalls, an owner fenced once its lease was taken, and a
// fleet of `ingest --all --standby` processes sharing a config's streams. Real processes, real
// signals; the leases run 2 s here instead of 30.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomAuth0Script } from '../harness/auth0-script.js';
import { seededRandom } from '../src/simulators/sanity-simulator.js';
import { startSseTestServer, type SseTestServer } from '../src/simulators/sse-server.js';
import { keepAlive, serveAfterCursor } from './helpers/auth0.js';
import { postgresBackend, type TestDatabase } from './helpers/backends.js';
import { collect, spawnCli, tempDir, type CliResult } from './helpers/cli.js';

const LEASE = ['--lease-ttl', '2'];
const script = randomAuth0Script({ frames: 5000, random: seededRandom(19) });

interface Ingester {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<CliResult>;
}

function start(args: string[], db: TestDatabase): Ingester {
  const child = spawnCli([...args, ...db.args, ...LEASE], { AUTH0_TOKEN: 't', ...db.env });
  return { child, exited: collect(child) };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && done(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await sleep(50);
  }
}

/** The pid in each stream's live lease (`host:pid:nonce`). */
async function owners(db: TestDatabase): Promise<Map<string, number>> {
  const rows = await db.rows<{ name: string; lease_owner: string | null; live: boolean }>(
    'SELECT name, lease_owner, lease_expires_at > now() AS live FROM streams ORDER BY name',
  );
  return new Map(rows.filter((r) => r.live && r.lease_owner).map((r) => [r.name, Number(r.lease_owner!.split(':')[1])]));
}

async function expectExactlyTheScript(db: TestDatabase, stream: string): Promise<void> {
  const [events] = await db.rows<{ n: number; distinct_ids: number }>(
    `SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids FROM events WHERE stream = '${stream}'`,
  );
  expect(events).toEqual({ n: script.firstArrival.size, distinct_ids: script.firstArrival.size });
  const [letters] = await db.rows<{ n: number }>(`SELECT count(*) AS n FROM dead_letters WHERE stream = '${stream}'`);
  expect(letters.n).toBe(script.deadLetterPositions.length);
  const emails = await db.rows<{ user_id: string; email: string }>(`SELECT user_id, email FROM users WHERE stream = '${stream}'`);
  expect(new Map(emails.map((row) => [row.user_id, row.email]))).toEqual(script.expectedEmails);
}

const eventCount = (db: TestDatabase) => db.rows<{ n: number }>('SELECT count(*) AS n FROM events').then((rows) => rows[0].n);

describe('several ingesters on one PostgreSQL database', () => {
  let paced: SseTestServer;
  beforeAll(async () => {
    // 5,000 frames at 500 a second, then heartbeats: the stream outlasts the kills.
    paced = await startSseTestServer(serveAfterCursor(script.entries, { pace: { framesPerTick: 5, tickMs: 10 }, tail: keepAlive(120_000) }));
  });
  afterAll(async () => {
    await paced.close();
  });

  const auth0Args = (stream: string) => ['ingest', 'auth0', '--stream', stream, '--domain', 'tenant.eu.auth0.com', '--url', paced.url];

  it('a standby takes over each time the owner is SIGKILLed, 20 times, and the rows are the stream exactly', async () => {
    const db = postgresBackend.fresh();
    const random = seededRandom(20);
    const args = [...auth0Args('pair'), '--standby'];
    const running = new Map<number, Ingester>();
    const add = () => {
      const ingester = start(args, db);
      running.set(ingester.child.pid!, ingester);
    };
    add();
    add();
    try {
      for (let kill = 0; kill < 20; kill++) {
        await sleep(150 + random() * 450);
        const owner = (await until(() => owners(db), (o) => running.has(o.get('pair') ?? -1), 'an owner')).get('pair')!;
        running.get(owner)!.child.kill('SIGKILL');
        running.delete(owner);
        add();
        // The other one, never the dead one, holds the stream next.
        const next = (await until(() => owners(db), (o) => (o.get('pair') ?? owner) !== owner, 'the take-over', 10_000)).get('pair')!;
        expect(running.has(next)).toBe(true);
      }
      await until(() => eventCount(db), (n) => n === script.firstArrival.size, 'the whole stream', 60_000);
    } finally {
      for (const { child } of running.values()) child.kill('SIGTERM');
    }
    for (const { exited } of running.values()) expect((await exited).code).toBe(0);
    await expectExactlyTheScript(db, 'pair');
  }, 120_000);

  it('a paused owner is fenced: once its lease was taken its commits are refused, and it exits 5', async () => {
    const db = postgresBackend.fresh();
    const owner = start(auth0Args('paused'), db);
    await until(() => eventCount(db), (n) => n > 300, 'the owner committing');
    owner.child.kill('SIGSTOP');
    const standby = start([...auth0Args('paused'), '--standby', '--until-idle', '3'], db);
    try {
      // Past the 2 s lease the standby holds the stream, although the paused owner still runs.
      await until(() => owners(db), (o) => o.get('paused') === standby.child.pid, 'the standby taking over', 10_000);
      const taken = await eventCount(db);
      await until(() => eventCount(db), (n) => n > taken + 100, 'the standby committing');
    } finally {
      owner.child.kill('SIGCONT');
    }
    const fenced = await owner.exited;
    expect(fenced.code, fenced.stderr).toBe(5);
    expect(fenced.stderr).toMatch(/taken over by another ingester/);
    const done = await standby.exited;
    expect(done.code, done.stderr).toBe(0);
    await expectExactlyTheScript(db, 'paused');
  }, 90_000);

  it('three `ingest --all --standby` processes share six streams, and a killed one\'s streams move to the others within the lease', async () => {
    const db = postgresBackend.fresh();
    const names = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const config = join(tempDir(), 'fleet.json');
    writeFileSync(config, JSON.stringify({
      streams: Object.fromEntries(names.map((name) => [name, { source: 'auth0', domain: 'tenant.eu.auth0.com', url: paced.url }])),
    }));
    const fleet = [0, 1, 2].map(() => start(['ingest', '--all', '--standby', '--config', config], db));
    const pids = fleet.map((f) => f.child.pid!);
    try {
      // Each stream has one owner (the lease), and the streams spread two to a process.
      const spread = await until(() => owners(db), (o) => o.size === 6 && pids.every((pid) => [...o.values()].filter((p) => p === pid).length === 2), 'two streams each', 30_000);
      const victim = pids[0];
      const orphaned = names.filter((name) => spread.get(name) === victim);
      fleet[0].child.kill('SIGKILL');
      const killedAt = Date.now();
      const after = await until(() => owners(db), (o) => o.size === 6 && ![...o.values()].includes(victim), 'the survivors taking the streams', 10_000);
      // The lease is 2 s; a standby asks every half second.
      expect(Date.now() - killedAt).toBeLessThan(2000 + 1500);
      for (const name of orphaned) expect(pids.slice(1)).toContain(after.get(name));
      expect(new Set(after.values())).toEqual(new Set(pids.slice(1)));
      await until(() => eventCount(db), (n) => n === names.length * script.firstArrival.size, 'every stream whole', 60_000);
    } finally {
      for (const { child } of fleet.slice(1)) child.kill('SIGTERM');
    }
    for (const { exited } of fleet.slice(1)) expect((await exited).code).toBe(0);
    for (const name of names) await expectExactlyTheScript(db, name);
  }, 120_000);
});
