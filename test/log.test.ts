// Log lines as operators and their tools read them: JSON lines with level, msg and the stream off a
// TTY, one readable line each in pretty form, nothing below the level, and never a token.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { observeStreams } from '../src/cli/observe.js';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import { startSseTestServer } from '../src/simulators/sse-server.js';
import { fixtureScript, serveAfterCursor, simulatedTenantSource } from './helpers/auth0.js';
import { tempDir } from './helpers/cli.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

type Line = Record<string, unknown>;

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', level, write: (line) => lines.push(line) });
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line) as Line) };
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, msg and the fields bound by child()', () => {
    const { log, lines, parsed } = capture();
    log.child({ stream: 'acme', source: 'auth0' }).info('connection opened', { attempt: 0, status: 200 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [line] = parsed();
    expect(line).toEqual({ time: expect.any(String), level: 'info', msg: 'connection opened', stream: 'acme', source: 'auth0', attempt: 0, status: 200 });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
  });

  it('writes nothing below its level', () => {
    const info = capture('info');
    info.log.debug('batch committed');
    info.log.warn('connection retrying');
    info.log.error('stream failed');
    expect(info.parsed().map((line) => line.level)).toEqual(['warn', 'error']);

    const debug = capture('debug');
    debug.log.child({ stream: 'acme' }).debug('batch committed', { inserted: 3 });
    expect(debug.parsed()).toMatchObject([{ level: 'debug', msg: 'batch committed', stream: 'acme', inserted: 3 }]);

    const error = capture('error');
    error.log.warn('connection retrying');
    expect(error.lines).toEqual([]);
  });

  it('replaces values under keys that name a secret, at the top and one level down', () => {
    const { log, lines, parsed } = capture();
    log.info('connecting', { token: 'tok-a1', headers: { authorization: 'Bearer tok-a1' }, url: 'https://acme.us.auth0.com' });
    expect(lines.join('\n')).not.toContain('tok-a1');
    expect(parsed()).toMatchObject([{ token: '[redacted]', headers: { authorization: '[redacted]' }, url: 'https://acme.us.auth0.com' }]);
  });

  it('in pretty form writes one readable line per call, with the level, message and fields', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'pretty', write: (line) => lines.push(line) });
    log.child({ stream: 'acme' }).warn('connection retrying', { status: 500 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: connection retrying \{"stream":"acme","status":500\}$/);
  });

  it('off a TTY writes JSON lines to stderr by default, none lost when the process exits at once', () => {
    const logModule = fileURLToPath(new URL('../dist/src/common/log.js', import.meta.url));
    const script = `const { createLogger } = await import(${JSON.stringify(logModule)});
      const log = createLogger().child({ stream: 'acme' });
      for (let i = 0; i < 200; i++) log.info('event', { i });
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('');
    const lines = child.stderr.trimEnd().split('\n').map((line) => JSON.parse(line) as Line);
    expect(lines).toHaveLength(200);
    expect(lines[199]).toMatchObject({ level: 'info', msg: 'event', stream: 'acme', i: 199 });
  });
});

describe('logs of a real ingestion', () => {
  it('name the stream on every line, log connections and batches, and never contain the token', async () => {
    const token = 'tok-log-secret-5d81e0';
    const script = fixtureScript().slice(0, 10);
    const serve = serveAfterCursor(script);
    const server = await startSseTestServer((request, index) => {
      if (index === 0) return { status: 500, body: 'upstream hiccup' };
      // An upstream that echoes the credential it refuses: the message must not carry it on.
      if (index === 1) return { status: 401, body: `{"message":"Invalid token ${token}"}` };
      return serve(request);
    });
    servers.push(server);
    const lines: string[] = [];
    const observation = await observeStreams({ logFormat: 'json', logLevel: 'debug', progress: false, logWrite: (line) => lines.push(line) });
    const hooks = observation.hooksFor('acme', { source: 'auth0' });
    const summary = await runIngestOnFile({
      dbPath: join(tempDir(), 'sink.db'),
      stream: 'acme',
      source: simulatedTenantSource(server.url, token),
      maxEvents: 10,
      ...hooks,
    });
    hooks.stopped(summary.stopReason);
    await observation.close();
    expect(summary).toMatchObject({ stopReason: 'max-events', received: 10 });

    expect(lines.join('\n')).not.toContain(token);
    const parsed = lines.map((line) => JSON.parse(line) as Line);
    for (const line of parsed) {
      expect(line).toMatchObject({ level: expect.stringMatching(/^(debug|info|warn|error)$/), msg: expect.any(String), stream: 'acme', source: 'auth0' });
    }
    expect(parsed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'warn', msg: 'connection retrying', status: 500, reason: 'HTTP 500' }),
        expect.objectContaining({ level: 'warn', msg: expect.stringContaining('Auth0 rejected the token (401)') }),
        expect.objectContaining({ level: 'info', msg: 'connection opened', status: 200 }),
        expect.objectContaining({ level: 'debug', msg: 'batch committed' }),
      ]),
    );
    const committed = parsed.filter((line) => line.msg === 'batch committed').reduce((sum, line) => sum + (line.inserted as number), 0);
    expect(committed).toBe(10);
  });
});
