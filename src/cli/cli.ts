// The sse-sink command line: parses and validates flags, then calls the stages. Every failure ends
// as one line on stderr and a documented exit code; a usage error never opens the database.
import yargs, { type Argv } from 'yargs';
import { ExitCode, SinkError, UsageError } from '../errors.js';
import { openDatabase, openDatabaseReadOnly } from '../store/database.js';
import { assertNotLeased } from '../store/lease.js';
import { readStatus, type StreamStatus } from '../store/status.js';
import { resetStream } from '../store/streams.js';
import { formatRows, type OutputFormat } from './format.js';
import { ingestCommands } from './ingest-commands.js';

function buildCli(argv: string[]): Argv<{ db: string }> {
  return yargs(argv)
    .scriptName('sse-sink')
    .usage('$0 <command> [options]\n\nIngest Server-Sent-Event change streams into SQLite.')
    .option('db', {
      type: 'string',
      default: process.env.SSE_SINK_DB ?? './sse-sink.db',
      defaultDescription: '$SSE_SINK_DB or ./sse-sink.db',
      describe: 'SQLite database file',
      global: true,
    })
    .command('ingest', 'Ingest a stream into the database', (y) => {
      for (const command of ingestCommands) y.command(command);
      return y.demandCommand(1, 'name a source: sse-sink ingest <source> --help');
    })
    .command(
      'migrate',
      'Create the database or bring its tables up to date',
      (y) => y,
      (args) => {
        openDatabase({ path: args.db }).close();
        console.log(`${args.db}: schema up to date`);
      },
    )
    .command(
      'status',
      'Show each stream: cursor, last event, counts, dead letters, gaps',
      (y) => y.option('json', { type: 'boolean', default: false, describe: 'Print JSON for programs' }),
      (args) => {
        const sink = openDatabaseReadOnly(args.db);
        try {
          const status = readStatus(sink);
          console.log(args.json ? JSON.stringify(status, null, 2) : formatStatus(status));
        } finally {
          sink.close();
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
        const sink = openDatabaseReadOnly(args.db);
        try {
          const statement = prepareQuery(sink.sqlite, args.sql);
          console.log(formatRows(statement.all() as Record<string, unknown>[], args.format, statement.columns().map((c) => c.name)));
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
        const writable = openDatabase({ path: args.db, mustExist: true });
        try {
          assertNotLeased(writable, args.stream);
          resetStream(writable, args.stream);
          console.log(`stream "${args.stream}" reset: the next ingest starts from its --since, or from now`);
        } finally {
          writable.close();
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
      cursor: s.cursor,
    })),
    'table',
  );
}

/** Runs the CLI and returns the exit code (the process is not exited here, so tests can call it). */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildCli(argv).parseAsync();
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof SinkError) {
      console.error(`sse-sink: ${error.message}`);
      return error.exitCode;
    }
    console.error(`sse-sink: ${error instanceof Error ? error.message : String(error)}`);
    return ExitCode.runtime;
  }
}
