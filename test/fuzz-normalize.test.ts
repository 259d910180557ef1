// Fuzzing of the event path: malformed JSON and events of any shape, through the real normalizers
// and through runIngest with the real Auth0 and Sanity sources, a real test server and a real SQLite file.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CursorExpiredError, UpstreamStopError, UsageError } from '../src/common/errors.js';
import { runIngestOnFile } from '../harness/ingest-on-file.js';
import { createLogger } from '../src/common/log.js';
import type { NormalizeResult } from '../src/core/change.js';
import { normalizeAuth0Event } from '../src/sources/auth0/normalize.js';
import { memberTexts } from '../src/sources/sanity/json-members.js';
import { normalizeSanityMutation } from '../src/sources/sanity/normalize.js';
import { canonicalTime } from '../src/common/time.js';
import { SanitySource } from '../src/sources/sanity/source.js';
import type { Source } from '../src/core/source.js';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { simulatedDatasetConfig } from '../src/demo/sanity-config.js';
import { startSseTestServer, type ScriptStep, type SseTestServer } from '../src/simulators/sse-server.js';
import { fixtureEvents, simulatedTenantSource } from './helpers/auth0.js';
import { tempDir } from './helpers/cli.js';

// Fixed so that a run is reproducible; FUZZ_SEED / FUZZ_RUNS explore further (fast-check prints
// the seed and the shrunk counterexample of a failure).
const seed = Number(process.env.FUZZ_SEED ?? 20_260_601);
const runs = (n: number) => Number(process.env.FUZZ_RUNS ?? n);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

// ---- JSON of any shape ----------------------------------------------------------------------------

/** Numbers JSON.stringify cannot write: huge, tiny, beyond 2^64. Written into the text by `jsonText`. */
const RAW_NUMBERS = ['1e400', '-1e400', '1e-400', '123456789012345678901234567890', '-0'];
/** A string that `jsonText` replaces by a raw number; no generated text contains U+E000. */
const rawNumber = (n: string) => `\u{E000}${n}`;

function jsonText(value: unknown, pretty = false): string {
  let text = JSON.stringify(value, null, pretty ? 2 : undefined) ?? 'null';
  for (const n of RAW_NUMBERS) text = text.replaceAll(JSON.stringify(rawNumber(n)), n);
  return text;
}

const oddText = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.constantFrom('é', '中', '😀', '\u0000', '\n', '\r\n', '\uFEFF', '\u2028', '"', '\\') },
  ),
  maxLength: 12,
});

/** Strings a normalizer might mistake for something: times that are not quite RFC 3339, ids, empties. */
const trickyString = fc.constantFrom(
  '',
  ' ',
  'null',
  '0000-01-01T00:00:00+23:59',
  '9999-12-31T23:59:59-23:59',
  '2024-02-30T12:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '2024-01-01T00:00:60Z',
  '2024-01-01t00:00:00.123456789z',
  '2024-01-01 00:00:00+0100',
  '2024-01-01T00:00:00',
  '2024-01-01',
  'appear',
  'drafts.',
  'versions.x',
  'versions..y',
);

const oddNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2 ** 53 + 2, -(2 ** 63), Number.MAX_VALUE, Number.MIN_VALUE, 0.5),
  fc.constantFrom(...RAW_NUMBERS.map(rawNumber)),
);

const { json: anyJson } = fc.letrec<{ json: Json }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    oddNumber,
    oddText,
    trickyString,
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(oddText, fc.constantFrom('id', '_id', '_type', 'event', 'object', 'type', 'time')), tie('json'), { maxKeys: 3 }),
    // Nested nulls.
    tie('json').map((inner) => ({ id: null, object: { id: null, nested: inner } })),
  ),
}));

// ---- editing a valid event at a path ----------------------------------------------------------------

/** A key, or an index into the keys of whatever is there (arrays included). */
type PathStep = string | number;

interface JsonEdit {
  path: PathStep[];
  /** `undefined` deletes; anything else is set there. */
  value: Json | undefined;
}

function isContainer(value: unknown): value is Record<string, Json> | Json[] {
  return typeof value === 'object' && value !== null;
}

function keyAt(container: Record<string, Json> | Json[], step: PathStep): string | undefined {
  if (typeof step === 'string') return step;
  const keys = Object.keys(container);
  return keys.length === 0 ? undefined : keys[step % keys.length];
}

