// Specs of the generic SSE client, run against the real SSE test server on 127.0.0.1.
// Timeouts are small so the file stays fast; only minimum waits are asserted, never speed.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readSseStream, SseContentTypeError, SseHttpError, SseRequestError, type SseClientOptions } from '../src/sse/client.js';
import { ConnectionPacer } from '../src/sse/pacer.js';
import type { ConnectionEvent } from '../src/core/connection-event.js';
import type { ConnectContext, SseFrame } from '../src/sse/types.js';
import {
  encodeFrame,
  playInOrder,
  startSseTestServer,
  type Reply,
  type ScriptStep,
  type SseTestServer,
} from '../src/simulators/sse-server.js';

const servers: SseTestServer[] = [];

afterEach(async () => {
  const closing = servers.splice(0);
  await Promise.all(closing.map((server) => server.close()));
  for (const server of closing) expect(server.errors).toEqual([]);
});

async function serve(...replies: Reply[]): Promise<SseTestServer> {
  const server = await startSseTestServer(playInOrder(replies));
  servers.push(server);
  return server;
}

function streamOf(...steps: ScriptStep[]): Reply {
  return { steps };
}

/** Keeps a connection open (and silent) until the test closes the server. */
const HOLD: ScriptStep = { sleep: 30_000 };

function read(server: SseTestServer, options: Partial<SseClientOptions> = {}): AsyncGenerator<SseFrame> {
  return readSseStream({ connect: () => ({ url: `${server.url}/events` }), initialBackoffMs: 5, ...options });
}

async function take(frames: AsyncIterable<SseFrame>, count: number): Promise<SseFrame[]> {
  const taken: SseFrame[] = [];
  for await (const frame of frames) {
    taken.push(frame);
    if (taken.length === count) break;
  }
  return taken;
}

type TimedEvent = ConnectionEvent & { at: number };

function recordEvents(): { events: TimedEvent[]; onConnectionEvent: (e: ConnectionEvent) => void } {
  const events: TimedEvent[] = [];
  return { events, onConnectionEvent: (e) => events.push({ ...e, at: Date.now() }) };
}

function eventsOfType<T extends ConnectionEvent['type']>(events: TimedEvent[], type: T): Extract<TimedEvent, { type: T }>[] {
  return events.filter((e): e is Extract<TimedEvent, { type: T }> => e.type === type);
}

/** Date.now() has millisecond steps; a wait of N ms can measure as N - 1. */
const CLOCK_SLACK_MS = 2;

