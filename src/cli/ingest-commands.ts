// `sse-sink ingest`: one stream by source subcommand (`ingest auth0 …`), one stream named in the
// config file (`ingest --stream tenant`), or every configured stream in one process (`--all`).
import type { Argv } from 'yargs';
import { UsageError } from '../common/errors.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../common/log.js';
import type { SourceKind } from '../core/source.js';
import { configPath, readConfigFile, withConfigDefaults, type ConfigFile, type ConfigKeys } from './config-file.js';
import { openStore, withStore } from '../store/open-store.js';
import { storeTarget } from './db-path.js';
import { isPostgresUrl } from '../store/postgres/connection.js';
import { auth0Cli } from './ingest-auth0.js';
import type { ObserveOptions } from './observe.js';
import { positiveSeconds, withCommonIngestOptions, type CommonIngestArgs, type IngestPlan, type SourceCli } from './ingest-options.js';
import { runIngestPlans } from './run-plans.js';
import { sanityCli } from './ingest-sanity.js';

interface IngestArgs extends CommonIngestArgs {
  all?: boolean;
}

interface LeaseArgs {
  standby?: boolean;
  'lease-ttl'?: number;
}

interface ObserveArgs {
  'log-format'?: LogFormat;
  'log-level'?: LogLevel;
  'metrics-port'?: number;
  'metrics-host'?: string;
  'unhealthy-after'?: number;
  progress?: boolean;
}

// Each source's args type is its own; here they are handled through the common shape.
const sources: Record<SourceKind, SourceCli<any>> = { auth0: auth0Cli, sanity: sanityCli };
const configKeys = Object.fromEntries(Object.entries(sources).map(([kind, cli]) => [kind, cli.configKeys])) as Record<SourceKind, ConfigKeys>;

export function ingestCommand(yargs: Argv<{ db?: string; config?: string }>) {
  for (const [kind, cli] of Object.entries(sources) as [SourceKind, SourceCli<any>][]) {
    yargs.command(kind, cli.describe, (y) => cli.builder(y as Argv<CommonIngestArgs>), (args) => ingest(args as unknown as CommonIngestArgs, kind));
  }
  return withCommonIngestOptions(yargs)
    .option('all', { type: 'boolean', describe: 'Run every stream of the config file in this process; the flags above apply to each' })
    .option('durable', { type: 'boolean', describe: 'synchronous=FULL: commits survive power loss, slower (default off)' })
    .option('standby', {
      type: 'boolean',
      describe: 'PostgreSQL: wait while another ingester holds a stream and take it over when its lease ends; with --all, share the streams with the other processes',
    })
    .option('lease-ttl', { type: 'number', describe: 'Seconds a lease lasts without a commit or renewal: how soon a standby takes over (default 30)' })
    .option('log-format', { choices: LOG_FORMATS, describe: 'Log lines on stderr: json (default off a TTY) or pretty (default on a TTY)' })
    .option('log-level', { choices: LOG_LEVELS, describe: 'Least important level logged (default info; debug adds every batch)' })
    .option('progress', { type: 'boolean', describe: 'On a TTY, one updating status line per stream (default on; --no-progress)' })
    .option('metrics-port', { type: 'number', describe: 'Serve Prometheus /metrics and /healthz on this port (off by default)' })
    .option('metrics-host', { type: 'string', describe: 'Address the metrics server binds (default 127.0.0.1)' })
    .option('unhealthy-after', { type: 'number', describe: '/healthz answers 503 once a stream has not been live for this many seconds (default 60)' })
    .check((args) => {
      if (args._.length > 1) return true;
      if (args.all && args.stream) throw new UsageError('give --all or --stream, not both');
      if (!args.all && !args.stream) throw new UsageError('name a source (sse-sink ingest auth0|sanity …), or --stream / --all with a config file');
      return true;
    });
}

/** `sse-sink snapshot <stream>`: a stream snapshotted again, with the options it was stored with. */
export function snapshotCommand<T extends { db?: string; config?: string }>(yargs: Argv<T>) {
  return yargs.command(
    'snapshot <stream>',
    'Snapshot an existing stream again: its tables take the upstream\'s current state, and stored rows the upstream no longer has are marked deleted (entities) or removed (memberships)',
    (y) =>
      y
        .positional('stream', { type: 'string', demandOption: true, describe: 'The stream name' })
        .option('until-idle', { type: 'number', default: 5, describe: 'Exit 0 after the snapshot and this many seconds without an event' })
        .option('max-duration', { type: 'number', describe: 'Exit 0 after this many seconds, committed (the snapshot resumes on the next run)' })
        .option('snapshot-page-size', { type: 'number', describe: 'Items per page: Sanity query-API documents (default 1000, at most 10000), Auth0 Management API items (default 100, at most 100)' })
        .option('url', { type: 'string', describe: 'Base URL that overrides the upstream host (proxies, tests)' })
        .option('token-file', { type: 'string', describe: 'Read the bearer token from this file' })
        .option('token-env', { type: 'string', describe: 'Read the bearer token from this environment variable instead of the source\'s default' })
        .option('log-format', { choices: LOG_FORMATS, describe: 'Log lines on stderr: json (default off a TTY) or pretty (default on a TTY)' })
        .option('log-level', { choices: LOG_LEVELS, describe: 'Least important level logged (default info)' })
        .option('progress', { type: 'boolean', describe: 'On a TTY, an updating status line (default on; --no-progress)' }),
    (args) => snapshotAgain(args as unknown as CommonIngestArgs & ObserveArgs & { stream: string }),
  );
}

