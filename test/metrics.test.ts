// /metrics and /healthz of a real ingestion: the real runner and Auth0 source against the project's
// SSE test server, scraped over HTTP while the stream runs.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { observeStreams, type Observation } from '../src/cli/observe.js';
import { createIngestMetrics, startMetricsServer } from '../src/ingest/metrics.js';
import type { IngestSummary } from '../src/ingest/run-ingest.js';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { openDatabaseReadOnly } from '../src/store/sqlite/database.js';
import { readStatus } from '../src/store/sqlite/status.js';
import { StreamStats, streamHealth } from '../src/ingest/stream-stats.js';
import { startSseTestServer, type Handler, type ScriptStep } from '../src/simulators/sse-server.js';
import { fixtureScript, queryRows, serveAfterCursor, simulatedTenantSource, type ScriptEntry } from './helpers/auth0.js';
import { tempDir } from './helpers/cli.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name and (at least) these labels, or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return parsePrometheus(await response.text());
}

async function health(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/healthz`);
  return { status: response.status, body: await response.text() };
}

/** Polls `probe` until `check` holds on its result, which it returns. */
async function pollUntil<T>(probe: () => Promise<T>, check: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await sleep(20);
  }
}

/** Keep-alive comments until `release` is called. */
function holdOpen(): { steps: AsyncIterable<ScriptStep>; release: () => void } {
  let released = false;
  async function* steps(): AsyncGenerator<ScriptStep> {
    while (!released) yield* [{ comment: ' heartbeat' }, { sleep: 25 }] satisfies ScriptStep[];
  }
  return { steps: steps(), release: () => (released = true) };
}

/** Keep-alive comments until the client leaves. */
async function* keepAliveForever(): AsyncGenerator<ScriptStep> {
  for (;;) yield* [{ comment: ' heartbeat' }, { sleep: 25 }] satisfies ScriptStep[];
}

async function* concat(...parts: (Iterable<ScriptStep> | AsyncIterable<ScriptStep>)[]): AsyncGenerator<ScriptStep> {
  for (const part of parts) yield* part;
}

/** Serves the script after the request's cursor, then what `rest(index)` gives for request `index`. */
function serveThen(script: ScriptEntry[], rest: (index: number) => AsyncIterable<ScriptStep>): Handler {
  const serve = serveAfterCursor(script, { tail: [] });
  return (request, index) => {
    const reply = serve(request);
    return 'steps' in reply ? { ...reply, steps: concat(reply.steps as Iterable<ScriptStep>, rest(index)) } : reply;
  };
}

/** Events ingested by type, from a scrape. */
function ingestedByType(samples: Sample[]): Record<string, number> {
  const ingested = samples.filter((s) => s.name === 'sse_sink_events_ingested_total');
  expect(ingested.every((s) => s.labels.stream === 'acme')).toBe(true);
  return Object.fromEntries(ingested.map((s) => [s.labels.type, s.value]));
}

/** Events in the history by type. */
function storedByType(db: string): Record<string, number> {
  const rows = queryRows<{ type: string; n: number }>(db, 'SELECT type, count(*) AS n FROM events GROUP BY type');
  return Object.fromEntries(rows.map((row) => [row.type, row.n]));
}

/** What `sse-sink status` reports, read from a second connection as that command would. */
function statusOf(db: string) {
  const sink = openDatabaseReadOnly(db);
  try {
    return readStatus(sink);
  } finally {
    sink.close();
  }
}

async function upstream(handler: Handler) {
  const server = await startSseTestServer(handler);
  cleanups.push(() => server.close());
  return server;
}

async function observe(unhealthyAfterMs = 60_000): Promise<{ observation: Observation; url: string; logs: string[] }> {
  const logs: string[] = [];
  const observation = await observeStreams({
    metricsPort: 0,
    unhealthyAfterMs,
    progress: false,
    logFormat: 'json',
    logWrite: (line) => logs.push(line),
  });
  cleanups.push(() => observation.close());
  return { observation, url: observation.metricsUrl!, logs };
}

/** Runs the Auth0 source for stream "acme" against `url` until the returned stop() is called. */
function ingestAuth0(observation: Observation, url: string) {
  const db = join(tempDir(), 'sink.db');
  const stop = new AbortController();
  const hooks = observation.hooksFor('acme', { source: 'auth0' });
  const run: Promise<IngestSummary> = runIngestOnFile({
    dbPath: db,
    stream: 'acme',
    source: simulatedTenantSource(url, 'tok-metrics-7c2e'),
    batchAgeMs: 20,
    signal: stop.signal,
    ...hooks,
  }).finally(() => hooks.stopped('signal'));
  cleanups.push(async () => {
    stop.abort();
    await run.catch(() => undefined);
  });
  return {
    db,
    stats: hooks.stats,
    stop: async () => {
      stop.abort();
      return run;
    },
  };
}

describe('metrics endpoint', () => {
  it('counts the events of a running stream by type, as scraped during ingestion', async () => {
    const script = fixtureScript();
    const half = 20;
    const gate = holdOpen();
    cleanups.push(gate.release);
    // One connection: half the events, a pause the test ends, the rest, then keep-alives until the
    // run is stopped; so every scrape below happens while the stream is being ingested.
    const server = await upstream(() => ({
      steps: concat(script.slice(0, half).map((e) => e.step), gate.steps, script.slice(half).map((e) => e.step), keepAliveForever()),
    }));
    const { observation, url } = await observe();
    const ingest = ingestAuth0(observation, server.url);
    const received = (samples: Sample[]) => valueOf(samples, 'sse_sink_events_received_total', { stream: 'acme' });

    const midway = await pollUntil(() => scrape(url), (s) => received(s) === half, 'the first half to be counted');
    expect(valueOf(midway, 'sse_sink_stream_state', { stream: 'acme', state: 'live' })).toBe(1);
    expect(ingestedByType(midway)).toEqual(storedByType(ingest.db));
    // The fixture's events are months old and arriving now: `sse-sink status` calls that catching up.
    const [midwayStatus] = statusOf(ingest.db);
    expect(midwayStatus).toMatchObject({ name: 'acme', state: 'catching up', stateReason: expect.stringMatching(/^receiving events \S+ behind upstream time$/) });

    gate.release();
    const seen: (number | undefined)[] = [half];
    const samples = await pollUntil(
      () => scrape(url),
      (s) => {
        seen.push(received(s));
        return received(s) === script.length;
      },
      'all events to be counted',
    );
    // Counters only go up, scrape after scrape.
    expect(seen).toEqual([...seen].sort((a, b) => a! - b!));
    expect(valueOf(samples, 'sse_sink_stream_state', { stream: 'acme', state: 'live' })).toBe(1);
    expect(valueOf(samples, 'sse_sink_stream_state', { stream: 'acme', state: 'retrying' })).toBe(0);

    // By type, exactly what the history holds: four user.created frames, one of them a redelivery.
    expect(ingestedByType(samples)).toEqual(storedByType(ingest.db));
    expect(valueOf(samples, 'sse_sink_events_ingested_total', { stream: 'acme', type: 'user.created' })).toBe(3);
    expect(valueOf(samples, 'sse_sink_duplicate_events_total', { stream: 'acme' })).toBe(1);
    const insertedTotal = Object.values(ingestedByType(samples)).reduce((sum, n) => sum + n, 0);
    expect(insertedTotal + 1).toBe(script.length);
    expect(valueOf(samples, 'sse_sink_dead_letters_total', { stream: 'acme' })).toBe(0);
    expect(valueOf(samples, 'sse_sink_reconnects_total', { stream: 'acme' })).toBe(0);

    const batches = valueOf(samples, 'sse_sink_batches_total', { stream: 'acme' })!;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'sse_sink_commit_duration_seconds_count', { stream: 'acme' })).toBe(batches);
    expect(valueOf(samples, 'sse_sink_commit_duration_seconds_bucket', { stream: 'acme', le: '+Inf' })).toBe(batches);

    // The fixture's events are from the past: lag is their age, and the newest one's time is exported.
    const newest = queryRows<{ t: string }>(ingest.db, 'SELECT max(occurred_at) AS t FROM events')[0]!.t;
    expect(valueOf(samples, 'sse_sink_last_event_timestamp_seconds', { stream: 'acme' })).toBe(Date.parse(newest) / 1000);
    expect(valueOf(samples, 'sse_sink_lag_seconds', { stream: 'acme' })).toBeGreaterThan(0);

    // Keep-alive comments are the heartbeat of an Auth0 stream.
    const heartbeat = await pollUntil(
      async () => valueOf(await scrape(url), 'sse_sink_last_heartbeat_timestamp_seconds', { stream: 'acme' }),
      (value) => value !== undefined,
      'a heartbeat',
    );
    expect(heartbeat! * 1000).toBeLessThanOrEqual(Date.now());
    expect(valueOf(samples, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);

    expect(await ingest.stop()).toMatchObject({ stopReason: 'signal', received: script.length });
    const after = await scrape(url);
    expect(valueOf(after, 'sse_sink_stream_state', { stream: 'acme', state: 'stopped' })).toBe(1);
  });

  it('/healthz turns 503 when the upstream answers 500 for longer than the limit, and 200 once it recovers', async () => {
    const script = fixtureScript().slice(0, 5);
    const state = { failing: false };
    const tail = holdOpen();
    cleanups.push(tail.release);
    // The first connection stays open until the test drops it; later ones stay open for good.
    const serve = serveThen(script, (index) => (index === 0 ? concat(tail.steps, [{ end: true }]) : keepAliveForever()));
    const server = await upstream((request, index) => (state.failing ? { status: 500, body: 'upstream is down' } : serve(request, index)));
    const { observation, url, logs } = await observe(300);
    const ingest = ingestAuth0(observation, server.url);

    await pollUntil(() => health(url), (h) => h.status === 200 && ingest.stats.state === 'live', 'the stream to be live');
    expect(await health(url)).toEqual({ status: 200, body: 'ok\n' });

    state.failing = true;
    tail.release();
    const down = await pollUntil(() => health(url), (h) => h.status === 503, '/healthz to fail');
    expect(down.body).toMatch(/^acme: retrying for [\d.]+ s \(HTTP 500\)\n$/);
    const failures = server.requests.length - 1;
    expect(failures).toBeGreaterThanOrEqual(1);
    const during = await scrape(url);
    expect(valueOf(during, 'sse_sink_stream_state', { stream: 'acme', state: 'retrying' })).toBe(1);
    expect(valueOf(during, 'sse_sink_reconnects_total', { stream: 'acme' })).toBeGreaterThanOrEqual(failures);

    state.failing = false;
    await pollUntil(() => health(url), (h) => h.status === 200, '/healthz to recover');
    expect(ingest.stats.state).toBe('live');
    // Every retry, and the connection that recovered, asked for what follows the last event.
    expect(server.requests.slice(1).map((request) => request.query.get('from'))).toEqual(server.requests.slice(1).map(() => script.at(-1)!.offset));
    const received = async () => valueOf(await scrape(url), 'sse_sink_events_received_total', { stream: 'acme' });
    await pollUntil(received, (n) => n === script.length, 'the events to be counted');

    const refused = logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'connection retrying' && line.status === 500);
    expect(refused.length).toBeGreaterThanOrEqual(failures);
    expect(refused.every((line) => line.level === 'warn' && line.stream === 'acme')).toBe(true);
    await ingest.stop();
  });

  it('answers 404 elsewhere, binds 127.0.0.1 by default, and closes promptly with a scraper connected', async () => {
    const stats = new StreamStats('quiet');
    const metrics = createIngestMetrics({ streams: () => [stats], processMetrics: false });
    const server = await startMetricsServer({ metrics, streams: () => [stats], port: 0 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    const samples = await scrape(server.url);
    expect(valueOf(samples, 'sse_sink_events_received_total', { stream: 'quiet' })).toBe(0);
    expect(valueOf(samples, 'sse_sink_lag_seconds', { stream: 'quiet' })).toBeUndefined();
    expect(samples.some((s) => s.name.startsWith('process_'))).toBe(false);
    // fetch keeps its connection alive; closing must not wait for it.
    await server.close();
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });

  it('refuses a port in use with a message naming the flag', async () => {
    const first = await observeStreams({ metricsPort: 0, progress: false, logWrite: () => {} });
    cleanups.push(() => first.close());
    const port = Number(new URL(first.metricsUrl!).port);
    await expect(observeStreams({ metricsPort: port, progress: false, logWrite: () => {} })).rejects.toThrow(/--metrics-port/);
  });
});

describe('stream health', () => {
  const t0 = Date.parse('2026-03-01T12:00:00Z');

  it('is healthy while live, however long', () => {
    const stats = new StreamStats('s', t0);
    stats.recordConnection({ type: 'open', attempt: 0, status: 200 }, t0 + 10);
    expect(streamHealth(stats, 1000, t0 + 3_600_000)).toEqual({ healthy: true });
  });

  it('is healthy while connecting or backing off within the limit, and says why after it', () => {
    const stats = new StreamStats('s', t0);
    expect(streamHealth(stats, 60_000, t0 + 59_999)).toEqual({ healthy: true });
    stats.recordConnection({ type: 'retrying', attempt: 1, delayMs: 500, status: 500, reason: 'HTTP 500' }, t0 + 1000);
    // Never live yet: the clock runs from the start, not from the first retry.
    expect(streamHealth(stats, 60_000, t0 + 61_000)).toEqual({ healthy: false, problem: 's: retrying for 61 s (HTTP 500)' });

    stats.recordConnection({ type: 'open', attempt: 2, status: 200 }, t0 + 70_000);
    stats.recordConnection({ type: 'closed', reason: 'network-error', error: new Error('socket hang up') }, t0 + 80_000);
    stats.recordConnection({ type: 'retrying', attempt: 3, delayMs: 0, reason: 'network-error' }, t0 + 80_000);
    stats.recordConnection({ type: 'retrying', attempt: 4, delayMs: 700, reason: 'network-error' }, t0 + 90_000);
    expect(streamHealth(stats, 60_000, t0 + 139_999)).toEqual({ healthy: true });
    expect(streamHealth(stats, 60_000, t0 + 140_000)).toEqual({ healthy: false, problem: 's: retrying for 60 s (network-error)' });
    expect(stats.reconnects).toBe(3);
  });

  it('is unhealthy once stopped', () => {
    const stats = new StreamStats('s', t0);
    stats.recordStop('Auth0 rejected the token (401)', t0 + 5);
    expect(streamHealth(stats, 60_000, t0 + 6)).toEqual({ healthy: false, problem: 's: stopped (Auth0 rejected the token (401))' });
  });
});
