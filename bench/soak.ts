// `npm run soak -- --minutes N`: one ingester (`ingest --all`) under a steady 200 events/s mixed
// stream with a fault every few seconds; prints its RSS, heap and open handles every minute and
// fails when the last minute's RSS is more than 10% above minute 2's (a leak).
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { randomAuth0Script, serveAuth0Script } from '../harness/auth0-script.js';
import { collect, spawnCli } from '../harness/cli-process.js';
import { FaultyUpstream, type FaultKind, type Injection } from '../harness/fault-harness.js';
import { randomScript, SanitySimulator, seededRandom } from '../src/simulators/sanity-simulator.js';
import { startSseTestServer } from '../src/simulators/sse-server.js';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
};
const minutes = Number(flag('--minutes') ?? 10);
const seed = Number(flag('--seed') ?? 7);
const faultEveryMs = Number(flag('--fault-every') ?? 5) * 1000;
const PER_SOURCE_PER_SECOND = 100;

const random = seededRandom(seed);
const total = PER_SOURCE_PER_SECOND * 60 * minutes + 1000;
const auth0Script = randomAuth0Script({ frames: total, random: seededRandom(seed + 1) });
const sanityScript = randomScript({ seed: seed + 2, transactions: total, documents: 200, keepPublished: true });
const sim = new SanitySimulator({ keepAliveMs: 500 });
const faults = new Map<FaultKind, number>();
const delivered = (kind: FaultKind) => faults.set(kind, (faults.get(kind) ?? 0) + 1);
const auth0 = new FaultyUpstream('tenant', delivered);
const sanity = new FaultyUpstream('blog', delivered);
// 5 frames every 50 ms: 100 a second per source.
const auth0Server = await startSseTestServer(auth0.wrap(serveAuth0Script(auth0Script.entries, () => ({ framesPerTick: 5, tickMs: 50 })), () => true));
let resetArmed = false;
const sanityServer = await startSseTestServer(
  sanity.wrap(sim.handler, (path) => path.includes('/listen/'), () => {
    if (resetArmed && sim.listens.at(-1)?.greeting === 'reset') {
      resetArmed = false;
      sim.setReplayWindow(Number.POSITIVE_INFINITY);
      delivered('sanity-reset');
    }
  }),
);

const workDir = mkdtempSync(join(tmpdir(), 'sse-sink-soak-'));
const db = join(workDir, 'soak.db');
const config = join(workDir, 'sse-sink.config.json');
writeFileSync(config, JSON.stringify({
  streams: {
    tenant: { source: 'auth0', domain: 'tenant.eu.auth0.com', url: auth0Server.url, 'token-env': 'SOAK_AUTH0_TOKEN' },
    blog: { source: 'sanity', project: 'abc123', dataset: 'production', query: '*[!(_id in path("_.**"))]', 'include-result': true,
      since: '2026-03-01T00:00:00Z', url: sanityServer.url, 'token-env': 'SOAK_SANITY_TOKEN' },
  },
}));
const port = await freePort();
const child = spawnCli(['ingest', '--all', '--config', config, '--db', db, '--metrics-port', String(port), '--metrics-host', '127.0.0.1'],
  { PATH: process.env.PATH, HOME: process.env.HOME, SOAK_AUTH0_TOKEN: 'tok-soak', SOAK_SANITY_TOKEN: 'sk-soak' });
const exited = collect(child, { tailOnly: true });
let exitedEarly = false;
void exited.then(() => (exitedEarly = true));

let published = 0;
const publisher = setInterval(() => {
  const next = sanityScript.slice(published, published + 5);
  published += next.length;
  sim.publish(...next);
}, 50);

// Faults the ingester must ride out without a restart (a SIGKILL would reset the memory under test).
const kinds: (() => void)[] = [
  () => pick(auth0, sanity).replies.push({ kind: 'http-500', reply: { status: 500, body: 'soak' } }),
  () => pick(auth0, sanity).replies.push({ kind: 'http-503', reply: { status: 503, body: 'soak' } }),
  () => pick(auth0, sanity).replies.push({ kind: 'http-429-retry-after', reply: { status: 429, headers: { 'retry-after': '1' }, body: 'soak' } }),
  () => injectInto(pick(auth0, sanity), 'drop-mid-frame'),
  () => injectInto(pick(auth0, sanity), 'stall', 2000),
  () => injectInto(pick(auth0, sanity), 'garbage'),
  () => injectInto(pick(auth0, sanity), 'invalid-utf8'),
  () => injectInto(sanity, 'duplicate'),
  () => injectInto(auth0, 'connection-timeout'),
  () => {
    sim.setReplayWindow(-1);
    resetArmed = true;
    injectInto(sanity, 'sanity-reset');
  },
];
const faulter = setInterval(() => {
  kinds[Math.floor(random() * kinds.length)]();
  // 500/503/429 wait for a reconnect: drop a connection now and then so that they are met.
  if (random() < 0.3) injectInto(pick(auth0, sanity), 'drop-mid-frame');
}, faultEveryMs);

