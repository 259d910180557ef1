// Snapshots: a Sanity dataset's documents read from the simulator's query API, and an Auth0
// tenant read from the simulated Management API, each into a fresh database, against the same
// state arriving as live events (Sanity: one create per document; Auth0: one created, added or
// assigned event per row), same process, same database settings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import { buildSnapshotQueryUrl } from '../src/sources/sanity/requests.js';
import { SanitySimulator, startSanitySimulator, timestampAt, type ScriptTransaction } from '../src/simulators/sanity-simulator.js';
import { Auth0Tenant, startAuth0Tenant, type TenantShape } from '../src/simulators/auth0-tenant.js';
import { simulatedTenantSource } from '../src/demo/auth0-source.js';
import type { Source } from '../src/core/source.js';

const DOCUMENTS = 20_000;
const IDLE_MS = 300;

export interface SnapshotResult {
  documents: number;
  snapshotRowsPerSecond: number;
  /** The same, without the time the simulator spent evaluating the queries (groq-js over every document, per page). */
  snapshotRowsPerSecondWithoutSimulator: number;
  liveEventsPerSecond: number;
  queryRequests: number;
}

export async function benchSnapshot(): Promise<SnapshotResult> {
  const script: ScriptTransaction[] = Array.from({ length: DOCUMENTS }, (_, i) => ({
    id: `tx${String(i).padStart(8, '0')}`,
    timestamp: timestampAt('2026-03-01T09:00:00.000000Z', i),
    mutations: [{ create: { _id: `doc-${String(i).padStart(6, '0')}`, _type: i % 2 ? 'post' : 'author', title: `document ${i}`, n: i, tags: ['a', 'b'] } }],
  }));
  const snapshot = await ingestOnce(script, 'snapshot');
  const live = await ingestOnce(script, 'live');
  return {
    documents: DOCUMENTS,
    snapshotRowsPerSecond: DOCUMENTS / snapshot.seconds,
    snapshotRowsPerSecondWithoutSimulator: DOCUMENTS / (snapshot.seconds - snapshot.simulatorSeconds),
    liveEventsPerSecond: DOCUMENTS / live.seconds,
    queryRequests: snapshot.queryRequests,
  };
}

export function snapshotLine(result: SnapshotResult): string {
  const ratio = result.snapshotRowsPerSecondWithoutSimulator / result.liveEventsPerSecond;
  return `Sanity snapshot (${result.documents} documents, 1000 per page, simulator on 127.0.0.1, fresh SQLite file): ` +
    `${result.snapshotRowsPerSecond.toFixed(0)} rows/s end to end; ${result.snapshotRowsPerSecondWithoutSimulator.toFixed(0)} rows/s without the ` +
    `simulator's own query evaluation, ${ratio.toFixed(2)}x of the same documents as live appear events (${result.liveEventsPerSecond.toFixed(0)}/s); ` +
    `${result.queryRequests} query requests`;
}

