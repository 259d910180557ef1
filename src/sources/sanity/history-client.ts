// HTTP calls to Sanity's History API (undici), as Sanity's Studio makes them: transactions with
// `excludeContent=true` and an explicit `limit`, read page by page; revisions of several documents
// at once. Transient failures (network, 5xx, 429 with Retry-After, an error line) are retried.
import { request } from 'undici';
import { httpAgent, parseRetryAfterMs } from '../../sse/client.js';
import { backoffDelayMs, pause } from '../../common/retry.js';
import { bodyExcerpt, isRecord } from '../../common/text.js';
import { canonicalTime } from '../../common/time.js';
import type { SanityDocument } from './normalize.js';
import {
  buildDocumentsUrl,
  buildTransactionsUrl,
  chunkIds,
  type DocumentsAt,
  type SanityListenConfig,
  type TransactionsRange,
} from './requests.js';

/** Sanity refused us (401, 403, 404): a token or plan without History access. Retrying cannot help. */
export class HistoryAccessError extends Error {
  constructor(
    readonly status: number,
    readonly endpoint: string,
    body: string,
  ) {
    super(`Sanity refused the ${endpoint} request (HTTP ${status}${body ? `: ${bodyExcerpt(body)}` : ''})`);
    this.name = 'HistoryAccessError';
  }
}

/** Sanity kept failing (or kept answering with error lines) through every attempt: what was read is incomplete. */
export class HistoryUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryUnavailableError';
  }
}

export interface SanityHttpContext {
  config: SanityListenConfig;
  /** Re-read on every request, so a rotated token is used at once. */
  token: () => string | undefined;
  signal: AbortSignal;
  /** Attempts for a request that fails with a network error, an error line, 429 or 5xx (default 6). */
  attempts?: number;
  /** First retry delay, doubling (default 250 ms); a Retry-After wins when it is longer. */
  retryDelayMs?: number;
  /** Transactions asked for per page (default 250). */
  pageLimit?: number;
  /** Called once per HTTP request sent (for the bench's requests-per-transaction figure). */
  onRequest?: () => void;
}

/** One transaction of the History API, as sse-sink reads it: content is excluded. */
export interface HistoryTransaction {
  id: string;
  /** Canonical (microseconds). */
  timestamp: string;
  author?: string;
  documentIDs: string[];
  /** Only when the API sent them despite `excludeContent` (tolerated, used when present). */
  mutations?: Record<string, unknown>[];
}

export interface TransactionPage {
  transactions: HistoryTransaction[];
  /** Lines that were not transactions: dead-lettered by the caller, never dropped. */
  unreadable: { raw: string; reason: string }[];
}

/** Which transactions to list: those of some documents, or of the whole dataset when `documentIds` is absent. */
export interface TransactionScope extends TransactionsRange {
  documentIds?: string[];
}

const DEFAULT_PAGE_LIMIT = 250;
const RETRY_AFTER_CAP_MS = 5 * 60_000;

/**
 * Every transaction in scope, page by page, oldest first. The next page is asked for from the last
 * transaction of the one before: by its id for a range of revisions (as the Studio pages,
 * `getDocumentTransactions.ts`), by its time for a range of time (the dataset-wide list). The API
 * may include that transaction again, and may answer fewer than `limit` lines before the end (a
 * server-side cap): so transactions seen already are dropped, and paging ends with a page that
 * brings nothing new, whatever its length.
 */
export async function* readTransactionPages(http: SanityHttpContext, scope: TransactionScope): AsyncGenerator<TransactionPage> {
  const limit = Math.max(2, http.pageLimit ?? DEFAULT_PAGE_LIMIT);
  const chunks = scope.documentIds ? chunkIds(scope.documentIds) : [undefined];
  const byRevision = scope.fromTransaction !== undefined || scope.toTransaction !== undefined;
  for (const ids of chunks) {
    const seen = new Set<string>(scope.fromTransaction ? [scope.fromTransaction] : []);
    let range: TransactionsRange = { fromTime: scope.fromTime, toTime: scope.toTime, fromTransaction: scope.fromTransaction, toTransaction: scope.toTransaction };
    for (;;) {
      const lines = await fetchNdjson(http, buildTransactionsUrl(http.config, ids, { ...range, limit, excludeContent: true }));
      const page: TransactionPage = { transactions: [], unreadable: [] };
      for (const line of lines) {
        const parsed = readHistoryTransaction(line);
        if ('error' in parsed) page.unreadable.push({ raw: line.raw, reason: parsed.error });
        else if (!seen.has(parsed.id)) page.transactions.push(parsed);
      }
      for (const transaction of page.transactions) seen.add(transaction.id);
      if (page.transactions.length > 0 || page.unreadable.length > 0) yield page;
      const last = page.transactions.at(-1);
      if (!last || last.id === scope.toTransaction) break;
      range = byRevision
        ? { fromTime: scope.fromTime, fromTransaction: last.id, toTransaction: scope.toTransaction }
        : { fromTime: last.timestamp, toTime: scope.toTime };
    }
  }
}

/**
 * The documents as they were at a revision (the transaction that wrote them) or a time, by id:
 * `GET …/history/<dataset>/documents/<id,id,…>?revision=…`. A document missing from the answer
 * did not exist then (deleted by that transaction, or not yet created).
 */