/** Sets or deletes at `path`, on a copy; a path through something that is not a container changes nothing. */
function applyEdits(root: Json, edits: JsonEdit[]): Json {
  const copy = structuredClone(root);
  for (const { path, value } of edits) {
    let node: unknown = copy;
    for (const [i, step] of path.entries()) {
      if (!isContainer(node)) break;
      const key = keyAt(node, step);
      if (key === undefined) break;
      const record = node as Record<string, Json>;
      if (i < path.length - 1) {
        node = record[key];
      } else if (value === undefined) {
        if (Array.isArray(node)) node.splice(Number(key), 1);
        else delete record[key];
      } else {
        record[key] = value;
      }
    }
  }
  return copy;
}

function edits(paths: PathStep[][]): fc.Arbitrary<JsonEdit[]> {
  const path = fc.tuple(fc.constantFrom(...paths), fc.array(fc.nat(), { maxLength: 2 })).map(([named, deeper]) => [...named, ...deeper]);
  const value = fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: anyJson });
  return fc.array(fc.record({ path, value }), { minLength: 1, maxLength: 3 });
}

/** A prefix of the text of an object: never valid JSON. */
function truncated(text: string, at: number): string {
  return text.slice(0, 1 + (at % (text.length - 1)));
}

/** Line breaks arrive as the parser joins data lines: LF. */
function asReceived(data: string): string {
  return data.replace(/\r\n|\r/g, '\n');
}

// ---- valid events ---------------------------------------------------------------------------------

const rfc3339 = fc
  .record({
    at: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }),
    fractionDigits: fc.integer({ min: 0, max: 9 }),
    offsetMinutes: fc.constantFrom(0, 0, 60, -330, 840, -720),
    separator: fc.constantFrom('T', 't', ' '),
    zulu: fc.constantFrom('Z', 'z'),
    colon: fc.boolean(),
  })
  .map(({ at, fractionDigits, offsetMinutes, separator, zulu, colon }) => {
    const wall = new Date(at.getTime() + offsetMinutes * 60_000).toISOString();
    const fraction = fractionDigits === 0 ? '' : `.${`${wall.slice(20, 23)}987654`.slice(0, fractionDigits)}`;
    const abs = Math.abs(offsetMinutes);
    const hhmm = [String(Math.floor(abs / 60)).padStart(2, '0'), String(abs % 60).padStart(2, '0')].join(colon ? ':' : '');
    const zone = offsetMinutes === 0 ? zulu : `${offsetMinutes < 0 ? '-' : '+'}${hhmm}`;
    return `${wall.slice(0, 10)}${separator}${wall.slice(11, 19)}${fraction}${zone}`;
  });

/** A fixture CloudEvent (all 22 types, an unknown one, test events) with the frame's unique id. */
function auth0Data(index: number, pick: number, offset: string): JsonObject {
  const event = structuredClone(fixtureEvents[pick % fixtureEvents.length]) as JsonObject;
  event.id = `evt-${index}`;
  return { offset, event };
}

const sanityFixtures = ['mutation-appear-published.json', 'mutation-disappear-version.json', 'mutation-update-draft.json'].map(
  (name) => JSON.parse(readFileSync(new URL(`./fixtures/sanity/${name}`, import.meta.url), 'utf8')) as JsonObject,
);

/** A listen mutation event with its own transaction id: a fixture, or built from parts. */
const sanityMutation = fc.oneof(
  fc.constantFrom(...sanityFixtures),
  fc
    .record({
      documentId: fc.constantFrom('post-1', 'drafts.post-1', 'versions.rSpring.post-1', 'author-1', 'ünï-文'),
      transition: fc.constantFrom('appear', 'update', 'disappear'),
      timestamp: rfc3339,
      identity: fc.constantFrom('pAlice', 'pBob', undefined),
      previousRev: fc.constantFrom('rev-a', 'rev-b', null, undefined),
      type: fc.constantFrom('post', 'author'),
      withResult: fc.boolean(),
      visibility: fc.constantFrom('transaction', 'query', undefined),
    })
    .map(({ documentId, transition, type, withResult, ...rest }): JsonObject => {
      const mutation: Json = transition === 'disappear' ? { delete: { id: documentId } } : { createOrReplace: { _id: documentId, _type: type, title: '✓' } };
      const event: JsonObject = { documentId, transition, mutations: [mutation] };
      for (const [key, value] of Object.entries(rest)) if (value !== undefined) event[key] = value;
      if (withResult && transition !== 'disappear') event.result = { _id: documentId, _type: type, title: '✓' };
      return event;
    }),
);

function withTransaction(event: JsonObject, transactionId: string): JsonObject {
  const documentId = String(event.documentId);
  return { ...event, transactionId, eventId: `${transactionId}#${documentId}`, resultRev: transactionId };
}

// ---- planned frames: what is sent, and what must become of it --------------------------------------

