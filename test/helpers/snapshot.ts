// What the snapshot tests of both sources do alike: SIGKILL an ingester again and again while its
// snapshot is read, and watch `status` while a run goes on.
import { expect } from 'vitest';
import { openReadableStore, withStore } from '../../src/store/open-store.js';
import type { TestDatabase } from './backends.js';
import { collect, spawnCli } from './cli.js';

export interface KillPlan {
  args: string[];
  env: Record<string, string | undefined>;
  /** Requests the upstream has answered so far (query pages, Management API calls). */
  requests: () => number;
  /** How many more requests each run makes before it is killed: from `least`, plus up to `spread` - 1. */
  least: number;
  spread: number;
  random: () => number;
  /** Called once each run is started (e.g. to begin publishing changes). */
  onStarted?: () => void;
}

/**
 * Runs the command and SIGKILLs it after a few more upstream requests, until 20 runs were killed
 * while the stream's snapshot was `running` (at most 40 runs); after each, nothing is doubled.
 */
export async function killDuringSnapshot(db: TestDatabase, stream: string, plan: KillPlan): Promise<number> {
  let killedMidSnapshot = 0;
  for (let round = 0; killedMidSnapshot < 20 && round < 40; round++) {
    const child = spawnCli(plan.args, plan.env);
    const done = collect(child);
    // Killed after a few more requests: always inside the snapshot's reading.
    const before = plan.requests();
    const more = plan.least + Math.floor(plan.random() * plan.spread);
    const deadline = Date.now() + 20_000;
    while (plan.requests() < before + more && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
    plan.onStarted?.();
    child.kill('SIGKILL');
    const result = await done;
    expect(result.signal, result.stderr).toBe('SIGKILL');
    const [snapshot] = await db.rows<{ status: string }>(`SELECT status FROM snapshots WHERE stream = '${stream}'`);
    if (snapshot?.status === 'running') killedMidSnapshot++;
    expect(await db.rows(`SELECT event_id FROM events WHERE stream = '${stream}' GROUP BY event_id HAVING count(*) > 1`)).toEqual([]);
  }
  return killedMidSnapshot;
}

/** The states `status` showed for a stream, polled every 50 ms until `run` settles; and its result. */
export async function statesWhile<T>(db: TestDatabase, stream: string, run: Promise<T>): Promise<{ states: Set<string>; result: T }> {
  let ended = false;
  void run.then(() => (ended = true), () => (ended = true));
  const states = new Set<string>();
  while (!ended) {
    const status = (await withStore(openReadableStore(db.target), (store) => store.status())).find((s) => s.name === stream);
    if (status) states.add(status.state);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { states, result: await run };
}