export async function fetchDocumentsAt(http: SanityHttpContext, documentIds: string[], at: DocumentsAt): Promise<Map<string, SanityDocument>> {
  const found = new Map<string, SanityDocument>();
  for (const ids of chunkIds(documentIds)) {
    const text = await fetchText(http, buildDocumentsUrl(http.config, ids, at), 'history documents', [404]);
    if (text === null) {
      // Whether one missing document makes the whole answer a 404 is not documented: ask one by one.
      if (ids.length > 1) for (const id of ids) for (const [key, doc] of await fetchDocumentsAt(http, [id], at)) found.set(key, doc);
      continue;
    }
    const body = JSON.parse(text) as unknown;
    // Documented as `{documents: [doc, …]}`; a bare document is accepted too.
    const docs = isRecord(body) && Array.isArray(body.documents) ? body.documents : [body];
    for (const doc of docs) if (isRecord(doc) && typeof doc._id === 'string') found.set(doc._id, doc as SanityDocument);
  }
  return found;
}

/** One NDJSON line, parsed once: its JSON value, or why it is not JSON. */
type NdjsonLine = { raw: string; value: unknown } | { raw: string; error: string };

/** Reads one line of the transactions endpoint as a transaction, or says why it is not one. */
function readHistoryTransaction(line: NdjsonLine): HistoryTransaction | { error: string } {
  if ('error' in line) return { error: line.error };
  const { value } = line;
  if (!isRecord(value) || typeof value.id !== 'string') return { error: 'history line has no transaction id' };
  const timestamp = canonicalTime(value.timestamp);
  if (timestamp === null) return { error: `transaction ${value.id} has no RFC-3339 timestamp` };
  if (!Array.isArray(value.documentIDs)) return { error: `transaction ${value.id} has no documentIDs` };
  return {
    id: value.id,
    timestamp,
    author: typeof value.author === 'string' ? value.author : undefined,
    documentIDs: value.documentIDs.filter((id): id is string => typeof id === 'string'),
    mutations: Array.isArray(value.mutations) ? value.mutations.filter(isRecord) : undefined,
  };
}

/** The lines of an NDJSON answer; an `{"error": …}` line makes the whole answer a failed attempt. */
async function fetchNdjson(http: SanityHttpContext, url: string): Promise<NdjsonLine[]> {
  return withRetries<NdjsonLine[]>(http, 'history transactions', async () => {
    const text = await fetchOnce(http, url, 'history transactions', []);
    const lines = text!.split('\n').filter((line) => line.trim() !== '').map(parseLine);
    const failed = lines.find((line) => 'value' in line && isRecord(line.value) && 'error' in line.value);
    if (failed) return { retry: `the answer holds an error line: ${bodyExcerpt(failed.raw)}` };
    return { value: lines };
  });
}

function parseLine(raw: string): NdjsonLine {
  try {
    return { raw, value: JSON.parse(raw) as unknown };
  } catch (error) {
    return { raw, error: `history line is not JSON: ${(error as Error).message}` };
  }
}

export async function fetchText(http: SanityHttpContext, url: string, endpoint: string, nullOn: number[]): Promise<string | null> {
  return withRetries(http, endpoint, async () => ({ value: await fetchOnce(http, url, endpoint, nullOn) }));
}

/** Thrown by one attempt: worth another one, after at least `waitMs`. */
class TransientFailure extends Error {
  constructor(
    message: string,
    readonly waitMs = 0,
  ) {
    super(message);
  }
}

async function fetchOnce(http: SanityHttpContext, url: string, endpoint: string, nullOn: number[]): Promise<string | null> {
  const headers: Record<string, string> = { accept: 'application/x-ndjson, application/json' };
  const token = http.token();
  if (token) headers.authorization = `Bearer ${token}`;
  http.onRequest?.();
  let status: number;
  let text: string;
  let retryAfterMs: number | undefined;
  try {
    const response = await request(url, { method: 'GET', headers, signal: http.signal, dispatcher: httpAgent() });
    status = response.statusCode;
    retryAfterMs = parseRetryAfterMs(response.headers['retry-after']);
    text = await response.body.text();
  } catch (error) {
    if (http.signal.aborted) throw error;
    throw new TransientFailure(`Sanity ${endpoint} request failed: ${(error as Error).message}`);
  }
  if (status >= 200 && status < 300) return text;
  if (nullOn.includes(status)) return null;
  if (status === 401 || status === 403 || status === 404) throw new HistoryAccessError(status, endpoint, text);
  const message = `Sanity ${endpoint} request failed with HTTP ${status}${text ? `: ${bodyExcerpt(text)}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) throw new TransientFailure(message, Math.min(RETRY_AFTER_CAP_MS, retryAfterMs ?? 0));
  throw new Error(message);
}

/** Runs `attempt` until it gives a value: transient failures and `retry` answers wait and go again. */
async function withRetries<T>(
  http: SanityHttpContext,
  endpoint: string,
  attempt: () => Promise<{ value: T } | { retry: string }>,
): Promise<T> {
  const attempts = http.attempts ?? 6;
  const firstDelayMs = http.retryDelayMs ?? 250;
  for (let tried = 1; ; tried++) {
    let why: string;
    let waitMs = 0;
    try {
      const outcome = await attempt();
      if ('value' in outcome) return outcome.value;
      why = outcome.retry;
    } catch (error) {
      if (!(error instanceof TransientFailure)) throw error;
      why = error.message;
      waitMs = error.waitMs;
    }
    if (tried >= attempts) throw new HistoryUnavailableError(`Sanity ${endpoint}: ${why} (after ${attempts} attempts)`);
    const waited = await pause(Math.max(waitMs, backoffDelayMs({ firstMs: firstDelayMs, maxMs: HISTORY_RETRY_CAP_MS }, tried)), http.signal);
    if (!waited) throw new HistoryUnavailableError(`Sanity ${endpoint}: stopped while waiting to retry`);
  }
}

/** A retry waits at most this long (unless the server's Retry-After says more). */
const HISTORY_RETRY_CAP_MS = 30_000;
