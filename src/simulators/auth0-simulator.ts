// An Auth0 Events API upstream on the project's SSE test server: scripts of frames with cursors,
// served from the `from` cursor each request carries (as the real API does). Used by the tests and the demo.
import type { RecordedRequest, Reply, ScriptStep } from './sse-server.js';

export interface CloudEvent {
  id?: string;
  type: string;
  time?: string;
  data?: { object?: Record<string, unknown> };
  [key: string]: unknown;
}

/** One frame of a script and the cursor the upstream gives it. */
export interface ScriptEntry {
  offset: string;
  step: ScriptStep;
}

/** Opaque, base64 like Auth0's, and distinct per position. */
export function offsetAt(position: number): string {
  return Buffer.from(`auth0-offset-${String(position).padStart(6, '0')}`).toString('base64');
}

export function eventEntry(event: CloudEvent, offset: string): ScriptEntry {
  return { offset, step: { frame: { event: event.type, id: offset, data: JSON.stringify({ offset, event }) } } };
}

export function heartbeatEntry(offset: string): ScriptEntry {
  return { offset, step: { frame: { event: 'offset-only', id: offset, data: JSON.stringify({ offset }) } } };
}

/** A frame whose data is cut off: it must become a dead letter while the cursor moves past it. */
export function malformedEntry(type: string, offset: string): ScriptEntry {
  return { offset, step: { frame: { event: type, id: offset, data: `{"offset":"${offset}","event":{"id":"evt_cut` } } };
}

export function errorFrame(code: string, message: string, offset?: string): ScriptStep {
  return { frame: { event: 'error', data: JSON.stringify({ error: { code, message, ...(offset ? { offset } : {}) } }) } };
}

export interface Pace {
  /** Frames sent between two sleeps. */
  framesPerTick: number;
  tickMs: number;
}

export interface ServeOptions {
  pace?: Pace;
  /** What follows the last frame, e.g. keep-alive comments and the end of the response. */
  tail?: ScriptStep[];
  /** Checked on every request, e.g. the bearer token; a Reply refuses the request. */
  check?: (request: RecordedRequest) => Reply | undefined;
}

/**
 * A handler for startSseTestServer that serves the frames after the request's `from` cursor (all
 * of them without one). An unknown cursor is answered 400, as Auth0 answers a bad cursor.
 */
export function serveAfterCursor(entries: ScriptEntry[], options: ServeOptions = {}) {
  const positions = new Map(entries.map((entry, i) => [entry.offset, i]));
  return (request: RecordedRequest): Reply => {
    const refused = options.check?.(request);
    if (refused) return refused;
    const from = request.query.get('from');
    let first = 0;
    if (from !== null) {
      const position = positions.get(from);
      if (position === undefined) return { status: 400, body: JSON.stringify({ message: `invalid cursor ${from}` }) };
      first = position + 1;
    }
    return { status: 200, headers: { 'content-type': 'text/event-stream' }, steps: paced(entries.slice(first), options) };
  };
}

function* paced(entries: ScriptEntry[], { pace, tail = [{ end: true }] }: ServeOptions): Generator<ScriptStep> {
  yield { comment: 'connected' };
  let sent = 0;
  for (const entry of entries) {
    yield entry.step;
    if (pace && ++sent % pace.framesPerTick === 0) yield { sleep: pace.tickMs };
  }
  yield* tail;
}

/** Keeps a connection open with `: heartbeat` comments, as Auth0 does on a quiet stream. */
export function keepAlive(totalMs: number, everyMs = 100): ScriptStep[] {
  const steps: ScriptStep[] = [];
  for (let waited = 0; waited < totalMs; waited += everyMs) steps.push({ comment: ' heartbeat' }, { sleep: everyMs });
  return steps;
}
