// The `ingest <source>` subcommands, one module per upstream.
import type { CommandModule } from 'yargs';

export const ingestCommands: CommandModule<{ db: string }, any>[] = [];
