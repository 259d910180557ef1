// The initial snapshot of a Sanity stream: a dataset with documents from before the stream began
// (drafts and release versions among them), changes arriving while the snapshot is read, SIGKILLs
// in the middle of it. The tables must end equal to the dataset as the simulator holds it.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { randomScript, SanitySimulator, seededRandom, startSanitySimulator } from '../src/simulators/sanity-simulator.js';
import { backends, type TestDatabase } from './helpers/backends.js';
import { killDuringSnapshot, statesWhile } from './helpers/snapshot.js';
import { collect, runCli, spawnCli } from './helpers/cli.js';
import { CURRENT_DOCUMENTS_SQL, expectedCurrentDocuments, withParsedJson, type Row } from './helpers/sanity.js';

const options = { includeResult: true, includePreviousRevision: false };

/** The README's snapshot examples, word for word. */
const README_SOURCE_SQL = `SELECT CASE WHEN e.type = 'snapshot.document' THEN 'snapshot' ELSE 'stream' END AS source, count(*) AS documents
FROM documents d JOIN events e ON e.stream = d.stream AND e.seq = d.event_seq
WHERE d.stream = 'blog' AND d.deleted_at IS NULL
GROUP BY 1 ORDER BY 1;`;
const README_DELETIONS_SQL = `SELECT e.subject_id AS document_id, e.occurred_at AS deleted_at, json_extract(e.payload, '$.reason') AS reason
FROM events e
WHERE e.stream = 'blog' AND e.type = 'snapshot.delete'
ORDER BY e.subject_id;`;
const QUERY = '*[!(_id in path("_.**"))]';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Sanity stamps a transaction when it commits: changes published now are stamped now, in order. */
let lastStamp = '';
function stampNow<T extends { timestamp: string }>(transaction: T): T {
  let stamp = `${new Date().toISOString().slice(0, 23)}000Z`;
  if (stamp <= lastStamp) stamp = `${lastStamp.slice(0, 23)}${String(Number(lastStamp.slice(23, 26)) + 1).padStart(3, '0')}Z`;
  lastStamp = stamp;
  return { ...transaction, timestamp: stamp };
}

const byId = (a: Row, b: Row) => String(a.document_id).localeCompare(String(b.document_id));

async function currentDocuments(db: TestDatabase, stream: string): Promise<Row[]> {
  return withParsedJson(await db.rows(CURRENT_DOCUMENTS_SQL(stream))).sort(byId);
}

async function startDataset(seed: number, existing: number, later: number, queryDelayMs = 0) {
  const sim = new SanitySimulator({ keepAliveMs: 200, queryDelayMs });
  const server = await startSanitySimulator(sim);
  cleanups.push(server.close);
  const script = randomScript({ seed, transactions: existing + later, documents: 1100, keepPublished: true });
  // The dataset as it was before the stream began: it has a history, and the listener never saw it.
  sim.publish(...script.slice(0, existing));
  return { sim, server, rest: script.slice(existing) };
}

function ingestArgs(stream: string, url: string, db: TestDatabase, ...extra: string[]): string[] {
  return ['ingest', 'sanity', '--stream', stream, '--project', 'abc123', '--dataset', 'production', '--query', QUERY,
    '--include-result', '--url', url, ...db.args, ...extra];
}

