// The generic SSE client: one long-lived GET per connection, yielding frames and reconnecting forever.
// Knows nothing about Auth0 or Sanity: the connect hook puts the cursor and a fresh token into each request.

import type { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { BlockIdTracker } from './last-event-id.js';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { ExitCode, SinkError } from '../common/errors.js';
import { ConnectionPacer } from './pacer.js';
import { backoffDelayMs, pause } from '../common/retry.js';
import { bodyExcerpt } from '../common/text.js';
import type { ConnectionEvent } from '../core/connection-event.js';
import type { ConnectContext, ConnectRequest, SseFrame } from './types.js';

export interface SseClientOptions {
  /** Called before every (re)connect, so the caller can put in the latest cursor or a re-read token. */
  connect: (ctx: ConnectContext) => ConnectRequest | Promise<ConnectRequest>;
  /** Aborting ends the iteration promptly (it returns, it does not throw) and destroys the request. */
  signal?: AbortSignal;
  /** No bytes at all, not even a keep-alive comment, for this long => drop and reconnect. Default 90 s. */
  idleTimeoutMs?: number;
  /** Larger frames are skipped and yielded as an `oversize` marker. Default 32 MiB. */
  maxFrameBytes?: number;
  /** First reconnect delay after a connection that yielded nothing. Default 500 ms. */
  initialBackoffMs?: number;
  /** Cap of the doubling reconnect delay. Default 30 s. */
  maxBackoffMs?: number;
  /** Send the last id seen as `Last-Event-ID`. Default false: most sources want it in the URL. */
  sendLastEventId?: boolean;
  onConnectionEvent?: (e: ConnectionEvent) => void;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * Paces connection starts (burst 5, then 1 a second by default). A source that opens several
   * clients one after another passes one pacer to all of them, so their connections count together.
   */
  pacer?: ConnectionPacer;
  /**
   * How long an upstream's own header says to wait after a refusal, when it sends no Retry-After
   * (Auth0: X-RateLimit-Reset).
   */
  waitFromHeaders?: (headers: Dispatcher.ResponseData['headers']) => number | undefined;
}

/** The server answered with a status that retrying cannot fix: 401, 403, 404, any 4xx but 408 and 429. */
export class SseHttpError extends Error {
  override readonly name = 'SseHttpError';
  readonly status: number;
  /** The first 4 KB of the response body: upstreams explain refusals there. */
  readonly body: string;
  /** From a `Retry-After` header, when the server sent one with its refusal. */
  readonly retryAfterMs?: number;

  /** The `Location` of a redirect that was not followed (too many hops, or none given). */
  readonly location?: string;

  constructor(status: number, body: string, url: string, retryAfterMs?: number, location?: string) {
    const excerpt = bodyExcerpt(body);
    const redirect = status >= 300 && status < 400 ? ` (redirect to ${location ?? 'no Location'} not followed: ${MAX_REDIRECTIONS} hops at most)` : '';
    super(`${describeUrl(url)} answered HTTP ${status}${redirect}${excerpt ? `: ${excerpt}` : ''}`);
    this.status = status;
    this.body = body;
    this.retryAfterMs = retryAfterMs;
    this.location = location;
  }
}

/** A 200 that is not an event stream: a login page, a proxy's answer, a wrong URL. Retrying cannot help. */
export class SseContentTypeError extends SinkError {
  constructor(url: string, contentType: string | undefined) {
    super(
      `${describeUrl(url)} answered 200 with Content-Type ${contentType ? `"${contentType}"` : 'missing'}, not text/event-stream; ` +
        'check --url (a proxy or login page may be answering instead of the upstream)',
      ExitCode.usage,
    );
  }
}

/** The request cannot be sent as built (a header value HTTP cannot carry): retrying would fail the same way. */
export class SseRequestError extends SinkError {
  constructor(url: string, what: string) {
    super(`the request to ${describeUrl(url)} cannot be sent: ${what}`, ExitCode.upstreamStop);
  }
}

/** Origin and path only: the query can carry cursors and, for some upstreams, credentials. */
function describeUrl(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

const DEFAULT_IDLE_TIMEOUT_MS = 90_000;
const DEFAULT_MAX_FRAME_BYTES = 32 * 1024 * 1024;
const DEFAULT_INITIAL_BACKOFF_MS = 500;
const DEFAULT_MAX_BACKOFF_MS = 30_000;
const ERROR_BODY_BYTES = 4096;
/** Redirects followed per connection (undici's interceptor drops Authorization across origins). */
const MAX_REDIRECTIONS = 5;
/** Bytes a connection may hold for a slow consumer before the socket is paused. */
const QUEUE_BYTES = 1024 * 1024;
const PREVIEW_BYTES = 1024;
const LF = 0x0a;
const CR = 0x0d;
const LF_LF = Buffer.from('\n\n');
const CR_CR = Buffer.from('\r\r');
const LF_CR = Buffer.from('\n\r');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const KEEPALIVE: ConnectionEvent = Object.freeze({ type: 'keepalive' });

type ClientConfig = Required<Omit<SseClientOptions, 'signal' | 'onConnectionEvent' | 'waitFromHeaders'>> &
  Pick<SseClientOptions, 'signal' | 'onConnectionEvent' | 'waitFromHeaders'>;

/** What outlives a connection: SSE's last event id and reconnection time. */
interface Session {
  lastEventId: string | undefined;
  serverRetryMs: number;
}

/** How a connection ended, when it did not end the iteration. */
interface ConnectionOutcome {
  progressed: boolean;
  reason: string;
  status?: number;
  retryAfterMs?: number;
  error?: Error;
}

/**
 * Yields every frame of a stream that reconnects forever. Returns when `signal` aborts (or the
 * caller stops iterating); throws `SseHttpError` on a refusal, and whatever the connect hook throws.
 */
export async function* readSseStream(options: SseClientOptions): AsyncGenerator<SseFrame> {
  const config: ClientConfig = {
    ...options,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    initialBackoffMs: options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
    maxBackoffMs: options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
    sendLastEventId: options.sendLastEventId ?? false,
    random: options.random ?? Math.random,
    pacer: options.pacer ?? new ConnectionPacer(),
  };
  const { signal, pacer } = config;
  const session: Session = { lastEventId: undefined, serverRetryMs: 0 };
  let fruitlessConnections = 0;
  for (let attempt = 0; !signal?.aborted; attempt++) {
    // Another client on the same pacer may have spent the burst (a source that reconnects itself).
    const pacedMs = pacer.waitMs();
    if (pacedMs > 0) {
      config.onConnectionEvent?.({ type: 'retrying', attempt, delayMs: pacedMs, reason: 'paced' });
      if (!(await pause(pacedMs, signal))) return;
    }
    pacer.take();
    const outcome = yield* readConnection(config, session, attempt);
    if (signal?.aborted) return;
    fruitlessConnections = outcome.progressed ? 0 : fruitlessConnections + 1;
    const backoffMs = reconnectDelayMs(config, fruitlessConnections, session.serverRetryMs, outcome.retryAfterMs);
    const delayMs = Math.max(backoffMs, pacer.waitMs());
    const { reason, status, error } = outcome;
    config.onConnectionEvent?.({ type: 'retrying', attempt: attempt + 1, delayMs, status, reason, error });
    if (delayMs > 0 && !(await pause(delayMs, signal))) return;
  }
}

/** Full jitter over a doubling ceiling, but never sooner than the server asked for. */
function reconnectDelayMs(
  config: ClientConfig,
  fruitlessConnections: number,
  serverRetryMs: number,
  retryAfterMs = 0,
): number {
  const backoff = backoffDelayMs({ firstMs: config.initialBackoffMs, maxMs: config.maxBackoffMs }, fruitlessConnections, config.random);
  return Math.round(Math.max(backoff, serverRetryMs, retryAfterMs));
}

async function* readConnection(
  config: ClientConfig,
  session: Session,
  attempt: number,
): AsyncGenerator<SseFrame, ConnectionOutcome, undefined> {
  const target = await config.connect({ attempt, lastEventId: session.lastEventId });
  const headers = requestHeaders(target, config.sendLastEventId ? session.lastEventId : undefined);
  let response: Dispatcher.ResponseData;
  try {
    response = await request(target.url, {
      method: 'GET',
      headers,
      dispatcher: httpDispatcher(),
      signal: config.signal,
      // undici refreshes these on every byte and pauses them while we apply backpressure,
      // which is exactly "no bytes from the server for this long".
      headersTimeout: config.idleTimeoutMs,
      bodyTimeout: config.idleTimeoutMs,
    });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === 'UND_ERR_INVALID_ARG') {
      throw new SseRequestError(target.url, (error as Error).message);
    }
    return { progressed: false, ...closeCause(error) };
  }
  if (response.statusCode !== 200) return await refusal(response, target.url, config.waitFromHeaders);
  const contentType = headerValue(response.headers['content-type']);
  if (!isEventStream(contentType)) {
    await response.body.dump().catch(() => undefined);
    throw new SseContentTypeError(target.url, contentType);
  }

  config.onConnectionEvent?.({ type: 'open', attempt, status: response.statusCode });
  const reader = new FrameReader(config.maxFrameBytes, session, config.onConnectionEvent);
  let progressed = false;
  try {
    for await (const chunk of flowingChunks(response.body)) {
      for (const frame of reader.push(chunk)) {
        // Frames already received are not handed out once the caller has aborted.
        if (config.signal?.aborted) return { progressed, reason: 'aborted' };
        progressed = true;
        yield frame;
      }
    }
  } catch (error) {
    const cause = closeCause(error);
    if (!config.signal?.aborted) config.onConnectionEvent?.({ type: 'closed', ...cause });
    return { progressed, ...cause };
  }
  const reason = reader.midFrame ? 'truncated' : 'end';
  config.onConnectionEvent?.({ type: 'closed', reason });
  return { progressed, reason };
}

/**
 * Reads a body in flowing mode: undici serves 'data' events several times faster than async
 * iteration, which pauses and resumes the socket around every chunk. The body is paused while
 * more than QUEUE_BYTES wait for the consumer, so memory stays bounded and undici's idle timer
 * stops while we are the slow side. Chunks that arrived before an error are still delivered.
 */
async function* flowingChunks(body: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  body.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    queuedBytes += chunk.length;
    if (queuedBytes > QUEUE_BYTES) body.pause();
    notify();
  });
  body.on('end', () => {
    ended = true;
    notify();
  });
  // Stays attached until the end: destroying the body below makes undici emit an abort error.
  body.on('error', (error: Error) => {
    failure ??= error;
    notify();
  });
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        queuedBytes -= chunk.length;
        if (body.isPaused() && queuedBytes <= QUEUE_BYTES / 2) body.resume();
        yield chunk;
      } else if (failure) {
        throw failure;
      } else if (ended) {
        return;
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
      }
    }
  } finally {
    body.destroy();
  }
}