describe('reconnecting', () => {
  it('yields every complete frame exactly once and never the one cut off by a dropped connection', async () => {
    const server = await serve(
      streamOf(
        { frame: { id: '1', data: 'one' } },
        { frame: { id: '2', data: 'two' } },
        { raw: 'event: update\nid: 3\ndata: {"cut":' },
        { destroy: true },
      ),
      streamOf({ frame: { event: 'update', id: '3', data: '{"cut":false}' } }, HOLD),
    );
    const contexts: ConnectContext[] = [];
    const { events, onConnectionEvent } = recordEvents();
    const frames = await take(
      readSseStream({
        connect: (ctx) => {
          contexts.push(ctx);
          return { url: `${server.url}/events` };
        },
        sendLastEventId: true,
        onConnectionEvent,
      }),
      3,
    );

    expect(frames).toEqual([
      { event: 'message', id: '1', data: 'one' },
      { event: 'message', id: '2', data: 'two' },
      { event: 'update', id: '3', data: '{"cut":false}' },
    ]);
    expect(contexts).toEqual([
      { attempt: 0, lastEventId: undefined },
      { attempt: 1, lastEventId: '2' },
    ]);
    expect(server.requests[0]!.headers['last-event-id']).toBeUndefined();
    expect(server.requests[1]!.headers['last-event-id']).toBe('2');
    expect(eventsOfType(events, 'closed').map((e) => e.reason)).toEqual(['network-error']);
  });

  it('keeps the last event id across frames without one, and an empty id clears it', async () => {
    const server = await serve(
      streamOf({ frame: { id: '7', data: 'a' } }, { frame: { data: 'b' } }),
      streamOf({ raw: 'id\ndata: c\n\n' }),
      streamOf(HOLD),
    );
    const contexts: ConnectContext[] = [];
    const stop = new AbortController();
    const frames = await take(
      readSseStream({
        connect: (ctx) => {
          contexts.push(ctx);
          if (ctx.attempt === 2) stop.abort();
          return { url: `${server.url}/events` };
        },
        signal: stop.signal,
      }),
      Infinity,
    );

    expect(frames.map((f) => [f.id, f.data])).toEqual([['7', 'a'], [undefined, 'b'], ['', 'c']]);
    expect(contexts.map((c) => c.lastEventId)).toEqual([undefined, '7', undefined]);
  });

  it('asks the connect hook before every connection and uses its URL and headers', async () => {
    const server = await serve(streamOf({ frame: { id: 'c1', data: 'a' } }), streamOf({ frame: { data: 'b' } }, HOLD));
    await take(
      readSseStream({
        connect: ({ attempt, lastEventId }) => ({
          url: `${server.url}/stream/${attempt}?from=${lastEventId ?? 'start'}`,
          headers: { Authorization: `Bearer token-${attempt}` },
        }),
      }),
      2,
    );

    expect(server.requests.map((r) => [r.path, r.query.get('from'), r.headers.authorization])).toEqual([
      ['/stream/0', 'start', 'Bearer token-0'],
      ['/stream/1', 'c1', 'Bearer token-1'],
    ]);
    expect(server.requests[1]!.headers.accept).toBe('text/event-stream');
    expect(server.requests[1]!.headers['last-event-id']).toBeUndefined();
  });

  it('waits at least the server retry: value before reconnecting, even after progress', async () => {
    const server = await serve(streamOf({ retry: 300 }, { frame: { data: 'a' } }), streamOf({ frame: { data: 'b' } }, HOLD));
    const { events, onConnectionEvent } = recordEvents();
    await take(read(server, { onConnectionEvent }), 2);

    const [closed] = eventsOfType(events, 'closed');
    expect(server.requests[1]!.at - closed!.at).toBeGreaterThanOrEqual(300 - CLOCK_SLACK_MS);
    expect(eventsOfType(events, 'retrying').map((e) => e.delayMs)).toEqual([300]);
  });

  it('honours Retry-After in seconds on 429', async () => {
    const server = await serve({ status: 429, headers: { 'retry-after': '1' } }, streamOf({ frame: { data: 'a' } }, HOLD));
    const { events, onConnectionEvent } = recordEvents();
    await take(read(server, { onConnectionEvent }), 1);

    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
    expect(eventsOfType(events, 'retrying')).toMatchObject([{ status: 429, reason: 'HTTP 429', delayMs: 1000 }]);
  });

  it("waits as long as the source's own header says on 429 when there is no Retry-After", async () => {
    const server = await serve({ status: 429, headers: { 'x-wait-ms': '1000' } }, streamOf({ frame: { data: 'a' } }, HOLD));
    await take(read(server, { waitFromHeaders: (headers) => Number(headers['x-wait-ms']) }), 1);

    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(1000 - CLOCK_SLACK_MS);
  });

  it('honours Retry-After as an HTTP date on 503', async () => {
    const retryAt = new Date(Date.now() + 1500).toUTCString();
    const server = await serve({ status: 503, headers: { 'retry-after': retryAt } }, streamOf({ frame: { data: 'a' } }, HOLD));
    await take(read(server), 1);

    expect(server.requests[1]!.at).toBeGreaterThanOrEqual(Date.parse(retryAt) - CLOCK_SLACK_MS);
  });

  it('grows the backoff across fruitless connections up to the cap, and starts over after progress', async () => {
    const server = await serve(
      { status: 500 },
      { status: 500 },
      { status: 500 },
      { status: 500 },
      streamOf({ frame: { data: 'a' } }),
      { status: 500 },
      streamOf({ frame: { data: 'b' } }, HOLD),
    );
    const { events, onConnectionEvent } = recordEvents();
    // Seven connections in a row: more than the pacer's burst, which is not what this test is about.
    const pacer = new ConnectionPacer({ burst: 100 });
    await take(read(server, { initialBackoffMs: 20, maxBackoffMs: 80, random: () => 0.5, onConnectionEvent, pacer }), 2);

    // Full jitter with random() = 0.5 waits half of each ceiling: 20, 40, 80, 80 (capped).
    expect(eventsOfType(events, 'retrying').map((e) => e.delayMs)).toEqual([10, 20, 40, 40, 0, 10]);
  });

  it('retries on 500, 408 and 429', async () => {
    const server = await serve({ status: 500 }, { status: 408 }, { status: 429 }, streamOf({ frame: { data: 'a' } }, HOLD));
    const { events, onConnectionEvent } = recordEvents();
    const frames = await take(read(server, { onConnectionEvent }), 1);

    expect(frames.map((f) => f.data)).toEqual(['a']);
    expect(eventsOfType(events, 'retrying').map((e) => e.status)).toEqual([500, 408, 429]);
  });

  it.each([400, 401, 403, 404, 410])('stops with SseHttpError on %i and does not reconnect', async (status) => {
    const server = await serve({ status, body: `refused with ${status}` }, streamOf({ frame: { data: 'never' } }));
    const error = await take(read(server), 1).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(SseHttpError);
    expect(error).toMatchObject({ status, body: `refused with ${status}` });
    expect(server.requests).toHaveLength(1);
  });

  it('keeps the first 4 KB of a refusal body and leaves the query out of the message', async () => {
    const server = await serve({ status: 401, body: 'x'.repeat(10_000) });
    const error = await take(
      readSseStream({ connect: () => ({ url: `${server.url}/events?from=secret-cursor` }) }),
      1,
    ).catch((thrown: unknown) => thrown as SseHttpError);

    expect(error).toBeInstanceOf(SseHttpError);
    expect((error as SseHttpError).body).toBe('x'.repeat(4096));
    expect((error as SseHttpError).message).toContain(`${server.url}/events answered HTTP 401`);
    expect((error as SseHttpError).message).not.toContain('secret-cursor');
  });
});

