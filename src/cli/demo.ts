// `sse-sink demo`: sse-sink working end to end without any account. Simulated Auth0 and Sanity
// upstreams on 127.0.0.1, both ingested into one database, then a few queries and their results.
import { existsSync, rmSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { SanitySource } from '../sources/sanity/source.js';
import { openDatabaseReadOnly } from '../store/database.js';
import { eventEntry, keepAlive, offsetAt, serveAfterCursor } from '../testing/auth0-simulator.js';
import { simulatedTenantSource } from '../testing/auth0-tenant-source.js';
import { demoTenantEvents } from '../testing/demo-tenant.js';
import { simulatedDatasetConfig } from '../testing/sanity-dataset-config.js';
import { randomScript, SanitySimulator, startSanitySimulator } from '../testing/sanity-simulator.js';
import { startSseTestServer } from '../testing/sse-server.js';
import { formatRows } from './format.js';
import { runIngestPlans, type IngestPlan } from './ingest-options.js';
import { sqliteStoreView } from './ingest-sanity.js';

const AUTH0_STREAM = 'demo-auth0';
const SANITY_STREAM = 'demo-sanity';
/** Ends each stream once its simulated upstream has had nothing new for this long. */
const IDLE_MS = 1500;

export const DEMO_QUERIES: { title: string; sql: string }[] = [
  {
    title: 'Members of each organization by role',
    sql: `SELECT o.display_name AS organization, r.role_name AS role, count(*) AS members
FROM organization_member_roles r
JOIN organization_members m USING (stream, org_id, user_id)
JOIN organizations o USING (stream, org_id)
GROUP BY o.display_name, r.role_name ORDER BY organization, role`,
  },
  {
    title: 'Users: active, deleted, verified',
    sql: `SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS active, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted,
  count(*) FILTER (WHERE email_verified) AS verified FROM users`,
  },
  {
    title: 'Sanity documents by type and kind (published, draft, release version)',
    sql: `SELECT doc_type, id_kind, count(*) AS documents, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
FROM documents GROUP BY doc_type, id_kind ORDER BY doc_type, id_kind`,
  },
  {
    title: 'Who changed what (latest 5 Sanity mutations)',
    sql: `SELECT timestamp, identity, transition, document_id FROM document_mutations ORDER BY timestamp DESC LIMIT 5`,
  },
];

export interface DemoOptions {
  db: string;
  print: (text: string) => void;
}

export async function runDemo({ db, print }: DemoOptions): Promise<void> {
  replacePreviousDemo(db);
  const started = Date.now();
  const tenant = demoTenantEvents();
  const auth0 = await startSseTestServer(
    serveAfterCursor(tenant.map((event, i) => eventEntry(event, offsetAt(i))), {
      pace: { framesPerTick: 25, tickMs: 5 },
      tail: keepAlive(60_000, 250),
    }),
  );
  const dataset = new SanitySimulator({ keepAliveMs: 250 });
  const script = randomScript({ seed: 11, transactions: 240, documents: 30, keepPublished: true, types: ['post', 'author'] });
  // Most of the dataset exists before sse-sink starts (it catches up through the History API);
  // the rest is published while it listens.
  dataset.publish(...script.slice(0, 200));
  const sanity = await startSanitySimulator(dataset);
  const live = setInterval(() => {
    if (dataset.listens.length > 0 && script.length > 200) dataset.publish(...script.splice(200, 10));
  }, 100);
  try {
    print(`sse-sink demo: simulated Auth0 tenant at ${auth0.url}, Sanity dataset at ${sanity.url}; ingesting into ${db}`);
    // Warnings only: the progress line (on a TTY) and the results below tell the story.
    await runIngestPlans(demoPlans(db, auth0.url, sanity.url), { db, durable: false, observe: { logLevel: 'warn' } });
  } finally {
    clearInterval(live);
    await Promise.all([auth0.close(), sanity.close()]);
  }
  printResults(db, (Date.now() - started) / 1000, print);
}

function demoPlans(db: string, auth0Url: string, sanityUrl: string): IngestPlan[] {
  return [
    {
      checked: { stream: AUTH0_STREAM, since: null, untilIdleMs: IDLE_MS },
      source: simulatedTenantSource(auth0Url, 'demo-token', { domain: 'demo.eu.auth0.com', tokenSource: 'the demo' }),
    },
    {
      checked: { stream: SANITY_STREAM, since: '2026-01-01T00:00:00.000000Z', untilIdleMs: IDLE_MS },
      source: new SanitySource({
        config: simulatedDatasetConfig(sanityUrl, { projectId: 'demo', query: '*[_type in ["post", "author"]]' }),
        resume: 'enable-resume',
        token: () => undefined,
        store: sqliteStoreView(db, SANITY_STREAM),
      }),
    },
  ];
}

// The demo's upstreams are new each run (new ports, new cursors): it starts from an empty database,
// and refuses to replace one that holds anything but its own streams.
function replacePreviousDemo(db: string): void {
  if (!existsSync(db)) return;
  const sink = openDatabaseReadOnly(db);
  let others: { name: string }[];
  try {
    others = sink.sqlite.prepare("SELECT name FROM streams WHERE name NOT IN (?, ?)").all(AUTH0_STREAM, SANITY_STREAM) as { name: string }[];
  } catch {
    others = [{ name: '(not an sse-sink database)' }];
  } finally {
    sink.close();
  }
  if (others.length) {
    throw new UsageError(`${db} holds other streams (${others.map((o) => o.name).join(', ')}); run the demo with --db <new file>`);
  }
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
}

function printResults(db: string, seconds: number, print: (text: string) => void): void {
  const sink = openDatabaseReadOnly(db);
  try {
    const counts = sink.sqlite.prepare('SELECT name, events_total FROM streams ORDER BY name').all() as { name: string; events_total: number }[];
    print(`\ningested ${counts.map((c) => `${c.events_total} events from ${c.name}`).join(' and ')} in ${seconds.toFixed(1)} s\n`);
    for (const { title, sql } of DEMO_QUERIES) {
      print(`${title}:\n${formatRows(sink.sqlite.prepare(sql).all() as Record<string, unknown>[], 'table')}\n`);
    }
  } finally {
    sink.close();
  }
  print(
    [
      'Try next:',
      `  npx sse-sink status --db ${db}`,
      `  npx sse-sink query --db ${db} "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC"`,
      `  npx sse-sink query --db ${db} "SELECT occurred_at, type FROM events WHERE subject_id = 'auth0|demo000' ORDER BY seq"`,
      `  npx sse-sink export --db ${db} --stream ${SANITY_STREAM} --type mutation.update | head -3`,
    ].join('\n'),
  );
}
