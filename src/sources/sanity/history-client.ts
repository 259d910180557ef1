// HTTP calls to Sanity's query and History endpoints (undici), used to catch up after a lost
// connection and to repair a revision gap. Transient failures are retried; refusals are typed.
import { request } from 'undici';
import {
  parseHistoryTransaction,
  type HistoryTransaction,
  type SanityDocument,
} from '../../normalize/sanity.js';
import {
  buildQueryUrl,
  buildRevisionUrl,
  buildTransactionsUrl,
  changedMatchingQuery,
  chunkIds,
  KNOWN_STATE_QUERY,
  type SanityListenConfig,
  type TransactionsRange,
} from './requests.js';

/** The History API (or the query endpoint) refused us: the token is missing or lacks access. */
export class HistoryAccessError extends Error {
  constructor(
    readonly status: number,
    readonly endpoint: string,
    body: string,
  ) {
    super(`Sanity refused the ${endpoint} request (HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''})`);
    this.name = 'HistoryAccessError';
  }
}

export interface SanityHttpContext {
  config: SanityListenConfig;
  /** Re-read on every request, so a rotated token is used at once. */
  token: () => string | undefined;
  signal: AbortSignal;
  /** Attempts for a request that fails with a network error, 429 or 5xx (default 4). */
  attempts?: number;
  retryDelayMs?: number;
}

export interface TransactionsPage {
  transactions: HistoryTransaction[];
  /** Lines that were not transactions: dead-lettered by the caller, never dropped. */
  unreadable: { raw: string; reason: string }[];
}

/** All transactions touching any of `documentIds` in `range` (several requests for many ids). */
export async function fetchTransactions(
  http: SanityHttpContext,
  documentIds: string[],
  range: TransactionsRange,
): Promise<TransactionsPage> {
  const page: TransactionsPage = { transactions: [], unreadable: [] };
  for (const chunk of chunkIds(documentIds)) {
    const text = await fetchText(http, buildTransactionsUrl(http.config, chunk, range), 'history transactions');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const parsed = parseHistoryTransaction(line);
      if ('error' in parsed) page.unreadable.push({ raw: line, reason: parsed.error });
      else page.transactions.push(parsed);
    }
  }
  return page;
}

/** The document as it was at `revision` (the transaction id that produced it), or null if unknown. */
export async function fetchRevision(http: SanityHttpContext, documentId: string, revision: string): Promise<SanityDocument | null> {
  const text = await fetchTextOrNull(http, buildRevisionUrl(http.config, documentId, revision), 'history document', [404]);
  if (text === null) return null;
  const body = JSON.parse(text) as unknown;
  // Documented as `{documents: [doc]}`; a bare document is accepted too.
  const doc = isRecord(body) && Array.isArray(body.documents) ? body.documents[0] : body;
  return isRecord(doc) && typeof doc._id === 'string' ? (doc as SanityDocument) : null;
}

/** Ids of the documents matching the stream's filter now that changed since `since`. */
export async function queryChangedMatching(http: SanityHttpContext, since: string): Promise<string[]> {
  const { config } = http;
  const url = buildQueryUrl(config, changedMatchingQuery(config.query), { ...config.params, sseSinkSince: since });
  const result = queryResult(await fetchText(http, url, 'query'));
  return Array.isArray(result) ? result.filter((id): id is string => typeof id === 'string') : [];
}

/** For known ids: the ones that still exist, with their `_updatedAt` (several requests for many ids). */
export async function queryKnownState(http: SanityHttpContext, known: string[]): Promise<Map<string, string | null>> {
  const present = new Map<string, string | null>();
  for (const chunk of chunkIds(known, 4000)) {
    const url = buildQueryUrl(http.config, KNOWN_STATE_QUERY, { sseSinkKnown: chunk });
    const result = queryResult(await fetchText(http, url, 'query'));
    for (const row of Array.isArray(result) ? result : []) {
      if (isRecord(row) && typeof row._id === 'string') present.set(row._id, typeof row._updatedAt === 'string' ? row._updatedAt : null);
    }
  }
  return present;
}

function queryResult(text: string): unknown {
  const body = JSON.parse(text) as unknown;
  return isRecord(body) ? body.result : undefined;
}

/** A 2xx body, or throws; for endpoints where every document asked for must exist. */
async function fetchText(
  http: SanityHttpContext,
  url: string,
  endpoint: string,
): Promise<string> {
  return (await fetchTextOrNull(http, url, endpoint, []))!;
}

async function fetchTextOrNull(
  http: SanityHttpContext,
  url: string,
  endpoint: string,
  nullOn: number[],
): Promise<string | null> {
  const attempts = http.attempts ?? 4;
  const retryDelayMs = http.retryDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    const headers: Record<string, string> = { accept: 'application/json, application/x-ndjson' };
    const token = http.token();
    if (token) headers.authorization = `Bearer ${token}`;
    let status: number;
    let text: string;
    try {
      const response = await request(url, { method: 'GET', headers, signal: http.signal });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      if (http.signal.aborted || attempt >= attempts) throw error;
      await delay(retryDelayMs * 2 ** (attempt - 1), http.signal);
      continue;
    }
    if (status >= 200 && status < 300) return text;
    if (nullOn.includes(status)) return null;
    if (status === 401 || status === 403 || status === 404) throw new HistoryAccessError(status, endpoint, text);
    const transient = status === 408 || status === 429 || status >= 500;
    if (!transient || attempt >= attempts) {
      throw new Error(`Sanity ${endpoint} request failed with HTTP ${status}: ${text.slice(0, 200)}`);
    }
    await delay(retryDelayMs * 2 ** (attempt - 1), http.signal);
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