describe('backpressure', () => {
  it('holds the connection for a slow consumer and still delivers every frame in order', async () => {
    const sent = Array.from({ length: 4000 }, (_, i) => ({ id: String(i), data: `${i}:${'d'.repeat(1000)}` }));
    const server = await serve(streamOf(...sent.map((frame) => ({ frame })), HOLD));
    const frames = read(server);
    const first = await frames.next();
    // Meanwhile the server sends 4 MB, more than the client holds for a consumer.
    await sleep(200);
    const rest = await take(frames, sent.length - 1);

    expect([first.value, ...rest].map((f: SseFrame) => f.data)).toEqual(sent.map((f) => f.data));
    expect(server.requests).toHaveLength(1);
  });
});

describe('idle timeout', () => {
  it('reconnects when the server sends nothing for longer than idleTimeoutMs', async () => {
    const server = await serve(streamOf({ frame: { data: 'a' } }, HOLD), streamOf({ frame: { data: 'b' } }, HOLD));
    const { events, onConnectionEvent } = recordEvents();
    const frames = await take(read(server, { idleTimeoutMs: 300, onConnectionEvent }), 2);

    expect(frames.map((f) => f.data)).toEqual(['a', 'b']);
    expect(eventsOfType(events, 'closed').map((e) => e.reason)).toEqual(['idle-timeout']);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(300 - CLOCK_SLACK_MS);
  });

  it('treats keep-alive comments as life: no reconnect while they keep coming', async () => {
    const keepAlive: ScriptStep[] = [];
    for (let i = 0; i < 4; i++) keepAlive.push({ comment: 'heartbeat' }, { sleep: 150 });
    const server = await serve(streamOf(...keepAlive, { frame: { data: 'a' } }, HOLD));
    const { events, onConnectionEvent } = recordEvents();
    const frames = await take(read(server, { idleTimeoutMs: 300, onConnectionEvent }), 1);

    expect(frames.map((f) => f.data)).toEqual(['a']);
    expect(server.requests).toHaveLength(1);
    expect(eventsOfType(events, 'keepalive')).toHaveLength(4);
  });
});