interface PlannedFrame {
  step: ScriptStep;
  /** Where the frame must land; `nowhere` for control frames, heartbeats and keep-alives. */
  lands: 'events' | 'dead_letters' | 'either' | 'nowhere';
  /** Its data as stored (events.payload or dead_letters.raw). */
  data: string;
  /** The cursor it carries (in its row, and as the stream's when it is the last one with a cursor). */
  cursor: string | null;
}

type MakeFrame = (i: number) => PlannedFrame;

interface Plan {
  frames: PlannedFrame[];
  /** The error a control frame at the end makes the run end with, if any. */
  stopsWith?: typeof UsageError | typeof UpstreamStopError | typeof CursorExpiredError;
  batchSize: number;
}

function frame(event: string | undefined, data: string, id?: string): ScriptStep {
  return { frame: { event, id, data } };
}

const keepAlive: fc.Arbitrary<MakeFrame> = oddText.map<MakeFrame>(
  (text) => () => ({ step: { comment: text }, lands: 'nowhere', data: '', cursor: null }),
);

/** Unknown SSE event names, none of the names a source gives a meaning to. */
function unknownEventName(known: string[]): fc.Arbitrary<string> {
  return fc
    .oneof(fc.constantFrom('user.exploded', 'Mutation', 'ping', 'update', 'évènement'), oddText)
    .filter((name) => name !== '' && !/[\r\n]/.test(name) && !known.includes(name));
}

// Auth0: events of every type, mutated, truncated, of the wrong type, garbage, heartbeats, and an error frame to end.

const AUTH0_CONTROL = ['offset-only', 'error'];

const auth0Paths: PathStep[][] = [
  [],
  ['offset'],
  ['event'],
  ['event', 'id'],
  ['event', 'type'],
  ['event', 'time'],
  ['event', 'a0purpose'],
  ['event', 'data'],
  ['event', 'data', 'object'],
  ...['user_id', 'id', 'email', 'logins_count', 'created_at', 'deleted_at', 'email_verified'].map((k) => ['event', 'data', 'object', k]),
  ...['organization', 'user', 'group', 'role', 'member', 'connection'].flatMap((k) => [
    ['event', 'data', 'object', k],
    ['event', 'data', 'object', k, 'id'],
  ]),
  ['event', 'data', 'object', 'user', 'user_id'],
  ['event', 'data', 'object', 'member', 'member_type'],
];

/** The frame's `event:` field: the event's type, none, empty, or a type nobody knows. */
function auth0EventField(type: string): fc.Arbitrary<string | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(type) }, fc.constantFrom(undefined, ''), unknownEventName(AUTH0_CONTROL));
}

const auth0Frame: fc.Arbitrary<MakeFrame> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ pick: fc.nat(), withId: fc.boolean(), pretty: fc.boolean(), name: fc.constantFrom('type', 'none', 'empty') }).map<MakeFrame>(
      ({ pick, withId, pretty, name }) =>
        (i: number) => {
          const offset = `off-${i}`;
          const data = jsonText(auth0Data(i, pick, offset), pretty);
          const type = fixtureEvents[pick % fixtureEvents.length].type;
          const event = name === 'type' ? type : name === 'none' ? undefined : '';
          return { step: frame(event, data, withId ? offset : undefined), lands: 'events', data, cursor: offset };
        },
    ),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ pick: fc.nat(), edits: edits(auth0Paths) })
      .chain(({ pick, edits }) => auth0EventField(fixtureEvents[pick % fixtureEvents.length].type).map((event) => ({ pick, edits, event })))
      .map<MakeFrame>(
        ({ pick, edits, event }) =>
          (i: number) => {
            const offset = `off-${i}`;
            const edited = applyEdits(auth0Data(i, pick, offset), edits);
            // A redelivered id is skipped by design: make any id an edit left unique to this frame.
            const envelope = isContainer(edited) && !Array.isArray(edited) ? edited.event : undefined;
            if (isContainer(envelope) && !Array.isArray(envelope) && typeof envelope.id === 'string' && envelope.id !== '') envelope.id += `~${i}`;
            const data = asReceived(jsonText(edited));
            return { step: frame(event, data, offset), lands: 'either', data, cursor: offset };
          },
      ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ pick: fc.nat(), at: fc.nat(), withId: fc.boolean() }).map<MakeFrame>(
      ({ pick, at, withId }) =>
        (i: number) => {
          const offset = `off-${i}`;
          const data = truncated(jsonText(auth0Data(i, pick, offset)), at);
          const type = fixtureEvents[pick % fixtureEvents.length].type;
          return { step: frame(type, data, withId ? offset : undefined), lands: 'dead_letters', data, cursor: withId ? offset : null };
        },
    ),
  },
  {
    weight: 1,
    // Valid JSON without an `event` object: arrays, numbers, strings, null, other objects.
    arbitrary: anyJson
      .filter((value) => !isContainer(value) || Array.isArray(value) || !('event' in value))
      .map<MakeFrame>(
        (value) =>
          (i: number) => {
            const data = asReceived(jsonText(value));
            return { step: frame('user.created', data, `off-${i}`), lands: 'dead_letters', data, cursor: `off-${i}` };
          },
      ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.string({ unit: 'binary', maxLength: 40 }), auth0EventField('user.updated')).map<MakeFrame>(
      ([text, event]) =>
        (i: number) => {
          const data = asReceived(text);
          return { step: frame(event, data, `off-${i}`), lands: 'either', data, cursor: `off-${i}` };
        },
    ),
  },
  {
    weight: 1,
    // offset-only: the cursor from the id or from the data; without either it is ignored.
    arbitrary: fc.constantFrom('id', 'data', 'neither').map<MakeFrame>(
      (carrier) =>
        (i: number) => {
          const cursor = `hb-${i}`;
          if (carrier === 'id') return { step: frame('offset-only', jsonText({ offset: cursor }), cursor), lands: 'nowhere', data: '', cursor };
          if (carrier === 'data') return { step: frame('offset-only', jsonText({ offset: cursor })), lands: 'nowhere', data: '', cursor };
          return { step: frame('offset-only', '{"offset":""}'), lands: 'nowhere', data: '', cursor: null };
        },
    ),
  },
  { weight: 1, arbitrary: keepAlive },
);

