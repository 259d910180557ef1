// `sse-sink demo`: sse-sink working end to end without any account. Simulated Auth0 and Sanity
// upstreams on 127.0.0.1, both ingested into one database, then a few queries and their results.
import { existsSync, rmSync } from 'node:fs';
import { UsageError } from '../common/errors.js';
import { SanitySource } from '../sources/sanity/source.js';
import type { StreamStatus } from '../core/store.js';
import { openReadableStore, openStore, withStore, type StoreTarget } from '../store/open-store.js';
import { DEFAULT_SCHEMA, isPostgresUrl, maskedUrl } from '../store/postgres/connection.js';
import { simulatedTenantSource } from './auth0-source.js';
import { startAuth0Tenant } from '../simulators/auth0-tenant.js';
import { DEMO_CHANGES, demoTenant } from '../simulators/demo-tenant.js';
import { simulatedDatasetConfig } from './sanity-config.js';
import { randomScript, SanitySimulator, startSanitySimulator } from '../simulators/sanity-simulator.js';
import { formatRows } from '../cli/format.js';
import type { IngestPlan } from '../cli/ingest-options.js';
import { runIngestPlans } from '../cli/run-plans.js';

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
    title: 'Auth0 history: the snapshot of the tenant that existed before the stream, then the events',
    sql: `SELECT CASE WHEN type LIKE 'snapshot.%' THEN 'snapshot' ELSE 'event' END AS source, count(*) AS rows FROM events
WHERE stream = '${AUTH0_STREAM}' GROUP BY 1 ORDER BY 1`,
  },
  {
    title: 'Sanity documents by type and kind (published, draft, release version)',
    sql: `SELECT doc_type, id_kind, count(*) AS documents, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted
FROM documents GROUP BY doc_type, id_kind ORDER BY doc_type, id_kind`,
  },
  {
    title: 'Sanity history: the snapshot of what existed before the stream, then the changes after',
    sql: `SELECT type, count(*) AS events FROM events WHERE stream = '${SANITY_STREAM}' GROUP BY type ORDER BY type`,
  },
  {
    title: 'Who changed what (latest 5 Sanity mutations)',
    sql: `SELECT timestamp, identity, transition, document_id FROM document_mutations ORDER BY timestamp DESC LIMIT 5`,
  },
];

export interface DemoOptions {
  db: StoreTarget;
  print: (text: string) => void;
}

export async function runDemo({ db, print }: DemoOptions): Promise<void> {
  await replacePreviousDemo(db);
  const started = Date.now();
  // Most of the tenant exists before sse-sink starts (its stream begins with a snapshot of it);
  // more changes are made while it listens.
  const tenant = demoTenant();
  const auth0 = await startAuth0Tenant(tenant);
  let tenantChanges = DEMO_CHANGES.during;
  const dataset = new SanitySimulator({ keepAliveMs: 250 });
  const script = randomScript({ seed: 11, transactions: 240, documents: 30, keepPublished: true, types: ['post', 'author'] });
  // Most of the dataset exists before sse-sink starts (its stream begins with a snapshot of it);
  // the rest is published while it listens.
  dataset.publish(...script.slice(0, 200));
  const sanity = await startSanitySimulator(dataset);
  const live = setInterval(() => {
    if (dataset.listens.length > 0 && script.length > 200) dataset.publish(...script.splice(200, 10));
    for (let i = 0; i < 4 && tenant.eventStreamsOpened > 0 && tenantChanges > 0; i++, tenantChanges--) tenant.change();
  }, 100);
  try {
    print(`sse-sink demo: simulated Auth0 tenant at ${auth0.url}, Sanity dataset at ${sanity.url}; ingesting into ${describeTarget(db)}`);
    // Warnings only: the progress line (on a TTY) and the results below tell the story.
    await runIngestPlans(demoPlans(auth0.url, sanity.url), { db, durable: false, observe: { logLevel: 'warn' } });
  } finally {
    clearInterval(live);
    await Promise.all([auth0.close(), sanity.close()]);
  }
  await printResults(db, (Date.now() - started) / 1000, print);
}

function demoPlans(auth0Url: string, sanityUrl: string): IngestPlan[] {
  return [
    {
      checked: { stream: AUTH0_STREAM, since: null, snapshot: 'first-run', untilIdleMs: IDLE_MS },
      kind: 'auth0',
      createSource: () =>
        simulatedTenantSource(auth0Url, 'demo-token', { domain: 'demo.eu.auth0.com', tokenSource: 'the demo', snapshot: { exportPollMs: 100 } }),
    },
    {
      checked: { stream: SANITY_STREAM, since: null, snapshot: 'first-run', untilIdleMs: IDLE_MS },
      kind: 'sanity',
      createSource: () => new SanitySource({
        config: simulatedDatasetConfig(sanityUrl, { projectId: 'demo', query: '*[_type in ["post", "author"]]' }),
        resume: 'enable-resume',
        token: () => undefined,
      }),
    },
  ];
}

// The demo's upstreams are new each run (new ports, new cursors): a SQLite file starts empty; in
// PostgreSQL the demo's two streams start again (reset: their history is replayed, as duplicates).
// A database that holds any other stream is refused.
async function replacePreviousDemo(target: StoreTarget): Promise<void> {
  const postgres = isPostgresUrl(target.db);
  if (!postgres && !existsSync(target.db)) return;
  let streams: StreamStatus[] | undefined;
  try {
    streams = await withStore(postgres ? openStore(target) : openReadableStore(target), (opened) => opened.status());
  } catch {
    streams = undefined;
  }
  const others = streams ? streams.map((s) => s.name).filter((name) => name !== AUTH0_STREAM && name !== SANITY_STREAM) : ['(not an sse-sink database)'];
  if (others.length) {
    throw new UsageError(`${describeTarget(target)} holds other streams (${others.join(', ')}); run the demo with --db <new file> (or --db-schema <new schema>)`);
  }
  if (postgres) {
    await withStore(openStore(target), async (opened) => {
      for (const stream of streams!) await opened.reset(stream.name);
    });
  } else {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${target.db}${suffix}`, { force: true });
  }
}

function describeTarget(target: StoreTarget): string {
  return isPostgresUrl(target.db) ? `${maskedUrl(target.db)} (schema ${target.schema ?? DEFAULT_SCHEMA})` : target.db;
}

async function printResults(target: StoreTarget, seconds: number, print: (text: string) => void): Promise<void> {
  const db = isPostgresUrl(target.db) ? `${maskedUrl(target.db)}${target.schema ? ` --db-schema ${target.schema}` : ''}` : target.db;
  await withStore(openReadableStore(target), async (store) => {
    const streams = await store.status();
    print(`\ningested ${streams.map((s) => `${s.eventsTotal} events from ${s.name}`).join(' and ')} in ${seconds.toFixed(1)} s\n`);
    for (const { title, sql } of DEMO_QUERIES) {
      const { columns, rows } = await store.query(sql);
      print(`${title}:\n${formatRows(rows, 'table', columns)}\n`);
    }
  });
  print(
    [
      'Try next:',
      `  npx sse-sink status --db ${db}`,
      `  npx sse-sink query --db ${db} "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC"`,
      `  npx sse-sink query --db ${db} "SELECT occurred_at, type FROM events WHERE subject_id = 'auth0|u0000001' ORDER BY seq"`,
      `  npx sse-sink export --db ${db} --stream ${SANITY_STREAM} --type mutation.update | head -3`,
    ].join('\n'),
  );
}
