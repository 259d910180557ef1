// Runs the built sse-sink binary as a real child process, as users and cron do.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtCliPath, collect, spawnCli as spawnBuiltCli, type ChildResult } from '../../harness/cli-process.js';

export { collect };
export const cliPath = builtCliPath;
export type CliResult = ChildResult;

/** A fresh folder for a test's database and files. */
export function tempDir(prefix = 'sse-sink-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts the CLI; the environment is the test's own plus `env`, never the caller's secrets by accident. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): ChildProcessWithoutNullStreams {
  return spawnBuiltCli(args, { PATH: process.env.PATH, HOME: process.env.HOME, ...env });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return collect(spawnCli(args, env));
}
