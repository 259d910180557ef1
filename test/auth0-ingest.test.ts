import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSseTestServer } from '../src/simulators/sse-server.js';
import {
  errorFrame,
  eventEntry,
  fixtureEvents,
  fixtureScript,
  heartbeatEntry,
  keepAlive,
  malformedEntry,
  offsetAt,
  queryRows,
  serveAfterCursor,
  waitFor,
  type ScriptEntry,
} from './helpers/auth0.js';
import { collect, runCli, spawnCli, tempDir } from './helpers/cli.js';

const TOKEN = 'tok-ingest-3f9a1c';
const env = { AUTH0_TOKEN: TOKEN };
const servers: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function upstream(handler: Parameters<typeof startSseTestServer>[0]) {
  const server = await startSseTestServer(handler);
  servers.push(server);
  return server;
}

function ingestArgs(db: string, url: string, ...extra: string[]): string[] {
  return ['ingest', 'auth0', '--stream', 'acme', '--domain', 'acme.us.auth0.com', '--url', url, '--db', db, ...extra];
}

/** Events committed so far; 0 while the ingester is still creating the database. */
function storedEvents(db: string): number {
  try {
    return queryRows<{ n: number }>(db, 'SELECT count(*) AS n FROM events')[0].n;
  } catch {
    return 0;
  }
}

/** The fixture (22 types, an unknown one, a duplicate, two late events), a cut-off frame and a heartbeat. */
function fullScript(): ScriptEntry[] {
  const events = fixtureScript();
  return [...events, malformedEntry('user.updated', offsetAt(events.length)), heartbeatEntry(offsetAt(events.length + 1))];
}

