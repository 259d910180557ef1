// The built CLI as a child process, for the tests, the fault harness and the soak: started as the
// examples' systemd unit starts it, in an environment the caller gives (never its own secrets).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../src/store/package-root.js';

/** The CLI as `npm run build` leaves it: what the package ships. */
export const builtCliPath = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

/** A harness program (crash child, lock holder) as `npm run build:tools` leaves it. */
export function builtHarnessPath(name: string): string {
  return join(packageRoot, 'build', 'harness', `${name}.js`);
}

/**
 * How the examples' systemd unit and crontab start node, and so how the harness and the soak start
 * the CLI. V8 grows its young generation to 2 x 16 MB under a steady stream, though an ingester's
 * survivors (its open batch) are small: capped at 2 x 8 MB, RSS levels out within two minutes and
 * ~13 MB lower, at no throughput cost the benchmarks can tell from noise. test/examples.test.ts
 * checks that the unit, the crontab and the README say the same.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/** Starts the CLI with exactly `env` as its environment; its stdin is closed. */
export function spawnCli(args: string[], env: Record<string, string | undefined>, cliPath = builtCliPath): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, cliPath, ...args], { env, stdio: 'pipe' });
  child.stdin.end();
  return child;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** All of stderr, or with `tailOnly` its last 8 KB: enough for the error, bounded over a long run. */
  stderr: string;
}

/** Waits for the child to exit; `tailOnly` keeps only the end of stderr and none of stdout (long runs). */
export function collect(child: ChildProcessWithoutNullStreams, { tailOnly = false } = {}): Promise<ChildResult> {
  let stdout = '';
  let stderr = '';
  if (tailOnly) child.stdout.resume();
  else child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = tailOnly ? (stderr + chunk).slice(-8192) : stderr + chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
