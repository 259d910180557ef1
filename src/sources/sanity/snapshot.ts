// A Sanity snapshot: every document the stream's filter matches, drafts and release versions
// included, read from the query API in keyset pages (`_id` after the last one read, ordered by
// `_id`), each page followed by its progress so that a stopped snapshot resumes after its last
// committed page. Then the stream's stored documents the upstream no longer has are marked deleted.
import { isRecord } from '../../common/text.js';
import { nowTime } from '../../common/time.js';
import type { Logger } from '../../core/logger.js';
import type { StoredDocument } from '../../core/source.js';
import type { SnapshotProgress, UnreadableFrame, UpstreamEvent } from '../../core/source-event.js';
import { fetchText, type SanityHttpContext } from './history-client.js';
import type { SanityDocument } from './normalize.js';
import { buildSnapshotCountUrl, buildSnapshotQueryUrl } from './requests.js';
import {
  SNAPSHOT_DELETE,
  SNAPSHOT_DOCUMENT,
  snapshotDeletePayload,
  snapshotDocumentPayload,
  type SnapshotRowContext,
} from './snapshot-normalize.js';

/** Where a snapshot starts: a new one from the first id, or one stopped part-way from its position. */
export interface SnapshotStart extends SnapshotRowContext {
  /** The last id committed; '' before the first page. */
  after: string;
  rowsRead: number;
  pages: number;
}

export interface SnapshotReading {
  http: SanityHttpContext;
  log: Logger;
  /** Documents a listener follows at all (not system documents; versions only with all versions). */
  follows: (id: string) => boolean;
  /** The stream's documents (committed, and as this process last saw them), read once every page is in. */
  storedDocuments: () => Promise<Map<string, StoredDocument>>;
  /** Told of every document yielded, before it is. */
  onDocument: (document: SanityDocument) => void;
  /** Documents per page (default 1000); ids per page of the last pass are five times as many. */
  pageLimit?: number;
}

type SnapshotItem = UpstreamEvent | UnreadableFrame | SnapshotProgress;

const DEFAULT_PAGE_LIMIT = 1000;
const LOG_EVERY_PAGES = 20;

export async function* readSnapshot(start: SnapshotStart, reading: SnapshotReading): AsyncGenerator<SnapshotItem> {
  const { http, log } = reading;
  const limit = reading.pageLimit ?? DEFAULT_PAGE_LIMIT;
  const progress: SnapshotProgress = {
    kind: 'snapshot',
    snapshotId: start.snapshotId,
    startedAt: start.startedAt,
    status: 'running',
    finishedAt: null,
    position: start.after || null,
    rowsRead: start.rowsRead,
    pages: start.pages,
    rowsDeleted: 0,
    total: null,
  };
  // Committed at once: `status` shows the snapshot, and a restart resumes this one.
  if (start.pages === 0) yield { ...progress };
  const total = await countDocuments(http, log);
  progress.total = total;
  log.info(start.pages === 0 ? 'snapshot started' : 'snapshot resumed', {
    snapshot: start.snapshotId, after: start.after || undefined, rowsRead: progress.rowsRead, documents: total ?? undefined,
  });
  const seen = new Set<string>();
  const began = Date.now();
  let rowsThisRun = 0;
  for (let after = start.after; ; ) {
    const page = await fetchPage(http, buildSnapshotQueryUrl(http.config, after, limit));
    if (page.length === 0) break;
    for (const item of page) {
      if (!isRecord(item) || typeof item._id !== 'string' || item._id === '') {
        yield { kind: 'unreadable', frameEvent: 'snapshot', raw: JSON.stringify(item), reason: 'snapshot page item is not a document with an _id', cursor: null };
        continue;
      }
      const document = item as SanityDocument;
      if (!reading.follows(document._id)) continue;
      seen.add(document._id);
      reading.onDocument(document);
      rowsThisRun++;
      progress.rowsRead++;
      // The page's rows and its progress commit together.
      yield { kind: 'event', frameEvent: SNAPSHOT_DOCUMENT, data: snapshotDocumentPayload(start, JSON.stringify(document)), cursor: null, moreInTransaction: true };
    }
    after = lastId(page, (item) => (isRecord(item) ? item._id : undefined));
    progress.position = after;
    progress.pages++;
    yield { ...progress };
    if (progress.pages % LOG_EVERY_PAGES === 0) {
      const perSecond = rowsThisRun / Math.max(0.001, (Date.now() - began) / 1000);
      log.info('snapshot progress', { snapshot: start.snapshotId, rowsRead: progress.rowsRead, pages: progress.pages, documents: total ?? undefined, rowsPerSecond: Math.round(perSecond) });
    }
  }
  for (const documentId of await vanished(start, reading, seen, limit * 5)) {
    progress.rowsDeleted++;
    yield { kind: 'event', frameEvent: SNAPSHOT_DELETE, data: snapshotDeletePayload(start, documentId), cursor: null, moreInTransaction: true };
  }
  progress.status = 'finished';
  progress.finishedAt = nowTime();
  yield { ...progress };
  log.info('snapshot finished', { snapshot: start.snapshotId, rowsRead: progress.rowsRead, pages: progress.pages, rowsDeleted: progress.rowsDeleted });
}