describe('sse-sink ingest auth0', () => {
  it('stores every event of all 22 types and an unknown type, and projects each into its table', async () => {
    const script = fullScript();
    const server = await upstream(serveAfterCursor(script));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), env);
    expect(result.stderr).not.toContain('"level":"error"');
    expect(result.code).toBe(0);

    const [request] = server.requests;
    expect(request.path).toBe('/api/v2/events');
    expect(request.headers.accept).toBe('text/event-stream');
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect([...request.query.keys()]).toEqual([]);

    // One row per distinct evt_ id, in arrival order, with the frame's data as received and its cursor.
    const events = queryRows<{ event_id: string; type: string; cursor: string; payload: string; projected: number }>(
      db, 'SELECT event_id, type, cursor, payload, projected FROM events ORDER BY seq');
    expect(events.map((e) => e.event_id)).toEqual([...new Set(fixtureEvents.map((e) => e.id))]);
    expect(new Set(events.map((e) => e.type)).size).toBe(23);
    for (const event of events) {
      const position = fixtureEvents.findIndex((f) => f.id === event.event_id);
      expect(event.cursor).toBe(offsetAt(position));
      expect(event.payload).toBe(JSON.stringify({ offset: offsetAt(position), event: fixtureEvents[position] }));
    }
    expect(events.filter((e) => !e.projected).map((e) => e.type)).toEqual(['connection.created']);

    expect(queryRows(db, 'SELECT subject_kind, subject_id FROM events WHERE event_id IN (?, ?, ?) ORDER BY seq', 'evt_06alice', 'evt_15', 'evt_30'))
      .toEqual([
        { subject_kind: 'user', subject_id: 'auth0|alice' },
        { subject_kind: 'organization', subject_id: 'org_acme' },
        { subject_kind: 'group', subject_id: 'grp_eng' },
      ]);

    // The stale update of alice (older time, arriving last) did not overwrite the newer one.
    expect(queryRows(db, 'SELECT user_id, email, name, email_verified, logins_count, created_at, updated_at, deleted_at FROM users ORDER BY user_id')).toEqual([
      { user_id: 'auth0|alice', email: 'alice@acme.example', name: 'Alice Liddell', email_verified: 1, logins_count: 3,
        created_at: '2026-03-01T09:00:00.000000Z', updated_at: '2026-03-02T09:00:00.000000Z', deleted_at: null },
      { user_id: 'auth0|bob', email: 'bob@example.com', name: 'Bob', email_verified: 1, logins_count: null,
        created_at: '2026-03-01T10:00:00.000000Z', updated_at: '2026-03-01T10:00:00.000000Z', deleted_at: null },
      { user_id: 'auth0|carol', email: 'carol@example.com', name: 'Carol', email_verified: null, logins_count: null,
        created_at: '2026-03-02T08:00:00.000000Z', updated_at: '2026-03-02T08:00:00.000000Z', deleted_at: '2026-03-03T08:00:00.000000Z' },
    ]);
    expect(queryRows(db, "SELECT json_extract(object, '$.app_metadata.plan') AS plan FROM users WHERE user_id = 'auth0|bob'")).toEqual([{ plan: null }]);
    expect(queryRows(db, 'SELECT org_id, name, display_name, created_at, updated_at, deleted_at FROM organizations ORDER BY org_id')).toEqual([
      { org_id: 'org_acme', name: 'acme', display_name: 'Acme Corporation', created_at: '2026-03-01T11:00:00.000000Z',
        updated_at: '2026-03-02T11:00:00.000000Z', deleted_at: null },
      { org_id: 'org_globex', name: 'globex', display_name: 'Globex', created_at: '2026-03-01T12:00:00.000000Z',
        updated_at: '2026-03-01T12:00:00.000000Z', deleted_at: '2026-03-03T12:00:00.000000Z' },
    ]);
    expect(queryRows(db, "SELECT json_extract(object, '$.branding.colors.primary') AS primary_color FROM organizations WHERE org_id = 'org_acme'"))
      .toEqual([{ primary_color: '#0059d6' }]);
    // carol was removed; the late "added" (older than the removal) does not bring her back.
    expect(queryRows(db, 'SELECT org_id, user_id, added_at FROM organization_members ORDER BY user_id')).toEqual([
      { org_id: 'org_acme', user_id: 'auth0|alice', added_at: '2026-03-02T12:00:00.000000Z' },
      { org_id: 'org_acme', user_id: 'auth0|bob', added_at: '2026-03-02T12:01:00.000000Z' },
    ]);
    expect(queryRows(db, 'SELECT org_id, user_id, role_id, role_name FROM organization_member_roles ORDER BY user_id, role_id')).toEqual([
      { org_id: 'org_acme', user_id: 'auth0|alice', role_id: 'rol_admin', role_name: 'admin' },
      { org_id: 'org_acme', user_id: 'auth0|bob', role_id: 'rol_viewer', role_name: 'viewer' },
    ]);
    expect(queryRows(db, 'SELECT org_id, connection_id, assign_membership_on_login, show_as_button, is_signup_enabled FROM organization_connections'))
      .toEqual([{ org_id: 'org_acme', connection_id: 'con_db', assign_membership_on_login: 1, show_as_button: 0, is_signup_enabled: 1 }]);
    expect(queryRows(db, 'SELECT group_id, name, external_id, group_type, connection_id, org_id, deleted_at FROM groups ORDER BY group_id')).toEqual([
      { group_id: 'grp_eng', name: 'Engineering (all)', external_id: null, group_type: 'tenant', connection_id: null, org_id: null, deleted_at: null },
      { group_id: 'grp_old', name: 'Acme admins', external_id: null, group_type: 'organization', connection_id: null, org_id: 'org_acme',
        deleted_at: '2026-03-03T09:00:00.000000Z' },
      { group_id: 'grp_sso', name: 'SSO staff', external_id: 'ext-42', group_type: 'connection', connection_id: 'con_okta', org_id: null, deleted_at: null },
    ]);
    expect(queryRows(db, 'SELECT group_id, member_type, member_id, connection_id FROM group_members ORDER BY member_type, member_id')).toEqual([
      { group_id: 'grp_eng', member_type: 'connection', member_id: 'grp_sso', connection_id: 'con_okta' },
      { group_id: 'grp_eng', member_type: 'user', member_id: 'auth0|alice', connection_id: null },
    ]);
    expect(queryRows(db, 'SELECT group_id, role_id, role_name, assigned_at FROM group_roles')).toEqual([
      { group_id: 'grp_eng', role_id: 'rol_viewer', role_name: 'viewer', assigned_at: '2026-03-02T16:00:00.000000Z' },
    ]);
    expect(queryRows(db, 'SELECT org_id, group_id, role_id, role_name FROM organization_group_roles')).toEqual([
      { org_id: 'org_acme', group_id: 'grp_eng', role_id: 'rol_viewer', role_name: 'viewer' },
    ]);

    // The cut-off frame is a dead letter; the cursor moved past it to the final heartbeat.
    expect(queryRows(db, 'SELECT event_type, reason, cursor FROM dead_letters')).toEqual([
      { event_type: 'user.updated', reason: expect.stringMatching(/not JSON/), cursor: offsetAt(fixtureEvents.length) },
    ]);
    expect(queryRows(db, 'SELECT cursor FROM streams')).toEqual([{ cursor: offsetAt(fixtureEvents.length + 1) }]);

    const status = await runCli(['status', '--json', '--db', db]);
    expect(JSON.parse(status.stdout)).toEqual([
      expect.objectContaining({ name: 'acme', eventsTotal: 39, duplicatesSkipped: 1, unknownTypes: 1, deadLetters: 1 }),
    ]);
  });

  it('resumes from the stored cursor: the next run asks for from=<last cursor> and no from_timestamp', async () => {
    const script = fixtureScript();
    const half = 20;
    // The first connection ends after `half` frames; the upstream then has the rest.
    const server = await upstream((request, index) =>
      index === 0 ? serveAfterCursor(script.slice(0, half), { tail: keepAlive(3000) })(request) : serveAfterCursor(script)(request));
    const db = join(tempDir(), 'sink.db');

    const first = await runCli(ingestArgs(db, server.url, '--since', '2026-03-01T00:00:00.123+01:00', '--until-idle', '1'), env);
    expect(first.code).toBe(0);
    expect(server.requests[0].query.get('from_timestamp')).toBe('2026-02-28T23:00:00Z');
    expect(server.requests[0].query.has('from')).toBe(false);
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: half }]);

    const second = await runCli(ingestArgs(db, server.url, '--since', '2026-03-01T00:00:00Z', '--until-idle', '1'), env);
    expect(second.code).toBe(0);
    const resumed = server.requests[1];
    expect(resumed.query.get('from')).toBe(offsetAt(half - 1));
    expect(resumed.query.has('from_timestamp')).toBe(false);
    expect(second.stderr).toContain('--since is ignored');
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 39 }]);
  });

  it('advances the stored cursor on heartbeats alone', async () => {
    const script = [heartbeatEntry(offsetAt(0)), heartbeatEntry(offsetAt(1)), heartbeatEntry(offsetAt(2))];
    const server = await upstream(serveAfterCursor(script, { tail: keepAlive(3000) }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1.5'), env);
    expect(result.code).toBe(0);
    expect(queryRows(db, 'SELECT cursor, last_heartbeat_at IS NOT NULL AS beat, events_total FROM streams')).toEqual([
      { cursor: offsetAt(2), beat: 1, events_total: 0 },
    ]);
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 0 }]);
  });

  it('sends one event_type parameter per --event-type, and stores the filter in the stream definition', async () => {
    const server = await upstream(serveAfterCursor([], { tail: keepAlive(2000) }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(
      ingestArgs(db, server.url, '--event-type', 'user.updated', '--event-type', 'user.created', '--until-idle', '0.5'), env);
    expect(result.code).toBe(0);
    expect(server.requests[0].query.getAll('event_type')).toEqual(['user.created', 'user.updated']);
    expect(queryRows(db, 'SELECT source, definition FROM streams')).toEqual([{
      source: 'auth0',
      definition: JSON.stringify({ domain: 'acme.us.auth0.com', eventTypes: ['user.created', 'user.updated'], url: server.url }),
    }]);
  });

  it('refuses another definition under the same stream name, saying how to reset it', async () => {
    const server = await upstream(serveAfterCursor([], { tail: keepAlive(2000) }));
    const db = join(tempDir(), 'sink.db');
    expect((await runCli(ingestArgs(db, server.url, '--until-idle', '0.5'), env)).code).toBe(0);
    const other = await runCli(ingestArgs(db, server.url, '--event-type', 'user.created', '--until-idle', '0.5'), env);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('sse-sink reset acme --yes');
    expect(server.requests).toHaveLength(1);
  });

  it('reconnects at once after a connection_timeout error frame, from the offset the frame carries', async () => {
    const script = fixtureScript();
    const server = await upstream((request, index) => {
      if (index > 0) return serveAfterCursor(script, { tail: keepAlive(3000) })(request);
      // Three events, then Auth0's routine rotation with a newer offset than the last event's.
      return { status: 200, steps: [...script.slice(0, 3).map((e) => e.step), errorFrame('connection_timeout', 'rotate', offsetAt(4)), { end: true }] };
    });
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), env);
    expect(result.code).toBe(0);
    expect(server.requests[1].query.get('from')).toBe(offsetAt(4));
    // Frames 3 and 4 lie before the offset the upstream gave: the ingester trusts that cursor.
    const ids = queryRows<{ event_id: string }>(db, 'SELECT event_id FROM events').map((row) => row.event_id);
    expect(ids).toEqual([...new Set(fixtureEvents.map((e) => e.id))].filter((id) => id !== 'evt_04acme' && id !== 'evt_05globex'));
  });

  it('logs other error frames with their code and message, and resumes from the latest cursor', async () => {
    const script = fixtureScript();
    const server = await upstream((request, index) => {
      if (index > 0) return serveAfterCursor(script, { tail: keepAlive(3000) })(request);
      return { status: 200, steps: [...script.slice(0, 2).map((e) => e.step), errorFrame('processing_error', 'try again later'), { end: true }] };
    });
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), env);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/"code":"processing_error".*"message":"try again later"/);
    expect(server.requests[1].query.get('from')).toBe(offsetAt(1));
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 39 }]);
  });

  it('commits the open batch and exits 0 on SIGTERM', async () => {
    const many = Array.from({ length: 2000 }, (_, i) =>
      eventEntry({ id: `evt_${i}`, type: 'user.updated', time: '2026-03-01T00:00:00Z', data: { object: { user_id: `auth0|${i % 7}` } } }, offsetAt(i)));
    const server = await upstream(serveAfterCursor(many, { pace: { framesPerTick: 5, tickMs: 10 } }));
    const db = join(tempDir(), 'sink.db');
    const child = spawnCli(ingestArgs(db, server.url), env);
    const done = collect(child);
    await waitFor(() => storedEvents(db) > 0, 'a first commit');
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    const [{ cursor, n }] = queryRows<{ cursor: string; n: number }>(db, 'SELECT cursor, (SELECT count(*) FROM events) AS n FROM streams');
    // Everything received was committed with the cursor that covers it, and nothing more.
    expect(cursor).toBe(offsetAt(n - 1));
    expect(n).toBeLessThan(many.length);
  });

  it('reconnects from the last cursor when the upstream goes silent for longer than --idle-timeout', async () => {
    const script = fixtureScript();
    // The first connection sends five events, then nothing at all (no keep-alive) for 20 s.
    const server = await upstream((request, index) =>
      index === 0 ? serveAfterCursor(script.slice(0, 5), { tail: [{ sleep: 20_000 }] })(request) : serveAfterCursor(script)(request));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--idle-timeout', '0.5', '--until-idle', '3'), env);
    expect(result.code).toBe(0);
    expect(server.requests[1]?.query.get('from')).toBe(offsetAt(4));
    expect(result.stderr).toMatch(/idle-timeout/);
    expect(storedEvents(db)).toBe(39);
  });

  it('stores a frame over --max-frame-bytes as a dead letter with its start, and goes on after it', async () => {
    const events = fixtureScript();
    const huge = { ...fixtureEvents[0], id: 'evt_huge', data: { object: { user_id: 'auth0|huge', padding: 'x'.repeat(2 * 1024 * 1024) } } };
    const script = [...events.slice(0, 3), eventEntry(huge, offsetAt(3)), ...fixtureScript(fixtureEvents.slice(3), 4)];
    const server = await upstream(serveAfterCursor(script, { tail: keepAlive(3000) }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--max-frame-bytes', String(1024 * 1024), '--until-idle', '1'), env);
    expect(result.code).toBe(0);
    const [letter, ...others] = queryRows<{ event_type: string; reason: string; raw: string; cursor: string }>(
      db, 'SELECT event_type, reason, raw, cursor FROM dead_letters');
    expect(others).toEqual([]);
    expect(letter).toMatchObject({ event_type: huge.type, cursor: offsetAt(3) });
    expect(letter!.reason).toMatch(/^frame of \d+ bytes is larger than --max-frame-bytes allows; only its start is kept$/);
    expect(letter!.raw).toContain('"id":"evt_huge"');
    expect(letter!.raw.length).toBeLessThanOrEqual(1024);
    expect(storedEvents(db)).toBe(39);
    expect(queryRows(db, 'SELECT cursor FROM streams')).toEqual([{ cursor: script.at(-1)!.offset }]);
  });

  it('stores a frame it cannot read once, even when the upstream sends it twice in a row', async () => {
    const events = fixtureScript();
    const broken = malformedEntry('user.updated', offsetAt(3));
    const script = [...events.slice(0, 3), broken, ...fixtureScript(fixtureEvents.slice(3), 4)];
    const server = await upstream(() => ({
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      // A proxy or a retrying upstream repeating the frame: same offset, same bytes.
      steps: [...script.slice(0, 4).map((entry) => entry.step), broken.step, ...script.slice(4).map((entry) => entry.step), ...keepAlive(3000)],
    }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--until-idle', '1'), env);
    expect(result.code).toBe(0);
    expect(queryRows(db, 'SELECT cursor FROM dead_letters')).toEqual([{ cursor: offsetAt(3) }]);
  });

  it('exits 0 after --max-events, with exactly those events committed', async () => {
    const server = await upstream(serveAfterCursor(fixtureScript(), { tail: keepAlive(3000) }));
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, server.url, '--max-events', '10'), env);
    expect(result.code).toBe(0);
    expect(queryRows(db, 'SELECT count(*) AS n FROM events')).toEqual([{ n: 10 }]);
    expect(queryRows(db, 'SELECT cursor FROM streams')).toEqual([{ cursor: offsetAt(9) }]);
  });

  it.each([
    [['--domain', 'https://acme.us.auth0.com'], /--domain .* must be the tenant host only/],
    [['--domain', 'acme us'], /--domain "acme us" is not a host name/],
    [['--domain', 'a.example.com', '--domain', 'b.example.com'], /--domain was given more than once/],
    [['--event-type', 'User Created'], /--event-type "User Created" is not an event type/],
    [['--on-expired-cursor', 'skip'], /on-expired-cursor/],
    [['--since', 'yesterday'], /--since "yesterday" is not an RFC-3339 time/],
    [['--idle-timeout', '0'], /--idle-timeout must be a positive number of seconds, not 0/],
    [['--max-frame-bytes', '4096'], /--max-frame-bytes must be a whole number of bytes, at least 1048576 \(1 MiB\), not 4096/],
  ])('refuses %j before touching the database (exit 2)', async (flags, message) => {
    const db = join(tempDir(), 'sink.db');
    const domain = flags.includes('--domain') ? [] : ['--domain', 'acme.us.auth0.com'];
    const result = await runCli(['ingest', 'auth0', '--stream', 'acme', ...domain, '--url', 'http://127.0.0.1:9', '--db', db, ...flags], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(existsSync(db)).toBe(false);
  });

  it('refuses to start without a token, before touching the database (exit 2)', async () => {
    const db = join(tempDir(), 'sink.db');
    const result = await runCli(ingestArgs(db, 'http://127.0.0.1:9'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('set AUTH0_TOKEN or pass --token-file');
    expect(existsSync(db)).toBe(false);
  });
});
