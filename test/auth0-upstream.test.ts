// How the Auth0 source answers the upstream's refusals and rotations (the spec's status table),
// and that the token is re-read before every connect and never written anywhere.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import type { ConnectionEvent } from '../src/core/connection-event.js';
import { startSseTestServer, type RecordedRequest, type Reply } from '../src/simulators/sse-server.js';
import { errorFrame, fixtureScript, keepAlive, offsetAt, queryRows, serveAfterCursor, simulatedTenantSource } from './helpers/auth0.js';
import { runCli, tempDir } from './helpers/cli.js';

const servers: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function upstream(handler: (request: RecordedRequest, index: number) => Reply | Promise<Reply>) {
  const server = await startSseTestServer(handler);
  servers.push(server);
  return server;
}

function ingestArgs(db: string, url: string, ...extra: string[]): string[] {
  return ['ingest', 'auth0', '--stream', 'acme', '--domain', 'acme.us.auth0.com', '--url', url, '--db', db, ...extra];
}

const script = fixtureScript();
/** The fixture sends one event twice: the history holds each once. */
const distinctEvents = new Set(script.map((entry) => JSON.parse((entry.step as { frame: { data: string } }).frame.data).event.id)).size;
const serveAll = serveAfterCursor(script, { tail: keepAlive(3000) });
const bearer = (request: RecordedRequest) => request.headers.authorization;

/** Every byte sse-sink wrote: the database and its WAL, and what it printed. */
function everythingWritten(dir: string, output: string[]): string {
  const files = readdirSync(dir).map((name) => readFileSync(join(dir, name)).toString('latin1'));
  return [...files, ...output].join('\n');
}