describe('framing', () => {
  it('does not yield comments, a lone colon, or a 2 KB preamble', async () => {
    const server = await serve(
      streamOf(
        { comment: 'p'.repeat(2048) },
        { comment: '' },
        { frame: { data: 'a' } },
        { comment: 'heartbeat' },
        { raw: ': ping\n\n' },
        { frame: { data: 'b' } },
        HOLD,
      ),
    );
    const { events, onConnectionEvent } = recordEvents();
    const frames = await take(read(server, { onConnectionEvent }), 2);

    expect(frames.map((f) => f.data)).toEqual(['a', 'b']);
    expect(eventsOfType(events, 'keepalive')).toHaveLength(4);
  });

  it('parses CRLF and CR line endings, and yields a frame ending in CR without waiting for more bytes', async () => {
    const server = await serve(
      streamOf({ raw: 'event: a\r\nid: 1\r\ndata: x\r\ndata: y\r\n\r\n' }, { raw: 'event: b\rid: 2\rdata: z\r\r' }, HOLD),
    );
    const frames = await take(read(server), 2);

    expect(frames).toEqual([
      { event: 'a', id: '1', data: 'x\ny' },
      { event: 'b', id: '2', data: 'z' },
    ]);
  });

  it('joins multibyte characters split across chunks', async () => {
    const text = 'héllo → 日本語 🎉';
    const bytes = Buffer.from(encodeFrame({ id: 'ü', data: text }));
    const server = await serve(streamOf(...[...bytes].flatMap((byte) => [{ raw: Uint8Array.of(byte) }, { sleep: 1 }]), HOLD));
    const frames = await take(read(server), 1);

    expect(frames).toEqual([{ event: 'message', id: 'ü', data: text }]);
  });

  it('turns invalid UTF-8 into U+FFFD instead of failing', async () => {
    const server = await serve(
      streamOf({ raw: Buffer.concat([Buffer.from('data: a'), Buffer.from([0xff, 0xc3]), Buffer.from('b\n\n')]) }, HOLD),
    );
    const frames = await take(read(server), 1);

    expect(frames.map((f) => f.data)).toEqual(['a\uFFFD\uFFFDb']);
  });
});

describe('frame size limit', () => {
  it('delivers a 16 MB frame whole under the default limit', async () => {
    const big = 'x'.repeat(16 * 1024 * 1024);
    const server = await serve(streamOf({ frame: { id: 'big', data: big } }, { frame: { data: 'after' } }, HOLD));
    const frames = await take(read(server), 2);

    expect(frames[0]!.id).toBe('big');
    expect(frames[0]!.data === big).toBe(true);
    expect(frames[1]!.data).toBe('after');
  });

  it('yields an oversize marker for a frame over maxFrameBytes and goes on with the next frames', async () => {
    const big = { event: 'big', id: '2', data: 'y'.repeat(1024 * 1024) };
    const server = await serve(
      streamOf({ frame: { id: '1', data: 'before' } }, { frame: big }, { frame: { id: '3', data: 'after' } }),
      streamOf(HOLD),
    );
    const contexts: ConnectContext[] = [];
    const frames = await take(
      readSseStream({
        connect: (ctx) => {
          contexts.push(ctx);
          return { url: `${server.url}/events` };
        },
        maxFrameBytes: 64 * 1024,
      }),
      3,
    );

    expect(frames[0]).toEqual({ event: 'message', id: '1', data: 'before' });
    expect(frames[1]).toEqual({
      event: 'big',
      id: '2',
      data: '',
      oversize: { bytes: Buffer.byteLength(encodeFrame(big)), preview: encodeFrame(big).slice(0, 1024) },
    });
    expect(frames[2]).toEqual({ event: 'message', id: '3', data: 'after' });
  });

  it('finds the end of an oversize frame when its CRLF blank line is split across chunks', async () => {
    const head = `event: big\r\ndata: ${'z'.repeat(200_000)}\r\n`;
    const server = await serve(
      streamOf({ raw: head }, { sleep: 20 }, { raw: '\r' }, { sleep: 20 }, { raw: '\ndata: next\r\n\r\n' }, HOLD),
    );
    const frames = await take(read(server, { maxFrameBytes: 64 * 1024 }), 2);

    expect(frames[0]).toMatchObject({ event: 'big', data: '', oversize: { preview: head.slice(0, 1024) } });
    expect(frames[0]!.oversize!.bytes).toBeGreaterThanOrEqual(head.length + 1);
    expect(frames[1]).toEqual({ event: 'message', id: undefined, data: 'next' });
  });
});

