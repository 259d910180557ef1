// The fault harness's short mode: the real CLI, both sources in one process, a handful of every
// fault at seeded moments; the database must end exactly as the scripts say. FAULTS_SEED replays a
// run. On PostgreSQL the harness starts a server of its own: it restarts it under the ingester.
import { describe, expect, it } from 'vitest';
import { faultKindsFor, formatTallies, runFaultHarness, shortFaultRun } from '../harness/fault-harness.js';

const SEED = Number(process.env.FAULTS_SEED ?? 20261123);

describe.each(['sqlite', 'postgres'] as const)(`sse-sink ingest --all on %s under injected faults (seed ${SEED})`, (db) => {
  it('survives every fault kind and ends with every row stored exactly once', async () => {
    const result = await runFaultHarness(shortFaultRun(SEED, db));
    const report = [...formatTallies(result.tallies), ...result.problems].join('\n');
    expect(result.problems, report).toEqual([]);
    expect(result.tallies.map((t) => t.kind)).toEqual(faultKindsFor(db));
    // Disk full needs a tmpfs mount (root); elsewhere the harness says it skipped it.
    const skipped = new Set(result.skipped.map((line) => line.split(':')[0]));
    for (const tally of result.tallies.filter((t) => !skipped.has(t.kind))) {
      expect(tally.injected, `${tally.kind}\n${report}`).toBeGreaterThan(0);
      expect(tally, report).toEqual({ kind: tally.kind, injected: tally.injected, survived: tally.injected, lost: 0, doubled: 0 });
    }
    expect(result.ok).toBe(true);
  }, 150_000);
});
