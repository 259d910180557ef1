import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BackgroundCheckpointer } from '../src/store/sqlite/checkpointer.js';
import { openDatabase } from '../src/store/sqlite/database.js';
import { tempDir } from './helpers/cli.js';
import { batchOf, openTestStream, userChange } from './helpers/store.js';

/** ~8 MB of history: well under the writer's own 40 MB auto-checkpoint, so only the worker copies it. */
function commitEightMegabytes(commit: (batch: ReturnType<typeof batchOf>) => void): void {
  const padding = 'p'.repeat(4000);
  for (let b = 0; b < 20; b++) {
    const changes = Array.from({ length: 100 }, (_, i) => {
      const n = b * 100 + i;
      const change = userChange(`evt_${n}`, `u${n % 50}`, `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}.000000Z`);
      return { ...change, history: { ...change.history, payload: JSON.stringify({ n, padding }) } };
    });
    commit(batchOf(changes, `c${b}`));
  }
}

async function waitFor(condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !condition(); i++) await sleep(50);
  return condition();
}

describe('background checkpoints', () => {
  it('copy committed batches into the database file while the ingester runs, and close leaves no WAL', async () => {
    const failures: string[] = [];
    const { sink, writer, path } = openTestStream('test', join(tempDir(), 'sink.db'), {
      backgroundCheckpoints: { onFailure: (message) => failures.push(message) },
    });
    const sizeBefore = statSync(path).size;
    commitEightMegabytes((batch) => writer.commit(batch));
    // The writer has not checkpointed (its threshold is 40 MB): the file grows only if the worker did.
    expect(await waitFor(() => statSync(path).size > sizeBefore + 8_000_000)).toBe(true);
    sink.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(failures).toEqual([]);
    const reopened = openDatabase({ path });
    expect(reopened.sqlite.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 2000 });
    reopened.close();
  });

  it('without them the same commits stay in the WAL until the writer checkpoints', () => {
    const { sink, writer, path } = openTestStream('test', join(tempDir(), 'sink.db'));
    sink.sqlite.pragma('wal_autocheckpoint = 10000');
    const sizeBefore = statSync(path).size;
    commitEightMegabytes((batch) => writer.commit(batch));
    expect(statSync(path).size).toBe(sizeBefore);
    sink.close();
  });

  it('hand checkpoints back to the writer, saying why, when the worker cannot open the database', async () => {
    const sink = openDatabase({ path: join(tempDir(), 'sink.db') });
    const failures: string[] = [];
    new BackgroundCheckpointer(sink.sqlite, join(tempDir(), 'no-such-folder', 'sink.db'), (message) => failures.push(message));
    // 40 MB of WAL in pages of 16 KB.
    expect(sink.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(2560);
    expect(await waitFor(() => failures.length > 0)).toBe(true);
    expect(failures).toEqual([expect.stringMatching(/^the checkpoint thread stopped \(.*directory does not exist.*\); the writer checkpoints the WAL itself from now on$/)]);
    expect(sink.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    sink.close();
  });
});