let agent: Agent | undefined;
let redirecting: Dispatcher | undefined;

/**
 * The undici Agent every request of sse-sink goes through, not the global dispatcher: touching
 * Node's own fetch (node-postgres does, at import, to detect Cloudflare Workers) installs Node's
 * bundled undici as the global one, whose handler interface this version does not speak.
 */
export function httpAgent(): Agent {
  agent ??= new Agent();
  return agent;
}

/** The Agent with undici's redirect interceptor, for the SSE connections. */
function httpDispatcher(): Dispatcher {
  redirecting ??= httpAgent().compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
  return redirecting;
}

function requestHeaders(target: ConnectRequest, lastEventId: string | undefined): Record<string, string> {
  // As EventSource sends them: no cache may answer for the upstream.
  const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  // Lower-cased so that a caller's `Accept` replaces ours instead of being sent twice.
  for (const [name, value] of Object.entries(target.headers ?? {})) headers[name.toLowerCase()] = value;
  if (headers['last-event-id'] !== undefined) headers['last-event-id'] = lastEventIdHeader(headers['last-event-id'], target.url);
  return headers;
}

/**
 * undici writes header strings as Latin-1, one byte per character; the id's UTF-8 bytes, one per
 * character, go out as UTF-8, as a browser's EventSource sends them. Control characters (other
 * than tab) cannot be in a header at all: such an id is an error, not a retry.
 */
