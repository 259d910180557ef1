// The Auth0 ingester end to end (test server in a child process -> 127.0.0.1 -> SSE client ->
// Auth0 source -> normalizer -> batch writer -> SQLite) against raw better-sqlite3 writes of the
// same rows in one transaction and a naive ingester that commits each event alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import { simulatedTenantSource } from '../src/demo/auth0-source.js';
import { normalizeAuth0Event } from '../src/sources/auth0/normalize.js';
import { isNormalizeFailure, type NormalizedChange, type ProjectionOp } from '../src/core/change.js';
import type { StoreTarget } from '../src/store/open-store.js';
import type { SinkDatabase } from '../src/store/sqlite/database.js';
import { registerStream } from '../src/store/sqlite/streams.js';
import { encodeFrame, type ScriptFrame, type ScriptStep } from '../src/simulators/sse-server.js';
import { bestInTurns, bestOf, freshDatabase, peakRssDuring, RssCheckpoints, SQLITE_DEFAULT_PAGE_BYTES } from './measure.js';
import type { ScenarioResult, Throughput } from './result.js';
import { startStreamServer } from './stream-server.js';

const EVENTS = 100_000;
/** The naive ingester commits each event alone: a sample of the stream is enough for its rate. */
const NAIVE_SAMPLE = 10_000;
const NAIVE_SAMPLE_DURABLE = 1_000;
const USERS = 5_000;

/** Frame i of a tenant's stream: mostly profile updates of 5,000 users, some memberships. */
function generatedFrame(i: number): ScriptFrame {
  const offset = Buffer.from(`bench-offset-${i}`).toString('base64');
  const time = new Date(Date.UTC(2026, 0, 1) + i * 100).toISOString();
  const n = i % USERS;
  const userId = `auth0|${n.toString(16).padStart(24, '0')}`;
  let type: string;
  let object: Record<string, unknown>;
  if (i % 10 < 8) {
    type = 'user.updated';
    object = {
      user_id: userId,
      email: `user${n}@example.com`,
      email_verified: i % 3 === 0,
      name: `User Number ${n}`,
      created_at: '2025-06-01T12:00:00.000Z',
      updated_at: time,
      logins_count: i,
      identities: [{ provider: 'auth0', user_id: `${n}`, connection: 'Username-Password-Authentication', isSocial: false }],
      app_metadata: { plan: ['free', 'pro', 'enterprise'][i % 3], notes: 'n'.repeat((i * 37) % 300) },
      user_metadata: { locale: 'en-US' },
    };
  } else if (i % 10 === 8) {
    type = 'organization.member.added';
    object = { organization: { id: `org_${i % 50}`, name: `org${i % 50}` }, user: { user_id: userId } };
  } else {
    type = 'group.member.added';
    object = { group: { id: `grp_${i % 80}`, type: 'tenant' }, member: { member_type: 'user', id: userId } };
  }
  const event = {
    specversion: '1.0', type, id: `evt_${i.toString(36).padStart(16, '0')}`, time,
    source: 'urn:auth0:acme.us.auth0.com', a0tenant: 'acme', a0stream: 'est_4LcuTXmVDASuNRQt', data: { object },
  };
  return { event: type, id: offset, data: JSON.stringify({ offset, event }) };
}

/** The stream, 100 frames per write, generated lazily: a million events need not be held at once. */
export function* streamSteps(events: number): Generator<ScriptStep> {
  yield { comment: 'connected' };
  let chunk = '';
  for (let i = 0; i < events; i++) {
    chunk += encodeFrame(generatedFrame(i));
    if (i % 100 === 99) {
      yield { raw: chunk };
      chunk = '';
    }
  }
  if (chunk) yield { raw: chunk };
  // Stay open: the ingester stops itself at maxEvents.
  yield { sleep: 60_000 };
}

/** The first `events` frames as the ingester stores them, normalized before any clock starts. */
export function normalizedStream(events: number): { frames: ScriptFrame[]; changes: NormalizedChange[] } {
  const frames = Array.from({ length: events }, (_, i) => generatedFrame(i));
  return { frames, changes: frames.map(normalizeFrame) };
}

function normalizeFrame(frame: ScriptFrame): NormalizedChange {
  const result = normalizeAuth0Event({ frameEvent: frame.event!, data: frame.data });
  if (isNormalizeFailure(result)) throw new Error(`the Auth0 bench stream has an unreadable frame: ${result.error}`);
  return result;
}

/**
 * What both baselines write for one event, with plain prepared statements: the `events` row and
 * the projection upserts, without ordering guard, tombstones or batches.
 */
