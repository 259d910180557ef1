// The child process of bench/stream-server.ts: the SSE test server, playing a generated stream.
// A module of its own so that the scenario modules, which import stream-server.ts, load once.
import { startSseTestServer } from '../src/testing/sse-server.js';
import { streamSteps } from './auth0.bench.js';
import { listenSteps } from './sanity.bench.js';

const [kind, events] = process.argv.slice(2);
const steps = kind === 'auth0' ? streamSteps : listenSteps;
const server = await startSseTestServer(() => ({ status: 200, steps: steps(Number(events)) }));
process.send?.(server.url);