async function ingestOnce(script: ScriptTransaction[], how: 'snapshot' | 'live'): Promise<{ seconds: number; simulatorSeconds: number; queryRequests: number }> {
  const sim = new SanitySimulator({ keepAliveMs: 200 });
  if (how === 'snapshot') sim.publish(...script);
  const server = await startSanitySimulator(sim);
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-snapshot-'));
  try {
    const source = new SanitySource({
      config: simulatedDatasetConfig(server.url, { projectId: 'bench', query: '*[_type in ["post", "author"]]' }),
      resume: 'enable-resume',
      token: () => undefined,
    });
    const started = performance.now();
    const run = runIngestOnFile({
      dbPath: join(dir, 'bench.db'),
      stream: 'bench',
      source,
      snapshot: how === 'snapshot' ? 'first-run' : undefined,
      untilIdleMs: IDLE_MS,
      log: createLogger({ level: 'error', format: 'json', write: () => {} }),
    });
    if (how === 'live') {
      while (sim.listens.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      sim.publish(...script);
    }
    await run;
    // The run waited --until-idle after the last row: that wait is not the ingest's work.
    return {
      seconds: (performance.now() - started) / 1000 - IDLE_MS / 1000,
      simulatorSeconds: sim.queryEvaluationMs / 1000,
      queryRequests: sim.queryRequests.length,
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const TENANT: TenantShape = { users: 20_000, organizations: 50, membersPerOrganization: 200, groups: 20, membersPerGroup: 100 };

export interface Auth0SnapshotResult {
  users: number;
  /** Snapshot rows stored (`events` of a `snapshot.*` type). */
  rows: number;
  rowsPerSecond: number;
  /** The same tenant told as events, read from the stream. */
  liveEvents: number;
  liveEventsPerSecond: number;
  managementRequests: number;
}

export async function benchAuth0Snapshot(): Promise<Auth0SnapshotResult> {
  const snapshot = await ingestTenant('snapshot');
  const live = await ingestTenant('live');
  return {
    users: TENANT.users,
    rows: snapshot.rows,
    rowsPerSecond: snapshot.rows / snapshot.seconds,
    liveEvents: live.rows,
    liveEventsPerSecond: live.rows / live.seconds,
    managementRequests: snapshot.requests,
  };
}

export function auth0SnapshotLine(result: Auth0SnapshotResult): string {
  return `Auth0 snapshot (${result.users} users, ${TENANT.organizations} organizations of ${TENANT.membersPerOrganization} members, ` +
    `${TENANT.groups} groups; simulator on 127.0.0.1, fresh SQLite file): ${result.rows} rows at ${result.rowsPerSecond.toFixed(0)} rows/s end to end ` +
    `(${result.managementRequests} Management API requests), ${(result.rowsPerSecond / result.liveEventsPerSecond).toFixed(2)}x of the same tenant ` +
    `as ${result.liveEvents} live events (${result.liveEventsPerSecond.toFixed(0)}/s)`;
}

async function ingestTenant(how: 'snapshot' | 'live'): Promise<{ seconds: number; rows: number; requests: number }> {
  const tenant = new Auth0Tenant({ seed: 99, exportDelayMs: 0 });
  tenant.populate(TENANT);
  if (how === 'live') tenant.announceAll();
  const server = await startAuth0Tenant(tenant);
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-auth0-snapshot-'));
  try {
    const source: Source = simulatedTenantSource(server.url, 'bench', { snapshot: { exportPollMs: 20 } });
    const started = performance.now();
    const summary = await runIngestOnFile({
      dbPath: join(dir, 'bench.db'),
      stream: 'bench',
      source,
      since: how === 'live' ? '2000-01-01T00:00:00.000Z' : null,
      snapshot: how === 'snapshot' ? 'first-run' : undefined,
      untilIdleMs: IDLE_MS,
      log: createLogger({ level: 'error', format: 'json', write: () => {} }),
    });
    return { seconds: (performance.now() - started) / 1000 - IDLE_MS / 1000, rows: summary.inserted, requests: tenant.managementRequests() };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The two ways issue #20 names to read a Sanity dataset, measured on the client's side. */
export interface SanityReadPathsResult {
  documents: number;
  matching: number;
  query: { seconds: number; bytes: number; requests: number };
  export: { seconds: number; bytes: number; requests: number };
}

/**
 * Reads the documents one filter matches (half the dataset) both ways, without storing them:
 * keyset pages of the query API (the server filters; the simulator's own evaluation time is taken
 * out), and the Export API's NDJSON of the whole dataset filtered here with groq-js, 1000 at a
 * time. What this measures is what the client pays in each (bytes received, CPU), which holds
 * against Sanity too; the server's side it cannot tell.
 */
export async function benchSanityReadPaths(): Promise<SanityReadPathsResult> {
  const script: ScriptTransaction[] = Array.from({ length: DOCUMENTS }, (_, i) => ({
    id: `tx${String(i).padStart(8, '0')}`,
    timestamp: timestampAt('2026-03-01T09:00:00.000000Z', i),
    mutations: [{ create: { _id: `doc-${String(i).padStart(6, '0')}`, _type: i % 2 ? 'post' : 'author', title: `document ${i}`, n: i, tags: ['a', 'b'] } }],
  }));
  const sim = new SanitySimulator({ keepAliveMs: 200 });
  sim.publish(...script);
  const server = await startSanitySimulator(sim);
  const config = simulatedDatasetConfig(server.url, { projectId: 'bench', query: '*[_type == "post"]' });
  try {
    const query = { seconds: 0, bytes: 0, requests: 0 };
    let matching = 0;
    const queryStarted = performance.now();
    for (let after = ''; ; ) {
      const text = await (await fetch(buildSnapshotQueryUrl(config, after, 1000))).text();
      query.bytes += Buffer.byteLength(text);
      query.requests++;
      const page = (JSON.parse(text) as { result: { _id: string }[] }).result;
      if (page.length === 0) break;
      matching += page.length;
      after = page.at(-1)!._id;
    }
    query.seconds = (performance.now() - queryStarted) / 1000 - sim.queryEvaluationMs / 1000;

    const { evaluate, parse } = await import('groq-js');
    const filter = parse(config.query);
    const exported = { seconds: 0, bytes: 0, requests: 1 };
    let exportMatching = 0;
    const exportStarted = performance.now();
    const response = await fetch(`${server.url}/${config.apiVersion}/data/export/${config.dataset}`);
    let buffered = '';
    let batch: unknown[] = [];
    const flush = async () => {
      exportMatching += ((await (await evaluate(filter, { dataset: batch })).get()) as unknown[]).length;
      batch = [];
    };
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      exported.bytes += chunk.length;
      buffered += Buffer.from(chunk).toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line) batch.push(JSON.parse(line));
      if (batch.length >= 1000) await flush();
    }
    if (batch.length > 0) await flush();
    exported.seconds = (performance.now() - exportStarted) / 1000;
    if (exportMatching !== matching) throw new Error(`the two read paths disagree: ${matching} and ${exportMatching} documents`);
    return { documents: DOCUMENTS, matching, query, export: exported };
  } finally {
    await server.close();
  }
}

export function sanityReadPathsLine(result: SanityReadPathsResult): string {
  const perSecond = (side: { seconds: number }) => (result.matching / side.seconds).toFixed(0);
  return `Sanity snapshot read paths (${result.matching} of ${result.documents} documents match): query API keyset pages ${perSecond(result.query)} documents/s ` +
    `on the client, ${(result.query.bytes / 1e6).toFixed(1)} MB in ${result.query.requests} requests; Export API filtered with groq-js here ` +
    `${perSecond(result.export)} documents/s, ${(result.export.bytes / 1e6).toFixed(1)} MB in ${result.export.requests} request`;
}