function lastEventIdHeader(id: string, url: string): string {
  const bytes = Buffer.from(id, 'utf8').toString('latin1');
  if (/[^\t\x20-\x7e\x80-\xff]/.test(bytes)) {
    throw new SseRequestError(
      url,
      `the last event id ${JSON.stringify(id.slice(0, 100))} holds a control character, which a Last-Event-ID header cannot carry; ` +
        '"sse-sink reset <stream> --yes" starts the stream again',
    );
  }
  return bytes;
}

export function headerValue(header: string | string[] | undefined): string | undefined {
  return (Array.isArray(header) ? header[0] : header)?.trim() || undefined;
}

/** `text/event-stream`, with any parameters (`; charset=utf-8`), in any case. */
function isEventStream(contentType: string | undefined): boolean {
  return contentType?.split(';')[0].trim().toLowerCase() === 'text/event-stream';
}

function closeCause(error: unknown): { reason: 'idle-timeout' | 'network-error'; error: Error } {
  const code = (error as { code?: unknown } | null)?.code;
  const idle = code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT';
  return { reason: idle ? 'idle-timeout' : 'network-error', error: error instanceof Error ? error : new Error(String(error)) };
}

/** A non-200 answer: a retryable outcome, or an `SseHttpError` when retrying cannot help. */
async function refusal(
  response: Dispatcher.ResponseData,
  url: string,
  waitFromHeaders: SseClientOptions['waitFromHeaders'],
): Promise<ConnectionOutcome> {
  const status = response.statusCode;
  const retryAfterMs = parseRetryAfterMs(response.headers['retry-after']) ?? waitFromHeaders?.(response.headers);
  const location = headerValue(response.headers.location);
  if (status >= 500 || status === 408 || status === 429) {
    // Read to the end (up to undici's limit) so that the connection can be reused.
    await response.body.dump();
    return { progressed: false, reason: `HTTP ${status}`, status, retryAfterMs };
  }
  let body: string;
  try {
    body = await readPrefix(response.body, ERROR_BODY_BYTES);
  } catch (error) {
    return { progressed: false, status, ...closeCause(error) };
  }
  throw new SseHttpError(status, body, url, retryAfterMs, location);
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export function parseRetryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = headerValue(header);
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

async function readPrefix(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= maxBytes) break;
  }
  return decodeUtf8Prefix(Buffer.concat(chunks), maxBytes);
}