/** Auth0 ends a stream with an `error` frame: some codes stop the run, the others make it reconnect. */
const auth0ErrorFrame = fc
  .record({
    code: fc.constantFrom('connection_timeout', 'timeout', 'processing_error', 'payload_too_large', 'invalid_cursor', 'cursor_expired', 'no such code'),
    withOffset: fc.boolean(),
    withId: fc.boolean(),
    garbled: fc.boolean(),
  })
  .map(({ code, withOffset, withId, garbled }) => (i: number) => {
    const offset = withOffset && !garbled ? `err-${i}` : undefined;
    const id = withId ? `err-id-${i}` : undefined;
    const data = garbled ? `{"error": {"code": "${code}"` : jsonText({ error: { code, message: 'fuzzed error frame', offset } });
    const effectiveCode = garbled ? 'unknown' : code;
    const stopsWith = effectiveCode === 'invalid_cursor' ? UsageError : effectiveCode === 'cursor_expired' ? CursorExpiredError : undefined;
    // A cursor Auth0 calls invalid or expired is no position to adopt.
    const cursor = stopsWith ? null : (offset ?? id ?? null);
    const planned: PlannedFrame = { step: frame('error', data, id), lands: 'nowhere', data: '', cursor };
    return { planned, stopsWith };
  });

const auth0Plan: fc.Arbitrary<Plan> = fc
  .record({
    frames: fc.array(auth0Frame, { maxLength: 12 }),
    // Half the streams end in an error frame (fc.option gives nil with probability 1 / freq).
    end: fc.option(auth0ErrorFrame, { freq: 2 }),
    batchSize: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ frames, end, batchSize }) => {
    const planned = frames.map((make, i) => make(i));
    if (!end) return { frames: planned, batchSize };
    const { planned: last, stopsWith } = end(frames.length);
    return { frames: [...planned, last], stopsWith, batchSize };
  });

// Sanity: mutations valid, edited, truncated, of the wrong type, garbage; unknown and control frames.

const SANITY_KNOWN = ['welcome', 'welcomeback', 'reset', 'mutation', 'channelError', 'disconnect', 'preamble', 'message'];

const sanityPaths: PathStep[][] = [
  [],
  ['documentId'],
  ['transactionId'],
  ['transition'],
  ['timestamp'],
  ['mutations'],
  ['mutations', 0],
  ['mutations', 0, 0],
  ['result'],
  ['result', '_type'],
  ['previous'],
  ['previous', '_type'],
  ['previousRev'],
  ['resultRev'],
  ['identity'],
  ['visibility'],
  ['eventId'],
  ['origin'],
  ['transactionTotalEvents'],
];

