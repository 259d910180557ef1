// The child process of bench/stream-server.ts: the SSE test server, playing a generated stream.
// A module of its own so that the scenario modules, which import stream-server.ts, load once.
import { startSseTestServer, type ScriptStep } from '../src/simulators/sse-server.js';
import { streamSteps } from './auth0.bench.js';
import { listenSteps } from './sanity.bench.js';

/**
 * Streams up to this long are generated (and encoded to bytes) before the server listens: the
 * upstream runs on another machine, so building its frames (JSON, base64) must not take the CPU of
 * the ingester being measured. The million-event RSS check is generated as it is sent.
 */
const GENERATE_AHEAD_MAX_EVENTS = 200_000;

const [kind, eventsArg] = process.argv.slice(2);
const events = Number(eventsArg);
const stepsOf = kind === 'auth0' ? streamSteps : listenSteps;
const generated = events <= GENERATE_AHEAD_MAX_EVENTS ? [...stepsOf(events)].map(encoded) : undefined;
// Every request plays the whole stream from its start, as before: a generator is used up by one.
const server = await startSseTestServer(() => ({ status: 200, steps: generated ?? stepsOf(events) }));
process.send?.(server.url);

function encoded(step: ScriptStep): ScriptStep {
  return 'raw' in step && typeof step.raw === 'string' ? { raw: Buffer.from(step.raw) } : step;
}