/** Decodes at most `maxBytes`, dropping a character the cut went through instead of mangling it. */
function decodeUtf8Prefix(bytes: Uint8Array, maxBytes: number): string {
  return new TextDecoder().decode(bytes.subarray(0, maxBytes), { stream: true });
}

/**
 * Turns the bytes of one connection into frames. Frame boundaries (blank lines) are tracked on the
 * raw bytes with native searches, so that a frame over the limit is skipped without being buffered.
 */
class FrameReader {
  private parser: EventSourceParser;
  /** Every block that sets an id, with data or without, sets the session's last event id. */
  private readonly blockIds = new BlockIdTracker((id) => this.setLastEventId(id));
  private decoder = utf8Decoder();
  private ready: SseFrame[] = [];
  /** Bytes of the frame being received, counted from the end of the last blank line. */
  private frameBytes = 0;
  /** Its first PREVIEW_BYTES, as views of the chunks they arrived in. */
  private head: Buffer[] = [];
  private headBytes = 0;
  /** Set while the rest of an oversize frame is being skipped. */
  private skipping = false;
  /** A body starts at a line start, as if after an LF: a line terminator first is a blank line. */
  private previousByte = LF;
  /** The last byte given to the parser was a CR, already treated as a complete line end. */
  private crFed = false;
  /** The body's first bytes while they may still be a byte order mark, which is not content. */
  private bodyStart: Buffer | undefined = Buffer.alloc(0);

  constructor(
    private readonly maxFrameBytes: number,
    private readonly session: Session,
    private readonly onConnectionEvent: ((e: ConnectionEvent) => void) | undefined,
  ) {
    this.parser = this.createParser();
  }