/**
 * Stored documents, not deleted and last written before the snapshot began, that the upstream no
 * longer has (or that no longer match the filter). Those read by this run are there; the others
 * are looked up in one pass over the matching ids.
 */
async function vanished(start: SnapshotStart, reading: SnapshotReading, seen: Set<string>, limit: number): Promise<string[]> {
  const candidates = new Set<string>();
  for (const [id, stored] of await reading.storedDocuments()) {
    if (!stored.deleted && !seen.has(id) && (stored.updatedAt === null || stored.updatedAt < start.startedAt)) candidates.add(id);
  }
  if (candidates.size === 0) return [];
  for (let after = ''; ; ) {
    const ids = await fetchPage(reading.http, buildSnapshotQueryUrl(reading.http.config, after, limit, true));
    if (ids.length === 0) break;
    for (const id of ids) if (typeof id === 'string') candidates.delete(id);
    after = lastId(ids, (id) => id);
  }
  return [...candidates].sort();
}

/**
 * The id the next page starts after: the page's last. Without one, paging could only ask for the
 * same page again (or, in the deletion pass, take documents that exist for deleted): it stops.
 */
function lastId(page: unknown[], idOf: (item: unknown) => unknown): string {
  const id = idOf(page.at(-1));
  if (typeof id !== 'string' || id === '') {
    throw new Error(`Sanity's query API answered a page whose last item has no _id (${JSON.stringify(page.at(-1))?.slice(0, 200)}); cannot read on`);
  }
  return id;
}

/** The `result` array of a query answer (`{"result": […], "ms": …}`). */
async function fetchPage(http: SanityHttpContext, url: string): Promise<unknown[]> {
  const text = await fetchText(http, url, 'query', []);
  const body = JSON.parse(text!) as unknown;
  if (!isRecord(body) || !Array.isArray(body.result)) {
    throw new Error(`Sanity's query API answered without a result array: ${text!.slice(0, 200)}`);
  }
  return body.result;
}

/** How many documents the filter matches, or null when the count cannot be had (it is only an estimate). */
async function countDocuments(http: SanityHttpContext, log: Logger): Promise<number | null> {
  try {
    const text = await fetchText(http, buildSnapshotCountUrl(http.config), 'query', []);
    const body = JSON.parse(text!) as unknown;
    return isRecord(body) && typeof body.result === 'number' ? body.result : null;
  } catch (error) {
    if (http.signal.aborted) throw error;
    log.warn('could not count the documents to snapshot', { error: error instanceof Error ? error.message : String(error) });
    return null;
  }
}
