// The project's SSE test server: a real node:http server on 127.0.0.1 that plays scripted replies.
// Every test, the demo and the fault harness talk to it instead of mocking HTTP.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface ScriptFrame {
  event?: string;
  id?: string;
  data: string;
  retry?: number;
}

export type ScriptStep =
  /** Encoded per the SSE spec: multi-line data becomes several `data:` lines. */
  | { frame: ScriptFrame }
  /** A keep-alive: ": text" lines and a blank line, or a lone ":" line when the text is empty. */
  | { comment: string }
  /** "retry: N" and a blank line. */
  | { retry: number }
  /** Bytes as they are: garbage, invalid UTF-8, preamble padding, half a frame. */
  | { raw: string | Uint8Array }
  /** Stall for N ms without sending anything. */
  | { sleep: number }
  /** Drop the connection without ending the response: the client sees a cut-off body. */
  | { destroy: true }
  /** End the response cleanly. */
  | { end: true };

/** A plain response: a refusal, a 429 with Retry-After, NDJSON for a history endpoint, a file. */
export interface PlainReply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** An SSE stream that plays its steps and ends cleanly when they run out. */
export interface StreamReply {
  status?: 200;
  headers?: Record<string, string>;
  steps: Iterable<ScriptStep> | AsyncIterable<ScriptStep>;
}

export type Reply = PlainReply | StreamReply;

export type Handler = (req: RecordedRequest, index: number) => Reply | Promise<Reply>;

export interface SseTestServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Handlers and step iterables that threw; the client saw a 500 or a dropped connection. */
  errors: Error[];
  /** Destroys open connections and stops listening. */
  close(): Promise<void>;
}

/** Writes are cut to this size so that a huge frame still streams with backpressure. */
const WRITE_SLICE_BYTES = 64 * 1024;

export async function startSseTestServer(handler: Handler): Promise<SseTestServer> {
  const requests: RecordedRequest[] = [];
  const errors: Error[] = [];
  const server = createServer((req, res) => {
    const recorded = recordRequest(req);
    requests.push(recorded);
    answer(handler, recorded, requests.length - 1, res, errors).catch((error: unknown) => {
      // A step iterable threw: the client sees a dropped connection, the test sees `errors`.
      errors.push(asError(error));
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, errors, close: () => closeServer(server) };
}

/** Answers request i with reply i; requests beyond the script get a 404 saying so. */
export function playInOrder(replies: Reply[]): Handler {
  return (_req, index) => replies[index] ?? { status: 404, body: `playInOrder: no reply scripted for request ${index}` };
}

export function encodeFrame(frame: ScriptFrame): string {
  let text = '';
  if (frame.event !== undefined) text += `event: ${singleLine('event', frame.event)}\n`;
  if (frame.id !== undefined) text += `id: ${singleLine('id', frame.id)}\n`;
  if (frame.retry !== undefined) text += `retry: ${frame.retry}\n`;
  for (const line of frame.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

function encodeComment(text: string): string {
  if (text === '') return ':\n';
  return `${text.split(/\r\n|\r|\n/).map((line) => `: ${line}\n`).join('')}\n`;
}

function singleLine(field: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`encodeFrame: the ${field} field cannot contain a line break`);
  return value;
}

function recordRequest(req: IncomingMessage): RecordedRequest {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: { ...req.headers }, at: Date.now() };
}

async function answer(handler: Handler, req: RecordedRequest, index: number, res: ServerResponse, errors: Error[]): Promise<void> {
  // Listen before awaiting the handler: the client may leave while it runs.
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  let reply: Reply;
  try {
    reply = await handler(req, index);
  } catch (error) {
    errors.push(asError(error));
    reply = { status: 500, body: `test server handler failed: ${asError(error).message}` };
  }
  if (gone.signal.aborted) return;
  if ('steps' in reply) await playSteps(reply, res, gone.signal);
  else writePlain(res, reply);
}

function writePlain(res: ServerResponse, reply: PlainReply): void {
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.writeHead(reply.status).end(reply.body);
}

async function playSteps(reply: StreamReply, res: ServerResponse, gone: AbortSignal): Promise<void> {
  res.setHeader('content-type', 'text/event-stream');
  res.setHeader('cache-control', 'no-cache');
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.writeHead(reply.status ?? 200).flushHeaders();
  // Leaving the loop early (client gone, destroy, end) also stops the caller's generator.
  for await (const step of reply.steps) {
    if (gone.aborted) return;
    if ('sleep' in step) {
      // Cut short when the client leaves; the loop then stops.
      await sleep(step.sleep, undefined, { signal: gone }).catch(() => undefined);
    } else if ('destroy' in step) {
      // Written bytes go out first, then the socket closes without the chunked body's terminator.
      res.socket?.destroySoon();
      return;
    } else if ('end' in step) {
      res.end();
      return;
    } else {
      await write(res, encodeStep(step), gone);
    }
  }
  if (!gone.aborted) res.end();
}

/** The steps that send bytes. */
type ContentStep = Exclude<ScriptStep, { sleep: number } | { destroy: true } | { end: true }>;

function encodeStep(step: ContentStep): string | Uint8Array {
  if ('frame' in step) return encodeFrame(step.frame);
  if ('comment' in step) return encodeComment(step.comment);
  if ('retry' in step) return `retry: ${step.retry}\n\n`;
  return step.raw;
}

async function write(res: ServerResponse, data: string | Uint8Array, gone: AbortSignal): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  for (let offset = 0; offset < bytes.length && !gone.aborted; offset += WRITE_SLICE_BYTES) {
    if (!res.write(bytes.subarray(offset, offset + WRITE_SLICE_BYTES))) await drained(res, gone);
  }
}

function drained(res: ServerResponse, gone: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (gone.aborted) return resolve();
    const done = () => {
      res.off('drain', done);
      gone.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    gone.addEventListener('abort', done);
  });
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
