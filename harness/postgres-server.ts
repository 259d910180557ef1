// A throw-away PostgreSQL server for the tests and benchmarks: harness/postgres-process.ts in a
// child process (built by npm run build:tools), stopped when this process closes its stdin.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { builtHarnessPath } from './cli-process.js';

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres, without the password. */
  url: string;
  password: string;
  port: number;
  /** Stops the server and deletes its files. */
  stop(): Promise<void>;
  /** Stops it, keeps it down `downMs`, and starts it again on the same files (a database restart). */
  restart(downMs?: number): Promise<void>;
}

export async function startTestPostgres({ durable = false } = {}): Promise<TestPostgres> {
  const child = spawn(process.execPath, [builtHarnessPath('postgres-process'), ...(durable ? ['--durable'] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await Promise.race([
    iterator.next(),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the test PostgreSQL did not start (exit ${code}); is build/harness built (npm run build:tools)?`);
    }),
  ]);
  const { url, password, port } = JSON.parse((first as IteratorResult<string>).value) as { url: string; password: string; port: number };
  return {
    url,
    password,
    port,
    stop: async () => {
      const exited = once(child, 'exit');
      child.stdin.end();
      await exited;
    },
    restart: async (downMs = 0) => {
      child.stdin.write(`restart ${downMs}\n`);
      while (!(await iterator.next()).value?.includes('restarted'));
    },
  };
}

/**
 * A plain node-postgres client of a test server. Built from the URL's fields: given the URL as
 * connectionString, node-postgres would let its empty password win over `password`.
 */
export function pgClient(url: string, password: string, schema?: string): pg.Client {
  const { password: _none, ...fromUrl } = parse(url);
  return new pg.Client({ ...(fromUrl as pg.ClientConfig), password, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
}