const sanityFrame: fc.Arbitrary<MakeFrame> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ event: sanityMutation, withId: fc.boolean(), pretty: fc.boolean() }).map<MakeFrame>(
      ({ event, withId, pretty }) =>
        (i: number) => {
          const mutation = withTransaction(event, `tx-${i}`);
          const data = jsonText(mutation, pretty);
          const eventId = String(mutation.eventId);
          return { step: frame('mutation', data, withId ? eventId : undefined), lands: 'events', data, cursor: eventId };
        },
    ),
  },
  {
    weight: 4,
    arbitrary: fc.record({ event: sanityMutation, edits: edits(sanityPaths) }).map<MakeFrame>(
      ({ event, edits }) =>
        (i: number) => {
          const edited = applyEdits(withTransaction(event, `tx-${i}`), edits);
          // A redelivered event id is skipped by design: make any transaction id an edit left unique to this frame.
          if (isContainer(edited) && !Array.isArray(edited) && typeof edited.transactionId === 'string' && edited.transactionId !== '') {
            edited.transactionId += `~${i}`;
          }
          const data = asReceived(jsonText(edited));
          return { step: frame('mutation', data, `id-${i}`), lands: 'either', data, cursor: `id-${i}` };
        },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ event: sanityMutation, at: fc.nat(), withId: fc.boolean() }).map<MakeFrame>(
      ({ event, at, withId }) =>
        (i: number) => {
          const data = truncated(jsonText(withTransaction(event, `tx-${i}`)), at);
          const cursor = withId ? `id-${i}` : null;
          return { step: frame('mutation', data, cursor ?? undefined), lands: 'dead_letters', data, cursor };
        },
    ),
  },
  {
    weight: 1,
    arbitrary: anyJson
      .filter((value) => !isContainer(value) || Array.isArray(value))
      .map<MakeFrame>(
        (value) =>
          (i: number) => {
            const data = asReceived(jsonText(value));
            return { step: frame('mutation', data, `id-${i}`), lands: 'dead_letters', data, cursor: `id-${i}` };
          },
      ),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map<MakeFrame>(
      (text) =>
        (i: number) => {
          const data = asReceived(text);
          return { step: frame('mutation', data, `id-${i}`), lands: 'either', data, cursor: `id-${i}` };
        },
    ),
  },
  {
    weight: 1,
    // An event the listener does not know is dead-lettered and leaves the cursor alone; so is a
    // default-named frame that is not whitespace padding.
    arbitrary: fc.tuple(fc.option(unknownEventName(SANITY_KNOWN), { nil: undefined }), oddText, fc.boolean()).map<MakeFrame>(
      ([event, text, withId]) =>
        (i: number) => {
          const data = asReceived(event === undefined ? `x${text}` : text);
          return { step: frame(event, data, withId ? `id-${i}` : undefined), lands: 'dead_letters', data, cursor: null };
        },
    ),
  },
  {
    weight: 2,
    // Control frames that end nothing: greetings (a second welcome, and reset, catch up from the
    // test server's empty History API) and padding.
    arbitrary: fc
      .oneof(
        fc.tuple(fc.constantFrom('welcome', 'welcomeback'), fc.oneof(fc.constant('{"listenerName":"fuzz"}'), oddText)),
        fc.tuple(fc.constantFrom('reset', 'preamble'), oddText),
        fc.tuple(fc.constant(undefined), fc.constantFrom('', ' ', '   ')),
      )
      .map<MakeFrame>(([event, data]) => () => ({ step: frame(event, asReceived(data)), lands: 'nowhere', data: '', cursor: null })),
  },
  { weight: 1, arbitrary: keepAlive },
);

/** What ends a Sanity run early: `disconnect`, any channelError (a usage error when the query is at fault), an error event with data. */
const sanityStopFrame = fc.constantFrom(
  { step: frame('disconnect', '{"reason":"fuzzed disconnect"}'), stopsWith: UpstreamStopError },
  { step: frame('disconnect', ''), stopsWith: UpstreamStopError },
  { step: frame('channelError', '{"error":{"description":"expected ]","type":"queryParseError"}}'), stopsWith: UsageError },
  ...['{"message":"Temporary processing error, retrying"}', '{"error":"listener restarting"}', '{}', 'not json', ''].map((data) => ({
    step: frame('channelError', data),
    stopsWith: UpstreamStopError,
  })),
  { step: frame('error', '{"message":"listener failed"}'), stopsWith: UpstreamStopError },
);

const sanityPlan: fc.Arbitrary<Plan> = fc
  .record({
    frames: fc.array(sanityFrame, { maxLength: 12 }),
    // A quarter of the streams are stopped by the upstream; the others end and are read to their end.
    end: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: sanityStopFrame }),
    batchSize: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ frames, end, batchSize }) => {
    const planned = frames.map((make, i) => make(i));
    if (!end) return { frames: planned, batchSize };
    return { frames: [...planned, { step: end.step, lands: 'nowhere', data: '', cursor: null }], stopsWith: end.stopsWith, batchSize };
  });

// ---- the pipeline: a real test server, real sources, runIngest, one SQLite file ---------------------

