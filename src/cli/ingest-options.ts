// The flags every `ingest <source>` command shares, their validation, and running a source with
// signal handling. Sources add only their own flags and build their Source.
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { runIngest, type IngestSummary } from '../ingest/run-ingest.js';
import type { Logger } from '../log.js';
import { canonicalTime } from '../normalize/time.js';
import type { Source } from '../sources/source.js';

export interface CommonIngestArgs {
  db: string;
  stream: string;
  since?: string;
  'until-idle'?: number;
  'max-events'?: number;
  'max-duration'?: number;
  durable: boolean;
  'token-file'?: string;
  url?: string;
}

export function withCommonIngestOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('stream', { type: 'string', demandOption: true, describe: 'Name of this stream in the database (its cursor and history)' })
    .option('since', { type: 'string', describe: 'RFC-3339 time to start from on the first run (ignored once the stream has a cursor)' })
    .option('until-idle', { type: 'number', describe: 'Exit 0 after this many seconds without an event (cron)' })
    .option('max-events', { type: 'number', describe: 'Exit 0 after this many events, committed' })
    .option('max-duration', { type: 'number', describe: 'Exit 0 after this many seconds, committed' })
    .option('durable', { type: 'boolean', default: false, describe: 'synchronous=FULL: commits survive power loss, slower' })
    .option('token-file', { type: 'string', describe: 'Read the bearer token from this file (re-read on every reconnect)' })
    .option('url', { type: 'string', describe: 'Base URL that overrides the upstream host (proxies, tests)' });
}

export interface CheckedCommonArgs {
  since: string | null;
  untilIdleMs?: number;
  maxEvents?: number;
  maxDurationMs?: number;
  url?: string;
}

/** Validates the shared flags before anything touches the database. */
export function checkCommonIngestArgs(args: CommonIngestArgs): CheckedCommonArgs {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(args.stream)) {
    throw new UsageError(`--stream "${args.stream}" is not a valid name; use letters, digits, ".", "_" or "-"`);
  }
  let since: string | null = null;
  if (args.since !== undefined) {
    since = canonicalTime(args.since);
    if (!since) throw new UsageError(`--since "${args.since}" is not an RFC-3339 time; write e.g. 2026-01-31T00:00:00Z`);
  }
  return {
    since,
    untilIdleMs: optionalSeconds(args['until-idle'], '--until-idle'),
    maxEvents: positiveInteger(args['max-events'], '--max-events'),
    maxDurationMs: optionalSeconds(args['max-duration'], '--max-duration'),
    url: args.url === undefined ? undefined : checkUrl(args.url, '--url'),
  };
}

export function checkUrl(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} "${value}" is not a URL; write e.g. https://example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`${flag} "${value}" must be an http:// or https:// URL`);
  }
  return url.toString().replace(/\/$/, '');
}

function optionalSeconds(value: number | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : positiveSeconds(value, flag);
}

/** A positive number of seconds from a flag, in milliseconds. */
export function positiveSeconds(value: number, flag: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`${flag} must be a positive number of seconds, not ${value}`);
  return value * 1000;
}

function positiveInteger(value: number | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${flag} must be a positive whole number, not ${value}`);
  return value;
}

/** Runs the source until it stops; SIGINT and SIGTERM commit the open batch and end with exit 0. */
export async function runIngestCommand(
  args: CommonIngestArgs,
  checked: CheckedCommonArgs,
  source: Source,
  log: Logger,
): Promise<IngestSummary> {
  const stopOnSignal = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('stopping: committing the open batch', { signal });
    stopOnSignal.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const summary = await runIngest({
      dbPath: args.db,
      durable: args.durable,
      stream: args.stream,
      source,
      since: checked.since,
      untilIdleMs: checked.untilIdleMs,
      maxEvents: checked.maxEvents,
      maxDurationMs: checked.maxDurationMs,
      signal: stopOnSignal.signal,
      log,
      onConnectionEvent: (event) => {
        if (event.type === 'keepalive') return;
        const fields = { ...event, error: event.type === 'closed' ? event.error?.message : undefined };
        if (event.type === 'retrying') log.warn('connection retrying', fields);
        else log.info(`connection ${event.type}`, fields);
      },
    });
    log.info('stopped', { ...summary });
    return summary;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
