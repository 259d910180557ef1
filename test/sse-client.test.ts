// Specs of the generic SSE client, run against the real SSE test server on 127.0.0.1.
// Timeouts are small so the file stays fast; only minimum waits are asserted, never speed.

import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readSseStream, SseHttpError, type SseClientOptions } from '../src/sse/client.js';
import type { ConnectContext, ConnectionEvent, SseFrame } from '../src/sse/types.js';
import {
  encodeFrame,
  playInOrder,
  startSseTestServer,
  type Reply,
  type ScriptStep,
  type SseTestServer,
} from '../src/testing/sse-server.js';

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

  it('waits for X-RateLimit-Reset on 429 when there is no Retry-After', async () => {
    const resetAt = Math.ceil(Date.now() / 1000) + 1;
    const server = await serve({ status: 429, headers: { 'x-ratelimit-reset': String(resetAt) } }, streamOf({ frame: { data: 'a' } }, HOLD));
    await take(read(server), 1);

    expect(server.requests[1]!.at).toBeGreaterThanOrEqual(resetAt * 1000 - CLOCK_SLACK_MS);
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
    await take(read(server, { initialBackoffMs: 20, maxBackoffMs: 80, random: () => 0.5, onConnectionEvent }), 2);

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