interface Route {
  steps: ScriptStep[];
  listens: number;
  /** Aborted once the script has been read: the run then commits and ends. */
  stop: AbortController;
}

let server: SseTestServer;
let store: SqliteStore;
const routes = new Map<string, Route>();
let runCount = 0;
const silent = createLogger({ write: () => {} });

beforeAll(async () => {
  store = openSqliteStore({ path: join(tempDir('sse-sink-fuzz-'), 'sink.db') });
  server = await startSseTestServer((req) => {
    const route = routes.get(req.path.split('/')[1]);
    if (!route) return { status: 404, body: `no route for ${req.path}` };
    // Sanity catch-ups and revision repairs find nothing in this upstream's history.
    if (req.path.includes('/data/query/')) return { status: 200, body: '{"result":[]}' };
    if (req.path.includes('/data/history/')) return req.path.includes('/transactions/') ? { status: 200, body: '' } : { status: 404 };
    // The first request plays the script; another one is a reconnect after it was read to its end.
    if (route.listens++ === 0) return { steps: route.steps };
    route.stop.abort();
    return { steps: [{ sleep: 10_000 }] };
  });
});

afterAll(async () => {
  await server?.close();
  await store?.close();
  expect(server.errors).toEqual([]);
});

function auth0Source(baseUrl: string): Source {
  return simulatedTenantSource(baseUrl, 'fuzz-token', { domain: 'fuzz.example.com', errorRetry: { firstMs: 1, maxMs: 2 } });
}

function sanitySource(baseUrl: string): Source {
  const config = simulatedDatasetConfig(baseUrl, { projectId: 'fuzz', includeResult: false });
  return new SanitySource({ config, resume: 'enable-resume', token: () => undefined, sse: { initialBackoffMs: 1 }, historyAttempts: 1 });
}

interface Landed {
  data: string;
  cursor: string | null;
}

/** Plays the plan to the real source and runIngest; returns what the database holds for the stream. */
async function ingest(plan: Plan, makeSource: (baseUrl: string) => Source) {
  const name = `run-${++runCount}`;
  const route: Route = { steps: [...plan.frames.map((f) => f.step), { end: true }], listens: 0, stop: new AbortController() };
  routes.set(name, route);
  let failure: unknown;
  let summary;
  try {
    summary = await runIngestOnFile({
      dbPath: '',
      store,
      stream: name,
      source: makeSource(`${server.url}/${name}`),
      batchSize: plan.batchSize,
      signal: route.stop.signal,
      log: silent,
      // The end of the body: everything before it has been handed to the runner.
      onConnectionEvent: (e) => {
        if (e.type === 'closed' || e.type === 'retrying') route.stop.abort();
      },
    });
  } catch (error) {
    failure = error;
  } finally {
    routes.delete(name);
  }
  const { sqlite } = store.sink;
  return {
    failure,
    summary,
    events: sqlite.prepare('SELECT payload AS data, cursor FROM events WHERE stream = ? ORDER BY seq').all(name) as Landed[],
    deadLetters: sqlite.prepare('SELECT raw AS data, cursor FROM dead_letters WHERE stream = ? ORDER BY id').all(name) as Landed[],
    cursor: (sqlite.prepare('SELECT cursor FROM streams WHERE name = ?').get(name) as { cursor: string | null }).cursor,
  };
}

