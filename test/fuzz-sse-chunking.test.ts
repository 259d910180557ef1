// Fuzzing of the byte-to-frame path: generated SSE streams, played by the real test server whole
// or cut at random places (inside UTF-8 characters, between CR and LF), must yield the frames they declare.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { TextDecoder } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSseStream } from '../src/sse/client.js';
import type { SseFrame } from '../src/sse/types.js';
import { startSseTestServer, type ScriptStep, type SseTestServer } from '../src/simulators/sse-server.js';

// Fixed so that a run is reproducible; FUZZ_SEED / FUZZ_RUNS explore further (fast-check prints
// the seed and the shrunk counterexample of a failure).
const seed = Number(process.env.FUZZ_SEED ?? 20_260_601);
const runs = (n: number) => Number(process.env.FUZZ_RUNS ?? n);

// ---- the generated stream: blocks of lines, each block closed by a blank line --------------------

type LineEnd = '\n' | '\r\n' | '\r';
/** Part of a field value: text, or bytes that are not valid UTF-8. */
type Piece = string | Uint8Array;

type Line =
  /** `name: value`, `name:value` (one leading space of the value is then eaten) or a bare `name`. */
  | { kind: 'field'; name: string; value: Piece[]; spelling: 'colon-space' | 'colon' | 'bare'; end: LineEnd }
  | { kind: 'comment'; text: string; end: LineEnd };

interface Block {
  lines: Line[];
  /** The terminator of the blank line that closes the block. */
  blankEnd: LineEnd;
}

interface GeneratedStream {
  bom: boolean;
  blocks: Block[];
  /** Lines after the last blank line: a frame the end of the body cuts off. */
  tail: Line[];
  /** The body stops inside the tail's last line, before its terminator. */
  tailEndsMidLine: boolean;
}

const lineEnd = fc.constantFrom<LineEnd>('\n', '\r\n', '\r');

/** ASCII, 2-, 3- and 4-byte UTF-8, a joined emoji, U+FEFF and U+2028 as content, NUL, tab: never CR or LF. */
const textUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom('é', 'ß', 'ü', 'Ω', '中', '文', '日本', '한', '😀', '🎉', '👩‍💻', '𝄞', '\u{10FFFF}') },
  { weight: 1, arbitrary: fc.constantFrom('\uFEFF', '\u2028', '\u0000', '\t', ':', ' ', '  ') },
);
const text = (maxLength: number) => fc.string({ unit: textUnit, maxLength });

/** Lone lead bytes, a stray continuation byte, an overlong form, an encoded surrogate, 0xFF. */
const invalidUtf8 = fc.constantFrom(
  Uint8Array.of(0xff),
  Uint8Array.of(0xc3),
  Uint8Array.of(0xe2, 0x82),
  Uint8Array.of(0xf0, 0x9f, 0x98),
  Uint8Array.of(0x80),
  Uint8Array.of(0xc0, 0xaf),
  Uint8Array.of(0xed, 0xa0, 0x80),
);

const value = fc.array(fc.oneof({ weight: 6, arbitrary: text(8) }, { weight: 1, arbitrary: invalidUtf8 }), { maxLength: 4 });

/** Field names: the four the spec knows, and near misses that must be ignored (case, spaces). */
const fieldName = fc.oneof(
  { weight: 6, arbitrary: fc.constant('data') },
  { weight: 2, arbitrary: fc.constantFrom('event', 'id') },
  { weight: 1, arbitrary: fc.constantFrom('retry', 'Data', 'DATA', 'ID', 'Event', 'foo', 'dat', 'datas', ' data', 'data ', 'idx') },
);

const fieldLine: fc.Arbitrary<Line> = fc
  .record({
    name: fieldName,
    value: fc.oneof(value, fc.nat({ max: 99_999 }).map((ms) => [String(ms)])),
    spelling: fc.constantFrom('colon-space', 'colon', 'bare'),
    end: lineEnd,
  })
  // A bare field name has an empty value.
  .map((line) => ({ kind: 'field' as const, ...line, value: line.spelling === 'bare' ? [] : line.value }));

const commentLine: fc.Arbitrary<Line> = fc.record({ kind: fc.constant('comment' as const), text: text(10), end: lineEnd });

const line = fc.oneof({ weight: 5, arbitrary: fieldLine }, { weight: 1, arbitrary: commentLine });

