// The fault harness: runs the real CLI (`ingest --all`, an Auth0 and a Sanity stream in one process)
// against both simulators, injects seeded faults, and compares the database with the scripts' truth.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorFrame, offsetAt, type Pace } from '../src/simulators/auth0-simulator.js';
import { randomAuth0Script, serveAuth0Script, type Auth0Script } from './auth0-script.js';
import { expectedDocuments, expectedMutations, readSanityTablesFrom, withParsedJson, type Row } from './sanity-expected.js';
import { randomScript, SanitySimulator, seededRandom } from '../src/simulators/sanity-simulator.js';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { collect, spawnCli, type ChildResult } from './cli-process.js';
import { runDiskFullFault } from './disk-full.js';
import { FAULTS_STATEMENT_TIMEOUT_MS, openFaultDatabase, type DatabaseFaultKind, type DatabaseKind, type FaultDatabase } from './fault-database.js';
import { encodeFrame, startSseTestServer, type Handler, type Reply, type ScriptStep, type SseTestServer } from '../src/simulators/sse-server.js';

export const FAULT_KINDS = [
  'sigkill',
  'http-500',
  'http-503',
  'http-429-retry-after',
  'drop-mid-frame',
  'stall',
  'garbage',
  'invalid-utf8',
  'oversize-frame',
  'duplicate',
  'out-of-order',
  'connection-timeout',
  'sanity-reset',
  'history-error-line',
  'history-429',
  'history-500',
  'history-page-cap',
  'db-locked',
  'db-restart',
  'db-connection-killed',
  'db-deadlock',
  'disk-full',
  'failover',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** A standby needs PostgreSQL (SQLite refuses --standby), as do the server's own faults. */
const POSTGRES_ONLY: readonly FaultKind[] = ['db-restart', 'db-connection-killed', 'db-deadlock', 'failover'];

/** The kinds a run against this database injects. */
export function faultKindsFor(db: DatabaseKind): FaultKind[] {
  return FAULT_KINDS.filter((kind) => db === 'postgres' || !POSTGRES_ONLY.includes(kind));
}
export type StreamName = 'tenant' | 'blog';

export interface FaultTally {
  kind: FaultKind;
  injected: number;
  /** Injected while an ingester ran that went on (or was killed by the harness), never exiting by itself. */
  survived: number;
  /** Rows missing, or stored more than once, in the streams this kind was injected into. */
  lost: number;
  doubled: number;
}

export interface FaultHarnessOptions {
  seed: number;
  /** The database the ingester writes; PostgreSQL is a throw-away server of the harness's own. */
  db: DatabaseKind;
  /** SIGKILLs of the ingester (both streams at once: one process). */
  kills: number;
  /** How many of each fault the harness times (all but SIGKILL and the faults written into the Auth0 script). */
  faultsPerKind: number;
  auth0Frames: number;
  sanityTransactions: number;
  /** Auth0 frames of 20 MB, over the --max-frame-bytes the ingester runs with. */
  oversizeFrames: number;
  auth0Pace: Pace;
  /** Sanity transactions published every 10 ms while the rounds run. */
  sanityPerTick: number;
  /** How long each ingester lives before its SIGKILL, after both streams connected. */
  roundMs: [number, number];
  log?: (line: string) => void;
}

export interface FaultHarnessResult {
  ok: boolean;
  seed: number;
  tallies: FaultTally[];
  /** Everything that went wrong, one line each; empty when ok. */
  problems: string[];
  /** Faults this machine could not inject (disk-full needs root for a tmpfs), with the reason. */
  skipped: string[];
  durationMs: number;
}

/** A handful of each fault, for `npm test`: about 20 s. */
export function shortFaultRun(seed: number, db: DatabaseKind = 'sqlite'): FaultHarnessOptions {
  return {
    seed, db, kills: 8, faultsPerKind: 2, auth0Frames: 4000, sanityTransactions: 1500, oversizeFrames: 1,
    auth0Pace: { framesPerTick: 4, tickMs: 10 }, sanityPerTick: 1, roundMs: [300, 1200],
  };
}

/** `npm run faults`: 100 SIGKILLs per source, twenty of each other fault. */
export function longFaultRun(seed: number, db: DatabaseKind = 'sqlite'): FaultHarnessOptions {
  return {
    seed, db, kills: 100, faultsPerKind: 20, auth0Frames: 60_000, sanityTransactions: 30_000, oversizeFrames: 3,
    auth0Pace: { framesPerTick: 2, tickMs: 10 }, sanityPerTick: 1, roundMs: [300, 1500],
  };
}

/** One fault of the seeded schedule: in which ingester's life, when, and where. */
interface TimedFault {
  round: number;
  atMs: number;
  kind: FaultKind;
  target: 'auth0' | 'sanity' | 'db' | 'ingester';
  /** Stall, lock or outage length. */
  ms: number;
}

/** Stream-level faults an upstream plays into its open (or next) connection. */
export type Injection = { kind: 'drop-mid-frame' | 'stall' | 'garbage' | 'invalid-utf8' | 'duplicate' | 'connection-timeout' | 'sanity-reset'; ms: number };

/** What the ingester runs with: a 20 MB frame is over the limit, a stall of 0.75-2 s over the timeout. */
const FAULTS_MAX_FRAME_BYTES = 16 * 1024 * 1024;
const FAULTS_IDLE_TIMEOUT_S = 0.5;
/** How long a round lives on after a database fault that is over: the held batch must commit. */
const RECOVERY_MS = 2500;

const SANITY_OPTIONS = { includeResult: true, includePreviousRevision: false };
const LF = 0x0a;

/** The faults each ingester's life saw; they survived if it ended by the harness's hand. */
interface Life {
  delivered: { kind: FaultKind; stream: StreamName | 'both' }[];
  ended: boolean;
}

/** Wraps an upstream's handler: refusals for its next connections, and injections into its streams. */
export class FaultyUpstream {
  readonly replies: { kind: FaultKind; reply: Reply }[] = [];
  readonly injections: Injection[] = [];
  constructor(
    private readonly stream: StreamName,
    private readonly delivered: (kind: FaultKind, stream: StreamName) => void,
  ) {}

  wrap(handler: Handler, isStream: (path: string) => boolean, afterConnect: () => void = () => {}): Handler {
    return async (req, index) => {
      if (!isStream(req.path)) return handler(req, index);
      const refusal = this.replies.shift();
      if (refusal) {
        this.delivered(refusal.kind, this.stream);
        return refusal.reply;
      }
      const reply = await handler(req, index);
      afterConnect();
      return 'steps' in reply ? { ...reply, steps: this.inject(reply.steps) } : reply;
    };
  }

  private async *inject(steps: Iterable<ScriptStep> | AsyncIterable<ScriptStep>): AsyncGenerator<ScriptStep> {
    let lastChunk: ScriptStep | undefined;
    let lastFrameId: string | undefined;
    for await (const step of steps) {
      const content = 'frame' in step || 'raw' in step;
      for (let fault = this.injections[0]; fault; fault = this.injections[0]) {
        if (fault.kind === 'sanity-reset' && !content) {
          // Any drop makes the listener reconnect and meet the reset; a quiet stream is dropped at once.
          this.injections.shift();
          yield { destroy: true };
          return;
        }
        if (fault.kind === 'drop-mid-frame' || fault.kind === 'sanity-reset') {
          if (!content) break; // wait for a frame to cut in two
          this.injections.shift();
          if (fault.kind === 'drop-mid-frame') this.delivered(fault.kind, this.stream);
          const bytes = contentBytes(step);
          let cut = Math.max(1, Math.floor(bytes.length / 2));
          while (cut > 1 && bytes[cut - 1] === LF) cut--;
          yield { raw: bytes.subarray(0, cut) };
          yield { destroy: true };
          return;
        }
        if (fault.kind === 'duplicate' && !lastChunk) break; // nothing sent yet to send again
        this.injections.shift();
        this.delivered(fault.kind, this.stream);
        if (fault.kind === 'stall') yield { sleep: fault.ms };
        // Lines without a colon are fields nobody knows: ignored, but they must not break the parser.
        else if (fault.kind === 'garbage') yield { raw: `~garbage${'#%&*(){}[]<>?!'.repeat(1 + (fault.ms % 7))}\n~\u0001\u0002 more\n\n` };
        else if (fault.kind === 'invalid-utf8') yield { raw: Buffer.from([0x7e, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x0a, 0x7e, 0xf0, 0x28, 0x8c, 0x0a, 0x0a]) };
        else if (fault.kind === 'duplicate') yield lastChunk!;
        else if (fault.kind === 'connection-timeout') {
          yield errorFrame('connection_timeout', 'The connection timed out; reconnect', lastFrameId);
          yield { end: true };
          return;
        }
      }
      // Only whole batches of mutation frames are sent again (never a greeting).
      if ('raw' in step && this.stream === 'blog') lastChunk = step;
      if ('frame' in step && step.frame.id) lastFrameId = step.frame.id;
      yield step;
    }
  }
}

function contentBytes(step: ScriptStep): Buffer {
  if ('frame' in step) return Buffer.from(encodeFrame(step.frame));
  if ('raw' in step) return typeof step.raw === 'string' ? Buffer.from(step.raw) : Buffer.from(step.raw);
  return Buffer.alloc(0);
}

/** Runs the CLI through the seeded faults and checks the database; never throws for a failed check. */
export async function runFaultHarness(options: FaultHarnessOptions): Promise<FaultHarnessResult> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const problems: string[] = [];
  const injected = new Map<FaultKind, number>(FAULT_KINDS.map((kind) => [kind, 0]));
  const survived = new Map<FaultKind, number>(FAULT_KINDS.map((kind) => [kind, 0]));
  const targets = new Map<FaultKind, Set<StreamName>>(FAULT_KINDS.map((kind) => [kind, new Set()]));
  const lost = { tenant: 0, blog: 0 };
  const doubled = { tenant: 0, blog: 0 };
  const killViolations = { lost: 0, doubled: 0 };

  let life: Life = { delivered: [], ended: false };
  const delivered = (kind: FaultKind, stream: StreamName | 'both') => {
    injected.set(kind, injected.get(kind)! + 1);
    life.delivered.push({ kind, stream });
    for (const s of stream === 'both' ? (['tenant', 'blog'] as const) : [stream]) targets.get(kind)!.add(s);
  };

  const workDir = mkdtempSync(join(tmpdir(), 'sse-sink-faults-'));
  const database = await openFaultDatabase(options.db, workDir);
  const kinds = faultKindsFor(options.db);
  const random = seededRandom(options.seed);
  const auth0Script = randomAuth0Script({ frames: options.auth0Frames, oversizeFrames: options.oversizeFrames, random: seededRandom(options.seed + 1) });
  const positions = new Map(auth0Script.entries.map((entry, i) => [entry.offset, i]));
  const sanityScript = randomScript({ seed: options.seed + 2, transactions: options.sanityTransactions, documents: 60, keepPublished: true });
  // The History API answers as Sanity's does (403 without excludeContent, pages capped at 50); the
  // faults it is given below are counted when a catch-up meets them.
  const sim = new SanitySimulator({
    keepAliveMs: 200,
    onHistoryAnswer: (answer) => delivered(answer === 'page-capped' ? 'history-page-cap' : answer === 'error-line' ? 'history-error-line' : answer === 'http-429' ? 'history-429' : 'history-500', 'blog'),
  });

  let paced = true;
  let resetArmed = false;
  const auth0 = new FaultyUpstream('tenant', delivered);
  const sanity = new FaultyUpstream('blog', delivered);
  const servers: SseTestServer[] = [];
  /** Database faults still under way, by kind. */
  const databaseFaults = new Map<Promise<void>, DatabaseFaultKind>();
  let publisher: NodeJS.Timeout | undefined;
  try {
    const auth0Server = await startSseTestServer(auth0.wrap(serveAuth0Script(auth0Script.entries, () => (paced ? options.auth0Pace : undefined)), () => true));
    servers.push(auth0Server);
    const sanityServer = await startSseTestServer(
      sanity.wrap(sim.handler, (path) => path.includes('/listen/'), () => {
        if (resetArmed && sim.listens.at(-1)?.greeting === 'reset') {
          resetArmed = false;
          sim.setReplayWindow(Number.POSITIVE_INFINITY);
          delivered('sanity-reset', 'blog');
        }
      }),
    );
    servers.push(sanityServer);
    const sanityListens = () => sanityServer.requests.filter((r) => r.path.includes('/listen/')).length;

    const config = join(workDir, 'sse-sink.config.json');
    const limits = { 'idle-timeout': FAULTS_IDLE_TIMEOUT_S, 'max-frame-bytes': FAULTS_MAX_FRAME_BYTES };
    writeFileSync(config, JSON.stringify({
      streams: {
        tenant: { source: 'auth0', domain: 'tenant.eu.auth0.com', url: auth0Server.url, 'token-env': 'FAULTS_AUTH0_TOKEN', ...limits },
        blog: { source: 'sanity', project: 'abc123', dataset: 'production', query: '*[!(_id in path("_.**"))]', 'include-result': true,
          since: '2026-03-01T00:00:00Z', url: sanityServer.url, 'token-env': 'FAULTS_SANITY_TOKEN', ...limits },
      },
    }));
    const args = ['ingest', '--all', '--config', config, ...database.args];
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, FAULTS_AUTH0_TOKEN: 'tok-faults', FAULTS_SANITY_TOKEN: 'sk-faults', ...database.env };

    const schedule = buildSchedule(options, database.faults, random);
    let published = 0;
    const startPublishing = () => {
      publisher ??= setInterval(() => {
        const next = sanityScript.slice(published, published + options.sanityPerTick);
        published += next.length;
        sim.publish(...next);
        if (published >= sanityScript.length) clearInterval(publisher);
      }, 10);
    };

    const apply = (fault: TimedFault) => {
      if (fault.target === 'db') return injectIntoDatabase(fault);
      const upstream = fault.target === 'auth0' ? auth0 : sanity;
      if (fault.kind === 'http-500') upstream.replies.push({ kind: fault.kind, reply: { status: 500, body: 'simulated failure' } });
      else if (fault.kind === 'http-503') upstream.replies.push({ kind: fault.kind, reply: { status: 503, body: 'simulated outage' } });
      else if (fault.kind === 'http-429-retry-after') {
        upstream.replies.push({ kind: fault.kind, reply: { status: 429, headers: { 'retry-after': '1' }, body: 'slow down' } });
      } else {
        if (fault.kind === 'sanity-reset') {
          // Below zero: even a listener that missed nothing is told to start again.
          sim.setReplayWindow(-1);
          resetArmed = true;
          // The catch-up that follows meets each History fault, one after another on its first request.
          sim.injectHistoryFaults('error-line', 'http-429', 'http-500');
        }
        upstream.injections.push({ kind: fault.kind as Injection['kind'], ms: fault.ms });
      }
    };

    const injectIntoDatabase = (fault: TimedFault) => {
      const owner = life;
      const kind = fault.kind as DatabaseFaultKind;
      const injection = database.inject(kind, fault.ms, () => {
        // Counted only when it took effect while the same ingester still ran.
        if (owner === life && !owner.ended) delivered(fault.kind, 'both');
      });
      databaseFaults.set(injection, kind);
      void injection.finally(() => databaseFaults.delete(injection));
    };

    // The first catch-up (the stream's --since) meets each History fault too, besides those after resets.
    sim.injectHistoryFaults('error-line', 'http-429', 'http-500');
    for (let round = 0; round < options.kills; round++) {
      const faults = schedule.filter((f) => f.round === round);
      // Refusals are armed before the start, so that the first connections meet them.
      for (const fault of faults.filter((f) => f.atMs === 0)) apply(fault);
      life = { delivered: [], ended: false };
      const auth0Before = auth0Server.requests.length;
      const sanityBefore = sanityListens();
      let ingester = startIngester(args, env);
      const connected = Date.now();
      while (!ingester.exited && (auth0Server.requests.length === auth0Before || sanityListens() === sanityBefore)) {
        if (Date.now() - connected > 15_000) break;
        await sleep(10);
      }
      if (round === 0) startPublishing();
      const lifetime = options.roundMs[0] + random() * (options.roundMs[1] - options.roundMs[0]);
      const timers = faults.filter((f) => f.atMs > 0 && f.target !== 'ingester').map((f) => setTimeout(() => apply(f), f.atMs * lifetime));
      // A round with a database fault lives until a while after it is over: the held batch must commit.
      const lockEnds = faults.filter((f) => f.target === 'db').map((f) => f.atMs * lifetime + f.ms + (f.kind === 'db-locked' ? 1000 : RECOVERY_MS));
      let roundEnds = Date.now() + Math.max(lifetime, ...lockEnds);
      for (const fault of faults.filter((f) => f.target === 'ingester').sort((a, b) => a.atMs - b.atMs)) {
        await Promise.race([sleep(Math.max(0, connected + fault.atMs * lifetime - Date.now())), ingester.done]);
        if (ingester.exited) break;
        const handover = await failOver(ingester, args, env, database);
        if (handover.problem) problems.push(`round ${round + 1}: ${handover.problem}`);
        ingester = handover.ingester;
        if (handover.tookOver) {
          delivered('failover', 'both');
          // The standby then stores a while as the stream's owner before the round's SIGKILL.
          roundEnds = Math.max(roundEnds, Date.now() + 300);
        }
      }
      await Promise.race([sleep(Math.max(0, roundEnds - Date.now())), ingester.done]);
      // A deadlock still trying keeps the round alive until the server broke one and the batch committed.
      const deadlocks = [...databaseFaults].filter(([, kind]) => kind === 'db-deadlock').map(([injection]) => injection);
      if (deadlocks.length > 0 && !ingester.exited) {
        await Promise.race([Promise.all(deadlocks), ingester.done]);
        await Promise.race([sleep(RECOVERY_MS), ingester.done]);
      }
      timers.forEach(clearTimeout);
      ingester.child.kill('SIGKILL');
      const result = await ingester.done;
      life.ended = true;
      // A server still restarting would answer the checks with nothing.
      await Promise.all(databaseFaults.keys());
      if (result.signal === 'SIGKILL') {
        for (const { kind } of life.delivered) survived.set(kind, survived.get(kind)! + 1);
        delivered('sigkill', 'both');
        const violations = await checkAfterKill(database, auth0Script, positions, sim);
        killViolations.lost += violations.lost;
        killViolations.doubled += violations.doubled;
        problems.push(...violations.problems.map((p) => `after SIGKILL ${round + 1}: ${p}`));
        if (violations.problems.length === 0) survived.set('sigkill', survived.get('sigkill')! + 1);
      } else {
        problems.push(`round ${round + 1}: the ingester exited by itself (code ${result.code}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      }
      if ((round + 1) % 10 === 0) log(`round ${round + 1}/${options.kills}: ${auth0Server.requests.length} Auth0 connections, ${sanityListens()} Sanity listens`);
    }

    // The last run: no more faults, the whole stream unpaced, until both streams are idle.
    auth0.injections.length = 0;
    auth0.replies.length = 0;
    sanity.injections.length = 0;
    sanity.replies.length = 0;
    resetArmed = false;
    sim.setReplayWindow(Number.POSITIVE_INFINITY);
    await Promise.all(databaseFaults.keys());
    startPublishing();
    while (published < sanityScript.length) await sleep(20);
    paced = false;
    life = { delivered: [], ended: false };
    const final = await collect(spawnCli([...args, '--until-idle', '3'], env), { tailOnly: true });
    if (final.code !== 0) problems.push(`the final run exited with ${final.code ?? final.signal}: ${final.stderr.trim().split('\n').slice(-3).join(' | ')}`);

    const auth0Check = await checkAuth0(database, auth0Script);
    const sanityCheck = await checkSanity(database, sim);
    lost.tenant += auth0Check.lost;
    doubled.tenant += auth0Check.doubled;
    lost.blog += sanityCheck.lost;
    doubled.blog += sanityCheck.doubled;
    problems.push(...auth0Check.problems.map((p) => `Auth0: ${p}`), ...sanityCheck.problems.map((p) => `Sanity: ${p}`));

    // The Auth0 script's own faults were all read by the final run at the latest.
    const scriptOk = final.code === 0 && auth0Check.problems.length === 0;
    const scriptFaults: [FaultKind, number][] = [
      ['duplicate', auth0Script.counts.duplicate],
      ['out-of-order', auth0Script.counts.outOfOrder],
      ['invalid-utf8', auth0Script.counts.invalidUtf8],
      ['oversize-frame', auth0Script.counts.oversize],
    ];
    for (const [kind, count] of scriptFaults) {
      injected.set(kind, injected.get(kind)! + count);
      if (scriptOk) survived.set(kind, survived.get(kind)! + count);
      if (count > 0) targets.get(kind)!.add('tenant');
    }
    if (final.code === 0) for (const { kind } of life.delivered) survived.set(kind, survived.get(kind)! + 1);

    // Disk full has a database of its own, on a tiny tmpfs: the other streams' runs need room.
    const skipped: string[] = [];
    const diskFull = await runDiskFullFault(options.seed + 3, options.db);
    if (diskFull.skipped) skipped.push(`disk-full: ${diskFull.skipped}`);
    else log(`disk-full: the ingester stopped with: ${diskFull.message}`);
    injected.set('disk-full', diskFull.injected);
    survived.set('disk-full', diskFull.survived);
    problems.push(...diskFull.problems.map((p) => `disk-full: ${p}`));

    const tallies = kinds.map((kind): FaultTally => {
      const streams = [...targets.get(kind)!];
      const sum = (by: Record<StreamName, number>) => streams.reduce((n, s) => n + by[s], 0);
      const extra = kind === 'sigkill' ? killViolations : kind === 'disk-full' ? diskFull : { lost: 0, doubled: 0 };
      return { kind, injected: injected.get(kind)!, survived: survived.get(kind)!, lost: sum(lost) + extra.lost, doubled: sum(doubled) + extra.doubled };
    });
    for (const t of tallies) {
      if (t.injected === 0 && !(t.kind === 'disk-full' && diskFull.skipped)) problems.push(`${t.kind}: never injected`);
      else if (t.survived < t.injected) problems.push(`${t.kind}: ${t.injected - t.survived} not survived`);
    }
    const ok = problems.length === 0 && tallies.every((t) => t.lost === 0 && t.doubled === 0);
    if (ok) rmSync(workDir, { recursive: true, force: true });
    else problems.push(`database: ${database.where}`);
    return { ok, seed: options.seed, tallies, problems, skipped, durationMs: Date.now() - started };
  } finally {
    clearInterval(publisher);
    sim.close();
    await Promise.all(servers.map((server) => server.close()));
    await Promise.all(databaseFaults.keys());
    await database.close();
  }
}

/** One ingester process of a round; `exited` turns true once it is gone. */
interface Ingester {
  child: ChildProcessWithoutNullStreams;
  done: Promise<ChildResult>;
  exited: boolean;
}

function startIngester(args: string[], env: Record<string, string | undefined>): Ingester {
  const child = spawnCli(args, env);
  const ingester: Ingester = { child, done: collect(child, { tailOnly: true }), exited: false };
  void ingester.done.then(() => (ingester.exited = true));
  return ingester;
}

/** How long a standby may take to join the fleet, and then to own both streams once the owner is killed. */
const HANDOVER_TIMEOUT_MS = 15_000;

/**
 * The failover fault: a standby (`ingest --all --standby`) starts next to the owner and joins the
 * fleet, the owner is SIGKILLed, and the standby must become the owner of both streams. Returns the
 * ingester that runs the streams now.
 */
async function failOver(
  owner: Ingester,
  args: string[],
  env: Record<string, string | undefined>,
  database: FaultDatabase,
): Promise<{ ingester: Ingester; tookOver: boolean; problem?: string }> {
  const standby = startIngester([...args, '--standby'], env);
  const pid = String(standby.child.pid);
  const ownsAs = (column: string, table: string) => async () =>
    ((await database.rows<Record<string, string | null>>(`SELECT ${column} AS owner FROM ${table}`)) ?? []).filter((row) => row.owner?.split(':')[1] === pid).length;
  const exitedSaying = async (who: string, ingester: Ingester) => `${who} exited by itself: ${(await ingester.done).stderr.trim().split('\n').slice(-2).join(' | ')}`;
  if (!(await until(async () => (await ownsAs('member', 'ingesters')()) > 0, standby))) {
    standby.child.kill('SIGKILL');
    return { ingester: owner, tookOver: false, problem: standby.exited ? await exitedSaying('the standby', standby) : 'the standby never joined the fleet' };
  }
  owner.child.kill('SIGKILL');
  const killed = await owner.done;
  const problem = killed.signal === 'SIGKILL' ? undefined : await exitedSaying('the owner', owner);
  const tookOver = await until(async () => (await ownsAs('lease_owner', 'streams')()) === 2, standby);
  if (tookOver || problem) return { ingester: standby, tookOver, problem };
  return { ingester: standby, tookOver, problem: standby.exited ? await exitedSaying('the standby', standby) : `the standby did not take both streams over within ${HANDOVER_TIMEOUT_MS / 1000} s` };
}

/** Polls `check` until it holds; false once the ingester is gone or the time is up. */
async function until(check: () => Promise<boolean>, ingester: Ingester): Promise<boolean> {
  for (const deadline = Date.now() + HANDOVER_TIMEOUT_MS; Date.now() < deadline && !ingester.exited; ) {
    // A read that fails (the server restarting under a db-restart of the same round) is asked again.
    if (await check().catch(() => false)) return true;
    await sleep(50);
  }
  return false;
}

/** Spreads faultsPerKind of each timed kind over the rounds; refusals at a round's start, the rest inside it. */
function buildSchedule(options: FaultHarnessOptions, databaseFaults: readonly DatabaseFaultKind[], random: () => number): TimedFault[] {
  const schedule: TimedFault[] = [];
  const either = () => (random() < 0.5 ? 'auth0' : 'sanity');
  const kinds: [FaultKind, () => TimedFault['target'], boolean][] = [
    ['http-500', either, true],
    ['http-503', either, true],
    ['http-429-retry-after', either, true],
    ['drop-mid-frame', either, false],
    ['stall', either, false],
    ['garbage', either, false],
    ['invalid-utf8', either, false],
    ['duplicate', () => 'sanity', false],
    ['connection-timeout', () => 'auth0', false],
    ['sanity-reset', () => 'sanity', false],
    ...databaseFaults.map((kind): [FaultKind, () => TimedFault['target'], boolean] => [kind, () => 'db', false]),
    ...(faultKindsFor(options.db).includes('failover') ? [['failover', () => 'ingester', false] as [FaultKind, () => TimedFault['target'], boolean]] : []),
  ];
  for (const [kind, target, atStart] of kinds) {
    for (let i = 0; i < options.faultsPerKind; i++) {
      // Not in the first round (the database must exist for a lock) nor the last (a fault armed late
      // there would have no ingester left to meet it).
      // A deadlock needs a commit in flight: it goes in the first half, while both streams still deliver.
      const rounds = kind === 'db-deadlock' ? Math.ceil((options.kills - 2) / 2) : options.kills - 2;
      const round = 1 + Math.floor(random() * Math.max(1, rounds));
      // Stalls outlast the idle timeout (the ingester must reconnect) but not the final run's --until-idle.
      const idleMs = FAULTS_IDLE_TIMEOUT_S * 1000;
      const ms = kind === 'stall' ? Math.floor(idleMs * (1.5 + random() * 2.5)) : kind === 'db-locked' ? lockMs(options.db, i, random) : kind === 'db-restart' ? 200 + Math.floor(random() * 2800) : i;
      schedule.push({ round, atMs: atStart ? 0 : 0.05 + random() * 0.9, kind, target: target(), ms });
    }
  }
  return schedule;
}

/**
 * Every other lock outlasts what the ingester waits for it (SQLite's busy_timeout of 5 s, the
 * statement timeout the harness gives PostgreSQL): it must hold its batch and try again, not fail.
 */
function lockMs(db: DatabaseKind, i: number, random: () => number): number {
  const [waited, outlasting] = db === 'sqlite' ? [5000, 5500] : [FAULTS_STATEMENT_TIMEOUT_MS, FAULTS_STATEMENT_TIMEOUT_MS + 500];
  return i % 2 === 0 ? 300 + Math.floor(random() * Math.min(2000, waited - 800)) : outlasting + Math.floor(random() * 1500);
}

interface Check {
  lost: number;
  doubled: number;
  problems: string[];
}

/** After a kill: each stream holds exactly what its stored cursor promises (Auth0), or only true rows once (Sanity). */
async function checkAfterKill(database: FaultDatabase, script: Auth0Script, positions: Map<string, number>, sim: SanitySimulator): Promise<Check> {
  const check: Check = { lost: 0, doubled: 0, problems: [] };
  const streams = await database.rows<{ cursor: string | null }>("SELECT cursor FROM streams WHERE name = 'tenant'");
  if (!streams) return check;
  const cursor = streams[0]?.cursor;
  const position = cursor ? (positions.get(cursor) ?? -2) : -1;
  if (position === -2) check.problems.push(`Auth0 cursor ${cursor} is not in the script`);
  const ids = await storedEventIds(database);
  const expected = script.eventIds.filter((id) => script.firstArrival.get(id)! <= position);
  compareIds('Auth0 events up to the cursor', ids, expected, check);
  const letters = await deadLetterCount(database);
  const expectedLetters = script.deadLetterPositions.filter((p) => p <= position).length;
  if (letters !== expectedLetters) check.problems.push(`Auth0 dead letters: ${letters}, expected ${expectedLetters}`);
  const tables = await sanityTables(database);
  const truth = new Map(withParsedJson(expectedMutations(sim.changes, SANITY_OPTIONS)).map((r) => [r.event_id, r]));
  check.doubled += tables.doubled.length;
  const wrong = tables.mutations.filter((r) => !sameRow(r, truth.get(r.event_id)));
  if (wrong.length > 0) check.problems.push(`Sanity: ${wrong.length} stored mutations are not what happened, e.g. ${String(wrong[0].event_id)}`);
  if (tables.doubled.length > 0) check.problems.push(`Sanity: doubled ${tables.doubled.slice(0, 3).join(', ')}`);
  return check;
}

async function storedEventIds(database: FaultDatabase): Promise<string[]> {
  return ((await database.rows<{ event_id: string }>("SELECT event_id FROM events WHERE stream = 'tenant' ORDER BY seq")) ?? []).map((r) => r.event_id);
}

async function deadLetterCount(database: FaultDatabase): Promise<number> {
  return Number((await database.rows<{ n: number }>("SELECT count(*) AS n FROM dead_letters WHERE stream = 'tenant'"))?.[0]?.n ?? 0);
}

async function sanityTables(database: FaultDatabase) {
  return readSanityTablesFrom(async (sql) => (await database.rows<Row>(sql)) ?? [], 'blog');
}

async function checkAuth0(database: FaultDatabase, script: Auth0Script): Promise<Check> {
  const check: Check = { lost: 0, doubled: 0, problems: [] };
  const stream = await database.rows<{ cursor: string; events_total: number; dead_letters_total: number }>(
    "SELECT cursor, events_total, dead_letters_total FROM streams WHERE name = 'tenant'",
  );
  if (!stream) return { lost: script.eventIds.length, doubled: 0, problems: ['no database'] };
  compareIds('events', await storedEventIds(database), script.eventIds, check);
  const last = offsetAt(script.entries.length - 1);
  if (stream[0]?.cursor !== last) check.problems.push(`cursor ${stream[0]?.cursor}, expected the last offset ${last}`);
  if (stream[0]?.events_total !== script.eventIds.length) check.problems.push(`events_total ${stream[0]?.events_total}, expected ${script.eventIds.length}`);
  const letters = await deadLetterCount(database);
  if (letters < script.deadLetterPositions.length) check.lost += script.deadLetterPositions.length - letters;
  if (letters > script.deadLetterPositions.length) check.doubled += letters - script.deadLetterPositions.length;
  const users = (await database.rows<{ user_id: string; email: string }>("SELECT user_id, email FROM users WHERE stream = 'tenant'")) ?? [];
  const emails = new Map(users.map((u) => [u.user_id, u.email]));
  const wrongEmails = [...script.expectedEmails].filter(([user, email]) => emails.get(user) !== email);
  if (wrongEmails.length > 0 || emails.size !== script.expectedEmails.size) {
    check.problems.push(`users: ${wrongEmails.length} wrong emails (${emails.size} users, expected ${script.expectedEmails.size})`);
  }
  const memberRows = (await database.rows<{ org_id: string; user_id: string }>("SELECT org_id, user_id FROM organization_members WHERE stream = 'tenant'")) ?? [];
  const members = new Set(memberRows.map((m) => `${m.org_id} ${m.user_id}`));
  const memberDiff = [...script.expectedMembers].filter((m) => !members.has(m)).length + [...members].filter((m) => !script.expectedMembers.has(m)).length;
  if (memberDiff > 0) check.problems.push(`organization_members: ${memberDiff} differ from the script`);
  if (script.invalidUtf8Ids.length > 0) {
    // The script's own ids: letters, digits and dashes, safe to quote.
    const list = script.invalidUtf8Ids.map((id) => `'${id}'`).join(', ');
    const payloads = (await database.rows<{ payload: string }>(`SELECT payload FROM events WHERE stream = 'tenant' AND event_id IN (${list})`)) ?? [];
    const replaced = payloads.filter((row) => String(row.payload).includes('\uFFFD')).length;
    if (replaced < script.invalidUtf8Ids.length) check.problems.push(`${script.invalidUtf8Ids.length - replaced} events sent with invalid UTF-8 were not stored with U+FFFD`);
  }
  return check;
}

async function checkSanity(database: FaultDatabase, sim: SanitySimulator): Promise<Check> {
  const check: Check = { lost: 0, doubled: 0, problems: [] };
  const open = await database.rows<{ n: number }>("SELECT count(*) AS n FROM gaps WHERE stream = 'blog' AND status != 'repaired'");
  if (!open) return { lost: sim.changes.length, doubled: 0, problems: ['no database'] };
  const tables = await sanityTables(database);
  const expected = withParsedJson(expectedMutations(sim.changes, SANITY_OPTIONS));
  compareIds('document_mutations', tables.mutations.map((r) => String(r.event_id)), expected.map((r) => String(r.event_id)), check, false);
  check.doubled += tables.doubled.length;
  const truth = new Map(expected.map((r) => [r.event_id, r]));
  const wrong = tables.mutations.filter((r) => truth.has(r.event_id) && !sameRow(r, truth.get(r.event_id)));
  if (wrong.length > 0) check.problems.push(`${wrong.length} mutations differ from what happened, e.g. ${String(wrong[0].event_id)}`);
  const expectedDocs = withParsedJson(expectedDocuments(sim.changes, SANITY_OPTIONS));
  const docTruth = new Map(expectedDocs.map((d) => [d.document_id, d]));
  const wrongDocs = tables.documents.filter((d) => !sameRow(d, docTruth.get(d.document_id))).length + Math.max(0, expectedDocs.length - tables.documents.length);
  if (wrongDocs > 0) check.problems.push(`${wrongDocs} documents differ from the dataset`);
  if (Number(open[0].n) > 0) check.problems.push(`${open[0].n} gaps not repaired`);
  return check;
}

/** Missing ids are lost, ids stored twice or never sent are doubled; with `ordered`, the order must match too. */
function compareIds(what: string, actual: string[], expected: string[], check: Check, ordered = true): void {
  const want = new Set(expected);
  const have = new Set(actual);
  const missing = expected.filter((id) => !have.has(id)).length;
  const extra = actual.length - have.size + actual.filter((id) => !want.has(id)).length;
  check.lost += missing;
  check.doubled += extra;
  if (missing > 0) check.problems.push(`${what}: ${missing} missing`);
  if (extra > 0) check.problems.push(`${what}: ${extra} doubled or unknown`);
  if (ordered && missing === 0 && extra === 0 && actual.some((id, i) => id !== expected[i])) check.problems.push(`${what}: stored out of arrival order`);
}

/** Equal rows; a parsed JSON column's keys may come in another order (PostgreSQL's jsonb). */
function sameRow(a: Row | undefined, b: Row | undefined): boolean {
  return a !== undefined && b !== undefined && isDeepStrictEqual(a, b);
}

/** One line per fault kind, as `npm run faults` prints them. */
export function formatTallies(tallies: FaultTally[]): string[] {
  return tallies.map((t) => `${t.kind.padEnd(22)} injected ${t.injected}, survived ${t.survived}, lost ${t.lost}, doubled ${t.doubled}`);
}
