import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/cli/ingest-commands.js';
import { SanitySimulator, startSanitySimulator } from '../src/simulators/sanity-simulator.js';
import { startSseTestServer, type SseTestServer } from '../src/simulators/sse-server.js';
import { runCli, tempDir } from './helpers/cli.js';
import { fixtureScript, keepAlive, queryRows, serveAfterCursor } from './helpers/auth0.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function auth0Upstream(): Promise<SseTestServer> {
  const server = await startSseTestServer(serveAfterCursor(fixtureScript(), { tail: [...keepAlive(5_000), { end: true }] }));
  closers.push(() => server.close());
  return server;
}

async function sanityUpstream(): Promise<string> {
  const sim = new SanitySimulator({ keepAliveMs: 100 });
  sim.publish(
    { id: 'tx1', timestamp: '2026-03-01T09:00:00.000001Z', author: 'pAlice', mutations: [{ create: { _id: 'post-1', _type: 'post', title: 'Hello' } }] },
    { id: 'tx2', timestamp: '2026-03-01T09:00:01.000001Z', author: 'pBob', mutations: [{ create: { _id: 'drafts.post-2', _type: 'post', title: 'Draft' } }] },
  );
  const server = await startSanitySimulator(sim);
  closers.push(() => server.close());
  return server.url;
}

function writeConfig(config: unknown): { dir: string; path: string } {
  const dir = tempDir();
  const path = join(dir, 'sse-sink.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return { dir, path };
}

describe('config file', () => {
  it('ingest --all runs every configured stream in one process, into one database', async () => {
    const auth0 = await auth0Upstream();
    const sanityUrl = await sanityUpstream();
    const { dir, path } = writeConfig({
      db: 'will-be-overridden.db',
      streams: {
        tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', url: auth0.url, 'token-env': 'TENANT_TOKEN', 'until-idle': 1 },
        blog: { source: 'sanity', project: 'abc123xy', dataset: 'production', query: '*[_type == "post"]', param: { type: 'post' }, url: sanityUrl, since: '2026-03-01T00:00:00Z', 'until-idle': 1 },
      },
    });
    const db = join(dir, 'sink.db');
    const result = await runCli(['ingest', '--all', '--config', path, '--db', db], { TENANT_TOKEN: 'tenant-secret' });
    expect(result.stderr).not.toContain('tenant-secret');
    expect(result.code).toBe(0);
    const streams = queryRows<{ name: string; source: string; events_total: number }>(db, 'SELECT name, source, events_total FROM streams ORDER BY name');
    expect(streams.map((s) => [s.name, s.source])).toEqual([['blog', 'sanity'], ['tenant', 'auth0']]);
    expect(streams.find((s) => s.name === 'blog')!.events_total).toBe(2);
    expect(streams.find((s) => s.name === 'tenant')!.events_total).toBeGreaterThan(20);
    expect(queryRows(db, "SELECT document_id FROM documents WHERE stream = 'blog' ORDER BY document_id")).toEqual([
      { document_id: 'drafts.post-2' },
      { document_id: 'post-1' },
    ]);
    expect(auth0.requests[0].headers.authorization).toBe('Bearer tenant-secret');
  });

  it('ingest --all: a stream the upstream refuses ends the run, and the others stop cleanly with what they read', async () => {
    const auth0 = await auth0Upstream();
    const refusing = await startSseTestServer(() => ({ status: 401, body: '{"message":"Invalid token"}' }));
    closers.push(() => refusing.close());
    const { dir, path } = writeConfig({
      streams: {
        tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', url: auth0.url, 'token-env': 'TENANT_TOKEN' },
        revoked: { source: 'auth0', domain: 'old.eu.auth0.com', url: refusing.url, 'token-env': 'REVOKED_TOKEN' },
      },
    });
    const db = join(dir, 'sink.db');
    const result = await runCli(['ingest', '--all', '--config', path, '--db', db], { TENANT_TOKEN: 't1', REVOKED_TOKEN: 't2' });
    expect(result.code).toBe(3);
    expect(result.stderr).not.toContain('connection is not open');
    const streams = queryRows<{ name: string; state: string; lease_owner: string | null }>(db, 'SELECT name, state, lease_owner FROM streams ORDER BY name');
    expect(streams).toEqual([
      { name: 'revoked', state: 'stopped', lease_owner: null },
      { name: 'tenant', state: 'stopped', lease_owner: null },
    ]);
  });

  it('ingest --stream takes the source and options from the config, and flags override them', async () => {
    const auth0 = await auth0Upstream();
    const { dir, path } = writeConfig({
      streams: { tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', url: auth0.url, 'event-type': ['user.created', 'user.updated'], 'until-idle': 30 } },
    });
    const db = join(dir, 'sink.db');
    const result = await runCli(['ingest', '--stream', 'tenant', '--max-events', '2', '--db', db], {
      SSE_SINK_CONFIG: path,
      AUTH0_TOKEN: 't',
    });
    expect(result.code).toBe(0);
    expect(auth0.requests[0].query.getAll('event_type')).toEqual(['user.created', 'user.updated']);
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 2 }]);
  });

  it.each([
    ['an unknown key', { tenant: { source: 'auth0', domian: 'acme.eu.auth0.com' } }, /streams\.tenant\.domian: unknown key; known keys: .*domain/],
    ['a value of the wrong type', { tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', 'until-idle': '30' } }, /streams\.tenant\.until-idle: must be a number/],
    ['a bad URL', { tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', url: 'not a url' } }, /streams\.tenant: --url "not a url" is not a URL/],
    ['a missing token variable', { tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', 'token-env': 'NOT_SET_ANYWHERE' } }, /streams\.tenant: no token: set NOT_SET_ANYWHERE/],
    ['a token in the file', { tenant: { source: 'auth0', domain: 'acme.eu.auth0.com', token: 'x' } }, /streams\.tenant\.token: tokens are not kept in the config/],
    ['an unknown source', { tenant: { source: 'okta' } }, /streams\.tenant\.source: must be "auth0" or "sanity"/],
  ])('rejects %s with exit 2, the path of the key, and no database', async (_what, streams, message) => {
    const { dir, path } = writeConfig({ streams });
    const db = join(dir, 'sink.db');
    const result = await runCli(['ingest', '--all', '--config', path, '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(path);
    expect(existsSync(db)).toBe(false);
  });

  it('rejects a file that is not JSON, and --stream without a config', async () => {
    const dir = tempDir();
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{ "streams": ');
    const broken = await runCli(['ingest', '--all', '--config', path, '--db', join(dir, 'x.db')]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/is not JSON/);
    const none = await runCli(['ingest', '--stream', 'tenant', '--db', join(dir, 'x.db')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/pass --config <file> or set \$SSE_SINK_CONFIG/);
    expect(existsSync(join(dir, 'x.db'))).toBe(false);
  });

  it('accepts the README\'s example config', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const example = readme.slice(readme.indexOf('## Config file')).match(/```json\n([\s\S]*?)```/)![1];
    const { path } = writeConfig(JSON.parse(example));
    const config = loadConfig(path)!;
    expect(Object.keys(config.streams)).toEqual(['tenant', 'blog']);
    expect(config.streams.blog.options.param).toEqual({ type: 'post' });
  });
});
