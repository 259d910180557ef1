import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { UpstreamStopError } from '../src/common/errors.js';
import { runIngestOnFile, type FileIngestOptions } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import type { NormalizeResult } from '../src/core/change.js';
import type { ReadContext, Source } from '../src/core/source.js';
import type { SourceEvent } from '../src/core/source-event.js';
import type { ConnectionEvent } from '../src/core/connection-event.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { builtHarnessPath } from '../harness/cli-process.js';
import { tempDir } from './helpers/cli.js';
import { backends, rowsIn } from './helpers/backends.js';
import type { StoreTarget } from '../src/store/open-store.js';
import { userChange } from './helpers/store.js';

const silent = createLogger({ write: () => {} });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function event(i: number): SourceEvent {
  return { kind: 'event', frameEvent: 'user.updated', data: JSON.stringify({ i }), cursor: `c${i}` };
}

type ScriptStep = SourceEvent | { pause: number } | { fail: Error } | { connection: ConnectionEvent };

/** A source that reports a connection open, plays `script` (events, heartbeats, pauses), then idles until aborted. */
function scriptedSource(script: ScriptStep[], idleForever = true): Source {
  return {
    kind: 'auth0',
    definition: { scripted: true },
    async *read({ signal, onConnectionEvent }: ReadContext) {
      onConnectionEvent?.({ type: 'open', attempt: 0, status: 200 });
      for (const step of script) {
        if (signal.aborted) return;
        if ('pause' in step) await sleep(step.pause);
        else if ('fail' in step) throw step.fail;
        else if ('connection' in step) onConnectionEvent?.(step.connection);
        else yield step;
      }
      while (idleForever && !signal.aborted) await sleep(5);
    },
    normalize(item): NormalizeResult {
      const { i } = JSON.parse(item.data) as { i: number };
      if (i < 0) return { error: 'negative events are not allowed' };
      return userChange(`evt_${i}`, `u${i % 10}`, `2026-01-01T00:00:00.${String(i).padStart(6, '0')}Z`);
    },
  };
}

