// The flags every `ingest <source>` command shares and their validation: sources add only their
// own flags, and build their Source from the checked values.
import type { Argv } from 'yargs';
import { UsageError } from '../common/errors.js';
import { canonicalTime } from '../common/time.js';
import type { NormalizeResult } from '../core/change.js';
import type { StoredEvent } from '../core/store.js';
import { STREAM_NAME, type ConfigKeys } from './config-file.js';
import type { Source, SourceKind } from '../core/source.js';

export interface CommonIngestArgs {
  db?: string;
  config?: string;
  stream?: string;
  since?: string;
  snapshot?: boolean;
  'until-idle'?: number;
  'max-events'?: number;
  'max-duration'?: number;
  durable?: boolean;
  'token-file'?: string;
  'token-env'?: string;
  url?: string;
  'idle-timeout'?: number;
  'max-frame-bytes'?: number;
}

export function withCommonIngestOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('stream', {
      type: 'string',
      describe: 'Name of this stream in the database (its cursor and history); required. With --config, its entry there fills in the options not given as flags',
    })
    .option('since', { type: 'string', describe: 'RFC-3339 time to start from on the first run (ignored once the stream has a cursor)' })
    .option('snapshot', {
      type: 'boolean',
      describe: 'On the stream\'s first run, read the upstream\'s current state into the tables (Sanity: every matching document), then follow the stream; refused once it has a cursor',
    })
    .option('until-idle', { type: 'number', describe: 'Exit 0 after this many seconds without an event (cron)' })
    .option('max-events', { type: 'number', describe: 'Exit 0 after this many events, committed' })
    .option('max-duration', { type: 'number', describe: 'Exit 0 after this many seconds, committed' })
    .option('token-file', { type: 'string', describe: 'Read the bearer token from this file (re-read on every reconnect)' })
    .option('token-env', { type: 'string', describe: 'Read the bearer token from this environment variable instead of the source\'s default' })
    .option('url', { type: 'string', describe: 'Base URL that overrides the upstream host (proxies, tests)' })
    .option('idle-timeout', { type: 'number', describe: 'Reconnect when the upstream sends nothing, not even a keep-alive, for this many seconds (default 90)' })
    .option('max-frame-bytes', {
      type: 'number',
      describe: 'Frames larger than this are stored as dead letters (their first 1 KiB) instead of being read into memory (default 33554432, 32 MiB)',
    });
}

/** The shared options as config-file keys (flag names), besides each source's own. */
export const commonConfigKeys: ConfigKeys = {
  since: 'string',
  'until-idle': 'number',
  'max-events': 'number',
  'max-duration': 'number',
  'token-file': 'string',
  'token-env': 'string',
  url: 'string',
  'idle-timeout': 'number',
  'max-frame-bytes': 'number',
};

export interface CheckedCommonArgs {
  stream: string;
  since: string | null;
  /** Snapshot the upstream's state: on the first run (--snapshot), or again (`sse-sink snapshot`). */
  snapshot?: 'first-run' | 'again';
  untilIdleMs?: number;
  maxEvents?: number;
  maxDurationMs?: number;
  url?: string;
  /** What the SSE client is told: the flags given, the client's defaults for the rest. */
  connection?: ConnectionLimits;
}

export interface ConnectionLimits {
  idleTimeoutMs?: number;
  maxFrameBytes?: number;
}

/** Frames must fit the largest events either upstream sends (a few MB), so no limit below 1 MiB. */
const MIN_FRAME_BYTES = 1024 * 1024;

/** Validates the shared flags before anything touches the database. */
export function checkCommonIngestArgs(args: CommonIngestArgs): CheckedCommonArgs {
  const stream = requireOption(args.stream, '--stream');
  if (!STREAM_NAME.test(stream)) {
    throw new UsageError(`--stream "${args.stream}" is not a valid name; use letters, digits, ".", "_" or "-"`);
  }
  let since: string | null = null;
  if (args.since !== undefined) {
    since = canonicalTime(args.since);
    if (!since) throw new UsageError(`--since "${args.since}" is not an RFC-3339 time; write e.g. 2026-01-31T00:00:00Z`);
  }
  if (args['token-env'] !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(args['token-env'])) {
    throw new UsageError(`--token-env "${args['token-env']}" is not an environment variable name`);
  }
  return {
    stream,
    since,
    snapshot: args.snapshot ? 'first-run' : undefined,
    untilIdleMs: optionalSeconds(args['until-idle'], '--until-idle'),
    maxEvents: positiveInteger(args['max-events'], '--max-events'),
    maxDurationMs: optionalSeconds(args['max-duration'], '--max-duration'),
    url: args.url === undefined ? undefined : checkUrl(args.url, '--url'),
    connection: {
      idleTimeoutMs: optionalSeconds(args['idle-timeout'], '--idle-timeout'),
      maxFrameBytes: frameBytes(args['max-frame-bytes']),
    },
  };
}

function frameBytes(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < MIN_FRAME_BYTES) {
    throw new UsageError(`--max-frame-bytes must be a whole number of bytes, at least ${MIN_FRAME_BYTES} (1 MiB), not ${value}`);
  }
  return value;
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

/** A value every stream needs, from a flag or the config file. */
export function requireOption<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError(`${flag} is required (as a flag, or in the stream's entry of the config file)`);
  return value;
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

/** One stream to run: its validated options and the source built from them. */
export interface IngestPlan {
  checked: CheckedCommonArgs;
  kind: SourceKind;
  /** The source in its first state: a stream taken over again reads anew from the stored cursor. */
  createSource: () => Source;
}

/** What a source adds to `sse-sink ingest`: its flags, their config-file keys, and its plan. */
export interface SourceCli<Args extends CommonIngestArgs> {
  describe: string;
  builder: (yargs: Argv<CommonIngestArgs>) => Argv<unknown>;
  configKeys: ConfigKeys;
  /** Validates the merged flags and config (before any database access) and builds the source. */
  buildPlan: (args: Args) => IngestPlan;
  /** Normalizes a stored history row again (for `rebuild`): the same pure function ingest uses. */
  normalizeStored: (event: StoredEvent) => NormalizeResult;
  /** The flags that define a stream stored with this definition (`sse-sink snapshot`). */
  argsFromDefinition: (definition: Record<string, unknown>) => Partial<Args>;
}

/** `--snapshot-page-size`: items per page of the upstream's list, from 1 to what it allows. */
export function checkSnapshotPageSize(value: number | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`--snapshot-page-size must be a whole number from 1 to ${max}, not ${value}`);
  }
  return value;
}
