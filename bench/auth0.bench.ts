// The Auth0 ingester end to end (test server on 127.0.0.1 -> SSE client -> Auth0 source ->
// normalizer -> batch writer -> SQLite) against raw better-sqlite3 writes of the same rows
// (`events` and the projection upserts) in one transaction, measured in this process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { runIngest } from '../src/ingest/run-ingest.js';
import { createLogger } from '../src/log.js';
import { normalizeAuth0Event } from '../src/normalize/auth0.js';
import { isNormalizeFailure, type NormalizedChange, type ProjectionOp } from '../src/normalize/change.js';
import { auth0StreamConfig } from '../src/sources/auth0/requests.js';
import { createAuth0Source } from '../src/sources/auth0/source.js';
import { openDatabase } from '../src/store/database.js';
import { registerStream } from '../src/store/streams.js';
import { encodeFrame, startSseTestServer, type ScriptFrame, type ScriptStep } from '../src/testing/sse-server.js';
import { bestOf, peakRssDuring, RssCheckpoints } from './measure.js';
import type { BenchResult } from './result.js';

const EVENTS = 100_000;
const USERS = 5_000;
/** Each side is measured this often and the best run counts: other work on the machine only slows runs down. */
const RUNS = 2;

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

/** The stream, generated as it is sent (100 frames per write) so that the server holds no copy of it. */
function* streamSteps(): Generator<ScriptStep> {
  yield { comment: 'connected' };
  let chunk = '';
  for (let i = 0; i < EVENTS; i++) {
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

/** The stream as the ingester stores it, normalized before any clock starts. */
function normalizedStream(): { frames: ScriptFrame[]; changes: NormalizedChange[] } {
  const frames = Array.from({ length: EVENTS }, (_, i) => generatedFrame(i));
  const changes = frames.map((frame) => {
    const result = normalizeAuth0Event({ frameEvent: frame.event!, data: frame.data });
    if (isNormalizeFailure(result)) throw new Error(`the Auth0 bench stream has an unreadable frame: ${result.error}`);
    return result;
  });
  return { frames, changes };
}

/**
 * The ceiling: the rows the ingester writes, with plain prepared statements in one transaction
 * into a fresh database: no ordering guard, no tombstones, no cursor, no batches.
 */
function writeRaw(dir: string, { frames, changes }: ReturnType<typeof normalizedStream>, withProjections: boolean): void {
  const sink = openDatabase({ path: join(dir, `raw-${process.hrtime.bigint()}.db`) });
  registerStream(sink, { name: 'bench', source: 'auth0', definition: {} });
  const insertEvent = sink.sqlite.prepare(
    `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
     VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const upsert = plainUpserts(sink.sqlite);
  const receivedAt = new Date().toISOString();
  sink.sqlite.transaction(() => {
    changes.forEach(({ history, projections }, i) => {
      const seq = Number(insertEvent.run(history.eventId, history.type, history.subjectKind, history.subjectId, history.occurredAt,
        receivedAt, frames[i].id, history.payload).lastInsertRowid);
      if (withProjections) for (const op of projections) upsert(op, history.occurredAt, seq);
    });
  })();
  sink.close();
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

/** One ingest of the whole stream from a fresh server into a fresh database. */
async function ingestOnce(dir: string, rss: RssCheckpoints): Promise<void> {
  const server = await startSseTestServer(() => ({ status: 200, steps: streamSteps() }));
  try {
    let inserted = 0;
    const summary = await runIngest({
      dbPath: join(dir, `ingest-${process.hrtime.bigint()}.db`),
      stream: 'bench',
      source: createAuth0Source({
        config: auth0StreamConfig('acme.us.auth0.com', server.url, []),
        onExpiredCursor: 'fail',
        readToken: () => 'bench-token',
        tokenSource: 'AUTH0_TOKEN',
      }),
      maxEvents: EVENTS,
      log: createLogger({ level: 'warn' }),
      onCommit: (result) => rss.progress((inserted += result.inserted)),
    });
    if (summary.inserted !== EVENTS) throw new Error(`the Auth0 bench stored ${summary.inserted} events, not ${EVENTS}`);
  } finally {
    await server.close();
  }
}

export async function benchAuth0(): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sse-sink-bench-auth0-'));
  try {
    // The ingest runs first, so that its peak RSS is its own and not the baseline's rows in memory.
    const rss = new RssCheckpoints(EVENTS);
    const { result: ingest, peakRssMb } = await peakRssDuring(() => bestOf(RUNS, () => ingestOnce(dir, rss)));
    globalThis.gc?.();
    const stream = normalizedStream();
    const raw = await bestOf(RUNS, () => writeRaw(dir, stream, true));
    const rawEventsOnly = await bestOf(RUNS, () => writeRaw(dir, stream, false));
    return {
      name: `Auth0 ingest, ${EVENTS / 1000}k events via 127.0.0.1 (${rss.describe()}; ` +
        `${(rawEventsOnly / ingest).toFixed(2)}x of raw inserts of the events rows alone)`,
      unit: 'events/s',
      value: EVENTS / ingest,
      baselineName: 'raw better-sqlite3 writes of the same events rows and projection upserts, one transaction',
      baselineValue: EVENTS / raw,
      target: 0.5,
      peakRssMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
