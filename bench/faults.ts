// `npm run faults`: the fault harness's long mode (100 SIGKILLs per source and twenty of every other
// fault), or `-- --short`; `-- --seed N` replays a run; `-- --db postgres` runs it against a
// PostgreSQL server of its own, with its faults. Prints one line per fault kind; exit 1 on any loss.
import { formatTallies, longFaultRun, runFaultHarness, shortFaultRun } from '../harness/fault-harness.js';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
};
const seed = Number(flag('--seed') ?? Date.now() % 1_000_000);
const db = flag('--db') ?? 'sqlite';
if (db !== 'sqlite' && db !== 'postgres') throw new Error(`--db ${db}: write --db sqlite or --db postgres`);
const options = argv.includes('--short') ? shortFaultRun(seed, db) : longFaultRun(seed, db);
if (flag('--kills') !== undefined) options.kills = Number(flag('--kills'));
if (flag('--faults') !== undefined) options.faultsPerKind = Number(flag('--faults'));

console.log(`sse-sink faults on ${db}: seed ${seed}, ${options.kills} SIGKILLs, ${options.faultsPerKind} of each timed fault (replay with --seed ${seed})`);
const result = await runFaultHarness({ ...options, log: (line) => console.log(line) });
for (const line of formatTallies(result.tallies)) console.log(line);
for (const skipped of result.skipped) console.log(`SKIPPED ${skipped}`);
for (const problem of result.problems) console.log(`FAIL ${problem}`);
console.log(`${result.ok ? 'ok' : 'FAILED'} in ${(result.durationMs / 1000).toFixed(1)} s`);
process.exitCode = result.ok ? 0 : 1;