console.log(`sse-sink soak: ${minutes} min, ${2 * PER_SOURCE_PER_SECOND} events/s (Auth0 + Sanity), a fault every ${faultEveryMs / 1000} s, seed ${seed}`);
const rssByMinute: number[] = [];
const started = Date.now();
for (let minute = 1; minute <= minutes && !exitedEarly; minute++) {
  // RSS swings with garbage collection by tens of MB: a minute is judged by the median of its samples.
  const samples: number[] = [];
  while (Date.now() - started < minute * 60_000 && !exitedEarly) {
    await sleep(Math.min(5000, Math.max(0, minute * 60_000 - (Date.now() - started))));
    if (!exitedEarly) samples.push((await scrape(port)).process_resident_memory_bytes / 2 ** 20);
  }
  if (exitedEarly) break;
  const metrics = await scrape(port);
  const rssMb = median(samples);
  rssByMinute.push(rssMb);
  const rows = countRows(db);
  const faultText = [...faults].map(([kind, n]) => `${kind} ${n}`).join(', ');
  console.log(`minute ${minute}: rss ${rssMb.toFixed(1)} MB (median of ${samples.length}; ${Math.min(...samples).toFixed(0)}-${Math.max(...samples).toFixed(0)}), ` +
    `heap used ${(metrics.nodejs_heap_size_used_bytes / 2 ** 20).toFixed(1)} MB of ${(metrics.nodejs_heap_size_total_bytes / 2 ** 20).toFixed(1)}, ` +
    `external ${(metrics.nodejs_external_memory_bytes / 2 ** 20).toFixed(1)} MB, handles ${metrics.nodejs_active_handles_total}, ` +
    `events ${rows.events}, mutations ${rows.mutations} | faults: ${faultText}`);
}
clearInterval(faulter);
clearInterval(publisher);
const diedEarly = exitedEarly;
child.kill('SIGTERM');
const result = await exited;
await Promise.all([auth0Server.close(), (sim.close(), sanityServer.close())]);

let failed = false;
if (diedEarly) {
  console.log(`FAIL the ingester exited by itself (code ${result.code}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  failed = true;
} else if (result.code !== 0) {
  console.log(`FAIL SIGTERM should end the ingester with exit 0, not ${result.code ?? result.signal}`);
  failed = true;
}
if (rssByMinute.length >= 3) {
  const growth = rssByMinute.at(-1)! / rssByMinute[1] - 1;
  const verdict = growth <= 0.1 ? 'ok' : 'FAIL';
  if (growth > 0.1) failed = true;
  console.log(`${verdict} RSS in the last minute ${rssByMinute.at(-1)!.toFixed(1)} MB vs ${rssByMinute[1].toFixed(1)} MB in minute 2 (medians): ${(growth * 100).toFixed(1)}% (limit +10%)`);
} else {
  console.log('RSS check needs --minutes 3 or more (it compares the end with minute 2)');
}
if (!failed) rmSync(workDir, { recursive: true, force: true });
else console.log(`database kept: ${db}`);
process.exitCode = failed ? 1 : 0;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
}

function pick<T>(a: T, b: T): T {
  return random() < 0.5 ? a : b;
}

function injectInto(upstream: FaultyUpstream, kind: Injection['kind'], ms = 0): void {
  upstream.injections.push({ kind, ms });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function scrape(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (match && !(match[1] in values)) values[match[1]] = Number(match[2]);
  }
  return values;
}

function countRows(path: string): { events: number; mutations: number } {
  const sqlite = new Database(path, { readonly: true });
  try {
    const events = (sqlite.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    const mutations = (sqlite.prepare('SELECT count(*) AS n FROM document_mutations').get() as { n: number }).n;
    return { events, mutations };
  } finally {
    sqlite.close();
  }
}
