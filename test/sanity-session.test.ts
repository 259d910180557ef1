import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SanitySimulator, startSanitySimulator, type ScriptTransaction } from '../src/simulators/sanity-simulator.js';
import { collect, runCli, spawnCli, tempDir } from './helpers/cli.js';
import { readRows, until } from './helpers/sanity.js';
import { postgresBackend } from './helpers/backends.js';

const today = new Date().toISOString().slice(0, 10);
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const at = (second: number) => `${today}T00:00:0${second}.00000${second}Z`;

/** A short editorial session: drafts, a publish, release versions, an author. */
const session: ScriptTransaction[] = [
  { id: 'tx00', timestamp: `${yesterday}T12:00:00.000000Z`, author: 'pAlice', mutations: [{ create: { _id: 'post-old', _type: 'post', title: 'Old news' } }] },
  { id: 'tx01', timestamp: at(1), author: 'pAlice', mutations: [{ create: { _id: 'drafts.post-1', _type: 'post', title: 'Hello' } }] },
  { id: 'tx02', timestamp: at(2), author: 'pAlice', mutations: [{ patch: { id: 'drafts.post-1', set: { title: 'Hello, world' } } }] },
  {
    id: 'tx03',
    timestamp: at(3),
    author: 'pBob',
    mutations: [{ createOrReplace: { _id: 'post-1', _type: 'post', title: 'Hello, world' } }, { delete: { id: 'drafts.post-1' } }],
  },
  { id: 'tx04', timestamp: at(4), author: 'pCarol', mutations: [{ create: { _id: 'versions.rSpring.post-1', _type: 'post', title: 'Hello, spring' } }] },
  { id: 'tx05', timestamp: at(5), author: 'pBob', mutations: [{ create: { _id: 'drafts.author-1', _type: 'author', name: 'Bob' } }] },
];
const afterChannelError: ScriptTransaction[] = [
  { id: 'tx06', timestamp: at(6), author: 'pAlice', mutations: [{ patch: { id: 'post-1', set: { title: 'Hello, world!' } } }] },
  { id: 'tx07', timestamp: at(7), author: 'pCarol', mutations: [{ delete: { id: 'versions.rSpring.post-1' } }] },
  { id: 'tx08', timestamp: at(8), author: 'pBob', mutations: [{ create: { _id: 'versions.rSummer.post-1', _type: 'post', title: 'Hello, summer' } }] },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function simulator(sim: SanitySimulator) {
  const server = await startSanitySimulator(sim);
  cleanups.push(server.close);
  return server;
}


function ingestArgs(url: string, db: string, extra: string[] = []): string[] {
  return ['ingest', 'sanity', '--stream', 'blog', '--project', 'abc123', '--dataset', 'production',
    '--query', '*[_type in ["post", "author"]]', '--url', url, '--db', db, ...extra];
}

/** The README's SQL examples, in order, as the README shows them. */
const readmeSql = [...readFileSync(new URL('./fixtures/sanity/readme-sql.md', import.meta.url), 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map(
  (m) => m[1].trim(),
);


/** What the README's examples answer after the session: the same on both databases. */
async function expectReadmeResults(query: (sql: string) => Promise<Record<string, unknown>[]>, sql: string[]): Promise<void> {
  expect(await query(sql[0])).toEqual([
    { timestamp: at(3), transition: 'appear', previous_rev: null, result_rev: 'tx03', identity: 'pBob', origin: 'listen' },
    { timestamp: at(6), transition: 'update', previous_rev: 'tx03', result_rev: 'tx06', identity: 'pAlice', origin: 'listen' },
  ]);
  expect(await query(sql[1])).toEqual([
    { document_id: 'drafts.post-1', id_kind: 'draft', release_id: null, rev: 'tx03', updated_at: at(3), deleted_at: at(3) },
    { document_id: 'post-1', id_kind: 'published', release_id: null, rev: 'tx06', updated_at: at(6), deleted_at: null },
    { document_id: 'versions.rSpring.post-1', id_kind: 'version', release_id: 'rSpring', rev: 'tx07', updated_at: at(7), deleted_at: at(7) },
    { document_id: 'versions.rSummer.post-1', id_kind: 'version', release_id: 'rSummer', rev: 'tx08', updated_at: at(8), deleted_at: null },
  ]);
  const who = await query(sql[2]);
  expect(who.map((r) => ({ ...r, transitions: String(r.transitions).split(',').sort() }))).toEqual([
    { identity: 'pAlice', changes: 4, documents: 3, transitions: ['appear', 'update'], last_change: at(6) },
    { identity: 'pBob', changes: 4, documents: 4, transitions: ['appear', 'disappear'], last_change: at(8) },
    { identity: 'pCarol', changes: 2, documents: 1, transitions: ['appear', 'disappear'], last_change: at(7) },
  ]);
  expect(await query(sql[3])).toEqual([
    { document_id: 'drafts.author-1', id_kind: 'draft', release_id: null, title: null, published_title: null },
    { document_id: 'versions.rSummer.post-1', id_kind: 'version', release_id: 'rSummer', title: 'Hello, summer', published_title: 'Hello, world!' },
  ]);
}

/** The README's PostgreSQL spellings, where they differ: examples 2, 3 and 4. */
const readmePostgresSql = [...readFileSync(new URL('./fixtures/sanity/readme-sql-postgres.md', import.meta.url), 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map(
  (m) => m[1].trim(),
);

describe('the README\'s Sanity SQL examples', () => {
  it('are the ones these tests run, word for word', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Ingest Sanity'));
    expect(readme).toContain('## Ingest Sanity');
    for (const sql of [...readmeSql, ...readmePostgresSql]) expect(section).toContain(sql);
  });

  it('answer the same on PostgreSQL, in its spelling', async () => {
    const sim = new SanitySimulator({ keepAliveMs: 20 });
    const { url } = await simulator(sim);
    const db = postgresBackend.fresh();
    const child = spawnCli(
      ['ingest', 'sanity', '--stream', 'blog', '--project', 'abc123', '--dataset', 'production', '--query', '*[_type in ["post", "author"]]',
        '--url', url, ...db.args, '--include-result', '--until-idle', '2'],
      { SANITY_TOKEN: 'sk-session-secret', ...db.env },
    );
    const done = collect(child);
    await until(() => sim.listens.length === 1, 'the listener to connect');
    sim.publish(...session, ...afterChannelError);
    const result = await done;
    expect(result.code, result.stderr).toBe(0);
    const query = async (sql: string) => {
      const out = await runCli(['query', sql, '--format', 'json', ...db.args], db.env);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as Record<string, unknown>[];
    };
    expect(readmePostgresSql).toHaveLength(3);
    await expectReadmeResults(query, [readmeSql[0], ...readmePostgresSql, readmeSql[4]]);
  });
});

describe('sse-sink ingest sanity: a scripted listen session', () => {
  it('lands exactly the expected documents and document_mutations, then stops with exit 3 on a channelError, without reconnecting', async () => {
    const sim = new SanitySimulator({ preamble: true, keepAliveMs: 20 });
    const { url } = await simulator(sim);
    const db = join(tempDir(), 'sink.db');
    const child = spawnCli(ingestArgs(url, db, ['--include-result']), { SANITY_TOKEN: 'sk-session-secret' });
    const done = collect(child);
    await until(() => sim.listens.length === 1, 'the listener to connect');
    sim.publish(...session);
    await new Promise((resolve) => setTimeout(resolve, 100)); // keep-alives flow meanwhile
    sim.publish(...afterChannelError);
    // Terminal in @sanity/client (src/data/eventsource.ts): reconnecting would repeat it.
    sim.broadcast({ event: 'channelError', data: JSON.stringify({ message: 'Temporary processing error, retrying' }) });
    const result = await done;

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Temporary processing error, retrying');
    expect(result.stderr).toContain('not reconnecting');
    expect(result.stderr).not.toContain('sk-session-secret');
    expect(sim.listens).toHaveLength(1);
    // The listener was asked for what the flags say, with the token.
    const listen = sim.listens[0];
    expect(Object.fromEntries(listen.query)).toMatchObject({
      query: '*[_type in ["post", "author"]]',
      includeResult: 'true',
      includePreviousRevision: 'false',
      visibility: 'transaction',
      enableResume: 'true',
    });

    const mutations = readRows(db, `SELECT event_id, document_id, doc_type, transition, previous_rev, result_rev, identity, origin,
      json_extract(result, '$.title') AS title FROM document_mutations WHERE stream = 'blog' ORDER BY seq`);
    expect(mutations).toEqual([
      { event_id: 'tx00#post-old', document_id: 'post-old', doc_type: 'post', transition: 'appear', previous_rev: null, result_rev: 'tx00', identity: 'pAlice', origin: 'listen', title: 'Old news' },
      { event_id: 'tx01#drafts.post-1', document_id: 'drafts.post-1', doc_type: 'post', transition: 'appear', previous_rev: null, result_rev: 'tx01', identity: 'pAlice', origin: 'listen', title: 'Hello' },
      { event_id: 'tx02#drafts.post-1', document_id: 'drafts.post-1', doc_type: 'post', transition: 'update', previous_rev: 'tx01', result_rev: 'tx02', identity: 'pAlice', origin: 'listen', title: 'Hello, world' },
      { event_id: 'tx03#post-1', document_id: 'post-1', doc_type: 'post', transition: 'appear', previous_rev: null, result_rev: 'tx03', identity: 'pBob', origin: 'listen', title: 'Hello, world' },
      { event_id: 'tx03#drafts.post-1', document_id: 'drafts.post-1', doc_type: null, transition: 'disappear', previous_rev: 'tx02', result_rev: 'tx03', identity: 'pBob', origin: 'listen', title: null },
      { event_id: 'tx04#versions.rSpring.post-1', document_id: 'versions.rSpring.post-1', doc_type: 'post', transition: 'appear', previous_rev: null, result_rev: 'tx04', identity: 'pCarol', origin: 'listen', title: 'Hello, spring' },
      { event_id: 'tx05#drafts.author-1', document_id: 'drafts.author-1', doc_type: 'author', transition: 'appear', previous_rev: null, result_rev: 'tx05', identity: 'pBob', origin: 'listen', title: null },
      { event_id: 'tx06#post-1', document_id: 'post-1', doc_type: 'post', transition: 'update', previous_rev: 'tx03', result_rev: 'tx06', identity: 'pAlice', origin: 'listen', title: 'Hello, world!' },
      { event_id: 'tx07#versions.rSpring.post-1', document_id: 'versions.rSpring.post-1', doc_type: null, transition: 'disappear', previous_rev: 'tx04', result_rev: 'tx07', identity: 'pCarol', origin: 'listen', title: null },
      { event_id: 'tx08#versions.rSummer.post-1', document_id: 'versions.rSummer.post-1', doc_type: 'post', transition: 'appear', previous_rev: null, result_rev: 'tx08', identity: 'pBob', origin: 'listen', title: 'Hello, summer' },
    ]);
    const detail = readRows(db, "SELECT transaction_id, visibility, timestamp, mutations, previous FROM document_mutations WHERE event_id = 'tx03#drafts.post-1'");
    expect(detail).toEqual([
      { transaction_id: 'tx03', visibility: 'transaction', timestamp: at(3), mutations: '[{"delete":{"id":"drafts.post-1"}}]', previous: null },
    ]);

    const documents = readRows(db, `SELECT document_id, id_kind, published_id, release_id, doc_type, rev, updated_at, deleted_at,
      json_extract(result, '$.title') AS title FROM documents WHERE stream = 'blog' ORDER BY document_id`);
    expect(documents).toEqual([
      { document_id: 'drafts.author-1', id_kind: 'draft', published_id: 'author-1', release_id: null, doc_type: 'author', rev: 'tx05', updated_at: at(5), deleted_at: null, title: null },
      // A deleted document keeps its row, its type and its last result, with deleted_at set.
      { document_id: 'drafts.post-1', id_kind: 'draft', published_id: 'post-1', release_id: null, doc_type: 'post', rev: 'tx03', updated_at: at(3), deleted_at: at(3), title: 'Hello, world' },
      { document_id: 'post-1', id_kind: 'published', published_id: 'post-1', release_id: null, doc_type: 'post', rev: 'tx06', updated_at: at(6), deleted_at: null, title: 'Hello, world!' },
      { document_id: 'post-old', id_kind: 'published', published_id: 'post-old', release_id: null, doc_type: 'post', rev: 'tx00', updated_at: `${yesterday}T12:00:00.000000Z`, deleted_at: null, title: 'Old news' },
      { document_id: 'versions.rSpring.post-1', id_kind: 'version', published_id: 'post-1', release_id: 'rSpring', doc_type: 'post', rev: 'tx07', updated_at: at(7), deleted_at: at(7), title: 'Hello, spring' },
      { document_id: 'versions.rSummer.post-1', id_kind: 'version', published_id: 'post-1', release_id: 'rSummer', doc_type: 'post', rev: 'tx08', updated_at: at(8), deleted_at: null, title: 'Hello, summer' },
    ]);
    expect(readRows(db, "SELECT count(*) AS n FROM events WHERE stream = 'blog' AND type LIKE 'mutation.%'")).toEqual([{ n: 10 }]);
    // Keep-alives, the preamble and the control frames leave no trace.
    expect(readRows(db, 'SELECT count(*) AS n FROM dead_letters')).toEqual([{ n: 0 }]);
    expect(readRows(db, "SELECT cursor, state FROM streams WHERE name = 'blog'")).toEqual([{ cursor: 'tx08#versions.rSummer.post-1', state: 'stopped' }]);

    // The README's examples, run as a user would, through `sse-sink query`.
    const query = async (sql: string) => {
      const out = await runCli(['query', sql, '--format', 'json', '--db', db]);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as Record<string, unknown>[];
    };
    expect(readmeSql).toHaveLength(5);
    await expectReadmeResults(query, readmeSql);
  });

  it('stops with the config-error exit code and the message when the query is rejected (channelError)', async () => {
    const sim = new SanitySimulator();
    const { url } = await simulator(sim);
    const db = join(tempDir(), 'sink.db');
    const child = spawnCli(ingestArgs(url, db));
    const done = collect(child);
    await until(() => sim.listens.length === 1, 'the listener to connect');
    sim.broadcast({
      event: 'channelError',
      data: JSON.stringify({ error: { description: 'unexpected token "]", expected expression', type: 'queryParseError' } }),
    });
    const result = await done;
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Sanity rejected the listen query: unexpected token "\]", expected expression; fix --query or --param/);
    expect(sim.listens).toHaveLength(1); // reconnecting would only repeat the error
  });

  it('stops with exit 3 when Sanity rejects the token, and never prints it', async () => {
    const sim = new SanitySimulator({ token: 'sk-right' });
    const { url } = await simulator(sim);
    const dir = tempDir();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'sk-wrong-token\n');
    const result = await runCli(ingestArgs(url, join(dir, 'sink.db'), ['--token-file', tokenFile]));
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/Sanity refused the listener \(HTTP 401/);
    expect(result.stderr).not.toContain('sk-wrong-token');
  });

  it.each([
    [['--param', 'type=post'], /--param type: "post" is not JSON; strings need quotes/],
    [['--visibility', 'soon'], /visibility/],
    [['--api-version', '2025-02-19'], /--api-version "2025-02-19" is not an API version/],
    [['--since', 'yesterday'], /--since "yesterday" is not an RFC-3339 time/],
  ])('refuses %j with exit 2 before creating the database', async (extra, message) => {
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs('http://127.0.0.1:9', db, extra));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(existsSync(db)).toBe(false);
  });

  it('refuses to mix a different query into an existing stream, pointing to reset', async () => {
    const sim = new SanitySimulator();
    const { url } = await simulator(sim);
    const db = join(tempDir(), 'sink.db');
    const first = await runCli(ingestArgs(url, db, ['--param', 'x=1', '--until-idle', '0.5']));
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(ingestArgs(url, db, ['--param', 'x=2', '--until-idle', '0.5']));
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('sse-sink reset blog --yes');
    const sameAgain = await runCli(ingestArgs(url, db, ['--param', 'x=1', '--until-idle', '0.5']));
    expect(sameAgain.code, sameAgain.stderr).toBe(0);
    expect(sim.listens.at(-1)?.query.get('$x')).toBe('1');
  });
});
