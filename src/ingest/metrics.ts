// Prometheus metrics and health of the running streams, read from their StreamStats at scrape
// time, served by a small node:http server on 127.0.0.1 unless told otherwise.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { UsageError } from '../common/errors.js';
import { CONNECTION_STATES, streamHealth, type StreamStats } from './stream-stats.js';

export const DEFAULT_UNHEALTHY_AFTER_MS = 60_000;

/** Commits are usually a few milliseconds; seconds mean the disk or a lock is in trouble. */
const COMMIT_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface IngestMetrics {
  registry: Registry;
  /** The one metric stats cannot give at scrape time: each commit's duration, for the histogram. */
  observeCommit(stream: string, seconds: number): void;
}

export interface IngestMetricsOptions {
  /** The streams to report, read at every scrape. */
  streams: () => Iterable<StreamStats>;
  /** Node's process metrics (CPU, memory, event loop lag) under their usual names. Default true. */
  processMetrics?: boolean;
}

export function createIngestMetrics({ streams, processMetrics = true }: IngestMetricsOptions): IngestMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (processMetrics) collectDefaultMetrics({ register: registry });

  const counter = (name: string, help: string, value: (stats: StreamStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['stream'],
      registers,
      collect() {
        this.reset();
        for (const stats of streams()) this.inc({ stream: stats.stream }, value(stats));
      },
    });
  const gauge = (name: string, help: string, value: (stats: StreamStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['stream'],
      registers,
      collect() {
        this.reset();
        for (const stats of streams()) {
          const current = value(stats);
          if (current !== null) this.set({ stream: stats.stream }, current);
        }
      },
    });

  counter('sse_sink_events_received_total', 'Events read from the upstream and committed (new, duplicate or dead-lettered).', (s) => s.received);
  new Counter({
    name: 'sse_sink_events_ingested_total',
    help: 'Events added to the history, by event type.',
    labelNames: ['stream', 'type'],
    registers,
    collect() {
      this.reset();
      for (const stats of streams()) {
        for (const [type, count] of stats.insertedByType) this.inc({ stream: stats.stream, type }, count);
      }
    },
  });
  counter('sse_sink_duplicate_events_total', 'Events already in the history (redelivered or replayed): no-ops.', (s) => s.duplicates);
  counter('sse_sink_dead_letters_total', 'Frames that could not be read or normalized, kept in dead_letters.', (s) => s.deadLetters);
  counter('sse_sink_batches_total', 'Batches committed.', (s) => s.batches);
  counter('sse_sink_reconnects_total', 'Connections that ended or failed to open and were tried again.', (s) => s.reconnects);
  gauge('sse_sink_lag_seconds', 'Age of the newest event of the last batch with events when it was committed.', (s) => s.lagSeconds);
  gauge('sse_sink_last_event_timestamp_seconds', 'Upstream time of the newest event committed.', (s) =>
    s.lastEventAt === null ? null : Date.parse(s.lastEventAt) / 1000,
  );
  gauge('sse_sink_last_heartbeat_timestamp_seconds', 'When the last keep-alive or heartbeat frame arrived.', (s) =>
    s.lastHeartbeatAt === null ? null : s.lastHeartbeatAt / 1000,
  );
  new Gauge({
    name: 'sse_sink_stream_state',
    help: 'Connection state of the stream: 1 for the current state, 0 for the others.',
    labelNames: ['stream', 'state'],
    registers,
    collect() {
      this.reset();
      for (const stats of streams()) {
        for (const state of CONNECTION_STATES) this.set({ stream: stats.stream, state }, stats.state === state ? 1 : 0);
      }
    },
  });
  const commitSeconds = new Histogram({
    name: 'sse_sink_commit_duration_seconds',
    help: 'How long committing one batch (one transaction) took, with its wait for the batch before it (PostgreSQL).',
    labelNames: ['stream'],
    buckets: COMMIT_SECONDS_BUCKETS,
    registers,
  });
  return { registry, observeCommit: (stream, seconds) => commitSeconds.observe({ stream }, seconds) };
}

export interface MetricsServerOptions {
  metrics: IngestMetrics;
  streams: () => Iterable<StreamStats>;
  /** 0 picks a free port (tests). */
  port: number;
  /** Default 127.0.0.1: metrics are not for the whole network unless asked. */
  host?: string;
  /** A stream connecting or retrying for this long makes /healthz answer 503. Default 60 s. */
  unhealthyAfterMs?: number;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464 */
  url: string;
  close(): Promise<void>;
}

/** Serves `/metrics` (Prometheus text) and `/healthz` (200 `ok`, or 503 and one line per unhealthy stream). */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const unhealthyAfterMs = options.unhealthyAfterMs ?? DEFAULT_UNHEALTHY_AFTER_MS;
  const server = createServer((req, res) => {
    answer(req, res, options, unhealthyAfterMs).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${error instanceof Error ? error.message : String(error)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code ?? error.message;
      reject(new UsageError(`cannot serve metrics on ${host}:${options.port} (${why}); choose another --metrics-port or --metrics-host`));
    });
    server.listen(options.port, host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; waiting for them would hold the exit up.
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, options: MetricsServerOptions, unhealthyAfterMs: number): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/metrics') {
    const text = await options.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text);
  } else if (path === '/healthz') {
    const now = Date.now();
    const problems = [...options.streams()].map((stats) => streamHealth(stats, unhealthyAfterMs, now).problem).filter((p) => p !== undefined);
    res.writeHead(problems.length === 0 ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(problems.length === 0 ? 'ok\n' : `${problems.join('\n')}\n`);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  }
}