const generatedStream: fc.Arbitrary<GeneratedStream> = fc.record({
  bom: fc.boolean(),
  blocks: fc.array(fc.record({ lines: fc.array(line, { maxLength: 6 }), blankEnd: lineEnd }), { maxLength: 7 }),
  tail: fc.oneof({ weight: 3, arbitrary: fc.constant<Line[]>([]) }, { weight: 1, arbitrary: fc.array(line, { minLength: 1, maxLength: 3 }) }),
  tailEndsMidLine: fc.boolean(),
});

// ---- the reference model: what the generated stream declares ----------------------------------

interface Reading {
  frames: SseFrame[];
  /** How the client says the body ended: `truncated` when it stopped inside a frame. */
  closed: string;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function valueBytes(pieces: Piece[]): Uint8Array {
  return Buffer.concat(pieces.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece)));
}

/** The value the spec gives a field line: UTF-8 with U+FFFD for bad bytes, one space after the colon eaten. */
function fieldValue(line: Extract<Line, { kind: 'field' }>): string {
  const decoded = decoder.decode(valueBytes(line.value));
  return line.spelling === 'colon' && decoded.startsWith(' ') ? decoded.slice(1) : decoded;
}

/**
 * A block with data lines is one frame: its data lines joined by LF, its last `event:` (none or
 * empty => "message") and its last `id:` without NUL. Comments, `retry:`, unknown fields, blocks
 * without data and the cut-off tail yield nothing.
 */
function declaredFrames(stream: GeneratedStream): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of stream.blocks) {
    let event: string | undefined;
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.lines) {
      if (line.kind !== 'field') continue;
      const fieldText = fieldValue(line);
      if (line.name === 'data') data.push(fieldText);
      else if (line.name === 'event') event = fieldText;
      else if (line.name === 'id' && !fieldText.includes('\0')) id = fieldText;
    }
    if (data.length > 0) frames.push({ event: event || 'message', id, data: data.join('\n') });
  }
  return frames;
}

/** The stream's bytes, and how many of them follow its last blank line (the client then reports `truncated`). */
function serialize(stream: GeneratedStream): { bytes: Uint8Array; bytesAfterLastBlankLine: number } {
  const parts: Uint8Array[] = [];
  let previousEnd: LineEnd | '' = '';
  let afterBlank = 0;
  const put = (content: Uint8Array, end: LineEnd | '') => {
    // A CR followed by an empty line ending in LF would read as one CR LF: end that line in CR LF.
    const ending = content.length === 0 && previousEnd === '\r' && end === '\n' ? '\r\n' : end;
    parts.push(content, Buffer.from(ending));
    afterBlank = content.length === 0 ? 0 : afterBlank + content.length + ending.length;
    previousEnd = ending;
  };
  const lineBytes = (line: Line) => {
    if (line.kind === 'comment') return Buffer.from(`:${line.text}`);
    if (line.spelling === 'bare') return Buffer.from(line.name);
    return Buffer.concat([Buffer.from(line.spelling === 'colon' ? `${line.name}:` : `${line.name}: `), valueBytes(line.value)]);
  };
  // A byte order mark is not content: the body starts after it.
  if (stream.bom) parts.push(Uint8Array.of(0xef, 0xbb, 0xbf));
  for (const block of stream.blocks) {
    for (const line of block.lines) put(lineBytes(line), line.end);
    put(new Uint8Array(0), block.blankEnd);
  }
  stream.tail.forEach((line, i) => {
    const last = i === stream.tail.length - 1;
    put(lineBytes(line), last && stream.tailEndsMidLine ? '' : line.end);
  });
  return { bytes: Buffer.concat(parts), bytesAfterLastBlankLine: afterBlank };
}

function expectedReading(stream: GeneratedStream): Reading {
  return { frames: declaredFrames(stream), closed: serialize(stream).bytesAfterLastBlankLine > 0 ? 'truncated' : 'end' };
}

// ---- chunking: where the bytes are cut, and whether the server pauses at each cut ---------------

type Pause = 'none' | 'turn' | 'sleep';

interface Chunking {
  stream: GeneratedStream;
  bytes: Uint8Array;
  cuts: number[];
  /** The pause after cut k is pauses[k % pauses.length]. */
  pauses: Pause[];
}

const CR = 0x0d;