async function snapshotAgain(args: CommonIngestArgs & ObserveArgs & { stream: string }): Promise<void> {
  const config = loadConfig(args.config);
  const stored = await withStore(openStore(storeTarget(args, config), { mustExist: true }), (store) => store.streamDefinition(args.stream));
  if (!stored) throw new UsageError(`no stream named "${args.stream}"; "sse-sink status" lists the streams`);
  const cli = sources[stored.source];
  if (!stored.definition) {
    throw new UsageError(`stream "${args.stream}" was reset and has no options stored; run "sse-sink ingest ${stored.source} … --stream ${args.stream} --snapshot"`);
  }
  const entry = config?.streams[args.stream];
  const merged = { ...withConfigDefaults(args, entry), ...cli.argsFromDefinition(stored.definition), stream: args.stream };
  const plan = buildPlan(stored.source, merged, config, entry && args.stream);
  await run([{ ...plan, checked: { ...plan.checked, snapshot: 'again' } }], args, config);
}

/** How a stored event of a `kind` stream normalizes again (for `rebuild`). */
export function storedEventNormalizer(kind: SourceKind): SourceCli<CommonIngestArgs>['normalizeStored'] {
  return sources[kind].normalizeStored;
}

/** The handler of `ingest` itself: streams from the config file. */
export async function ingestFromConfig(args: IngestArgs): Promise<void> {
  const config = requireConfig(args.config);
  const names = args.all ? Object.keys(config.streams) : [args.stream!];
  const plans = names.map((name) => {
    const entry = config.streams[name];
    if (!entry) throw new UsageError(`stream "${name}" is not in config ${config.path}; it has: ${Object.keys(config.streams).join(', ')}`);
    return buildPlan(entry.source, { ...withConfigDefaults({ ...args, all: undefined }, entry), stream: name }, config, name);
  });
  await run(plans, args, config);
}

async function ingest(args: CommonIngestArgs, kind: SourceKind): Promise<void> {
  const config = loadConfig(args.config);
  const entry = args.stream ? config?.streams[args.stream] : undefined;
  if (entry && entry.source !== kind) {
    throw new UsageError(`stream "${args.stream}" is a ${entry.source} stream in config ${config!.path}, not ${kind}`);
  }
  await run([buildPlan(kind, withConfigDefaults(args, entry), config, entry && args.stream)], args, config);
}

/** Builds a stream's plan; an error in options that came from the config file names where they are. */
function buildPlan(kind: SourceKind, args: CommonIngestArgs, config: ConfigFile | undefined, configEntry?: string): IngestPlan {
  try {
    return sources[kind].buildPlan(args);
  } catch (error) {
    if (!(error instanceof UsageError) || !config || !configEntry) throw error;
    throw new UsageError(`config ${config.path}: streams.${configEntry}: ${error.message}`);
  }
}

async function run(plans: IngestPlan[], args: CommonIngestArgs & ObserveArgs & LeaseArgs, config: ConfigFile | undefined): Promise<void> {
  const db = storeTarget(args, config);
  const standby = args.standby ?? config?.standby ?? false;
  if (standby && !isPostgresUrl(db.db)) {
    throw new UsageError('--standby needs a PostgreSQL --db: a SQLite file serves one host, where one ingester per stream is the rule');
  }
  const leaseTtl = args['lease-ttl'] ?? config?.['lease-ttl'];
  await runIngestPlans(plans, {
    db,
    durable: args.durable ?? config?.durable ?? false,
    observe: observeOptions(args),
    standby,
    leaseTtlMs: leaseTtl === undefined ? undefined : leaseTtlMs(leaseTtl),
  });
}

/** At least a second: a lease renewed every third of its length must not renew all the time. */
function leaseTtlMs(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 1) throw new UsageError(`--lease-ttl must be at least 1 (seconds), not ${seconds}`);
  return Math.round(seconds * 1000);
}

/** Checked like every flag, before anything is opened. */
function observeOptions(args: ObserveArgs): ObserveOptions {
  const port = args['metrics-port'];
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--metrics-port must be a port number from 0 to 65535, not ${port}`);
  }
  const unhealthyAfter = args['unhealthy-after'];
  return {
    logFormat: args['log-format'],
    logLevel: args['log-level'],
    progress: args.progress,
    metricsPort: port,
    metricsHost: args['metrics-host'],
    unhealthyAfterMs: unhealthyAfter === undefined ? undefined : positiveSeconds(unhealthyAfter, '--unhealthy-after'),
  };
}

function requireConfig(flag: string | undefined): ConfigFile {
  const config = loadConfig(flag);
  if (!config) throw new UsageError('--stream and --all read streams from a config file: pass --config <file> or set $SSE_SINK_CONFIG');
  return config;
}

/** The config file named by --config or $SSE_SINK_CONFIG, checked; undefined when none is named. */
export function loadConfig(flag: string | undefined): ConfigFile | undefined {
  const path = configPath(flag);
  return path ? readConfigFile(path, configKeys) : undefined;
}