  /** True when the connection stopped inside a frame (a truncated frame is never dispatched). */
  get midFrame(): boolean {
    return this.frameBytes > 0 || (this.bodyStart?.length ?? 0) > 0;
  }

  push(chunk: Buffer): SseFrame[] {
    if (this.bodyStart) {
      const start = Buffer.concat([this.bodyStart, chunk]);
      if (start.length < BOM.length && start.equals(BOM.subarray(0, start.length))) {
        this.bodyStart = start;
        return [];
      }
      this.bodyStart = undefined;
      chunk = start.subarray(start.subarray(0, BOM.length).equals(BOM) ? BOM.length : 0);
    }
    if (chunk.length === 0) return [];
    const end = chunk.length;
    const hasCr = chunk.indexOf(CR) !== -1;
    // The LF of a CR LF split across chunks still belongs to the blank line that ended the last frame.
    let pos = this.frameBytes === 0 && this.previousByte === CR && chunk[0] === LF ? 1 : 0;
    let fedTo = 0;
    while (pos < end) {
      if (this.skipping) {
        const frameEnd = firstBlankLineEnd(chunk, pos, this.previousByte, hasCr);
        const stop = frameEnd === -1 ? end : frameEnd;
        this.keepHead(chunk, pos, stop);
        this.frameBytes += stop - pos;
        if (frameEnd !== -1) this.dispatchOversize();
        pos = fedTo = stop;
      } else if (this.frameBytes + (end - pos) <= this.maxFrameBytes) {
        // Nothing in the rest of this chunk can exceed the limit: one search finds where the last frame starts.
        const frameStart = lastBlankLineEnd(chunk, pos, this.previousByte, hasCr);
        if (frameStart !== -1) this.startFrame();
        const from = frameStart === -1 ? pos : frameStart;
        this.keepHead(chunk, from, end);
        this.frameBytes += end - from;
        pos = end;
      } else {
        const frameEnd = firstBlankLineEnd(chunk, pos, this.previousByte, hasCr);
        const stop = frameEnd === -1 ? end : frameEnd;
        this.keepHead(chunk, pos, stop);
        this.frameBytes += stop - pos;
        if (this.frameBytes > this.maxFrameBytes) {
          this.feed(chunk, fedTo, pos);
          this.forgetPartialFrame();
          fedTo = stop;
          if (frameEnd === -1) this.skipping = true;
          else this.dispatchOversize();
        } else if (frameEnd !== -1) {
          this.startFrame();
        }
        pos = stop;
      }
    }
    this.feed(chunk, fedTo, end);
    this.previousByte = chunk[end - 1];
    return this.ready.splice(0);
  }

  private createParser(): EventSourceParser {
    const notify = this.onConnectionEvent;
    return createParser({
      onEvent: (message) => this.ready.push({ event: message.event ?? 'message', id: message.id, data: message.data }),
      onRetry: (ms) => {
        this.session.serverRetryMs = ms;
      },
      // Left out when nobody listens, so that the parser does not even slice comments.
      onComment: notify && (() => notify(KEEPALIVE)),
    });
  }

  private feed(chunk: Buffer, from: number, to: number): void {
    const start = this.crFed && from < to && chunk[from] === LF ? from + 1 : from;
    // That LF completed the CR LF; an LF after it is a line of its own, even if it comes alone.
    if (start > from) this.crFed = false;
    if (start >= to) return;
    // Streaming decode is ICU's slow path; a chunk that ends in ASCII cannot end inside a character,
    // so it takes the fast path and still completes bytes the decoder held from the last chunk.
    let text = this.decoder.decode(chunk.subarray(start, to), { stream: chunk[to - 1] >= 0x80 });
    // eventsource-parser holds a final CR back until it sees whether LF follows, which would delay a
    // frame ending in CR until more bytes came (or lose it when the connection ends). Ending the line
    // here and dropping that LF when it comes is the same line ending.
    this.crFed = chunk[to - 1] === CR;
    if (this.crFed) text += '\n';
    this.blockIds.scan(text);
    this.parser.feed(text);
  }