function readSqlite(path: string) {
  const sqlite = new Database(path, { readonly: true });
  const result = {
    events: (sqlite.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n,
    stream: sqlite.prepare('SELECT cursor, state, state_reason, lease_owner FROM streams').get(),
  };
  sqlite.close();
  return result;
}

describe.each(backends)('ingest runner on $name', (backend) => {
  function options(source: Source, extra: Omit<Partial<FileIngestOptions>, 'dbPath'> = {}): FileIngestOptions & { dbPath: StoreTarget } {
    return { stream: 's', source, log: silent, ...extra, dbPath: backend.fresh().target };
  }

  async function readDb(target: StoreTarget) {
    const [{ n: events }] = await rowsIn<{ n: number }>(target, 'SELECT count(*) AS n FROM events');
    const [stream] = await rowsIn(target, 'SELECT cursor, state, state_reason, lease_owner FROM streams');
    const deadLetters = await rowsIn(target, 'SELECT reason, cursor FROM dead_letters');
    return { events, stream, deadLetters };
  }

  it('closes batches at the size limit and commits the rest at the end', async () => {
    const sizes: number[] = [];
    const opts = options(scriptedSource(Array.from({ length: 1200 }, (_, i) => event(i)), false), {
      batchSize: 500,
      onCommit: (result) => sizes.push(result.inserted),
    });
    const summary = await runIngestOnFile(opts);
    expect(summary).toMatchObject({ stopReason: 'upstream-ended', received: 1200, inserted: 1200 });
    expect(sizes).toEqual([500, 500, 200]);
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 1200, stream: { cursor: 'c1199', state: 'stopped', lease_owner: null } });
  });

  it('commits a batch once it is old enough, without waiting for it to fill', async () => {
    const opts = options(scriptedSource([event(1), { pause: 400 }, event(2)]), { batchAgeMs: 50, maxEvents: 2 });
    const run = runIngestOnFile(opts);
    await sleep(300);
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 1, stream: { cursor: 'c1' } });
    await run;
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 2, stream: { cursor: 'c2' } });
  });

  it('advances the cursor on heartbeats alone, committing them at most once per interval', async () => {
    const heartbeats: SourceEvent[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'heartbeat', cursor: `h${i}` }));
    let commits = 0;
    const opts = options(scriptedSource(heartbeats.flatMap((h) => [h, { pause: 5 }]), false), {
      heartbeatFlushMs: 10_000,
      onCommit: () => commits++,
    });
    const summary = await runIngestOnFile(opts);
    expect(summary.received).toBe(0);
    expect(commits).toBe(1);
    expect((await readDb(opts.dbPath)).stream).toMatchObject({ cursor: 'h39' });
  });

  it('--until-idle ends the run when only heartbeats arrive', async () => {
    const opts = options(scriptedSource([event(1), event(2), { kind: 'heartbeat', cursor: 'h1' }]), { untilIdleMs: 200 });
    const summary = await runIngestOnFile(opts);
    expect(summary).toMatchObject({ stopReason: 'until-idle', inserted: 2 });
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 2, stream: { cursor: 'h1', state_reason: 'until-idle' } });
  });

  it('--until-idle does not count time spent disconnected or waiting to reconnect', async () => {
    const retrying: ConnectionEvent = { type: 'retrying', attempt: 1, delayMs: 600, status: 503, reason: 'HTTP 503' };
    const opts = options(
      scriptedSource([event(1), { connection: retrying }, { pause: 600 }, { connection: { type: 'open', attempt: 1, status: 200 } }, event(2)]),
      { untilIdleMs: 200 },
    );
    const summary = await runIngestOnFile(opts);
    // Had the 600 ms wait counted, the run would have stopped before event 2.
    expect(summary).toMatchObject({ stopReason: 'until-idle', inserted: 2 });
  });

  it('--until-idle adds up idle time over connections that open and fail with nothing to send', async () => {
    const closed: ConnectionEvent = { type: 'closed', reason: 'network-error', error: new Error('socket hang up') };
    const reopened: ConnectionEvent = { type: 'open', attempt: 1, status: 200 };
    const script: ScriptStep[] = [event(1)];
    for (let i = 0; i < 20; i++) script.push({ pause: 80 }, { connection: closed }, { connection: reopened });
    script.push(event(2));
    const summary = await runIngestOnFile(options(scriptedSource(script), { untilIdleMs: 300 }));
    // Each connection is idle for 80 ms: the fourth one passes 300 ms, long before event 2.
    expect(summary).toMatchObject({ stopReason: 'until-idle', inserted: 1 });
  });

  it('does not end a batch inside an upstream transaction', async () => {
    const inTransaction = (i: number, more: boolean): SourceEvent => ({ ...event(i), moreInTransaction: more || undefined } as SourceEvent);
    const script = [inTransaction(1, true), inTransaction(2, true), inTransaction(3, false), inTransaction(4, true), inTransaction(5, false)];
    const sizes: number[] = [];
    await runIngestOnFile(options(scriptedSource(script), { batchSize: 2, untilIdleMs: 300, onCommit: (_, batch) => sizes.push(batch.changes.length) }));
    // Without the rule: 2, 2, 1. Events 1-3 are one transaction, 4-5 another.
    expect(sizes).toEqual([3, 2]);
  });

  it('--max-events stops after that many events, all committed', async () => {
    const opts = options(scriptedSource(Array.from({ length: 100 }, (_, i) => event(i))), { maxEvents: 30 });
    expect(await runIngestOnFile(opts)).toMatchObject({ stopReason: 'max-events', inserted: 30 });
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 30, stream: { cursor: 'c29' } });
  });

  it('--max-duration stops on time with everything read so far committed', async () => {
    const opts = options(scriptedSource([event(1), event(2)]), { maxDurationMs: 150 });
    expect(await runIngestOnFile(opts)).toMatchObject({ stopReason: 'max-duration', inserted: 2 });
  });

  it('a signal commits the open batch and ends normally', async () => {
    const stop = new AbortController();
    const opts = options(scriptedSource([event(1), event(2)]), { signal: stop.signal, batchAgeMs: 60_000 });
    const run = runIngestOnFile(opts);
    // Once the ingester holds the stream (its store is open), the batch is still open.
    while (!(await readDb(opts.dbPath).catch(() => undefined))?.stream) await sleep(20);
    await sleep(100);
    expect((await readDb(opts.dbPath)).events).toBe(0);
    stop.abort();
    expect(await run).toMatchObject({ stopReason: 'signal', inserted: 2 });
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 2, stream: { cursor: 'c2' } });
  });

  it('dead-letters what cannot be normalized and moves the cursor past it', async () => {
    const opts = options(scriptedSource([event(1), event(-5), event(2)], false));
    await runIngestOnFile(opts);
    expect((await readDb(opts.dbPath))).toMatchObject({
      events: 2,
      stream: { cursor: 'c2' },
      deadLetters: [{ reason: 'negative events are not allowed', cursor: 'c-5' }],
    });
  });

  it('keeps what was read before the upstream said stop, then reports it', async () => {
    const opts = options(scriptedSource([event(1), event(2), { fail: new UpstreamStopError('token rejected') }]), { batchAgeMs: 60_000 });
    await expect(runIngestOnFile(opts)).rejects.toThrow(UpstreamStopError);
    expect((await readDb(opts.dbPath))).toMatchObject({ events: 2, stream: { cursor: 'c2', state: 'stopped', state_reason: 'token rejected', lease_owner: null } });
  });
});