describe.each(backends)('sse-sink ingest sanity --snapshot on $name', (backend) => {
  it('ends with every table equal to the dataset, with changes arriving and 20 SIGKILLs during the snapshot', async () => {
    const { sim, server, rest } = await startDataset(11, 2600, 400, 15);
    const existing = sim.currentDocuments();
    expect(existing.length).toBeGreaterThanOrEqual(2000);
    expect(existing.some((doc) => doc._id.startsWith('drafts.'))).toBe(true);
    expect(existing.some((doc) => doc._id.startsWith('versions.'))).toBe(true);
    const db = backend.fresh();
    const args = ingestArgs('snap', server.url, db, '--snapshot', '--snapshot-page-size', '25');
    const env = { SANITY_TOKEN: 'sk-snap', ...db.env };

    // Changes keep arriving from the first connection on, killed or not.
    let published = 0;
    let publisher: NodeJS.Timeout | undefined;
    cleanups.push(async () => clearInterval(publisher));
    const killedMidSnapshot = await killDuringSnapshot(db, 'snap', {
      args, env, requests: () => sim.queryRequests.length, least: 1, spread: 4, random: seededRandom(4),
      onStarted: () => {
        publisher ??= setInterval(() => {
          const next = rest.slice(published, published + 2);
          published += next.length;
          sim.publish(...next.map(stampNow));
        }, 20);
      },
    });
    expect(killedMidSnapshot).toBe(20);
    while (published < rest.length) await new Promise((resolve) => setTimeout(resolve, 20));

    // The same command, as a restart runs it: it resumes the snapshot, then follows the stream;
    // while it reads, `status` says so. The query API failing now and then is retried.
    sim.injectQueryFaults('http-500', 'http-429');
    const finalRun = collect(spawnCli([...args, '--until-idle', '3'], env));
    const { states, result: final } = await statesWhile(db, 'snap', finalRun);
    expect(final.code, final.stderr).toBe(0);
    expect(states).toContain('snapshotting');
    expect(await currentDocuments(db, 'snap')).toEqual(withParsedJson(expectedCurrentDocuments(sim.currentDocuments(), options)));
    // A stored row marked deleted is a document the dataset no longer has.
    const deleted = await db.rows<{ document_id: string }>("SELECT document_id FROM documents WHERE stream = 'snap' AND deleted_at IS NOT NULL");
    for (const { document_id } of deleted) expect(sim.document(document_id)).toBeUndefined();
    expect(await db.rows("SELECT event_id FROM events WHERE stream = 'snap' GROUP BY event_id HAVING count(*) > 1")).toEqual([]);
    const [snapshot] = await db.rows<Row>("SELECT snapshot_id, status FROM snapshots WHERE stream = 'snap'");
    expect(snapshot).toEqual({ snapshot_id: 1, status: 'finished' });
    const snapshotRows = await db.rows<{ n: number }>("SELECT count(*) AS n FROM events WHERE stream = 'snap' AND type = 'snapshot.document'");
    expect(Number(snapshotRows[0].n)).toBeGreaterThanOrEqual(existing.length);
    // Nothing was left unrepaired, and no gap was made up.
    expect(await db.rows("SELECT reason, status FROM gaps WHERE stream = 'snap' AND status != 'repaired'")).toEqual([]);

    // The history alone gives the same tables.
    const rebuilt = await runCli(['rebuild', 'snap', ...db.args], env);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain('no differences');
  }, 300_000);

  it('takes no second snapshot on a restart, and refuses --snapshot on a stream that began without one', async () => {
    const { sim, server } = await startDataset(12, 300, 0);
    const db = backend.fresh();
    const env = { SANITY_TOKEN: 'sk-snap', ...db.env };
    const first = await runCli([...ingestArgs('once', server.url, db, '--snapshot'), '--until-idle', '1'], env);
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli([...ingestArgs('once', server.url, db, '--snapshot'), '--until-idle', '1'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await db.rows("SELECT snapshot_id FROM snapshots WHERE stream = 'once'")).toEqual([{ snapshot_id: 1 }]);
    expect(await currentDocuments(db, 'once')).toEqual(withParsedJson(expectedCurrentDocuments(sim.currentDocuments(), options)));
    // A reset stream starts again: its next --snapshot run takes a new snapshot.
    expect((await runCli(['reset', 'once', '--yes', ...db.args], env)).code).toBe(0);
    const afterReset = await runCli([...ingestArgs('once', server.url, db, '--snapshot'), '--until-idle', '1'], env);
    expect(afterReset.code, afterReset.stderr).toBe(0);
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'once' ORDER BY snapshot_id")).toEqual([
      { snapshot_id: 1, status: 'reset' },
      { snapshot_id: 2, status: 'finished' },
    ]);

    // A stream that began without a snapshot, and has a cursor.
    const listens = sim.listens.length;
    const plain = collect(spawnCli([...ingestArgs('plain', server.url, db), '--until-idle', '2'], env));
    while (sim.listens.length === listens) await new Promise((resolve) => setTimeout(resolve, 5));
    sim.publish(stampNow({ id: 'txPlain1', timestamp: '', mutations: [{ create: { _id: 'plain-1', _type: 'post', title: 'x' } }] }));
    const moved = await plain;
    expect(moved.code, moved.stderr).toBe(0);
    expect(await db.rows("SELECT cursor FROM streams WHERE name = 'plain'")).toEqual([{ cursor: 'txPlain1#plain-1' }]);
    const refused = await runCli([...ingestArgs('plain', server.url, db, '--snapshot'), '--until-idle', '1'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already has a cursor.*sse-sink snapshot plain/);
  }, 120_000);

  it('stops with exit 3 when the query API refuses the token, and resumes the snapshot once it reads again', async () => {
    const { sim, server } = await startDataset(14, 300, 0);
    const db = backend.fresh();
    const env = { SANITY_TOKEN: 'sk-snap', ...db.env };
    const args = [...ingestArgs('refused', server.url, db, '--snapshot', '--snapshot-page-size', '50'), '--until-idle', '1'];
    sim.injectQueryFaults(...Array<'http-403'>(3).fill('http-403'));
    const refused = await runCli(args, env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/the snapshot could not read Sanity's query API \(Sanity refused the query request \(HTTP 403.*check the token's read access/);
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'refused'")).toEqual([{ snapshot_id: 1, status: 'running' }]);
    const resumed = await runCli(args, env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await db.rows("SELECT snapshot_id, status FROM snapshots WHERE stream = 'refused'")).toEqual([{ snapshot_id: 1, status: 'finished' }]);
    expect(await currentDocuments(db, 'refused')).toEqual(withParsedJson(expectedCurrentDocuments(sim.currentDocuments(), options)));
  }, 120_000);

  it('sse-sink snapshot marks deleted the stored documents the dataset no longer has, naming the snapshot', async () => {
    const { sim, server } = await startDataset(13, 300, 0);
    const db = backend.fresh();
    const env = { SANITY_TOKEN: 'sk-snap', ...db.env };
    // The first run snapshots, then follows the stream: it ends with a cursor, and so the next
    // run resumes the listener instead of catching up from the History API.
    const first = collect(spawnCli([...ingestArgs('again', server.url, db, '--snapshot'), '--until-idle', '2'], env));
    while (sim.listens.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    sim.publish(stampNow({ id: 'txEdit1', timestamp: '', mutations: [{ patch: { id: 'doc-50', set: { title: 'edited' } } }] }));
    const firstRun = await first;
    expect(firstRun.code, firstRun.stderr).toBe(0);
    expect(await db.rows("SELECT cursor FROM streams WHERE name = 'again'")).toEqual([{ cursor: 'txEdit1#doc-50' }]);
    // Deletions the listener never reports: only a snapshot can find them.
    const victims = sim.currentDocuments().filter((doc) => !doc._id.includes('.')).slice(0, 3).map((doc) => doc._id);
    const changes = sim.publish(stampNow({ id: 'txDelete1', timestamp: '', mutations: victims.map((id) => ({ delete: { id } })) }));
    for (const change of changes) sim.hideFromListeners(change.eventId);

    const snapshot = await runCli(['snapshot', 'again', '--url', server.url, '--until-idle', '1', ...db.args], env);
    expect(snapshot.code, snapshot.stderr).toBe(0);
    expect(await currentDocuments(db, 'again')).toEqual(withParsedJson(expectedCurrentDocuments(sim.currentDocuments(), options)));
    const deleted = await db.rows<{ document_id: string }>("SELECT document_id FROM documents WHERE stream = 'again' AND deleted_at IS NOT NULL ORDER BY document_id");
    expect(deleted.map((row) => row.document_id)).toEqual([...victims].sort());
    const reasons = await db.rows<{ event_id: string; payload: unknown }>("SELECT event_id, payload FROM events WHERE stream = 'again' AND type = 'snapshot.delete' ORDER BY event_id");
    expect(reasons.map((row) => row.event_id)).toEqual([...victims].sort().map((id) => `snapshot-delete:2:${id}`));
    const payload = typeof reasons[0].payload === 'string' ? JSON.parse(reasons[0].payload) : reasons[0].payload;
    expect(payload).toMatchObject({ snapshot: 2, reason: 'not in the upstream at snapshot 2' });
    // The README's examples, as a user runs them (with the stream's name), in each database's spelling.
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const bySource = README_SOURCE_SQL;
    const deletions = backend.name === 'postgres' ? README_DELETIONS_SQL.replace("json_extract(e.payload, '$.reason')", "e.payload->>'reason'") : README_DELETIONS_SQL;
    expect(readme).toContain(README_SOURCE_SQL);
    expect(readme).toContain(README_DELETIONS_SQL);
    const query = async (sql: string) => {
      const out = await runCli(['query', sql.replaceAll("'blog'", "'again'"), '--format', 'json', ...db.args], env);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as Record<string, unknown>[];
    };
    const current = expectedCurrentDocuments(sim.currentDocuments(), options).length;
    expect((await query(bySource)).map((row) => ({ ...row, documents: Number(row.documents) }))).toEqual([{ source: 'snapshot', documents: current }]);
    expect((await query(deletions)).map((row) => [row.document_id, row.reason])).toEqual(
      [...victims].sort().map((id) => [id, 'not in the upstream at snapshot 2']),
    );

    const status = await runCli(['status', '--json', ...db.args], env);
    const stream = (JSON.parse(status.stdout) as { name: string; snapshot: unknown }[]).find((s) => s.name === 'again');
    expect(stream?.snapshot).toEqual({ id: 2, status: 'finished', rowsRead: expect.any(Number), pages: expect.any(Number), rowsDeleted: 3 });
  }, 120_000);
});
