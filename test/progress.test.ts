// The status lines on a terminal: what one line says (pure), and how the display redraws in place,
// keeps log lines above it, and stays silent off a TTY.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { formatStatusLine, startProgress, type TerminalOut } from '../src/cli/progress.js';
import { formatDuration } from '../src/common/duration.js';
import { observeStreams } from '../src/cli/observe.js';
import { StreamStats } from '../src/ingest/stream-stats.js';
import type { CommitResult } from '../src/core/batch.js';
import { waitFor } from './helpers/auth0.js';
import { batchOf, userChange } from './helpers/store.js';

const t0 = Date.parse('2026-03-01T12:00:00Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

/** Commits `count` user.updated events, the newest having happened at `newestMs`, at time `nowMs`. */
function commit(stats: StreamStats, count: number, newestMs: number, nowMs: number, duplicates = 0): void {
  const changes = Array.from({ length: count }, (_, i) => userChange(`evt_${nowMs}_${i}`, `u${i}`, at(newestMs - (count - 1 - i) * 10)));
  const result: CommitResult = {
    inserted: count - duplicates,
    duplicates,
    deadLetters: 0,
    revisionMismatches: [],
    insertedByType: { 'user.updated': count - duplicates },
  };
  stats.recordCommit(result, batchOf(changes, `c${nowMs}`), 0.002, t0 + nowMs);
}

function terminal(isTTY: boolean, columns = 200): { out: TerminalOut; writes: string[] } {
  const writes: string[] = [];
  return { out: { isTTY, columns, write: (text: string) => writes.push(text) }, writes };
}

describe('status line', () => {
  it('shows state, events/s, total, last event time, lag and reconnects of a live stream', () => {
    const stats = new StreamStats('acme', t0);
    stats.recordConnection({ type: 'open', attempt: 0, status: 200 }, t0 + 1000);
    commit(stats, 10, 3500, 4000);
    expect(formatStatusLine(stats, t0 + 5000)).toBe('acme  live 4.0s  2.0 ev/s  10 events  last event 12:00:03Z  lag 0.5s  0 reconnects');
  });

  it('shows a running snapshot: rows read of how many, pages, and the time left at the current rate', () => {
    const stats = new StreamStats('blog', t0);
    stats.recordConnection({ type: 'open', attempt: 0, status: 200 }, t0);
    const snapshot = { kind: 'snapshot' as const, snapshotId: 1, startedAt: at(0), status: 'running' as const, finishedAt: null,
      position: 'doc-9', rowsRead: 1000, pages: 10, rowsDeleted: 0, total: 5000 };
    commit(stats, 1000, 1000, 1000);
    stats.recordCommit({ inserted: 0, duplicates: 0, deadLetters: 0, revisionMismatches: [], insertedByType: {} }, { ...batchOf([], null), snapshot }, 0.002, t0 + 1000);
    const line = formatStatusLine(stats, t0 + 2000);
    expect(line).toContain('snapshot 1: 1,000/5,000 rows, 10 pages, ~8.0s left');
    stats.recordCommit({ inserted: 0, duplicates: 0, deadLetters: 0, revisionMismatches: [], insertedByType: {} },
      { ...batchOf([], null), snapshot: { ...snapshot, status: 'finished', rowsRead: 5000 } }, 0.002, t0 + 3000);
    expect(formatStatusLine(stats, t0 + 3000)).not.toContain('snapshot');
  });

  it('says how long a stream has been retrying and why', () => {
    const stats = new StreamStats('acme', t0);
    stats.recordConnection({ type: 'open', attempt: 0, status: 200 }, t0);
    for (let attempt = 1; attempt <= 3; attempt++) {
      stats.recordConnection({ type: 'retrying', attempt, delayMs: 500, status: 500, reason: 'HTTP 500' }, t0 + 60_000 + attempt * 1000);
    }
    expect(formatStatusLine(stats, t0 + 61_000 + 12_500)).toBe(
      'acme  retrying 12s (HTTP 500)  0.0 ev/s  0 events  last event -  lag -  3 reconnects',
    );
  });

  it('measures events/s over the last ten seconds, down to zero when the stream goes quiet', () => {
    const stats = new StreamStats('acme', t0);
    for (let second = 1; second <= 30; second++) commit(stats, 100, second * 1000, second * 1000);
    expect(stats.eventsPerSecond(t0 + 30_000)).toBe(100);
    expect(stats.eventsPerSecond(t0 + 35_000)).toBe(50);
    expect(stats.eventsPerSecond(t0 + 90_000)).toBe(0);
  });

  it('shows duplicates, the date of an old event (backfill), and long lags compactly', () => {
    const stats = new StreamStats('acme', t0);
    stats.recordConnection({ type: 'open', attempt: 0, status: 200 }, t0);
    commit(stats, 1234, -3 * 86_400_000, 1000, 2);
    expect(formatStatusLine(stats, t0 + 7_200_000)).toBe(
      'acme  live 2h00m  0.0 ev/s  1,234 events (2 dup)  last event 2026-02-26 12:00:00Z  lag 3d00h  0 reconnects',
    );
  });

  it('formats durations short but precise where it matters', () => {
    expect([0, 0.44, 9.96, 12.7, 192, 3599, 7500, 90_061, 1_000_000].map(formatDuration)).toEqual([
      '0.0s',
      '0.4s',
      '9.9s',
      '12s',
      '3m12s',
      '59m59s',
      '2h05m',
      '1d01h',
      '11d13h',
    ]);
  });
});

describe('status display', () => {
  it('writes nothing when stderr is not a TTY', async () => {
    const { out, writes } = terminal(false);
    expect(startProgress({ streams: () => [new StreamStats('acme')], out, intervalMs: 5 })).toBeUndefined();

    const logs: string[] = [];
    const observation = await observeStreams({ terminal: out, logFormat: 'json', logWrite: (line) => logs.push(line) });
    observation.hooksFor('acme').log.info('connection opened');
    await sleep(30);
    await observation.close();
    expect(writes).toEqual([]);
    expect(logs).toHaveLength(1);
  });

  it('redraws one line per stream in place, cut to the terminal width', async () => {
    const { out, writes } = terminal(true, 30);
    const streams = [new StreamStats('acme'), new StreamStats('blog')];
    const display = startProgress({ streams: () => streams, out, intervalMs: 5 })!;
    expect(writes[0]).toMatch(/^acme  connecting [^\n]*\nblog  connecting [^\n]*\n$/);
    await waitFor(() => writes.length >= 3, 'two redraws');
    display.stop();
    // Back up two lines to the start of the first, erase down, draw both again.
    expect(writes[1]).toMatch(/^\r\u001b\[2A\u001b\[J(acme|blog)/);
    for (const write of writes) {
      for (const line of write.replace(/^\r\u001b\[2A\u001b\[J/, '').split('\n').slice(0, -1)) expect(line.length).toBeLessThanOrEqual(29);
    }
    const count = writes.length;
    await sleep(30);
    expect(writes).toHaveLength(count);
  });

  it('prints log lines above the status lines, which stay at the bottom', async () => {
    const { out, writes } = terminal(true);
    const observation = await observeStreams({ terminal: out, logFormat: 'json' });
    const hooks = observation.hooksFor('acme');
    hooks.onConnectionEvent({ type: 'open', attempt: 0, status: 200 });
    await observation.close();
    const logged = writes.find((write) => write.includes('connection opened'))!;
    // Nothing was drawn before the stream existed, so nothing to erase; the status line follows the log line.
    expect(logged).toMatch(/^\{"level":"info",[^\n]*"stream":"acme"[^\n]*"msg":"connection opened"\}\nacme  live /);
    expect(writes.at(-1)).toMatch(/^\r\u001b\[1A\u001b\[Jacme  live /);
  });
});