describe('ingest runner on sqlite, locked', () => {
  /** An ingester on a fresh file with one event committed, and a second process ready to lock the file. */
  async function lockedRun(afterLock: (signal: AbortSignal) => AsyncGenerator<SourceEvent>, onLog: (msg: string) => void = () => {}) {
    const dbPath = join(tempDir(), 'sink.db');
    const store = openSqliteStore({ path: dbPath, busyTimeoutMs: 100 });
    const messages: { level: string; msg: string }[] = [];
    let lockTaken!: () => void;
    const locked = new Promise<void>((resolve) => (lockTaken = resolve));
    const source: Source = {
      ...scriptedSource([]),
      async *read({ signal }: ReadContext) {
        yield event(1);
        await locked;
        yield* afterLock(signal);
      },
    };
    const stop = new AbortController();
    const log = createLogger({
      write: (line) => {
        const message = JSON.parse(line) as { level: string; msg: string };
        messages.push(message);
        onLog(message.msg);
      },
    });
    const run = runIngestOnFile({ stream: 's', source, dbPath, store, batchAgeMs: 20, signal: stop.signal, log });
    // A failed run must fail the test at once, not leave it waiting for rows.
    const runFailed = run.then(() => new Promise<never>(() => {}));
    const until = async (check: () => boolean) => {
      while (!check()) await Promise.race([sleep(10), runFailed]);
    };
    await until(() => readSqlite(dbPath).events >= 1);

    /** A second process (as a backup tool would) holds the write lock for `ms`; resolves when it is taken. */
    async function holdLock(ms: number) {
      const holder = spawn(process.execPath, [builtHarnessPath('db-lock-holder'), dbPath, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = once(holder, 'exit');
      const [firstLine] = (await once(holder.stdout.setEncoding('utf8'), 'data')) as [string];
      expect(firstLine).toBe('locked\n');
      lockTaken();
      return { exited };
    }
    async function finish() {
      stop.abort();
      const summary = await run;
      await store.close();
      return summary;
    }
    return { dbPath, messages, holdLock, until, finish };
  }

  it('holds the batch while another process locks the database past busy_timeout, then commits it', async () => {
    const { dbPath, messages, holdLock, until, finish } = await lockedRun(async function* (signal) {
      // More than a batch: the size limit is reached while the lock is held.
      for (let i = 2; i <= 1200; i++) yield event(i);
      while (!signal.aborted) await sleep(5);
    });
    // 1.5 s: 15 busy timeouts.
    const { exited } = await holdLock(1500);
    await sleep(500);
    expect(readSqlite(dbPath).events).toBe(1);
    await exited;
    await until(() => readSqlite(dbPath).events >= 1200);
    expect(await finish()).toMatchObject({ stopReason: 'signal', received: 1200, inserted: 1200 });
    expect(readSqlite(dbPath)).toMatchObject({ events: 1200, stream: { cursor: 'c1200', state: 'stopped' } });
    expect(messages).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('locked by another process') }));
    expect(messages).toContainEqual(expect.objectContaining({ level: 'info', msg: expect.stringContaining('the held batch is committed') }));
  });

  it('commits the held batch of a stream gone quiet once the lock is gone, though the wall clock stepped back meanwhile', async () => {
    const { dbPath, holdLock, until, finish } = await lockedRun(
      async function* (signal) {
        yield event(2);
        while (!signal.aborted) await sleep(5);
      },
      (msg) => {
        // As an NTP correction would, once the first refused commit has been seen.
        if (msg.includes('locked by another process')) {
          const realNow = Date.now.bind(Date);
          vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 5000);
        }
      },
    );
    try {
      const { exited } = await holdLock(1200);
      await exited;
      await until(() => readSqlite(dbPath).events >= 2);
    } finally {
      vi.restoreAllMocks();
    }
    expect(await finish()).toMatchObject({ received: 2, inserted: 2 });
  });
});
