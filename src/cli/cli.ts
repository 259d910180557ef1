// The sse-sink command line: parses and validates flags, then calls the stages. Every failure ends
// as one line on stderr and a documented exit code; a usage error never opens the database.
import yargs from 'yargs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExitCode, SinkError, UsageError } from '../errors.js';
import { canonicalTime } from '../normalize/time.js';
import { exportEvents } from '../store/export.js';
import { explainSqliteError, openDatabase, openDatabaseReadOnly } from '../store/database.js';
import { acquireLease, assertNotLeased } from '../store/lease.js';
import { rebuildProjections, type RebuildReport } from '../store/rebuild.js';
import { readStatus, type StreamStatus } from '../store/status.js';
import { readStream, resetStream } from '../store/streams.js';
import { formatRows, type OutputFormat } from './format.js';
import { positiveSeconds } from './ingest-options.js';
import { DEFAULT_DB_PATH, resolveDbPath } from './db-path.js';
import { runDemo } from './demo.js';
import { ingestCommand, ingestFromConfig, loadConfig, storedEventNormalizer } from './ingest-commands.js';

function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName('sse-sink')
    .usage('$0 <command> [options]\n\nIngest Server-Sent-Event change streams into SQLite.')
    .option('db', {
      type: 'string',
      describe: `SQLite database file (default $SSE_SINK_DB, else the config file's "db", else ${DEFAULT_DB_PATH})`,
      global: true,
    })
    .option('config', {
      type: 'string',
      describe: 'Config file listing streams (default $SSE_SINK_CONFIG)',
      global: true,
    })
    .command(
      'ingest',
      'Ingest a stream into the database: ingest auth0|sanity …, or streams of the config file (--stream, --all)',
      (y) => ingestCommand(y),
      (args) => ingestFromConfig(args),
    )
    .command(
      'demo',
      'See it work without an account: simulated Auth0 and Sanity upstreams on 127.0.0.1 ingested into ./demo.db',
      (y) => y,
      async (args) => {
        await runDemo({ db: args.db ?? './demo.db', print: (text) => console.log(text) });
      },
    )
    .command(
      'migrate',
      'Create the database or bring its tables up to date',
      (y) => y,
      (args) => {
        openDatabase({ path: dbOf(args) }).close();
        console.log(`${dbOf(args)}: schema up to date`);
      },
    )
    .command(
      'status',
      'Show each stream: cursor, last event, counts, dead letters, gaps',
      (y) =>
        y
          .option('json', { type: 'boolean', default: false, describe: 'Print JSON for programs' })
          .option('stale-after', {
            type: 'number',
            describe: 'Exit 6 when a stream\'s cursor has not moved for this many seconds (monitoring, cron)',
          }),
      (args) => {
        const staleAfterMs = args['stale-after'] === undefined ? undefined : positiveSeconds(args['stale-after'], '--stale-after');
        const sink = openDatabaseReadOnly(dbOf(args));
        let status: StreamStatus[];
        try {
          status = readStatus(sink);
        } finally {
          sink.close();
        }
        console.log(args.json ? JSON.stringify(status, null, 2) : formatStatus(status));
        if (staleAfterMs === undefined) return;
        const stale = status.filter((s) => Date.now() - Date.parse(s.cursorUpdatedAt ?? s.createdAt) > staleAfterMs);
        if (stale.length) {
          throw new SinkError(
            `stale: ${stale.map((s) => `"${s.name}" (cursor last moved ${s.cursorUpdatedAt ?? 'never'})`).join(', ')}; check its ingester's log`,
            ExitCode.stale,
          );
        }
      },
    )
    .command(
      'query <sql>',
      'Run one read-only SQL statement and print the rows',
      (y) =>
        y
          .positional('sql', { type: 'string', demandOption: true, describe: 'The SQL statement' })
          .option('format', { choices: ['table', 'json', 'csv'] as const, default: 'table' as OutputFormat, describe: 'Output format' }),
      (args) => {
        const sink = openDatabaseReadOnly(dbOf(args));
        try {
          const statement = prepareQuery(sink.sqlite, args.sql);
          console.log(formatRows(statement.all() as Record<string, unknown>[], args.format, statement.columns().map((c) => c.name)));
        } finally {
          sink.close();
        }
      },
    )
    .command(
      'export',
      'Write the history log of a stream to stdout as JSON lines, oldest first',
      (y) =>
        y
          .option('stream', { type: 'string', demandOption: true, describe: 'The stream name' })
          .option('since', { type: 'string', describe: 'Only events that happened at or after this RFC-3339 time' })
          .option('until', { type: 'string', describe: 'Only events that happened before this RFC-3339 time' })
          .option('type', { type: 'string', array: true, describe: 'Only events of this type (repeatable)' }),
      async (args) => {
        const since = optionalTime(args.since, '--since');
        const until = optionalTime(args.until, '--until');
        const sink = openDatabaseReadOnly(dbOf(args));
        try {
          const lines = exportEvents(sink, { stream: args.stream, since, until, types: args.type });
          await pipeline(Readable.from(withNewlines(lines)), process.stdout);
        } finally {
          sink.close();
        }
      },
    )
    .command(
      'reset <stream>',
      'Forget a stream\'s cursor and definition so it starts again (history is kept)',
      (y) =>
        y
          .positional('stream', { type: 'string', demandOption: true, describe: 'The stream name' })
          .option('yes', { type: 'boolean', default: false, describe: 'Confirm the reset' }),
      (args) => {
        if (!args.yes) {
          throw new UsageError(`reset forgets where "${args.stream}" stands upstream; add --yes to confirm`);
        }
        const writable = openDatabase({ path: dbOf(args), mustExist: true });
        try {
          assertNotLeased(writable, args.stream);
          resetStream(writable, args.stream);
          console.log(`stream "${args.stream}" reset: the next ingest starts from its --since, or from now`);
        } finally {
          writable.close();
        }
      },
    )
    .command(
      'rebuild <stream>',
      'Recompute the stream\'s tables (users, documents, …) from its history log, in one transaction, and report what changed',
      (y) => y.positional('stream', { type: 'string', demandOption: true, describe: 'The stream name' }),
      (args) => {
        const sink = openDatabase({ path: dbOf(args), mustExist: true });
        try {
          const stream = readStream(sink, args.stream);
          if (!stream) throw new UsageError(`no stream named "${args.stream}"; "sse-sink status" lists the streams`);
          const lease = acquireLease(sink, args.stream);
          try {
            const report = rebuildProjections(sink, args.stream, storedEventNormalizer(stream.source));
            console.log(formatRebuild(args.stream, report));
          } finally {
            lease.release('rebuild done');
          }
        } finally {
          sink.close();
        }
      },
    )
    .demandCommand(1, 'name a command; sse-sink --help lists them')
    .strict()
    .fail((message, error) => {
      throw error ?? new UsageError(`${message.replace(/\n+/g, '; ')} (see sse-sink --help)`);
    })
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100));
}

