// The sse-sink command line: parses and validates flags, then calls the stages. Every failure ends
// as one line on stderr and a documented exit code; a usage error never opens the database.
import yargs from 'yargs';
import { ExitCode, SinkError, UsageError } from '../common/errors.js';
import { explainStoreError } from '../store/open-store.js';
import { runDemo } from '../demo/run-demo.js';
import { migrateCommand, rebuildCommand, resetCommand } from './commands/maintenance.js';
import { exportCommand, queryCommand } from './commands/query.js';
import { statusCommand } from './commands/status.js';
import { DEFAULT_DB_PATH, storeTarget } from './db-path.js';
import { ingestCommand, ingestFromConfig, snapshotCommand } from './ingest-commands.js';

function buildCli(argv: string[]) {
  const cli = yargs(argv)
    .scriptName('sse-sink')
    .usage('$0 <command> [options]\n\nIngest Server-Sent-Event change streams into SQLite or PostgreSQL.')
    .option('db', {
      type: 'string',
      describe: `SQLite database file, or a postgres:// URL without its password (default $SSE_SINK_DB, else the config file's "db", else ${DEFAULT_DB_PATH})`,
      global: true,
    })
    .option('config', {
      type: 'string',
      describe: 'Config file listing streams (default $SSE_SINK_CONFIG)',
      global: true,
    })
    .option('db-schema', {
      type: 'string',
      describe: 'PostgreSQL: the schema that holds sse-sink\'s tables (default sse_sink)',
      global: true,
    })
    .option('db-password-file', {
      type: 'string',
      describe: 'PostgreSQL: read the password from this file (else $PGPASSWORD, then ~/.pgpass or $PGPASSFILE)',
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
        await runDemo({ db: storeTarget({ ...args, db: args.db ?? './demo.db' }, undefined), print: (text) => console.log(text) });
      },
    );
  return [migrateCommand, snapshotCommand, statusCommand, queryCommand, exportCommand, resetCommand, rebuildCommand]
    .reduce((y, command) => command(y), cli)
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
    console.error(`sse-sink: ${explainStoreError(error) ?? (error instanceof Error ? error.message : String(error))}`);
    return ExitCode.runtime;
  } finally {
    process.stdout.off('error', onStdoutError);
  }
}

function isClosedPipe(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EPIPE';
}
