// Pure URL building for the Sanity endpoints sse-sink calls: listen (SSE), History
// transactions and History documents. No I/O here, so every URL is checked by fixtures.

export type SanityVisibility = 'transaction' | 'query';

/**
 * How sse-sink asks the listener to resume after a reconnect. The exact switch is not documented:
 * @sanity/client (`enableResume`) adds `enableResume=true` to the URL and lets its EventSource send
 * `Last-Event-ID`; a server may also resume on the header alone.
 * - `enable-resume`: both (default);
 * - `last-event-id`: the header only;
 * - `off`: neither: every reconnect is followed by a catch-up from the History API.
 */
export type ResumeMode = 'enable-resume' | 'last-event-id' | 'off';
export const RESUME_MODES: readonly ResumeMode[] = ['enable-resume', 'last-event-id', 'off'];

export const DEFAULT_API_VERSION = 'v2025-02-19';

/** What the listener is asked for: the stream's definition, plus transport choices. */
export interface SanityListenConfig {
  projectId: string;
  dataset: string;
  /** Base URL, e.g. https://<projectId>.api.sanity.io (no trailing slash). */
  baseUrl: string;
  apiVersion: string;
  /** GROQ filter, e.g. `*[_type == "post"]`. */
  query: string;
  /** Query parameters by name (without `$`), as JSON values. */
  params: Record<string, unknown>;
  includeResult: boolean;
  includePreviousRevision: boolean;
  /** Also release version documents (newer API versions hide them otherwise). */
  includeAllVersions: boolean;
  visibility: SanityVisibility;
  tag?: string;
}

export function defaultBaseUrl(projectId: string): string {
  return `https://${projectId}.api.sanity.io`;
}

function dataUrl(config: Pick<SanityListenConfig, 'baseUrl' | 'apiVersion'>, endpoint: string): string {
  return `${config.baseUrl}/${config.apiVersion}/data/${endpoint}`;
}

function appendParams(search: URLSearchParams, params: Record<string, unknown>): void {
  // Sanity reads each `$name` as a JSON value: `$type="post"`.
  for (const [name, value] of Object.entries(params)) search.append(`$${name}`, JSON.stringify(value));
}

/** `GET <base>/<version>/data/listen/<dataset>?query=…&$name=<JSON>&includeResult=…`. */
export function buildListenUrl(config: SanityListenConfig, resume: ResumeMode): string {
  const search = new URLSearchParams();
  if (config.tag) search.append('tag', config.tag);
  search.append('query', config.query);
  appendParams(search, config.params);
  // Sent explicitly both ways: Sanity's own defaults differ between documentation and clients.
  search.append('includeResult', String(config.includeResult));
  search.append('includePreviousRevision', String(config.includePreviousRevision));
  if (config.includeAllVersions) search.append('includeAllVersions', 'true');
  search.append('visibility', config.visibility);
  if (resume === 'enable-resume') search.append('enableResume', 'true');
  return `${dataUrl(config, `listen/${encodeURIComponent(config.dataset)}`)}?${search}`;
}

export interface TransactionsRange {
  fromTime?: string;
  toTime?: string;
  fromTransaction?: string;
  toTransaction?: string;
}

/**
 * `GET <base>/<version>/data/history/<dataset>/transactions[/<id,id,…>]?excludeContent=true&limit=…`
 * (NDJSON). Without ids it lists the whole dataset's transactions ("Find and restore deleted
 * documents" in Sanity's docs). `excludeContent=true` is what Sanity's Studio always sends
 * (`getTransactionsLogs.ts`: "required to set excludeContent as true for now"); without it plans
 * without content history answer 403.
 */
export function buildTransactionsUrl(
  config: SanityListenConfig,
  documentIds: string[] | undefined,
  range: TransactionsRange & { limit: number; excludeContent: true },
): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(range)) if (value !== undefined) search.append(name, String(value));
  if (config.tag) search.append('tag', config.tag);
  const ids = documentIds ? `/${documentIds.map(encodeURIComponent).join(',')}` : '';
  return `${dataUrl(config, `history/${encodeURIComponent(config.dataset)}/transactions${ids}`)}?${search}`;
}

/** A point in a document's history: the revision (transaction id) that wrote it, or a time. */
export type DocumentsAt = { revision: string } | { time: string };

/** `GET <base>/<version>/data/history/<dataset>/documents/<id,id,…>?revision=<rev>` (or `time=`): the documents as they were. */
export function buildDocumentsUrl(config: SanityListenConfig, documentIds: string[], at: DocumentsAt): string {
  const search = new URLSearchParams('revision' in at ? { revision: at.revision } : { time: at.time });
  if (config.tag) search.append('tag', config.tag);
  const ids = documentIds.map(encodeURIComponent).join(',');
  return `${dataUrl(config, `history/${encodeURIComponent(config.dataset)}/documents/${ids}`)}?${search}`;
}

/**
 * Splits ids into groups whose joined, encoded length stays under `maxChars`, so that a
 * transactions URL never grows past what proxies and Sanity accept.
 */
export function chunkIds(documentIds: string[], maxChars = 6000): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const id of documentIds) {
    const size = encodeURIComponent(id).length + 1;
    if (current.length > 0 && length + size > maxChars) {
      chunks.push(current);
      current = [];
      length = 0;
    }
    current.push(id);
    length += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The query parameter a snapshot page names the last id of the page before with. */
export const SNAPSHOT_AFTER_PARAM = 'sseSinkAfterId';

/**
 * `GET <base>/<version>/data/query/<dataset>?query=…&$name=<JSON>&perspective=raw`: one keyset page
 * of a snapshot, the stream's filter narrowed to ids after the last one read, ordered by `_id`.
 * With `idsOnly`, the page holds the ids alone (the snapshot's last pass, which finds deletions).
 */
export function buildSnapshotQueryUrl(config: SanityListenConfig, after: string, limit: number, idsOnly = false): string {
  const query = `${config.query}[_id > $${SNAPSHOT_AFTER_PARAM}] | order(_id asc) [0...${limit}]${idsOnly ? '._id' : ''}`;
  return queryUrl(config, query, { ...config.params, [SNAPSHOT_AFTER_PARAM]: after });
}

/** `count(<filter>)`: how many documents a snapshot will read, for its progress estimate. */
export function buildSnapshotCountUrl(config: SanityListenConfig): string {
  return queryUrl(config, `count(${config.query})`, config.params);
}

/**
 * Parameters are encoded as @sanity/client's `encodeQueryString` does (`$name=<JSON>`);
 * `perspective=raw` returns drafts and release versions as stored, not merged into published ones.
 */
function queryUrl(config: SanityListenConfig, query: string, params: Record<string, unknown>): string {
  const search = new URLSearchParams();
  if (config.tag) search.append('tag', config.tag);
  search.append('query', query);
  appendParams(search, params);
  search.append('perspective', 'raw');
  search.append('returnQuery', 'false');
  return `${dataUrl(config, `query/${encodeURIComponent(config.dataset)}`)}?${search}`;
}
