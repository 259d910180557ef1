// The README's Auth0 SQL examples, run exactly as written through `sse-sink query` against a
// database ingested from the fixture stream. Each example is marked `<!-- example: auth0/<name> -->`.
// SSE_SINK_README points at another copy of the README section (e.g. while it is being edited).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSseTestServer, type SseTestServer } from '../src/simulators/sse-server.js';
import { fixtureScript, heartbeatEntry, keepAlive, malformedEntry, offsetAt, serveAfterCursor } from './helpers/auth0.js';
import { backends } from './helpers/backends.js';
import { runCli } from './helpers/cli.js';

const readmePath = process.env.SSE_SINK_README ?? new URL('../README.md', import.meta.url).pathname;

/** The examples of the README, by name: the SQL of the ```sql block under each marker. */
function readmeExamples(): Map<string, string> {
  let text = '';
  try {
    text = readFileSync(readmePath, 'utf8');
  } catch {
    // A missing README has no examples: the test below names the ones it expected.
  }
  const marked = /<!-- example: ((?:postgres\/)?auth0\/[\w-]+) -->\s*```sql\n([\s\S]*?)```/g;
  return new Map([...text.matchAll(marked)].map(([, name, sql]) => [name, sql.trim()]));
}

const expectedRows: Record<string, unknown[]> = {
  'auth0/org-members-with-role': [{ user_id: 'auth0|alice', email: 'alice@acme.example', name: 'Alice Liddell' }],
  'auth0/users-created-per-day': [
    { day: '2026-03-01', users: 2 },
    { day: '2026-03-02', users: 1 },
  ],
  'auth0/user-history': [
    { occurred_at: '2026-03-01T09:00:00.000000Z', type: 'user.created', subject_kind: 'user', subject_id: 'auth0|alice' },
    { occurred_at: '2026-03-01T09:30:00.000000Z', type: 'user.updated', subject_kind: 'user', subject_id: 'auth0|alice' },
    { occurred_at: '2026-03-02T09:00:00.000000Z', type: 'user.updated', subject_kind: 'user', subject_id: 'auth0|alice' },
    { occurred_at: '2026-03-02T12:00:00.000000Z', type: 'organization.member.added', subject_kind: 'organization', subject_id: 'org_acme' },
    { occurred_at: '2026-03-02T12:10:00.000000Z', type: 'organization.member.role.assigned', subject_kind: 'organization', subject_id: 'org_acme' },
    { occurred_at: '2026-03-02T15:00:00.000000Z', type: 'group.member.added', subject_kind: 'group', subject_id: 'grp_eng' },
  ],
  'auth0/users-by-app-metadata': [{ user_id: 'auth0|alice', email: 'alice@acme.example' }],
  'auth0/user-group-roles': [{ group_name: 'Engineering (all)', role_id: 'rol_viewer', role_name: 'viewer' }],
  'auth0/deleted-users': [{ user_id: 'auth0|carol', email: 'carol@example.com', deleted_at: '2026-03-03T08:00:00.000000Z' }],
  'auth0/unprojected-types': [{ type: 'connection.created', events: 1 }],
  'auth0/dead-letters': [{ event_type: 'user.updated', cursor: offsetAt(40), reason: expect.stringMatching(/^data is not JSON/) }],
};

/** The examples that PostgreSQL spells differently (JSON with ->>, booleans, dates). */
const POSTGRES_SPELLINGS = ['auth0/users-created-per-day', 'auth0/user-history', 'auth0/users-by-app-metadata', 'auth0/unprojected-types'];

describe.each(backends)('README Auth0 SQL examples on $name', (backend) => {
  let server: SseTestServer;
  const db = backend.fresh();
  /** PostgreSQL runs its own spelling of an example where the README gives one. */
  const exampleFor = (name: string) => (backend.name === 'postgres' && POSTGRES_SPELLINGS.includes(name) ? `postgres/${name}` : name);
  beforeAll(async () => {
    const script = fixtureScript();
    server = await startSseTestServer(serveAfterCursor(
      [...script, malformedEntry('user.updated', offsetAt(script.length)), heartbeatEntry(offsetAt(script.length + 1))],
      { tail: keepAlive(3000) },
    ));
    const ingest = await runCli(
      ['ingest', 'auth0', '--stream', 'acme', '--domain', 'acme.us.auth0.com', '--url', server.url, ...db.args, '--until-idle', '1'],
      { AUTH0_TOKEN: 'tok-readme', ...db.env },
    );
    expect(ingest.code, ingest.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it(`${readmePath} has every Auth0 example this test checks, and no unchecked one`, () => {
    const checked = [...Object.keys(expectedRows), ...POSTGRES_SPELLINGS.map((name) => `postgres/${name}`)];
    expect([...readmeExamples().keys()].sort()).toEqual(checked.sort());
  });

  it.each(Object.entries(expectedRows))('%s returns the expected rows', async (name, rows) => {
    const sql = readmeExamples().get(exampleFor(name));
    expect(sql, `${readmePath} has no example ${exampleFor(name)}`).toBeDefined();
    const result = await runCli(['query', ...db.args, '--format', 'json', sql!], db.env);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(rows);
  });
});
