import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { builtHarnessPath } from '../harness/cli-process.js';
import { tempDir } from './helpers/cli.js';

const child = builtHarnessPath('writer-crash-child');
const TOTAL = 30_000;

function runChild(db: string, killAfterMs?: number): Promise<NodeJS.Signals | null> {
  const process_ = spawn(process.execPath, [child, db, String(TOTAL)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  process_.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => process_.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve, reject) =>
    process_.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && signal === null) reject(new Error(`writer exited ${code}: ${stderr}`));
      else resolve(signal);
    }),
  );
}

/** The cursor must say exactly which events are committed: 0..cursor, each once, nothing after. */
function expectCursorMatchesRows(db: string): number {
  if (!existsSync(db)) return -1;
  const sqlite = new Database(db, { readonly: true });
  try {
    // A kill before the first commit may leave a database without tables or without the stream.
    const migrated = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE name = 'streams'").get() !== undefined;
    const row = migrated ? (sqlite.prepare("SELECT cursor, events_total FROM streams WHERE name = 'crash'").get() as
      { cursor: string | null; events_total: number } | undefined) : undefined;
    if (!row) return -1;
    const last = row.cursor === null ? -1 : Number(row.cursor);
    const stats = sqlite
      .prepare("SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids, max(CAST(substr(event_id, 2) AS INTEGER)) AS max_id FROM events")
      .get() as { n: number; distinct_ids: number; max_id: number | null };
    expect(stats).toEqual({ n: last + 1, distinct_ids: last + 1, max_id: last < 0 ? null : last });
    expect(row.events_total).toBe(last + 1);
    return last;
  } finally {
    sqlite.close();
  }
}

describe('crash safety of the batch writer', () => {
  it('leaves the cursor matching exactly the committed rows after SIGKILL between and during batches', async () => {
    const db = join(tempDir(), 'crash.db');
    let kills = 0;
    let progress = -1;
    for (let round = 0; round < 25; round++) {
      const signal = await runChild(db, 60 + Math.floor(Math.random() * 120));
      if (signal === 'SIGKILL') kills++;
      const last = expectCursorMatchesRows(db);
      expect(last).toBeGreaterThanOrEqual(progress);
      progress = last;
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    await runChild(db);
    expect(expectCursorMatchesRows(db)).toBe(TOTAL - 1);
    const sqlite = new Database(db, { readonly: true });
    const latest = sqlite.prepare("SELECT email FROM users WHERE user_id = 'u0'").get();
    sqlite.close();
    // u0 was last written by event 29973 (the largest multiple of 97 below 30,000).
    expect(latest).toEqual({ email: `${Math.floor((TOTAL - 1) / 97) * 97}@example.com` });
  });
});
