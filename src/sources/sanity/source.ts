// The Sanity source: reads the listen stream, resumes with Last-Event-ID where the server offers
// it, catches up from the History API when it cannot (reset, no resume, downtime), and repairs
// revision gaps the writer reports. Every change it yields goes through the same normalizer.
import { setMaxListeners } from 'node:events';
import { UpstreamStopError, UsageError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { NormalizeFailure, NormalizeResult } from '../../normalize/change.js';
import {
  mutationEventId,
  normalizeSanityMutationEvent,
  parseMutationEvent,
  parseDocumentId,
  rebuildMutationEvents,
  type KnownRevision,
  type ParsedMutationEvent,
  type SanityDocument,
  type SanityMutationEvent,
} from '../../normalize/sanity.js';
import { canonicalTime, nowTime } from '../../normalize/time.js';
import type { CommitResult } from '../../store/batch-writer.js';
import { readSseStream, SseHttpError, type SseClientOptions } from '../../sse/client.js';
import type { ConnectContext, ConnectRequest, SseFrame } from '../../sse/types.js';
import type { ReadContext, Source } from '../source.js';
import type { GapRecord, SourceEvent, UpstreamEvent } from '../source-event.js';
import { interpretFrame, type SanityFrame } from './frames.js';
import {
  fetchRevision,
  fetchTransactions,
  HistoryAccessError,
  queryChangedMatching,
  queryKnownState,
  type SanityHttpContext,
} from './history-client.js';
import { buildListenUrl, type ResumeMode, type SanityListenConfig } from './requests.js';

/** What the source may read back from the database (read-only, committed state). */
export interface SanityStoreView {
  /** The stream's documents with the revision stored for each. */
  documents(): Map<string, KnownRevision>;
  /** Revision gaps an earlier run detected but did not get to repair. */
  openRevisionGaps(): RevisionGap[];
}

export interface RevisionGap {
  documentId: string;
  /** The revision we held. */
  found: string | null;
  /** The revision the incoming event said it followed. */
  expected: string | null;
}

export interface SanitySourceOptions {
  config: SanityListenConfig;
  resume: ResumeMode;
  /** Reads the current token (or undefined for a public dataset); called before every request. */
  token: () => string | undefined;
  store?: SanityStoreView;
  /** Options passed through to the SSE client (timeouts, backoff), e.g. by tests. */
  sse?: Partial<Omit<SseClientOptions, 'connect' | 'signal'>>;
  /** Parallel History revision requests during a catch-up (default 8). */
  historyConcurrency?: number;
  /** History request attempts and first retry delay (defaults 4 and 250 ms). */
  historyAttempts?: number;
  historyRetryDelayMs?: number;
}

/** The definition stored for the stream: what it receives, not how it gets there. */
export function sanityDefinition(config: SanityListenConfig): Record<string, unknown> {
  return {
    projectId: config.projectId,
    dataset: config.dataset,
    apiVersion: config.apiVersion,
    query: config.query,
    params: config.params,
    includeResult: config.includeResult,
    includePreviousRevision: config.includePreviousRevision,
    includeAllVersions: config.includeAllVersions,
    visibility: config.visibility,
  };
}

/** Why a catch-up ran: it is the `gaps.reason` of its row. */
export type CatchUpReason =
  /** The server answered `reset` to our Last-Event-ID. */
  | 'reset'
  /** We sent Last-Event-ID (or could not) and got a plain `welcome`: the server did not resume. */
  | 'no-resume'
  /** First start with --since. */
  | 'since';

// The History API is asked from a little before the last complete moment: transactions that
// share a timestamp, and clocks, are not exact; anything seen twice is deduplicated.
const CATCH_UP_OVERLAP_MS = 1000;
// When nothing tells us since when we are complete (first start without --since), the first
// welcome counts, measured with our own clock: allow for it being ahead of Sanity's.
const CLOCK_SKEW_MS = 60_000;
// Catch-up events are fetched (with their documents) and handed on this many at a time.
const CATCH_UP_PAGE = 100;

export class SanitySource implements Source {
  readonly kind = 'sanity' as const;
  readonly definition: Record<string, unknown>;
  /**
   * The event last yielded and its parse, which normalize() takes over: the runner normalizes each
   * event before it reads the next, so every frame is parsed once. (A WeakMap of every event read
   * did the same, and its garbage collection took a quarter of the reader's CPU.)
   */
  private lastYielded: UpstreamEvent | undefined;
  private lastParsed: ParsedMutationEvent | NormalizeFailure | undefined;
  /** Revisions seen in this process (they may not be committed yet), overriding the store's. */
  private readonly revisions = new Map<string, KnownRevision>();
  private readonly repairs: RevisionGap[] = [];
  private wakeReader: () => void = () => {};

  constructor(private readonly options: SanitySourceOptions) {
    this.definition = sanityDefinition(options.config);
  }

  read(context: ReadContext): AsyncIterable<SourceEvent> {
    return this.readEvents(context);
  }

  normalize(event: UpstreamEvent): NormalizeResult {
    const parsed = event === this.lastYielded && this.lastParsed ? this.lastParsed : parseMutationEvent(event.data);
    return normalizeSanityMutationEvent(parsed, event.data);
  }

  /** Revision mismatches found by the writer are repaired from the History API by the reader. */
  afterCommit(result: CommitResult): void {
    for (const mismatch of result.revisionMismatches) {
      if (mismatch.table !== 'documents') continue;
      this.repairs.push({ documentId: String(mismatch.key.document_id), found: mismatch.found, expected: mismatch.expected });
    }
    if (this.repairs.length > 0) this.wakeReader();
  }

  private async *readEvents(context: ReadContext): AsyncGenerator<SourceEvent> {
    const { signal, log } = context;
    const { config } = this.options;
    // History requests run in parallel, each listening to the abort: a signal of their own keeps
    // Node from warning about many listeners on the runner's.
    const historyAbort = new AbortController();
    setMaxListeners(64, historyAbort.signal);
    if (signal.aborted) historyAbort.abort();
    else signal.addEventListener('abort', () => historyAbort.abort(), { once: true });
    const http: SanityHttpContext = {
      config,
      token: this.options.token,
      signal: historyAbort.signal,
      attempts: this.options.historyAttempts,
      retryDelayMs: this.options.historyRetryDelayMs,
    };
    const state: ReaderState = {
      lastEventId: context.cursor,
      completeThrough: context.cursor ? context.lastEventAt : context.since,
      completeThroughIsLocal: false,
      connection: null,
      since: context.since,
    };
    this.repairs.push(...(this.options.store?.openRevisionGaps() ?? []));

    const connect = (ctx: ConnectContext): ConnectRequest => {
      const resumeFrom = this.options.resume === 'off' ? null : (state.lastEventId ?? ctx.lastEventId ?? null);
      state.connection = { attempt: ctx.attempt, sentLastEventId: resumeFrom, hadCursor: state.lastEventId !== null };
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      const token = this.options.token();
      if (token) headers.authorization = `Bearer ${token}`;
      if (resumeFrom) headers['last-event-id'] = resumeFrom;
      return { url: buildListenUrl(config, this.options.resume), headers };
    };
    const frames = readSseStream({
      ...this.options.sse,
      connect,
      signal,
      sendLastEventId: false,
      onConnectionEvent: context.onConnectionEvent,
    });
    const iterator = frames[Symbol.asyncIterator]();
    let next: Promise<IteratorResult<SseFrame>> | undefined;
    try {
      while (!signal.aborted) {
        const repair = this.repairs.shift();
        if (repair) {
          yield* this.repairGap(repair, http, log);
          continue;
        }
        next ??= iterator.next();
        const woken = new Promise<'repair'>((resolve) => (this.wakeReader = () => resolve('repair')));
        const winner = await Promise.race([next, woken]);
        if (winner === 'repair') continue;
        next = undefined;
        if (winner.done) return;
        const meaning = interpretFrame(winner.value);
        // Mutations are nearly every frame: handled inline, without a generator of their own.
        if (meaning.kind === 'mutation') yield this.liveEvent(meaning, state);
        else yield* this.handleControlFrame(meaning, state, http, log);
      }
    } catch (error) {
      if (error instanceof SseHttpError) throw refusal(error, config);
      throw error;
    } finally {
      this.wakeReader = () => {};
      // Ends the HTTP request; the signal is aborted (or the stream failed), so this is prompt.
      void iterator.return?.(undefined).catch(() => {});
    }
  }

  private liveEvent(meaning: Extract<SanityFrame, { kind: 'mutation' }>, state: ReaderState): UpstreamEvent {
    const parsed = parseMutationEvent(meaning.data);
    const event = 'error' in parsed ? null : parsed.event;
    const cursor = meaning.id ?? (event ? mutationEventId(event.transactionId, event.documentId) : null);
    const item: UpstreamEvent = { kind: 'event', frameEvent: 'mutation', data: meaning.data, cursor };
    this.handOver(item, parsed);
    if (!('error' in parsed)) {
      this.remember(parsed.event);
      advanceCompleteThrough(state, parsed.occurredAt);
    }
    if (cursor) state.lastEventId = cursor;
    return item;
  }

  private async *handleControlFrame(
    meaning: Exclude<SanityFrame, { kind: 'mutation' }>,
    state: ReaderState,
    http: SanityHttpContext,
    log: Logger,
  ): AsyncGenerator<SourceEvent> {
    switch (meaning.kind) {
      case 'keepalive':
        return;
      case 'welcomeback':
        log.info('listener resumed: the server replays what was missed', { lastEventId: state.connection?.sentLastEventId });
        return;
      case 'reset':
        log.warn('listener could not resume (reset): catching up from the History API', { completeThrough: state.completeThrough });
        yield* this.catchUp('reset', state, http, log);
        return;
      case 'welcome': {
        const connection = state.connection;
        log.info('listener connected', { listenerName: meaning.listenerName, attempt: connection?.attempt });
        if (connection?.sentLastEventId || connection?.hadCursor) {
          log.warn('the listener did not resume: catching up from the History API', { completeThrough: state.completeThrough });
          yield* this.catchUp('no-resume', state, http, log);
        } else if (state.completeThrough === null) {
          // First start without --since: the stream begins now (by our clock, until Sanity's shows).
          state.completeThrough = shiftTime(nowTime(), -CLOCK_SKEW_MS);
          state.completeThroughIsLocal = true;
        } else {
          yield* this.catchUp(connection?.attempt === 0 && state.since ? 'since' : 'no-resume', state, http, log);
        }
        return;
      }
      case 'channelError':
        log.error('Sanity reported a listener error (channelError)', { message: meaning.message, queryError: meaning.queryError });
        if (meaning.queryError) {
          throw new UsageError(`Sanity rejected the listen query: ${meaning.message}; fix --query or --param`);
        }
        return;
      case 'disconnect':
        throw new UpstreamStopError(
          `Sanity told the listener to disconnect (${meaning.reason}); not reconnecting. ` +
            'Check the project and dataset, then start the ingest again',
        );
      case 'unknown':
        yield { kind: 'unreadable', frameEvent: meaning.event, raw: meaning.data, reason: `unknown listen event "${meaning.event}"`, cursor: null };
        return;
      case 'oversize':
        // The listener resumes after it: the cursor moves past what the dead letter keeps.
        if (meaning.id) state.lastEventId = meaning.id;
        yield { kind: 'unreadable', frameEvent: meaning.event, raw: meaning.preview, reason: meaning.reason, cursor: meaning.id };
        return;
    }
  }

  /** Fetches what changed since we were last complete and yields it, then the catch-up's gap row. */
  private async *catchUp(reason: CatchUpReason, state: ReaderState, http: SanityHttpContext, log: Logger): AsyncGenerator<SourceEvent> {
    const toTime = nowTime();
    const fromTime = state.completeThrough;
    if (fromTime === null) {
      const detail = 'no stored event time to catch up from: changes made while sse-sink was away may be missing';
      log.warn(`cannot catch up: ${detail}`);
      yield gap(reason, null, toTime, 'unrepairable', null, detail);
      state.completeThrough = shiftTime(toTime, -CLOCK_SKEW_MS);
      state.completeThroughIsLocal = true;
      return;
    }
    const since = shiftTime(fromTime, -CATCH_UP_OVERLAP_MS);
    let found = 0;
    try {
      const { events, unreadable, idsChecked } = await this.collectChangesSince(since, http);
      for (const line of unreadable) yield { kind: 'unreadable', frameEvent: 'history', raw: line.raw, reason: line.reason, cursor: null };
      // In pages, oldest first: what is committed of a catch-up cut short is a prefix it resumes after.
      for (let start = 0; start < events.length; start += CATCH_UP_PAGE) {
        const page = events.slice(start, start + CATCH_UP_PAGE);
        await this.attachDocuments(page, http);
        for (const event of page) {
          advanceCompleteThrough(state, canonicalTime(event.timestamp)!);
          const item = this.upstreamEvent(event, true);
          state.lastEventId = item.cursor;
          yield item;
        }
        found += page.length;
      }
      log.info('caught up from the History API', { reason, fromTime, toTime, changes: found, documentsChecked: idsChecked });
      yield gap(reason, fromTime, toTime, 'repaired', found, JSON.stringify({ documentsChecked: idsChecked, historyFrom: since }));
    } catch (error) {
      if (http.signal.aborted) return;
      const why = error instanceof HistoryAccessError ? `${error.message}; a token with History API access is needed` : String((error as Error).message ?? error);
      log.warn('cannot catch up: the stream may be missing changes made while it was not listening', { fromTime, toTime, error: why });
      yield gap(reason, fromTime, toTime, 'unrepairable', found, why);
    }
  }

  /**
   * The History API needs document ids. The candidates: documents matching the filter that changed
   * since; known ones that changed since (they may have stopped matching) or are gone (deleted);
   * and the draft / published / release-version siblings of all of these that do not exist now,
   * which finds e.g. a draft created and published (so deleted) meanwhile. A document whose whole
   * family was created and deleted while sse-sink was away is visible to none of these.
   */
  private async collectChangesSince(since: string, http: SanityHttpContext) {
    const known = this.knownRevisions();
    const sinceMs = Date.parse(since);
    const changedSince = (updatedAt: string | null | undefined) => !updatedAt || Date.parse(updatedAt) >= sinceMs;
    const matching = await queryChangedMatching(http, since);
    const siblings = siblingIds([...known.keys(), ...matching]).filter((id) => !known.has(id));
    const present = await queryKnownState(http, [...known.keys(), ...siblings]);
    const candidates = new Set(matching);
    // A known document that is gone now was deleted (again, if we had it deleted: it may have
    // been re-created meanwhile); one that changed since may have stopped matching.
    for (const id of known.keys()) if (!present.has(id) || changedSince(present.get(id))) candidates.add(id);
    // A sibling that exists and matches was found by the query; one that is gone can only be asked for.
    for (const id of siblings) if (!present.has(id)) candidates.add(id);
    // The dataset moves between the two queries: a sibling that changed but was not among the
    // matching ones may not match the filter, or may have been re-created after the first query.
    // Asking again tells the two apart.
    if (siblings.some((id) => present.has(id) && !candidates.has(id) && changedSince(present.get(id)))) {
      for (const id of await queryChangedMatching(http, since)) candidates.add(id);
    }
    if (!this.options.config.includeAllVersions) {
      for (const id of candidates) if (id.startsWith('versions.')) candidates.delete(id);
    }
    if (candidates.size === 0) return { events: [], unreadable: [], idsChecked: 0 };
    const page = await fetchTransactions(http, [...candidates].sort(), { fromTime: since });
    const events = rebuildMutationEvents(page.transactions, { documentIds: candidates, before: known });
    return { events, unreadable: page.unreadable, idsChecked: candidates.size };
  }

  /** Repairs one revision gap: the document's transactions between the two revisions. */
  private async *repairGap(repair: RevisionGap, http: SanityHttpContext, log: Logger): AsyncGenerator<SourceEvent> {
    const { documentId, found, expected } = repair;
    let events: SanityMutationEvent[];
    try {
      const page = await fetchTransactions(http, [documentId], {
        fromTransaction: found ?? undefined,
        toTransaction: expected ?? undefined,
      });
      // Only up to the revision the newer event continued from, whatever the endpoint included.
      const end = expected ? page.transactions.findIndex((tx) => tx.id === expected) : -1;
      const transactions = end >= 0 ? page.transactions.slice(0, end + 1) : page.transactions;
      const before = new Map<string, KnownRevision>(found ? [[documentId, { rev: found, deleted: false }]] : []);
      events = rebuildMutationEvents(transactions, { documentIds: new Set([documentId]), before });
      await this.attachDocuments(events, http);
    } catch (error) {
      if (http.signal.aborted) return;
      const why = error instanceof HistoryAccessError ? `${error.message}; a token with History API access is needed` : String((error as Error).message ?? error);
      log.warn('cannot repair a revision gap', { documentId, found, expected, error: why });
      yield { ...gap('revision-mismatch', null, null, 'unrepairable', null, why), documentId, resolvesOpen: true };
      return;
    }
    // The repair fills history only: the document row already holds the newer revision.
    for (const event of events) yield this.upstreamEvent(event, false);
    log.info('repaired a revision gap from the History API', { documentId, found, expected, changes: events.length });
    yield {
      ...gap('revision-mismatch', events[0]?.timestamp ?? null, events.at(-1)?.timestamp ?? null, 'repaired', events.length,
        JSON.stringify({ found, expected })),
      documentId,
      resolvesOpen: true,
    };
  }

  /** Adds `result` / `previous` (per the stream's options) to rebuilt events from the History API. */
  private async attachDocuments(events: SanityMutationEvent[], http: SanityHttpContext): Promise<void> {
    const { includeResult, includePreviousRevision } = this.options.config;
    if (!includeResult && !includePreviousRevision) return;
    const cache = new Map<string, Promise<SanityDocument | null>>();
    const revision = (id: string, rev: string) => {
      const key = `${id}@${rev}`;
      let doc = cache.get(key);
      if (!doc) cache.set(key, (doc = fetchRevision(http, id, rev)));
      return doc;
    };
    await mapLimit(events, this.options.historyConcurrency ?? 8, async (event) => {
      if (includeResult && event.transition !== 'disappear') {
        const result = await revision(event.documentId, event.transactionId);
        if (result) event.result = result;
      }
      if (includePreviousRevision && event.previousRev) {
        const previous = await revision(event.documentId, event.previousRev);
        if (previous) event.previous = previous;
      }
    });
  }

  /**
   * An event rebuilt from the History API. A catch-up event carries its id as the cursor: it is the
   * id the listener gives the same change, so a restart can resume after it. A repaired event is
   * older than the stream's position and leaves the cursor alone.
   */
  private upstreamEvent(event: SanityMutationEvent, movesCursor: boolean): UpstreamEvent {
    const cursor = movesCursor ? mutationEventId(event.transactionId, event.documentId) : null;
    const item: UpstreamEvent = { kind: 'event', frameEvent: 'mutation', data: JSON.stringify(event), cursor };
    this.handOver(item, { event, occurredAt: canonicalTime(event.timestamp)! });
    this.remember(event);
    return item;
  }

  private handOver(item: UpstreamEvent, parsed: ParsedMutationEvent | NormalizeFailure): void {
    this.lastYielded = item;
    this.lastParsed = parsed;
  }

  private remember(event: SanityMutationEvent): void {
    this.revisions.set(event.documentId, {
      rev: event.resultRev ?? event.transactionId,
      deleted: event.transition === 'disappear',
    });
  }

  private knownRevisions(): Map<string, KnownRevision> {
    const known = this.options.store?.documents() ?? new Map<string, KnownRevision>();
    for (const [id, revision] of this.revisions) known.set(id, revision);
    return known;
  }
}

interface ReaderState {
  /** The id of the last mutation the listener sent (or the stored cursor): our Last-Event-ID. */
  lastEventId: string | null;
  /** Sanity time up to which every change is believed stored: where a catch-up starts. */
  completeThrough: string | null;
  /** completeThrough came from our clock, not Sanity's: the first event's time replaces it. */
  completeThroughIsLocal: boolean;
  connection: { attempt: number; sentLastEventId: string | null; hadCursor: boolean } | null;
  since: string | null;
}

/**
 * The other ids of the same documents: published, `drafts.` and `versions.<release>.`, for the
 * kinds (and releases) that occur among `ids`, so that a stream that never sees drafts is not
 * given any.
 */
export function siblingIds(ids: Iterable<string>): string[] {
  const given = [...ids];
  const published = new Set<string>();
  const releases = new Set<string>();
  let drafts = false;
  let publishedSeen = false;
  for (const id of given) {
    const parts = parseDocumentId(id);
    published.add(parts.publishedId);
    if (parts.idKind === 'draft') drafts = true;
    if (parts.idKind === 'published') publishedSeen = true;
    if (parts.releaseId) releases.add(parts.releaseId);
  }
  const all = new Set<string>();
  for (const id of published) {
    if (publishedSeen) all.add(id);
    if (drafts) all.add(`drafts.${id}`);
    for (const release of releases) all.add(`versions.${release}.${id}`);
  }
  for (const id of given) all.delete(id);
  return [...all].sort();
}

function advanceCompleteThrough(state: ReaderState, time: string): void {
  if (state.completeThroughIsLocal || state.completeThrough === null || time > state.completeThrough) {
    state.completeThrough = time;
    state.completeThroughIsLocal = false;
  }
}

function gap(
  reason: string,
  fromTime: string | null,
  toTime: string | null,
  status: GapRecord['status'],
  changesFound: number | null,
  detail: string | null,
): GapRecord {
  return { kind: 'gap', reason, fromTime, toTime, status, changesFound, detail };
}

function shiftTime(time: string, ms: number): string {
  // Keep the microseconds: only whole milliseconds move.
  const shifted = new Date(Date.parse(time) + ms).toISOString().slice(0, 23);
  return `${shifted}${time.slice(23, 26)}Z`;
}

function refusal(error: SseHttpError, config: SanityListenConfig): Error {
  const body = error.body.slice(0, 300).replace(/\s+/g, ' ').trim();
  const where = `project ${config.projectId}, dataset ${config.dataset}`;
  if (error.status === 401 || error.status === 403) {
    return new UpstreamStopError(
      `Sanity refused the listener (HTTP ${error.status}${body ? `: ${body}` : ''}); check SANITY_TOKEN or --token-file and its access to ${where}`,
    );
  }
  if (error.status === 404) return new UsageError(`Sanity has no ${where} (HTTP 404${body ? `: ${body}` : ''}); check --project, --dataset and --url`);
  if (error.status === 400) return new UsageError(`Sanity rejected the listen request (HTTP 400${body ? `: ${body}` : ''}); check --query, --param and --api-version`);
  return error;
}

async function mapLimit<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