function byContent(a: Landed, b: Landed): number {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `rows` appear in `frames` in the same order (not necessarily next to each other). */
function inFrameOrder(rows: Landed[], frames: Landed[]): boolean {
  let next = 0;
  for (const row of rows) {
    while (next < frames.length && (frames[next].data !== row.data || frames[next].cursor !== row.cursor)) next++;
    if (next++ >= frames.length) return false;
  }
  return true;
}

async function checkIngest(plan: Plan, makeSource: (baseUrl: string) => Source): Promise<void> {
  const stored = await ingest(plan, makeSource);
  if (plan.stopsWith) expect(stored.failure).toBeInstanceOf(plan.stopsWith);
  else expect(stored.failure).toBeUndefined();

  const eventFrames = plan.frames.filter((f) => f.lands !== 'nowhere').map(({ data, cursor }) => ({ data, cursor }));
  // Each event frame is stored once, in one of the two tables, with its cursor, in arrival order.
  expect([...stored.events, ...stored.deadLetters].sort(byContent)).toEqual([...eventFrames].sort(byContent));
  expect(inFrameOrder(stored.events, eventFrames)).toBe(true);
  expect(inFrameOrder(stored.deadLetters, eventFrames)).toBe(true);
  for (const f of plan.frames) {
    if (f.lands === 'events') expect(stored.events).toContainEqual({ data: f.data, cursor: f.cursor });
    if (f.lands === 'dead_letters') expect(stored.deadLetters).toContainEqual({ data: f.data, cursor: f.cursor });
  }
  if (stored.summary) expect(stored.summary).toMatchObject({ stopReason: 'signal', received: eventFrames.length, duplicates: 0 });
  // Heartbeats and error frames move the cursor too; keep-alives, unknown and control frames do not.
  const cursors = plan.frames.map((f) => f.cursor).filter((c) => c !== null);
  expect(stored.cursor).toBe(cursors.at(-1) ?? null);
}

// ---- the pure part ---------------------------------------------------------------------------------

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A value better-sqlite3 can bind (the store turns booleans into 0/1). */
function bindable(value: unknown): boolean {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** A reason to dead-letter, or rows the store can write: text ids, a canonical time, plain column values. */
function expectStorable(result: NormalizeResult, data: string): void {
  if ('error' in result) {
    expect(typeof result.error === 'string' && result.error !== '').toBe(true);
    return;
  }
  const { history, projections, details = [] } = result;
  expect(typeof history.eventId === 'string' && history.eventId !== '').toBe(true);
  expect(history.occurredAt).toMatch(CANONICAL_TIME);
  expect(history.payload).toBe(data);
  for (const text of [history.type, history.subjectKind, history.subjectId]) expect(text === null || typeof text === 'string').toBe(true);
  const columns = [
    ...projections.flatMap((op) =>
      op.op === 'remove-matching' ? Object.entries(op.match) : [...Object.entries(op.key), ...(op.op === 'put' ? Object.entries(op.values) : [])]),
    ...details.flatMap((row) => Object.entries(row.values)),
  ];
  for (const [column, value] of columns) expect(bindable(value), `column ${column} = ${JSON.stringify(value)}`).toBe(true);
  for (const op of projections) if (op.op === 'put' && op.expect) expect(op.expect.value === null || typeof op.expect.value === 'string').toBe(true);
}

const sources = { auth0: auth0Source('http://127.0.0.1:9'), sanity: sanitySource('http://127.0.0.1:9') };

function normalizeWith(source: Source, frameEvent: string, data: string): NormalizeResult {
  return source.normalize({ kind: 'event', frameEvent, data, cursor: null });
}

/** The data of every event-like frame a plan holds. */
function planData(plan: Plan): { event: string; data: string }[] {
  return plan.frames.flatMap(({ step }) => ('frame' in step ? [{ event: step.frame.event ?? 'message', data: step.frame.data }] : []));
}

/** Text shaped like RFC 3339, valid or not: any digits in each place, offsets up to ±29:59, long fractions. */
const timestampLike = fc
  .record({
    date: fc.oneof(
      // The first and last days a four-digit year can write, where an offset crosses the edge.
      fc.constantFrom('0000-01-01', '9999-12-31', '1970-01-01', '2024-02-29', '2023-02-29'),
      fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 })).map(
        ([y, m, d]) => `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}`,
      ),
      fc.tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })).map(
        ([y, m, d]) => `${String(y).padStart(4, '0')}-${two(m)}-${two(d)}`,
      ),
    ),
    time: fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 })),
      fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 })),
    ),
    fraction: fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 12 }),
    separator: fc.constantFrom('T', 't', ' '),
    zone: fc.oneof(
      fc.constantFrom('Z', 'z'),
      fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 29 }), fc.integer({ min: 0, max: 59 }), fc.constantFrom(':', '')).map(
        ([sign, h, m, colon]) => `${sign}${two(h)}${colon}${two(m)}`,
      ),
    ),
  })
  .map(({ date, time: [h, m, s], fraction, separator, zone }) => `${date}${separator}${two(h)}:${two(m)}:${two(s)}${fraction ? `.${fraction}` : ''}${zone}`);

function two(n: number): string {
  return String(n).padStart(2, '0');
}

