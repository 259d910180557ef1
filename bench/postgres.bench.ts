// The PostgreSQL destination end to end (Auth0 and Sanity streams over 127.0.0.1 into a real
// server), against two baselines on the same server in the same run: (a) the same rows written by
// plain statements, one per row, in one transaction; (b) a naive ingester that commits each event
// in its own transaction.
import pg from 'pg';
import { isNormalizeFailure, type NormalizedChange } from '../src/core/change.js';
import { normalizeSanityMutation } from '../src/sources/sanity/normalize.js';
import { openStore, type StoreTarget } from '../src/store/open-store.js';
import type { TestPostgres } from '../harness/postgres-server.js';
import { ingestAuth0, normalizedStream } from './auth0.bench.js';
import type { RssCheckpoints } from './measure.js';
import { generatedMutation, ingestSanity } from './sanity.bench.js';

const EVENTS = 100_000;
const NAIVE_SAMPLE = 2_000;

export interface PostgresLine {
  name: string;
  eventsPerSecond: number;
  peakRssMb: number;
  rss: string;
  plainEventsPerSecond: number;
  naiveEventsPerSecond: number;
  vsPlain: number;
  vsNaive: number;
  targets: { vsPlain: number; vsNaive: number };
  pass: boolean;
}

export async function benchPostgres(server: TestPostgres): Promise<PostgresLine[]> {
  process.env.PGPASSWORD = server.password;
  const target = (name: string): StoreTarget => ({ db: server.url, schema: `bench_${name}_${Date.now()}` });
  // The ingests first: the baselines' normalized rows must not be in the ingests' peak RSS.
  globalThis.gc?.();
  const auth0 = await ingestAuth0(EVENTS, { db: target('auth0') });
  globalThis.gc?.();
  const sanity = await ingestSanity(target('sanity'));
  return [
    await line('PostgreSQL Auth0 end-to-end', auth0.events / auth0.seconds, auth0.peakRssMb, auth0.rss, normalizedStream(EVENTS).changes, server),
    await line(
      'PostgreSQL Sanity end-to-end',
      EVENTS / sanity.seconds,
      sanity.peakRssMb,
      sanity.rss,
      Array.from({ length: EVENTS }, (_, i) => normalized(generatedMutation(i).data)),
      server,
    ),
  ];
}

async function line(
  name: string,
  eventsPerSecond: number,
  peakRssMb: number,
  rss: RssCheckpoints,
  changes: NormalizedChange[],
  server: TestPostgres,
): Promise<PostgresLine> {
  const plain = await plainRows(server, changes, false);
  const naive = await plainRows(server, changes.slice(0, NAIVE_SAMPLE), true);
  const vsPlain = eventsPerSecond / plain;
  const vsNaive = eventsPerSecond / naive;
  const targets = { vsPlain: 0.5, vsNaive: 10 };
  return {
    name,
    eventsPerSecond,
    peakRssMb,
    rss: rss.describe(),
    plainEventsPerSecond: plain,
    naiveEventsPerSecond: naive,
    vsPlain,
    vsNaive,
    targets,
    pass: vsPlain >= targets.vsPlain && vsNaive >= targets.vsNaive,
  };
}

function normalized(data: string): NormalizedChange {
  const result = normalizeSanityMutation(data);
  if (isNormalizeFailure(result)) throw new Error(`the Sanity bench stream has an unreadable mutation: ${result.error}`);
  return result;
}

/**
 * The baselines: every event's `events` row, its detail rows and its projection upserts as plain
 * parameterized statements, one round trip each, into a fresh schema made by sse-sink's own
 * migrations; in one transaction, or (`naive`) one transaction per event with its cursor. Events
 * per second, timed from the first statement to the last commit.
 */
async function plainRows(server: TestPostgres, changes: NormalizedChange[], naive: boolean): Promise<number> {
  const schema = `bench_plain_${Date.now()}`;
  await (await openStore({ db: server.url, schema })).close();
  const client = new pg.Client({ connectionString: server.url, password: server.password, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    await client.query("INSERT INTO streams (name, source) VALUES ('bench', 'auth0')");
    const started = performance.now();
    if (!naive) await client.query('BEGIN');
    let seq = 0;
    for (const { history, projections, details } of changes) {
      if (naive) await client.query('BEGIN');
      seq++;
      await client.query(
        `INSERT INTO events (stream, event_id, type, subject_kind, subject_id, occurred_at, received_at, cursor, projected, payload)
         VALUES ('bench', $1, $2, $3, $4, $5, now(), $6, true, $7)`,
        [history.eventId, history.type, history.subjectKind, history.subjectId, history.occurredAt, `c${seq}`, history.payload],
      );
      for (const detail of details ?? []) {
        const columns = Object.keys(detail.values);
        await client.query(
          `INSERT INTO ${detail.table} (stream, seq, ${columns.join(', ')}) VALUES ('bench', ${seq}, ${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          Object.values(detail.values),
        );
      }
      for (const op of projections) {
        if (op.op !== 'put') continue;
        const keys = Object.keys(op.key);
        const values = [...Object.keys(op.values), ...Object.keys(op.derived ?? {})];
        const all = [...keys, ...values];
        const params = [...Object.values(op.key), ...Object.values(op.values), ...Object.values(op.derived ?? {})];
        await client.query(
          `INSERT INTO ${op.table} (stream, ${all.join(', ')}, event_time, event_seq)
           VALUES ('bench', ${all.map((_, i) => `$${i + 1}`).join(', ')}, $${all.length + 1}, ${seq})
           ON CONFLICT (stream, ${keys.join(', ')}) DO UPDATE SET ${[...values, 'event_time', 'event_seq'].map((c) => `${c} = excluded.${c}`).join(', ')}`,
          [...params, history.occurredAt],
        );
      }
      if (naive) {
        await client.query("UPDATE streams SET cursor = $1 WHERE name = 'bench'", [`c${seq}`]);
        await client.query('COMMIT');
      }
    }
    if (!naive) {
      await client.query("UPDATE streams SET cursor = $1 WHERE name = 'bench'", [`c${seq}`]);
      await client.query('COMMIT');
    }
    return changes.length / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
  }
}
