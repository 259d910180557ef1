// The `ingest <source>` subcommands, one module per upstream.
import type { CommandModule } from 'yargs';
import { ingestAuth0Command } from './ingest-auth0.js';
import { ingestSanityCommand } from './ingest-sanity.js';

export const ingestCommands: CommandModule<{ db: string }, any>[] = [ingestAuth0Command, ingestSanityCommand];
