// The built CLI as a child process for the fault harness and the soak: a clean environment, and
// only the tail of stderr kept, so that a long run does not hold every log line.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last 8 KB of stderr: enough for the error, bounded over a long run. */
  stderrTail: string;
}

/**
 * How the examples' systemd unit and crontab start node, and so how the harness and the soak start
 * the CLI. V8 grows its young generation to 2 x 16 MB under a steady stream, though an ingester's
 * survivors (its open batch) are small: capped at 2 x 8 MB, RSS levels out within two minutes and
 * ~13 MB lower, at no throughput cost the benchmarks can tell from noise. test/examples.test.ts
 * checks that the unit, the crontab and the README say the same.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

export function spawnCli(cliPath: string, args: string[], env: Record<string, string | undefined>): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, cliPath, ...args], { env, stdio: 'pipe' });
  child.stdin.end();
  return child;
}

export function collect(child: ChildProcessWithoutNullStreams): Promise<ChildResult> {
  let stderrTail = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderrTail = (stderrTail + chunk).slice(-8192)));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stderrTail }));
  });
}

