// `sse-sink query <sql>` and `sse-sink export`: reading the database without ever changing it.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Argv } from 'yargs';
import { UsageError } from '../../common/errors.js';
import { canonicalTime } from '../../common/time.js';
import { openReadableStore, withStore } from '../../store/open-store.js';
import { formatRows, type OutputFormat } from '../format.js';
import { dbOf, type GlobalArgs } from '../global-args.js';

export function queryCommand<T extends GlobalArgs>(yargs: Argv<T>) {
  return yargs.command(
    'query <sql>',
    'Run one read-only SQL statement and print the rows',
    (y) =>
      y
        .positional('sql', { type: 'string', demandOption: true, describe: 'The SQL statement' })
        .option('format', { choices: ['table', 'json', 'csv'] as const, default: 'table' as OutputFormat, describe: 'Output format' }),
    async (args) => {
      const { columns, rows } = await withStore(openReadableStore(dbOf(args)), (store) => store.query(args.sql));
      console.log(formatRows(rows, args.format, columns));
    },
  );
}

export function exportCommand<T extends GlobalArgs>(yargs: Argv<T>) {
  return yargs.command(
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
      await withStore(openReadableStore(dbOf(args)), async (store) => {
        const lines = store.exportEvents({ stream: args.stream, since, until, types: args.type });
        await pipeline(Readable.from(withNewlines(lines)), process.stdout);
      });
    },
  );
}

async function* withNewlines(lines: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const line of lines) yield `${line}\n`;
}

function optionalTime(value: string | undefined, flag: string): string | null {
  if (value === undefined) return null;
  const time = canonicalTime(value);
  if (!time) throw new UsageError(`${flag} "${value}" is not an RFC-3339 time; write e.g. 2026-01-31T00:00:00Z`);
  return time;
}