function plainRowWriter(sink: SinkDatabase): (change: NormalizedChange, cursor: string | undefined) => void {
  registerStream(sink, { name: 'bench', source: 'auth0', definition: {} });
  const insertEvent = sink.sqlite.prepare(
    `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
     VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const upsert = plainUpserts(sink.sqlite);
  const receivedAt = new Date().toISOString();
  return ({ history, projections }, cursor) => {
    const seq = Number(insertEvent.run(history.eventId, history.type, history.subjectKind, history.subjectId, history.occurredAt,
      receivedAt, cursor ?? null, history.payload).lastInsertRowid);
    for (const op of projections) upsert(op, history.occurredAt, seq);
  };
}

/** The ceiling: the rows the ingester writes, in one transaction into a fresh database. */
function writeRaw(dir: string, durable: boolean, { frames, changes }: ReturnType<typeof normalizedStream>): void {
  const sink = freshDatabase(dir, 'raw', { durable });
  const writeRow = plainRowWriter(sink);
  sink.sqlite.transaction(() => changes.forEach((change, i) => writeRow(change, frames[i].id)))();
  sink.close();
}

/**
 * The floor: a naive ingester that normalizes each frame and commits it, with its cursor, in its
 * own transaction. Frames come from memory: no network, so the floor is if anything too high.
 */
function writeNaive(dir: string, durable: boolean, frames: ScriptFrame[], pageBytes?: number): number {
  const started = performance.now();
  const sink = freshDatabase(dir, 'naive', { durable, pageBytes });
  const writeRow = plainRowWriter(sink);
  const saveCursor = sink.sqlite.prepare(`UPDATE streams SET cursor = ? WHERE name = 'bench'`);
  const commitEvent = sink.sqlite.transaction((frame: ScriptFrame) => {
    writeRow(normalizeFrame(frame), frame.id);
    saveCursor.run(frame.id ?? null);
  });
  for (const frame of frames) commitEvent(frame);
  sink.close();
  return (performance.now() - started) / 1000;
}

/** `INSERT … ON CONFLICT DO UPDATE` per projection op, statements cached by shape. */
function plainUpserts(sqlite: Database.Database): (op: ProjectionOp, eventTime: string, eventSeq: number) => void {
  const statements = new Map<string, Database.Statement>();
  return (op, eventTime, eventSeq) => {
    if (op.op !== 'put') throw new Error('the Auth0 bench stream only adds and updates');
    const keys = ['stream', ...Object.keys(op.key)];
    const values = [...Object.keys(op.values), 'event_time', 'event_seq'];
    const shape = `${op.table}:${keys}:${values}`;
    let statement = statements.get(shape);
    if (!statement) {
      statement = sqlite.prepare(
        `INSERT INTO ${op.table} (${[...keys, ...values].join(', ')}) VALUES (${[...keys, ...values].map(() => '?').join(', ')})
         ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${values.map((c) => `${c} = excluded.${c}`).join(', ')}`,
      );
      statements.set(shape, statement);
    }
    const sqlValues = Object.values(op.values).map((v) => (typeof v === 'boolean' ? Number(v) : v));
    statement.run('bench', ...Object.values(op.key), ...sqlValues, eventTime, eventSeq);
  };
}

/** One ingest of the whole stream into a fresh database; returns its seconds and payload bytes. */
async function ingestOnce(dbPath: string | StoreTarget, url: string, events: number, durable: boolean, rss: RssCheckpoints): Promise<{ seconds: number; payloadBytes: number }> {
  let inserted = 0;
  let payloadBytes = 0;
  const started = performance.now();
  const summary = await runIngestOnFile({
    dbPath,
    storeOptions: { durable },
    stream: 'bench',
    source: simulatedTenantSource(url, 'bench-token'),
    maxEvents: events,
    log: createLogger({ level: 'warn' }),
    onCommit: (result, batch) => {
      rss.progress((inserted += result.inserted));
      // The frames are ASCII: their length is their size in bytes.
      for (const { change } of batch.changes) payloadBytes += change.history.payload.length;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  if (summary.inserted !== events) throw new Error(`the Auth0 bench stored ${summary.inserted} events, not ${events}`);
  return { seconds, payloadBytes };
}

/** One ingest of `events` events into a fresh database: seconds, payload bytes, peak RSS, and RSS at each quarter. */
export async function ingestAuth0(events: number, { durable = false, db }: { durable?: boolean; db?: StoreTarget } = {}): Promise<Throughput & { rss: RssCheckpoints }> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-auth0-'));
  const server = await startStreamServer('auth0', events);
  try {
    globalThis.gc?.();
    const rss = new RssCheckpoints(events);
    const dbPath = db ?? join(dir, `ingest-${process.hrtime.bigint()}.db`);
    const { result, peakRssMb } = await peakRssDuring(() => ingestOnce(dbPath, server.url, events, durable, rss));
    return { events, ...result, peakRssMb, rss };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export type Auth0Ingest = Awaited<ReturnType<typeof ingestAuth0>>;

/** The scenario's ingest, run first by main.ts (its peak RSS is clean then), against its baselines. */
export function ingestAuth0Scenario(durable = false): Promise<Auth0Ingest> {
  return ingestAuth0(EVENTS, { durable });
}

export async function benchAuth0({ rss, ...sseSink }: Auth0Ingest, { durable = false } = {}): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-auth0-'));
  try {
    globalThis.gc?.();
    const stream = normalizedStream(EVENTS);
    const best = await bestInTurns(sseSink, () => bestOf(1, () => writeRaw(dir, durable, stream)), () => ingestAuth0(EVENTS, { durable }));
    const sample = durable ? NAIVE_SAMPLE_DURABLE : NAIVE_SAMPLE;
    const naive = writeNaive(dir, durable, stream.frames.slice(0, sample));
    const naiveSmallPages = writeNaive(dir, durable, stream.frames.slice(0, sample), SQLITE_DEFAULT_PAGE_BYTES);
    return {
      name: `Auth0 end-to-end${durable ? ' --durable' : ''}`,
      detail: `${EVENTS / 1000}k events via 127.0.0.1, 500/batch, synchronous=${durable ? 'FULL' : 'NORMAL'}; ${rss.describe()}`,
      sseSink: { ...sseSink, seconds: best.ingest.seconds },
      raw: { events: EVENTS, seconds: best.baselineSeconds },
      naive: { events: sample, seconds: naive },
      naiveSmallPages: { events: sample, seconds: naiveSmallPages },
      targets: { vsRaw: 0.5, vsNaive: durable ? 10 : 3 },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
