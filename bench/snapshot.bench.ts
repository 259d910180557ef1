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