/** Cuts right before a UTF-8 continuation byte split a character; cuts right after a CR split CR LF. */
function interestingCuts(bytes: Uint8Array): number[] {
  const cuts: number[] = [];
  for (let i = 1; i < bytes.length; i++) {
    if ((bytes[i] & 0xc0) === 0x80 || bytes[i - 1] === CR) cuts.push(i);
  }
  return cuts;
}

const chunkings: fc.Arbitrary<Chunking> = generatedStream.chain((stream) => {
  const { bytes } = serialize(stream);
  const everyByte = Array.from({ length: Math.max(0, bytes.length - 1) }, (_, i) => i + 1);
  const randomCuts =
    bytes.length < 2
      ? fc.constant<number[]>([])
      : fc
          .tuple(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 24 }), fc.subarray(interestingCuts(bytes)))
          .map(([anywhere, interesting]) => [...new Set([...anywhere, ...interesting])].sort((a, b) => a - b));
  return fc.record({
    stream: fc.constant(stream),
    bytes: fc.constant(bytes),
    cuts: fc.oneof({ weight: 9, arbitrary: randomCuts }, { weight: 1, arbitrary: fc.constant(everyByte) }),
    // A turn of the event loop is enough for the client to read a chunk on its own; without a
    // pause, chunks may arrive merged.
    pauses: fc.array(fc.constantFrom<Pause>('turn', 'turn', 'turn', 'none', 'sleep'), { minLength: 1, maxLength: 6 }),
  });
});

function chunkSteps({ bytes, cuts, pauses }: Chunking): () => AsyncIterable<ScriptStep> {
  return async function* () {
    const bounds = [0, ...cuts, bytes.length];
    for (let k = 0; k + 1 < bounds.length; k++) {
      yield { raw: bytes.subarray(bounds[k], bounds[k + 1]) };
      const pause = pauses[k % pauses.length];
      if (pause === 'turn') await nextTurn();
      else if (pause === 'sleep') yield { sleep: 1 };
    }
  };
}

// ---- the real server and client ----------------------------------------------------------------

let server: SseTestServer;
/** Each reading gets a path of its own, so that one server serves every run. */
const scripts = new Map<string, () => AsyncIterable<ScriptStep> | Iterable<ScriptStep>>();
let readings = 0;

beforeAll(async () => {
  server = await startSseTestServer((req) => {
    const steps = scripts.get(req.path);
    return steps ? { steps: steps() } : { status: 404, body: `no script for ${req.path}` };
  });
});

afterAll(async () => {
  await server.close();
  expect(server.errors).toEqual([]);
});

/** Every frame of one connection, read by the real client until the body ends. */
async function readOnce(steps: () => AsyncIterable<ScriptStep> | Iterable<ScriptStep>): Promise<Reading> {
  const path = `/stream/${++readings}`;
  scripts.set(path, steps);
  const stop = new AbortController();
  const reading: Reading = { frames: [], closed: 'never opened' };
  try {
    const frames = readSseStream({
      connect: () => ({ url: `${server.url}${path}` }),
      signal: stop.signal,
      onConnectionEvent: (e) => {
        // The end of the first connection ends the reading: the client never reconnects.
        if (e.type === 'closed') reading.closed = e.reason;
        if (e.type === 'closed' || e.type === 'retrying') stop.abort();
      },
    });
    for await (const frame of frames) reading.frames.push(frame);
  } finally {
    scripts.delete(path);
  }
  return reading;
}

describe('SSE client, fuzzed streams', () => {
  it('yields the frames a stream declares: comments, retry lines, unknown fields and a cut-off last frame yield none', async () => {
    await fc.assert(
      fc.asyncProperty(generatedStream, async (stream) => {
        const { bytes } = serialize(stream);
        expect(await readOnce(() => [{ raw: bytes }])).toEqual(expectedReading(stream));
      }),
      { seed, numRuns: runs(200) },
    );
  });

  it('yields the same frames however the bytes are chunked, inside UTF-8 characters and between CR and LF', async () => {
    await fc.assert(
      fc.asyncProperty(chunkings, async (chunking) => {
        const whole = await readOnce(() => [{ raw: chunking.bytes }]);
        const chunked = await readOnce(chunkSteps(chunking));
        expect(chunked).toEqual(whole);
        expect(chunked).toEqual(expectedReading(chunking.stream));
      }),
      { seed, numRuns: runs(150) },
    );
  });
});