describe('aborting', () => {
  it('ends the iteration, without throwing, when aborted while streaming', async () => {
    const server = await serve(streamOf({ frame: { data: 'a' } }, HOLD));
    const stop = new AbortController();
    const frames = read(server, { signal: stop.signal });
    expect((await frames.next()).value).toMatchObject({ data: 'a' });

    const pending = frames.next();
    setTimeout(() => stop.abort(), 50);
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('hands out no frame after the abort, even frames already received', async () => {
    const server = await serve(streamOf({ frame: { data: 'a' } }, { frame: { data: 'b' } }, { frame: { data: 'c' } }, HOLD));
    const stop = new AbortController();
    const frames = read(server, { signal: stop.signal });
    expect((await frames.next()).value).toMatchObject({ data: 'a' });

    stop.abort();
    expect(await frames.next()).toEqual({ done: true, value: undefined });
  });

  it('ends the iteration, without throwing, when aborted while waiting to reconnect', { timeout: 5000 }, async () => {
    const server = await serve({ status: 503 });
    const stop = new AbortController();
    const frames = read(server, {
      signal: stop.signal,
      initialBackoffMs: 60_000,
      random: () => 1,
      onConnectionEvent: (e) => {
        if (e.type === 'retrying') setTimeout(() => stop.abort(), 20);
      },
    });

    expect(await frames.next()).toEqual({ done: true, value: undefined });
    expect(server.requests).toHaveLength(1);
  });
});

/** Runs the client until it throws, or fails the test when it yields `count` frames first. */
async function failure(frames: AsyncIterable<SseFrame>, count = 1): Promise<unknown> {
  return take(frames, count).then(
    () => expect.unreachable('the client should have stopped with an error'),
    (thrown: unknown) => thrown,
  );
}

describe('what a browser EventSource does (WHATWG), and where sse-sink differs on purpose', () => {
  it('sends Accept: text/event-stream and Cache-Control: no-cache', async () => {
    const server = await serve(streamOf({ frame: { data: 'a' } }, HOLD));
    await take(read(server), 1);
    expect(server.requests[0].headers).toMatchObject({ accept: 'text/event-stream', 'cache-control': 'no-cache' });
  });

  it('a block with only an id: line sets the last event id, and the reconnect sends it', async () => {
    const server = await serve(
      streamOf({ frame: { id: 'a1', data: 'first' } }, { raw: 'id: only-an-id\n\n' }, { destroy: true }),
      streamOf({ frame: { data: 'second' } }, HOLD),
    );
    const contexts: ConnectContext[] = [];
    const frames = await take(
      read(server, { sendLastEventId: true, connect: (ctx) => (contexts.push(ctx), { url: `${server.url}/events` }) }),
      2,
    );
    expect(frames.map((f) => f.data)).toEqual(['first', 'second']);
    expect(contexts[1].lastEventId).toBe('only-an-id');
    expect(server.requests[1].headers['last-event-id']).toBe('only-an-id');
  });

  it('an id-only block with an empty id clears the last event id: the reconnect sends none', async () => {
    const server = await serve(
      streamOf({ frame: { id: 'a1', data: 'first' } }, { raw: 'id\n\n' }, { destroy: true }),
      streamOf({ frame: { data: 'second' } }, HOLD),
    );
    await take(read(server, { sendLastEventId: true }), 2);
    expect(server.requests[1].headers['last-event-id']).toBeUndefined();
  });

  it.each([
    ['outside Latin-1', 'txn-€-😀#doc'],
    ['inside Latin-1', 'café#ümlaut'],
  ])('sends a Last-Event-ID %s as its UTF-8 bytes', async (_, id) => {
    const server = await serve(streamOf({ frame: { id, data: 'a' } }, { destroy: true }), streamOf({ frame: { data: 'b' } }, HOLD));
    await take(read(server, { sendLastEventId: true }), 2);
    // node:http hands header bytes over as Latin-1 characters: back to bytes, they must be UTF-8.
    const sent = server.requests[1].headers['last-event-id'] as string;
    expect(Buffer.from(sent, 'latin1')).toEqual(Buffer.from(id, 'utf8'));
  });

  it('a last event id that no header can carry is a typed error, not an endless retry', async () => {
    const server = await serve(streamOf({ raw: 'id: bad\u0001id\ndata: a\n\n' }, { destroy: true }), streamOf({ frame: { data: 'b' } }, HOLD));
    const error = await failure(read(server, { sendLastEventId: true }), 2);
    expect(error).toBeInstanceOf(SseRequestError);
    expect((error as Error).message).toMatch(/control character.*Last-Event-ID/);
    expect(server.requests).toHaveLength(1);
  });

  it('a Last-Event-ID the connect hook puts in is encoded the same way', async () => {
    const server = await serve(streamOf({ frame: { data: 'a' } }, HOLD));
    await take(read(server, { connect: () => ({ url: `${server.url}/events`, headers: { 'Last-Event-ID': 'é' } }) }), 1);
    expect(Buffer.from(server.requests[0].headers['last-event-id'] as string, 'latin1')).toEqual(Buffer.from('é'));
  });

  it.each(['text/html; charset=utf-8', 'application/json', undefined])(
    'stops on a 200 with Content-Type %s, naming the URL and the type, without reconnecting',
    async (contentType) => {
      const server = await serve({ status: 200, headers: contentType ? { 'content-type': contentType } : {}, body: '<html>login</html>' });
      const error = await failure(read(server));
      expect(error).toBeInstanceOf(SseContentTypeError);
      expect((error as Error).message).toContain(`${server.url}/events`);
      expect((error as Error).message).toContain(contentType ?? 'missing');
      expect(server.requests).toHaveLength(1);
    },
  );

  it('accepts text/event-stream with parameters and in any case', async () => {
    const server = await serve({ steps: [{ frame: { data: 'a' } }, HOLD], headers: { 'content-type': 'Text/Event-Stream; charset=UTF-8' } });
    expect((await take(read(server), 1)).map((f) => f.data)).toEqual(['a']);
  });

  it.each([301, 302, 303, 307, 308])('follows a same-origin %i redirect and keeps Authorization', async (status) => {
    const server = await serve({ status, headers: { location: '/moved?x=1' } }, streamOf({ frame: { data: 'moved' } }, HOLD));
    const frames = await take(read(server, { connect: () => ({ url: `${server.url}/events`, headers: { authorization: 'Bearer t0k' } }) }), 1);
    expect(frames.map((f) => f.data)).toEqual(['moved']);
    expect(server.requests[1]).toMatchObject({ path: '/moved', headers: { authorization: 'Bearer t0k' } });
  });

  it('follows a redirect to another origin without the Authorization header', async () => {
    const other = await serve(streamOf({ frame: { data: 'elsewhere' } }, HOLD));
    const server = await serve({ status: 307, headers: { location: `${other.url}/events` } });
    const frames = await take(read(server, { connect: () => ({ url: `${server.url}/events`, headers: { authorization: 'Bearer t0k' } }) }), 1);
    expect(frames.map((f) => f.data)).toEqual(['elsewhere']);
    expect(other.requests[0].headers.authorization).toBeUndefined();
  });

  it('stops after 5 redirects with the status and the Location it was sent to', async () => {
    const hop = (path: string) => Number(/^\/hop(\d+)$/.exec(path)?.[1] ?? 0);
    const server = await startSseTestServer((req) => ({ status: 302, headers: { location: `/hop${hop(req.path) + 1}` } }));
    servers.push(server);
    const error = await failure(read(server));
    expect(error).toBeInstanceOf(SseHttpError);
    expect(error).toMatchObject({ status: 302, location: '/hop6' });
    expect((error as Error).message).toContain('redirect to /hop6 not followed');
    expect(server.requests).toHaveLength(6);
  });

  it('a redirect loop stops with a clear error instead of retrying', async () => {
    const server = await startSseTestServer(() => ({ status: 302, headers: { location: '/events' } }));
    servers.push(server);
    const error = await failure(read(server));
    expect(error).toBeInstanceOf(SseRequestError);
    expect((error as Error).message).toMatch(/Redirect loop/);
  });

  it('a redirect without a Location is a refusal that says so', async () => {
    const server = await serve({ status: 301 });
    const error = await failure(read(server));
    expect((error as Error).message).toContain('redirect to no Location not followed');
  });

  it('reconnects at once after a clean end, but paces an upstream that drops every connection after a frame', async () => {
    const server = await startSseTestServer((_, i) => ({ steps: [{ frame: { id: `${i}`, data: `frame ${i}` } }] }));
    servers.push(server);
    const { events, onConnectionEvent } = recordEvents();
    const stop = new AbortController();
    const reading = take(read(server, { signal: stop.signal, onConnectionEvent }), 1_000_000);
    await sleep(2500);
    stop.abort();
    await reading;

    // Burst of 5, then 1 a second: a browser would have made thousands of connections here.
    expect(server.requests.length).toBeGreaterThanOrEqual(5);
    expect(server.requests.length).toBeLessThanOrEqual(9);
    const delays = eventsOfType(events, 'retrying').map((e) => e.delayMs);
    expect(delays.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(delays.slice(5).every((ms) => ms > 0)).toBe(true);
  });
});

describe('connection pacer', () => {
  it('lets a burst through, then one connection per interval', () => {
    let now = 0;
    const pacer = new ConnectionPacer({ burst: 3, perSecond: 2, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(pacer.waitMs()).toBe(0);
      pacer.take();
    }
    expect(pacer.waitMs()).toBe(500);
    now += 500;
    expect(pacer.waitMs()).toBe(0);
    pacer.take();
    now += 10_000;
    // Refills up to the burst, never beyond.
    for (let i = 0; i < 3; i++) pacer.take();
    expect(pacer.waitMs()).toBe(500);
  });
});
