// Runs the built sse-sink binary as a real child process, as users and cron do.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A fresh folder for a test's database and files. */
export function tempDir(prefix = 'sse-sink-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Starts the CLI; the environment is the test's own plus `env`, never the caller's secrets by accident. */
export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [cliPath, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: 'pipe',
  });
}

/** Waits for a spawned CLI to exit and collects its output. */
export function collect(child: ChildProcessWithoutNullStreams): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const child = spawnCli(args, env);
  child.stdin.end();
  return collect(child);
}