describe('normalizers, fuzzed', () => {
  it('read any timestamp-shaped text as a canonical, sortable UTC time or as no time', () => {
    fc.assert(
      fc.property(timestampLike, (text) => {
        const canonical = canonicalTime(text);
        if (canonical === null) return;
        expect(canonical).toMatch(CANONICAL_TIME);
        expect(canonicalTime(canonical)).toBe(canonical);
      }),
      { seed, numRuns: runs(2000) },
    );
  });

  it('take a UTC millisecond timestamp as it is exactly when Date reads it back unchanged (Feb 29, 23:59:59, year 0)', () => {
    const field = (max: number) => fc.integer({ min: 0, max });
    fc.assert(
      fc.property(fc.tuple(field(9999), field(13), field(32), field(25), field(61), field(61), field(999)), ([y, mo, d, h, mi, s, ms]) => {
        const text = `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(s)}.${String(ms).padStart(3, '0')}Z`;
        const millis = Date.parse(text);
        if (!Number.isNaN(millis) && new Date(millis).toISOString() === text) {
          expect(canonicalTime(text)).toBe(`${text.slice(0, 23)}000Z`);
        } else {
          // Not in Date's own form: rejected, or (24:00:00) read as the instant Date reads.
          const canonical = canonicalTime(text);
          if (canonical !== null) expect(Date.parse(canonical)).toBe(millis);
        }
      }),
      { seed, numRuns: runs(5000) },
    );
  });

  it('find the text of named members of any JSON object, with any spacing and escaped or repeated keys, as JSON.parse reads them', () => {
    const names = ['result', 'mutations', 'previous'] as const;
    const space = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');
    // A name's first letter written as \u0072 and the like: JSON.parse reads the same key.
    const escapedKey = (key: string) => `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(key.slice(1)).slice(1)}`;
    const member = fc.record({
      key: fc.oneof(oddText, fc.constantFrom(...names)),
      escaped: fc.boolean(),
      value: anyJson,
      pretty: fc.boolean(),
      spaces: fc.tuple(space, space, space, space),
    });
    fc.assert(
      fc.property(fc.array(member, { maxLength: 6 }), space, (members, end) => {
        const text = `{${members
          .map(({ key, escaped, value, pretty, spaces: [a, b, c, d] }) =>
            `${a}${escaped && key !== '' ? escapedKey(key) : JSON.stringify(key)}${b}:${c}${jsonText(value, pretty)}${d}`)
          .join(',')}${end}}`;
        const parsed = JSON.parse(text) as JsonObject;
        const found = memberTexts(text, names);
        for (const name of names) {
          if (!Object.hasOwn(parsed, name)) {
            expect(found[name]).toBeUndefined();
            continue;
          }
          expect(text).toContain(found[name]);
          expect(found[name]).toBe(found[name]!.trim());
          expect(JSON.parse(found[name]!)).toEqual(parsed[name]);
        }
      }),
      { seed, numRuns: runs(2000) },
    );
  });

  it('answer, and only with slices of the text, when asked for the members of text that is not a JSON object', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), oddText.map((t) => `{"result":${t}`), fc.constant('{"result":[{"a":"b\\"')), (text) => {
        for (const found of Object.values(memberTexts(text, ['result', 'mutations']))) expect(text).toContain(found);
      }),
      { seed, numRuns: runs(2000) },
    );
  });

  it('never throw for any text, and answer a dead-letter reason or rows the store can write', () => {
    fc.assert(
      fc.property(fc.string(), fc.oneof(fc.string({ unit: 'binary' }), fc.string(), oddText), (frameEvent, data) => {
        expectStorable(normalizeAuth0Event({ frameEvent, data }), data);
        expectStorable(normalizeWith(sources.auth0, frameEvent, data), data);
        expectStorable(normalizeSanityMutation(data), data);
        expectStorable(normalizeWith(sources.sanity, 'mutation', data), data);
      }),
      { seed, numRuns: runs(1000) },
    );
  });

  it('never throw for events of any shape (wrong types, huge numbers, nested nulls, missing ids), and store valid ones', () => {
    fc.assert(
      fc.property(auth0Plan, sanityPlan, (auth0, sanity) => {
        for (const { event, data } of planData(auth0)) expectStorable(normalizeWith(sources.auth0, event, data), data);
        for (const { data } of planData(sanity)) expectStorable(normalizeWith(sources.sanity, 'mutation', data), data);
        for (const f of [...auth0.frames, ...sanity.frames].filter((f) => f.lands === 'events')) {
          const source = auth0.frames.includes(f) ? sources.auth0 : sources.sanity;
          const { event = 'message' } = (f.step as { frame: { event?: string } }).frame;
          expect(normalizeWith(source, event, f.data)).not.toHaveProperty('error');
        }
      }),
      { seed, numRuns: runs(500) },
    );
  });
});

describe('ingesting fuzzed streams', () => {
  it('stores every Auth0 event frame exactly once, in events or dead_letters, and saves the last frame\'s cursor', async () => {
    await fc.assert(
      fc.asyncProperty(auth0Plan, (plan) => checkIngest(plan, auth0Source)),
      { seed, numRuns: runs(100), timeout: 20_000 },
    );
  });

  it('stores every Sanity mutation and unknown frame exactly once, in events or dead_letters, and saves the last cursor', async () => {
    await fc.assert(
      fc.asyncProperty(sanityPlan, (plan) => checkIngest(plan, sanitySource)),
      { seed, numRuns: runs(100), timeout: 20_000 },
    );
  });
});
