// Copies the WAL back into the database file from a worker thread with its own connection, so a
// commit never waits for a checkpoint (inside commits they took ~17% of a Sanity ingest's time).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * The writer's own checkpoint (SQLite's auto-checkpoint) stays on as a backstop at a WAL of this
 * size, should the worker fall behind; SQLite's default (in pages), restored if the worker fails.
 */
const BACKSTOP_WAL_BYTES = 40 * 2 ** 20;
const SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/**
 * A checkpoint runs at most this often, not after every commit: pages that every commit touches
 * (index tails, hot rows) are then copied once per interval (+10-25% events/s in the benchmarks).
 */
const CHECKPOINT_INTERVAL_MS = 200;
/** close() waits this long at most for the worker to close its connection. */
const STOP_TIMEOUT_MS = 5000;

// CommonJS evaluated in the worker: no module file to locate, whether run from src/ or dist/.
// `done` is set once the worker's connection is closed (or never opened), for a synchronous stop.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const done = new Int32Array(workerData.done);
const finish = () => { Atomics.store(done, 0, 1); Atomics.notify(done, 0); };
let db;
try {
  db = new (require(workerData.betterSqlite3))(workerData.path);
} catch (error) {
  finish();
  throw error;
}
let scheduled = false;
function checkpoint() {
  scheduled = false;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // Another connection checkpointing at the same moment: the next commit asks again.
    if (error.code !== 'SQLITE_BUSY') parentPort.postMessage(error.message);
  }
}
parentPort.on('message', (message) => {
  if (message === 'stop') {
    db.close();
    finish();
    parentPort.close();
  } else if (!scheduled) {
    scheduled = true;
    setTimeout(checkpoint, workerData.intervalMs);
  }
});
`;

export class BackgroundCheckpointer {
  private worker: Worker | undefined;
  private readonly done = new Int32Array(new SharedArrayBuffer(4));

  /** `onFailure` hears once why the worker stopped; the writer then checkpoints itself again. */
  constructor(
    private readonly sqlite: Database.Database,
    path: string,
    private readonly onFailure: (message: string) => void,
  ) {
    const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, betterSqlite3, done: this.done.buffer, intervalMs: CHECKPOINT_INTERVAL_MS },
      // Its JavaScript only passes messages: a small heap keeps the thread's memory small.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    });
    this.worker.on('message', (message: string) => this.fail(`a background checkpoint failed (${message})`));
    this.worker.on('error', (error) => {
      // The thread has ended (an uncaught error, or its heap limit): stop() has nothing to wait for.
      Atomics.store(this.done, 0, 1);
      this.fail(`the checkpoint thread stopped (${error.message})`);
    });
    // After the listeners, which would otherwise keep the process alive.
    this.worker.unref();
    const pageSize = sqlite.pragma('page_size', { simple: true }) as number;
    sqlite.pragma(`wal_autocheckpoint = ${Math.ceil(BACKSTOP_WAL_BYTES / pageSize)}`);
  }

  /** After each commit: the WAL grew, copy it into the database when the worker is free. */
  walGrew(): void {
    this.worker?.postMessage('checkpoint');
  }

  /**
   * Closes the worker's connection before the caller closes the writer's, so that the writer's
   * connection is the last: its close checkpoints the whole WAL and removes it, as without a worker.
   */
  stop(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.postMessage('stop');
    Atomics.wait(this.done, 0, 0, STOP_TIMEOUT_MS);
    void worker.terminate();
  }

  private fail(reason: string): void {
    if (!this.worker) return;
    this.stop();
    this.sqlite.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT_PAGES}`);
    this.onFailure(`${reason}; the writer checkpoints the WAL itself from now on`);
  }
}
