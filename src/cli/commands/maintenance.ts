// `sse-sink migrate`, `reset` and `rebuild`: the commands that change a database outside ingesting.
import type { Argv } from 'yargs';
import { UsageError } from '../../common/errors.js';
import type { RebuildReport } from '../../core/store.js';
import { openStore, withStore } from '../../store/open-store.js';
import { dbOf, type GlobalArgs } from '../global-args.js';
import { storedEventNormalizer } from '../ingest-commands.js';

export function migrateCommand<T extends GlobalArgs>(yargs: Argv<T>) {
  return yargs.command(
    'migrate',
    'Create the database or bring its tables up to date',
    (y) => y,
    async (args) => {
      const description = await withStore(openStore(dbOf(args)), async (store) => store.description);
      console.log(`${description}: schema up to date`);
    },
  );
}

export function resetCommand<T extends GlobalArgs>(yargs: Argv<T>) {
  return yargs.command(
    'reset <stream>',
    'Forget a stream\'s cursor and definition so it starts again (history is kept)',
    (y) =>
      y
        .positional('stream', { type: 'string', demandOption: true, describe: 'The stream name' })
        .option('yes', { type: 'boolean', default: false, describe: 'Confirm the reset' }),
    async (args) => {
      if (!args.yes) {
        throw new UsageError(`reset forgets where "${args.stream}" stands upstream; add --yes to confirm`);
      }
      await withStore(openStore(dbOf(args), { mustExist: true }), (store) => store.reset(args.stream));
      console.log(`stream "${args.stream}" reset: the next ingest starts from its --since, or from now`);
    },
  );
}

export function rebuildCommand<T extends GlobalArgs>(yargs: Argv<T>) {
  return yargs.command(
    'rebuild <stream>',
    'Recompute the stream\'s tables (users, documents, …) from its history log, in one transaction, and report what changed',
    (y) => y.positional('stream', { type: 'string', demandOption: true, describe: 'The stream name' }),
    async (args) => {
      const report = await withStore(openStore(dbOf(args), { mustExist: true }), (store) => store.rebuild(args.stream, storedEventNormalizer));
      console.log(formatRebuild(args.stream, report));
    },
  );
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