  /** Drops what the parser holds of the frame being received; everything before it was dispatched. */
  private forgetPartialFrame(): void {
    this.parser = this.createParser();
    this.blockIds.reset();
    this.decoder = utf8Decoder();
    this.crFed = false;
  }

  private startFrame(): void {
    this.frameBytes = 0;
    this.head = [];
    this.headBytes = 0;
  }

  private keepHead(chunk: Buffer, from: number, to: number): void {
    if (this.headBytes >= PREVIEW_BYTES || from >= to) return;
    const piece = chunk.subarray(from, Math.min(to, from + PREVIEW_BYTES - this.headBytes));
    this.head.push(piece);
    this.headBytes += piece.length;
  }

  private dispatchOversize(): void {
    const preview = decodeUtf8Prefix(Buffer.concat(this.head), PREVIEW_BYTES);
    const frame: SseFrame = { ...fieldsOf(preview), data: '', oversize: { bytes: this.frameBytes, preview } };
    // The parser never saw this frame whole, so its id is taken from the kept start.
    if (frame.id !== undefined) this.setLastEventId(frame.id);
    this.ready.push(frame);
    this.skipping = false;
    this.startFrame();
  }

  /** SSE semantics: an empty `id:` clears the last event id. */
  private setLastEventId(id: string): void {
    this.session.lastEventId = id === '' ? undefined : id;
  }
}

/** push() drops a byte order mark at the start of a body; U+FEFF anywhere else is content. */
function utf8Decoder(): TextDecoder {
  return new TextDecoder('utf-8', { ignoreBOM: true });
}

/** Event type and id of a frame from its first bytes, by the same rules as whole frames. */
function fieldsOf(preview: string): Pick<SseFrame, 'event' | 'id'> {
  let fields: Pick<SseFrame, 'event' | 'id'> | undefined;
  const completeLines = preview.slice(0, Math.max(preview.lastIndexOf('\n'), preview.lastIndexOf('\r')) + 1);
  const parser = createParser({
    onEvent: (message) => {
      fields ??= { event: message.event ?? 'message', id: message.id };
    },
  });
  // An empty data line and a blank line make the parser dispatch whatever the complete lines declared.
  parser.feed(`${completeLines}data\n\n`);
  return fields ?? { event: 'message', id: undefined };
}

/** Two line terminators in a row end an empty line; CR LF is one terminator, not two. */
function isBlankLinePair(first: number, second: number): boolean {
  return (first === LF || first === CR) && (second === LF || second === CR) && !(first === CR && second === LF);
}

/** Steps past the LF when the blank line ended with the CR of a CR LF. */
function pastCrLf(chunk: Buffer, end: number): number {
  return chunk[end - 1] === CR && chunk[end] === LF ? end + 1 : end;
}

/**
 * Where the first blank line ending after `from` ends, or -1. `from` is a chunk start (then the
 * pair it may form with `previousByte` counts) or a position just after a line terminator.
 */
function firstBlankLineEnd(chunk: Buffer, from: number, previousByte: number, hasCr: boolean): number {
  if (from === 0 && isBlankLinePair(previousByte, chunk[0])) return pastCrLf(chunk, 1);
  const searchFrom = Math.max(from - 1, 0);
  let at = chunk.indexOf(LF_LF, searchFrom);
  if (hasCr) at = earliest(at, chunk.indexOf(CR_CR, searchFrom), chunk.indexOf(LF_CR, searchFrom));
  return at === -1 ? -1 : pastCrLf(chunk, at + 2);
}

/** Where the last blank line ending after `from` ends, or -1. */
function lastBlankLineEnd(chunk: Buffer, from: number, previousByte: number, hasCr: boolean): number {
  let at = chunk.lastIndexOf(LF_LF);
  if (hasCr) at = Math.max(at, chunk.lastIndexOf(CR_CR), chunk.lastIndexOf(LF_CR));
  if (at >= Math.max(from - 1, 0)) return pastCrLf(chunk, at + 2);
  return from === 0 && isBlankLinePair(previousByte, chunk[0]) ? pastCrLf(chunk, 1) : -1;
}

function earliest(...indexes: number[]): number {
  const found = indexes.filter((index) => index !== -1);
  return found.length === 0 ? -1 : Math.min(...found);
}
