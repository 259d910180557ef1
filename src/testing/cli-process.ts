// The built CLI as a child process for the fault harness and the soak: a clean environment, and
// only the tail of stderr kept, so that a long run does not hold every log line.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last 8 KB of stderr: enough for the error, bounded over a long run. */
  stderrTail: string;
}

export function spawnCli(cliPath: string, args: string[], env: Record<string, string | undefined>): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: 'pipe' });
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