describe('Auth0 upstream refusals', () => {
  it('stops on 400 with the upstream\'s explanation and exit code 2', async () => {
    const server = await upstream(() => ({ status: 400, body: '{"message":"unknown event_type user.exploded"}' }));
    const result = await runCli(ingestArgs(join(tempDir(), 'sink.db'), server.url, '--event-type', 'user.exploded'), { AUTH0_TOKEN: 'tok-400' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown event_type user.exploded');
    expect(server.requests).toHaveLength(1);
  });

  it('re-reads the token once after a 401 and goes on with the new one', async () => {
    const dir = tempDir();
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'tok-expired-1\n');
    const server = await upstream((request, index) => {
      if (bearer(request) !== 'Bearer tok-renewed-2') {
        // The token is renewed by someone else while the ingester is being refused.
        if (index === 0) writeFileSync(tokenFile, 'tok-renewed-2\n');
        return { status: 401, body: '{"message":"Invalid token"}' };
      }
      return serveAll(request);
    });
    const result = await runCli(ingestArgs(join(dir, 'sink.db'), server.url, '--token-file', tokenFile, '--until-idle', '1'));
    expect(result.code).toBe(0);
    expect(server.requests.map(bearer)).toEqual(['Bearer tok-expired-1', 'Bearer tok-renewed-2']);
    expect(queryRows(join(dir, 'sink.db'), 'SELECT count(*) AS n FROM events')).toEqual([{ n: 39 }]);
  });

  it('stops with exit code 3 when the token is refused again after re-reading it, without printing it', async () => {
    const dir = tempDir();
    const server = await upstream(() => ({ status: 401, body: '{"message":"Invalid token"}' }));
    const result = await runCli(ingestArgs(join(dir, 'sink.db'), server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-secret-401' });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/Auth0 rejected the token \(401: .*Invalid token.*\), also after reading AUTH0_TOKEN again/);
    expect(server.requests).toHaveLength(2);
    expect(everythingWritten(dir, [result.stdout, result.stderr])).not.toContain('tok-secret-401');
  });

  it('stops with exit code 3 on a 403 that is not about concurrency', async () => {
    const server = await upstream(() => ({ status: 403, body: '{"message":"Insufficient scope, expected any of: read:events"}' }));
    const result = await runCli(ingestArgs(join(tempDir(), 'sink.db'), server.url), { AUTH0_TOKEN: 'tok-403' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Insufficient scope');
    expect(server.requests).toHaveLength(1);
  });

  it('waits and retries on a 403 that says too many concurrent connections', async () => {
    const server = await upstream((request, index) =>
      index < 2 ? { status: 403, body: '{"message":"Too many concurrent connections for this tenant"}' } : serveAll(request));
    const lines: string[] = [];
    const events: ConnectionEvent[] = [];
    const summary = await runIngestOnFile({
      dbPath: join(tempDir(), 'sink.db'),
      stream: 'acme',
      source: simulatedTenantSource(server.url, 'tok-403c', { concurrencyRetry: { firstMs: 50, maxMs: 100 } }),
      untilIdleMs: 1000,
      log: createLogger({ format: 'json', write: (line) => lines.push(line) }),
      onConnectionEvent: (event) => events.push(event),
    });
    expect(summary).toMatchObject({ stopReason: 'until-idle', inserted: 39 });
    expect(server.requests).toHaveLength(3);
    expect(lines.filter((line) => line.includes('too many concurrent connections'))).toHaveLength(2);
    // The waits show as retrying (status, /healthz), not as live.
    expect(events.filter((event) => event.type === 'retrying')).toEqual([
      { type: 'retrying', attempt: 1, delayMs: 50, status: 403, reason: 'too many concurrent connections' },
      { type: 'retrying', attempt: 2, delayMs: 100, status: 403, reason: 'too many concurrent connections' },
    ]);
    expect(events.filter((event) => event.type !== 'keepalive').at(-1)).toMatchObject({ type: 'open', status: 200 });
  });

  it('waits for X-RateLimit-Reset on a 429 without Retry-After', async () => {
    const resetAt = Math.ceil(Date.now() / 1000) + 1;
    const server = await upstream((request, index) =>
      index === 0 ? { status: 429, headers: { 'x-ratelimit-reset': String(resetAt) }, body: 'Too Many Requests' } : serveAll(request));
    const summary = await runIngestOnFile({
      dbPath: join(tempDir(), 'sink.db'),
      stream: 'acme',
      source: simulatedTenantSource(server.url, 'tok-429'),
      untilIdleMs: 1000,
      log: createLogger({ write: () => {} }),
    });
    expect(summary).toMatchObject({ stopReason: 'until-idle', inserted: 39 });
    expect(server.requests[1]!.at).toBeGreaterThanOrEqual(resetAt * 1000 - 50);
  });

  describe('when the stored cursor has expired (410)', () => {
    /** An upstream that serves the first 10 events, then answers 410 to any cursor, as after a long downtime. */
    async function expiringUpstream() {
      const state = { expired: false };
      const server = await upstream((request) => {
        if (!state.expired) return serveAfterCursor(script.slice(0, 10), { tail: keepAlive(3000) })(request);
        if (request.query.has('from')) return { status: 410, body: '{"message":"The cursor is no longer available"}' };
        return serveAll(request);
      });
      const db = join(tempDir(), 'sink.db');
      expect((await runCli(ingestArgs(db, server.url, '--until-idle', '0.5'), { AUTH0_TOKEN: 'tok-410' })).code).toBe(0);
      state.expired = true;
      return { server, db };
    }

    it('stops with exit code 4 and says how to recover, by default', async () => {
      const { server, db } = await expiringUpstream();
      const result = await runCli(ingestArgs(db, server.url, '--until-idle', '0.5'), { AUTH0_TOKEN: 'tok-410' });
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('The cursor is no longer available');
      expect(result.stderr).toContain('--on-expired-cursor since-last-event');
      expect(queryRows(db, 'SELECT cursor FROM streams')).toEqual([{ cursor: offsetAt(9) }]);
      expect(queryRows(db, 'SELECT count(*) AS n FROM gaps')).toEqual([{ n: 0 }]);
    });

    it('records a gap and resumes from the newest stored event time minus 10 minutes with since-last-event', async () => {
      const { server, db } = await expiringUpstream();
      const [{ last_event_at }] = queryRows<{ last_event_at: string }>(db, 'SELECT last_event_at FROM streams');
      expect(last_event_at).toBe('2026-03-02T12:02:00.000000Z');
      const result = await runCli(
        ingestArgs(db, server.url, '--on-expired-cursor', 'since-last-event', '--until-idle', '1'), { AUTH0_TOKEN: 'tok-410' });
      expect(result.code).toBe(0);
      const [expired, resumed] = server.requests.slice(1);
      expect(expired.query.get('from')).toBe(offsetAt(9));
      expect(resumed.query.get('from_timestamp')).toBe('2026-03-02T11:52:00Z');
      expect(resumed.query.has('from')).toBe(false);
      expect(queryRows(db, 'SELECT reason, status, from_time, detail FROM gaps')).toEqual([{
        reason: 'cursor-expired',
        status: 'open',
        from_time: '2026-03-02T12:02:00.000000Z',
        detail: expect.stringContaining('from_timestamp=2026-03-02T11:52:00Z'),
      }]);
      // What the resumed stream sent again is not stored twice.
      expect(queryRows(db, 'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events')).toEqual([{ n: 39, ids: 39 }]);
      expect(queryRows(db, 'SELECT cursor FROM streams')).toEqual([{ cursor: offsetAt(script.length - 1) }]);
    });
  });

  it('treats an error frame cursor_expired like a 410, without adopting the offset it carries', async () => {
    const server = await upstream((_request, index) => index > 0 ? { status: 500, body: 'must not reconnect' } : {
      status: 200,
      steps: [...script.slice(0, 3).map((entry) => entry.step), errorFrame('cursor_expired', 'too old', offsetAt(30)), { end: true }],
    });
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-frame' });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('error frame cursor_expired: too old');
    expect(queryRows(db, 'SELECT cursor, events_total FROM streams')).toEqual([{ cursor: offsetAt(2), events_total: 3 }]);
    expect(server.requests).toHaveLength(1);
  });

  it('stops with exit code 2 on an invalid_cursor error frame, keeping what came before', async () => {
    const server = await upstream(() => ({
      status: 200,
      steps: [...script.slice(0, 2).map((entry) => entry.step), errorFrame('invalid_cursor', 'malformed cursor'), { end: true }],
    }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-frame' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid_cursor: malformed cursor');
    expect(queryRows(db, 'SELECT cursor, events_total FROM streams')).toEqual([{ cursor: offsetAt(1), events_total: 2 }]);
  });

  it('records a gap and goes on when a payload_too_large error frame moves the offset past the event', async () => {
    const server = await upstream((request, index) => index > 0 ? serveAfterCursor(script)(request) : {
      status: 200,
      steps: [...script.slice(0, 3).map((entry) => entry.step), errorFrame('payload_too_large', 'event exceeds 1 MB', offsetAt(3)), { end: true }],
    });
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-frame' });
    expect(result.code).toBe(0);
    expect(server.requests[1].query.get('from')).toBe(offsetAt(3));
    expect(queryRows(db, 'SELECT reason, status, detail FROM gaps')).toEqual([
      { reason: 'payload-too-large', status: 'unrepairable', detail: expect.stringContaining('event exceeds 1 MB') },
    ]);
    // Everything but the event Auth0 skipped.
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: distinctEvents - 1 }]);
  });

  it('stops with exit code 3 and an open gap when payload_too_large keeps coming without moving the offset', async () => {
    // After the second event, Auth0 answers every connection with the same error and no offset.
    const server = await upstream((_request, index) => ({
      status: 200,
      steps: [...(index === 0 ? script.slice(0, 2).map((entry) => entry.step) : []), errorFrame('payload_too_large', 'event exceeds 1 MB'), { end: true }],
    }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '30'), { AUTH0_TOKEN: 'tok-frame' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('payload_too_large 3 times in a row without moving the offset');
    expect(server.requests).toHaveLength(4);
    expect(queryRows(db, 'SELECT reason, status FROM gaps')).toEqual([{ reason: 'payload-too-large', status: 'open' }]);
    expect(queryRows(db, 'SELECT cursor FROM streams')).toEqual([{ cursor: offsetAt(1) }]);
  });

  it('--until-idle does not count a Retry-After wait: the backlog behind a 503 is still read', async () => {
    const server = await upstream((request, index) =>
      index === 0 ? { status: 503, headers: { 'retry-after': '2' }, body: 'busy' } : serveAfterCursor(script, { tail: keepAlive(3000) })(request));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-503' });
    expect(result.code).toBe(0);
    expect(server.requests).toHaveLength(2);
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: distinctEvents }]);
  });

  it('follows a redirect to the events endpoint, and names the Location when there are too many', async () => {
    const moved = await upstream(serveAll);
    const server = await upstream(() => ({ status: 301, headers: { location: `${moved.url}/api/v2/events` } }));
    const db = join(tempDir(), 'sink.db');
    const followed = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-301' });
    expect(followed.code).toBe(0);
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: distinctEvents }]);

    const looping = await upstream((request) => ({ status: 302, headers: { location: `${request.path}x` } }));
    const stopped = await runCli(ingestArgs(join(tempDir(), 'sink.db'), looping.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-302' });
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toContain('HTTP 302 to /api/v2/eventsxxxxxx');
  });

  it('stops with exit code 2 when a 200 is a web page, not an event stream', async () => {
    const server = await upstream(() => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>Sign in to the Wi-Fi</html>' }));
    const result = await runCli(ingestArgs(join(tempDir(), 'sink.db'), server.url, '--until-idle', '1'), { AUTH0_TOKEN: 'tok-html' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Content-Type "text/html", not text/event-stream');
    expect(server.requests).toHaveLength(1);
  });

  it('reconnects with a token file rotated between connections, and writes the token nowhere', async () => {
    const dir = tempDir();
    const tokenFile = join(tempDir(), 'token');
    writeFileSync(tokenFile, 'tok-rotation-first\n');
    const server = await upstream((request, index) => {
      if (index > 0) return serveAll(request);
      // The token is rotated while the first connection is open; that connection then ends.
      writeFileSync(tokenFile, 'tok-rotation-second\n');
      return serveAfterCursor(script.slice(0, 5))(request);
    });
    const result = await runCli(ingestArgs(join(dir, 'sink.db'), server.url, '--token-file', tokenFile, '--until-idle', '1'));
    expect(result.code).toBe(0);
    expect(server.requests.map(bearer)).toEqual(['Bearer tok-rotation-first', 'Bearer tok-rotation-second']);
    expect(server.requests[1].query.get('from')).toBe(offsetAt(4));
    const written = everythingWritten(dir, [result.stdout, result.stderr]);
    expect(written).toContain('evt_01alice');
    expect(written).not.toMatch(/tok-rotation/);
  });
});