/** The database of commands other than ingest (which resolves it per stream). */
function dbOf(args: { db?: string; config?: string }): string {
  return resolveDbPath(args.db, loadConfig(args.config));
}

function* withNewlines(lines: Iterable<string>): Generator<string> {
  for (const line of lines) yield `${line}\n`;
}

function optionalTime(value: string | undefined, flag: string): string | null {
  if (value === undefined) return null;
  const time = canonicalTime(value);
  if (!time) throw new UsageError(`${flag} "${value}" is not an RFC-3339 time; write e.g. 2026-01-31T00:00:00Z`);
  return time;
}

function prepareQuery(sqlite: import('better-sqlite3').Database, sql: string) {
  let statement;
  try {
    statement = sqlite.prepare(sql);
  } catch (error) {
    throw new UsageError(`the SQL did not compile: ${(error as Error).message}`);
  }
  if (!statement.reader) throw new UsageError('query only reads; the statement returns no rows (use SELECT)');
  return statement;
}

function formatRebuild(stream: string, report: RebuildReport): string {
  const tables = Object.entries(report.differences).map(
    ([table, d]) => `  ${table}: ${d.added} added, ${d.removed} removed, ${d.changed} changed`,
  );
  const unreadable = report.unreadable ? `; ${report.unreadable} stored events no longer normalize and were left out` : '';
  return [
    `rebuilt the tables of "${stream}" from ${report.events} events${unreadable}: ${tables.length ? 'fixed' : 'no differences'}`,
    ...tables,
  ].join('\n');
}

function formatStatus(status: StreamStatus[]): string {
  if (status.length === 0) return 'no streams yet: run "sse-sink ingest <source> --stream <name> …"';
  return formatRows(
    status.map((s) => ({
      stream: s.name,
      source: s.source,
      state: s.stateReason ? `${s.state} (${s.stateReason})` : s.state,
      last_event_at: s.lastEventAt,
      lag_s: s.lagSeconds,
      last_heartbeat_at: s.lastHeartbeatAt,
      events: s.eventsTotal,
      duplicates: s.duplicatesSkipped,
      unknown: s.unknownTypes,
      dead_letters: s.deadLetters,
      gaps_open: s.gapsOpen,
      // A catch-up that could not run: the stream may be missing history, and says so.
      gaps_unrepairable: s.gapsUnrepairable,
      cursor: s.cursor,
      last_gap_problem: s.lastGapProblem,
    })),
    'table',
  );
}

/** Runs the CLI and returns the exit code (the process is not exited here, so tests can call it). */
export async function runCli(argv: string[]): Promise<number> {
  // `sse-sink export … | head -3`: a reader that has seen enough is a normal end, not a failure.
  const onStdoutError = (error: unknown) => {
    if (isClosedPipe(error)) process.exit(ExitCode.ok);
  };
  process.stdout.on('error', onStdoutError);
  try {
    await buildCli(argv).parseAsync();
    return ExitCode.ok;
  } catch (error) {
    if (isClosedPipe(error)) return ExitCode.ok;
    if (error instanceof SinkError) {
      console.error(`sse-sink: ${error.message}`);
      return error.exitCode;
    }
    console.error(`sse-sink: ${explainSqliteError(error) ?? (error instanceof Error ? error.message : String(error))}`);
    return ExitCode.runtime;
  } finally {
    process.stdout.off('error', onStdoutError);
  }
}

function isClosedPipe(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EPIPE';
}
