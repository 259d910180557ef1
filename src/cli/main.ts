#!/usr/bin/env node
// Entry point of the `sse-sink` binary.
import { hideBin } from 'yargs/helpers';
import { runCli } from './cli.js';

process.exitCode = await runCli(hideBin(process.argv));
