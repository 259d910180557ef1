// Observability for the streams one process runs, wired in one call: the logger, per-stream stats
// fed by the runner's hooks, the metrics and health endpoint, and the status lines on a TTY.
import { startProgress, type ProgressDisplay, type TerminalOut } from './progress.js';
import { createLogger, type LogFormat, type LogLevel } from '../common/log.js';
import type { LogFields, Logger } from '../core/logger.js';
import type { ConnectionEvent } from '../core/connection-event.js';
import { createIngestMetrics, startMetricsServer, type IngestMetrics, type MetricsServer } from '../ingest/metrics.js';
import type { IngestOptions } from '../ingest/run-ingest.js';
import { StreamStats } from '../ingest/stream-stats.js';

export interface ObserveOptions {
  /** Default: `pretty` when stderr is a TTY, else `json`. */
  logFormat?: LogFormat;
  /** Default `info`. */
  logLevel?: LogLevel;
  /** Serve /metrics and /healthz on this port (0: any free port); no server when undefined. */
  metricsPort?: number;
  /** Default 127.0.0.1. */
  metricsHost?: string;
  /** /healthz fails for a stream not live for this long. Default 60 s. */
  unhealthyAfterMs?: number;
  /** Status lines on stderr; default true, and never when stderr is not a TTY. */
  progress?: boolean;
  /** Node's process metrics alongside the streams'. Default true. */
  processMetrics?: boolean;
  /** Tests: where log lines go instead of stderr. */
  logWrite?: (line: string) => void;
  /** Tests: what stands for stderr for the status lines. */
  terminal?: TerminalOut;
}

/** What one stream's run is given: spread it into runIngest's options. */
export interface StreamObserver extends Required<Pick<IngestOptions, 'log' | 'onCommit' | 'onConnectionEvent'>> {
  stats: StreamStats;
  /** Tells /healthz and the status line that the run is over, and why (stop reason or error message). */
  stopped(reason: string): void;
}

export interface Observation {
  /** The process's logger; each stream's is `hooksFor(stream).log`. */
  log: Logger;
  /** Where /metrics and /healthz are served, when they are. */
  metricsUrl: string | undefined;
  /** Registers a stream (once per name); `fields` are added to its log lines, e.g. `{ source: 'auth0' }`. */
  hooksFor(stream: string, fields?: LogFields): StreamObserver;
  /** Stops the status lines and the metrics server. */
  close(): Promise<void>;
}

export async function observeStreams(options: ObserveOptions = {}): Promise<Observation> {
  const streams = new Map<string, StreamStats>();
  const allStats = () => streams.values();
  const terminal = options.terminal ?? process.stderr;
  const progress: ProgressDisplay | undefined =
    options.progress === false ? undefined : startProgress({ streams: allStats, out: terminal });
  // With status lines on screen, log lines must go above them, not through them.
  const write = options.logWrite ?? (progress ? (line: string) => progress.printAbove(line) : undefined);
  const log = createLogger({
    level: options.logLevel,
    format: options.logFormat,
    write,
    color: options.logWrite === undefined && !!terminal.isTTY,
  });

  let metrics: IngestMetrics | undefined;
  let server: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    metrics = createIngestMetrics({ streams: allStats, processMetrics: options.processMetrics });
    try {
      server = await startMetricsServer({
        metrics,
        streams: allStats,
        port: options.metricsPort,
        host: options.metricsHost,
        unhealthyAfterMs: options.unhealthyAfterMs,
      });
    } catch (error) {
      progress?.stop();
      throw error;
    }
    log.info('serving metrics', { url: `${server.url}/metrics`, health: `${server.url}/healthz` });
  }

  return {
    log,
    metricsUrl: server?.url,
    hooksFor(stream, fields = {}) {
      if (streams.has(stream)) throw new Error(`observeStreams: stream "${stream}" is already observed`);
      const stats = new StreamStats(stream);
      streams.set(stream, stats);
      const streamLog = log.child({ stream, ...fields });
      return {
        stats,
        log: streamLog,
        onCommit(result, batch, commitSeconds) {
          stats.recordCommit(result, batch, commitSeconds);
          metrics?.observeCommit(stream, commitSeconds);
        },
        onConnectionEvent(event) {
          stats.recordConnection(event);
          logConnectionEvent(streamLog, event);
        },
        stopped(reason) {
          stats.recordStop(reason);
        },
      };
    },
    async close() {
      progress?.stop();
      await server?.close();
    },
  };
}

function logConnectionEvent(log: Logger, event: ConnectionEvent): void {
  switch (event.type) {
    case 'keepalive':
      return;
    case 'open':
      log.info('connection opened', { attempt: event.attempt, status: event.status });
      return;
    case 'closed': {
      const fields = { reason: event.reason, error: event.error?.message };
      if (event.error) log.warn('connection closed', fields);
      else log.info('connection closed', fields);
      return;
    }
    case 'retrying': {
      const { attempt, delayMs, status, reason } = event;
      const fields = { attempt, delayMs, status, reason, error: event.error?.message };
      // A clean end after progress reconnects at once: routine. Failures and waits are worth a warning.
      if (delayMs > 0 || status !== undefined || event.error) log.warn('connection retrying', fields);
      else log.info('connection retrying', fields);
    }
  }
}
