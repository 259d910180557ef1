// HTTP calls to Auth0's Management API (undici) for a snapshot: JSON requests with the bearer
// token, the rate limit honoured (a 429 waits for `Retry-After` or `X-RateLimit-Reset`; a request
// that leaves `X-RateLimit-Remaining: 0` makes the next one wait for the reset), transient failures
// retried, and the two pagination styles the endpoints use. Headers and pagination as in
// auth0/node-auth0's generated Management client (src/management/api/resources/…/client/Client.ts).
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { headerValue, httpAgent, parseRetryAfterMs } from '../../sse/client.js';
import { backoffDelayMs, pause } from '../../common/retry.js';
import { bodyExcerpt, isRecord } from '../../common/text.js';

/** Auth0 refused a request for good (a 4xx other than 408 and 429): retrying cannot help. */
export class ManagementRefusal extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    body: string,
  ) {
    super(`Auth0's Management API refused ${path} (HTTP ${status}${body ? `: ${bodyExcerpt(body)}` : ''})`);
    this.name = 'ManagementRefusal';
  }
}

export interface ManagementContext {
  /** `https://<domain>` or the --url override; no trailing slash. */
  baseUrl: string;
  /** Re-read on every request, so a rotated token is used at once. */
  readToken: () => string;
  signal: AbortSignal;
}

/** A wait the rate-limit headers ask for is capped, so a skewed clock cannot park a stream or a snapshot for hours. */
const RATE_LIMIT_WAIT_CAP_MS = 15 * 60_000;
/** Attempts for a request that fails with a network error, 429 or 5xx. */
const ATTEMPTS = 8;
/** A retry waits 250 ms, doubling up to 30 s; the rate-limit headers win when they say longer. */
const RETRY_FIRST_MS = 250;
const RETRY_CAP_MS = 30_000;

/** Per context: when the rate limit allows the next request (epoch ms). */
const nextAllowed = new WeakMap<ManagementContext, number>();

/** `GET`/`POST` a JSON endpoint under `/api/v2`; the parsed answer. */
export async function managementJson(
  context: ManagementContext,
  path: string,
  query: Record<string, string | number | boolean | undefined> = {},
  body?: unknown,
): Promise<unknown> {
  const url = new URL(`${context.baseUrl}/api/v2${path}`);
  for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
  for (let tried = 1; ; tried++) {
    const waitUntil = nextAllowed.get(context) ?? 0;
    if (waitUntil > Date.now()) {
      if (!(await pause(waitUntil - Date.now(), context.signal))) throw context.signal.reason ?? new Error('aborted');
    }
    let failure: string;
    let waitMs = 0;
    try {
      const response = await request(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${context.readToken()}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: context.signal,
        dispatcher: httpAgent(),
      });
      const text = await response.body.text();
      const status = response.statusCode;
      const resetMs = rateLimitResetMs(response.headers);
      if (headerValue(response.headers['x-ratelimit-remaining']) === '0' && resetMs !== undefined) {
        nextAllowed.set(context, Date.now() + resetMs);
      }
      if (status >= 200 && status < 300) return text === '' ? null : (JSON.parse(text) as unknown);
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new ManagementRefusal(status, url.pathname, text);
      failure = `HTTP ${status}${text ? `: ${bodyExcerpt(text)}` : ''}`;
      if (status === 429) {
        waitMs = Math.min(RATE_LIMIT_WAIT_CAP_MS, parseRetryAfterMs(response.headers['retry-after']) ?? resetMs ?? 0);
      }
    } catch (error) {
      if (context.signal.aborted || error instanceof ManagementRefusal) throw error;
      failure = (error as Error).message;
    }
    if (tried >= ATTEMPTS) throw new Error(`Auth0's Management API kept failing on ${url.pathname}: ${failure} (after ${ATTEMPTS} attempts)`);
    const delayMs = Math.max(waitMs, backoffDelayMs({ firstMs: RETRY_FIRST_MS, maxMs: RETRY_CAP_MS }, tried));
    if (!(await pause(delayMs, context.signal))) throw context.signal.reason ?? new Error('aborted');
  }
}

/**
 * Auth0's `X-RateLimit-Reset` (the Unix time, in seconds, the limit resets) as a wait from now,
 * capped; undefined without the header. The Events API's reconnects use it when there is no Retry-After.
 */
export function rateLimitResetMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const value = headerValue(headers['x-ratelimit-reset']);
  if (!value || !/^\d+$/.test(value)) return undefined;
  return Math.min(RATE_LIMIT_WAIT_CAP_MS, Math.max(0, Number(value) * 1000 - Date.now()));
}

/** One page of a list endpoint and where the next one starts (null: this was the last). */
export interface ListPage {
  items: Record<string, unknown>[];
  next: string | null;
}

/**
 * Checkpoint pagination (`from` / `take`): the answer is `{<key>: […], next}`, and no `next` (or an
 * empty one) ends the list. A bare array is taken as a last page.
 */
export async function checkpointPage(
  context: ManagementContext,
  path: string,
  key: string,
  from: string | null,
  take: number,
  query: Record<string, string | boolean> = {},
): Promise<ListPage> {
  const body = await managementJson(context, path, { ...query, take, from: from ?? undefined });
  const items = listItems(body, key);
  const next = isRecord(body) && typeof body.next === 'string' && body.next !== '' && items.length > 0 ? body.next : null;
  return { items, next };
}

/**
 * Offset pagination (`page` / `per_page` / `include_totals`): the answer is `{<key>: […], start,
 * limit, total}` or a bare array; a short page, or the total reached, ends the list. `next` is the
 * next page number.
 */
export async function offsetPage(context: ManagementContext, path: string, key: string, page: number, perPage: number): Promise<ListPage> {
  const body = await managementJson(context, path, { page, per_page: perPage, include_totals: true });
  const items = listItems(body, key);
  const total = isRecord(body) && typeof body.total === 'number' ? body.total : null;
  const seen = page * perPage + items.length;
  const more = items.length >= perPage && (total === null || seen < total);
  return { items, next: more ? String(page + 1) : null };
}

function listItems(body: unknown, key: string): Record<string, unknown>[] {
  const list = Array.isArray(body) ? body : isRecord(body) ? body[key] : undefined;
  if (!Array.isArray(list)) throw new Error(`Auth0's Management API answered without a "${key}" list: ${bodyExcerpt(JSON.stringify(body) ?? '')}`);
  return list.filter(isRecord);
}

/**
 * The lines of a users-export file at `location` (a pre-signed storage URL: no Authorization
 * header), gunzipped when compressed, one JSON object per line (the `json` format is NDJSON).
 */
export async function* exportFileLines(location: string, signal: AbortSignal): AsyncGenerator<string> {
  const response = await request(location, { method: 'GET', signal, dispatcher: httpAgent() });
  if (response.statusCode !== 200) {
    const text = await response.body.text();
    throw new ManagementRefusal(response.statusCode, new URL(location).pathname, text);
  }
  // The format is gzipped NDJSON; a plain file is read as it is.
  const chunks = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first = await chunks.next();
  const bytes = Readable.from(
    (async function* () {
      if (first.done) return;
      yield first.value;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
    })(),
  );
  const gzipped = !first.done && first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b;
  const text = gzipped ? bytes.pipe(createGunzip()) : bytes;
  if (gzipped) bytes.once('error', (error) => text.destroy(error));
  for await (const line of createInterface({ input: text, crlfDelay: Infinity })) {
    if (line.trim() !== '') yield line;
  }
}
