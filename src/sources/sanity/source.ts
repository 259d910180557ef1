// The Sanity source: reads the listen stream, resumes with Last-Event-ID where the server offers
// it, catches up from the History API's dataset-wide transaction list when it cannot (reset, no
// resume, downtime), and repairs revision gaps the writer reports. Every change it yields goes
// through the same normalizer, a transaction at a time.
import { setMaxListeners } from 'node:events';
import { bodyExcerpt } from '../../common/text.js';
import { SinkError, ExitCode, UpstreamStopError, UsageError } from '../../common/errors.js';
import type { Logger } from '../../core/logger.js';
import type { NormalizeFailure, NormalizeResult } from '../../core/change.js';
import {
  mutationEventId,
  normalizeSanityMutationEvent,
  parseMutationEvent,
  type ParsedMutationEvent,
  type SanityMutationEvent,
} from './normalize.js';
import { canonicalTime, nowTime, shiftTime } from '../../common/time.js';
import type { CommitResult } from '../../core/batch.js';
import { readSseStream, SseHttpError, type SseClientOptions } from '../../sse/client.js';
import type { ConnectContext, ConnectRequest, SseFrame } from '../../sse/types.js';
import type { ReadContext, Source, StoredDocument } from '../../core/source.js';
import type { GapRecord, SourceEvent, UpstreamEvent } from '../../core/source-event.js';
import { rebuildTransactions, type RebuildOptions } from './catch-up.js';
import { createDocumentFilter, type DocumentFilter } from './filter.js';
import { interpretFrame, type SanityFrame } from './frames.js';
import { HistoryAccessError, HistoryUnavailableError, readTransactionPages, type SanityHttpContext, type TransactionScope } from './history-client.js';
import { buildListenUrl, type ResumeMode, type SanityListenConfig } from './requests.js';
import { readSnapshot, type SnapshotStart } from './snapshot.js';
import { normalizeSnapshotRow } from './snapshot-normalize.js';

/** A revision gap to repair: found by the store at a commit, or left open by an earlier run. */
interface RevisionGap {
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
  /** Options passed through to the SSE client (timeouts, backoff), e.g. by tests. */
  sse?: Partial<Omit<SseClientOptions, 'connect' | 'signal'>>;
  /** History request attempts and first retry delay (defaults 6 and 250 ms). */
  historyAttempts?: number;
  historyRetryDelayMs?: number;
  /** Transactions per History page (default 250). */
  historyPageLimit?: number;
  /** Told of every History request (the bench counts them). */
  onHistoryRequest?: () => void;
  /** Documents per snapshot page (default 1000). */
  snapshotPageLimit?: number;
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

/**
 * A mutation event as the reader yields it: the reader parses every frame once (to follow
 * revisions and times), and the normalizer takes that parse over. An event without it (one read
 * back from elsewhere) is parsed from its data.
 */
export interface SanityUpstreamEvent extends UpstreamEvent {
  parsed?: ParsedMutationEvent | NormalizeFailure;
  /**
   * This process's snapshot accounts for the revision the event continued from (see
   * snapshotAccountsFor): it is not checked, since it would look like a gap.
   */
  revisionKnown?: boolean;
}

type SanitySourceEvent = SourceEvent<SanityUpstreamEvent>;

export class SanitySource implements Source<SanityUpstreamEvent> {
  readonly kind = 'sanity' as const;
  readonly definition: Record<string, unknown>;
  /** Documents seen in this process (they may not be committed yet), overriding the store's. */
  private readonly seen = new Map<string, StoredDocument>();
  /** The revision this process's snapshot stored, by document. */
  private readonly snapshotRevisions = new Map<string, string>();
  /** Set once this process's snapshot read every id after `after` (where it began or resumed). */
  private snapshotRead: { after: string } | null = null;
  private readonly repairs: RevisionGap[] = [];
  private wakeReader: () => void = () => {};
  /** The live transaction being read, to tell the runner not to commit half of it. */
  private liveTransaction = { id: '', events: 0 };
  private filter: Promise<DocumentFilter> | undefined;

  constructor(private readonly options: SanitySourceOptions) {
    this.definition = sanityDefinition(options.config);
  }

  read(context: ReadContext): AsyncIterable<SourceEvent<SanityUpstreamEvent>> {
    return this.readEvents(context);
  }

  normalize(event: SanityUpstreamEvent): NormalizeResult {
    if (event.frameEvent !== 'mutation') return normalizeSnapshotRow(event.frameEvent, event.data);
    return normalizeSanityMutationEvent(event.parsed ?? parseMutationEvent(event.data), event.data, !event.revisionKnown);
  }

  /** Revision mismatches found by the writer are repaired from the History API by the reader. */
  afterCommit(result: CommitResult): void {
    for (const mismatch of result.revisionMismatches) {
      if (mismatch.table !== 'documents') continue;
      this.repairs.push({ documentId: String(mismatch.key.document_id), found: mismatch.found, expected: mismatch.expected });
    }
    if (this.repairs.length > 0) this.wakeReader();
  }

  private async *readEvents(context: ReadContext): AsyncGenerator<SanitySourceEvent> {
    const { signal, log } = context;
    const { config } = this.options;
    // History requests listen to the abort: a signal of their own keeps Node from warning about
    // many listeners on the runner's.
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
      pageLimit: this.options.historyPageLimit,
      onRequest: this.options.onHistoryRequest,
    };
    const state: ReaderState = {
      lastEventId: context.cursor,
      completeThrough: context.cursor ? context.lastEventAt : context.since,
      completeThroughIsLocal: false,
      connection: null,
      since: context.since,
      openCatchUps: [],
      snapshot: null,
    };
    await this.planSnapshot(context, state);
    const openGaps = await context.stored.openGaps();
    // Catch-ups an earlier run recorded as `open` (History failed): the next complete catch-up covers them.
    state.openCatchUps = [...new Set(openGaps.filter((row) => row.documentId === null).map((row) => row.reason))];
    // Revision gaps an earlier run detected but did not get to repair.
    for (const row of openGaps) {
      if (row.reason !== 'revision-mismatch' || row.documentId === null) continue;
      const detail = JSON.parse(row.detail ?? '{}') as { found?: string | null; expected?: string | null };
      this.repairs.push({ documentId: row.documentId, found: detail.found ?? null, expected: detail.expected ?? null });
    }

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
    const work = { http, log, context };
    try {
      while (!signal.aborted) {
        const repair = this.repairs.shift();
        if (repair) {
          yield* this.busy(context, this.repairGap(repair, work));
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
        if (meaning.kind === 'mutation') {
          yield this.liveEvent(meaning, state);
          continue;
        }
        yield* this.handleControlFrame(meaning, state, work);
        // After the first greeting: what the listener sends meanwhile waits, and the rules of
        // event time and revision decide which write wins.
        if (state.snapshot && (meaning.kind === 'welcome' || meaning.kind === 'welcomeback' || meaning.kind === 'reset')) {
          const start = { ...state.snapshot, startedAt: state.snapshot.startedAt || nowTime() };
          state.snapshot = null;
          yield* this.busy(context, this.snapshot(start, work));
        }
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

  /**
   * A snapshot to take at the first greeting: one stopped part-way, or a new one when asked for.
   * A stream with a snapshot but no cursor yet is complete from the snapshot's start: changes made
   * while it was away since then are caught up from the History API.
   */
  private async planSnapshot(context: ReadContext, state: ReaderState): Promise<void> {
    const latest = await context.stored.latestSnapshot();
    const storeResult = this.options.config.includeResult;
    if (latest?.status === 'running') {
      state.snapshot = { snapshotId: latest.snapshotId, startedAt: latest.startedAt, storeResult, after: latest.position ?? '', rowsRead: latest.rowsRead, pages: latest.pages };
    } else if (context.startSnapshot) {
      state.snapshot = { snapshotId: (latest?.snapshotId ?? 0) + 1, startedAt: '', storeResult, after: '', rowsRead: 0, pages: 0 };
    }
    if (latest && latest.status !== 'reset' && context.cursor === null && state.completeThrough === null) state.completeThrough = shiftTime(latest.startedAt, -CLOCK_SKEW_MS);
  }

  private async *snapshot(start: SnapshotStart, work: Work): AsyncGenerator<SanitySourceEvent> {
    const { config } = this.options;
    try {
      yield* readSnapshot(start, {
        http: work.http,
        log: work.log,
        follows: (id) => followsDocument(id, config.includeAllVersions),
        storedDocuments: () => this.knownDocuments(work.context),
        onDocument: (document) => {
          this.seen.set(document._id, { rev: document._rev ?? null, deleted: false, updatedAt: canonicalTime(document._updatedAt) });
          if (document._rev) this.snapshotRevisions.set(document._id, document._rev);
        },
        pageLimit: this.options.snapshotPageLimit,
      });
      this.snapshotRead = { after: start.after };
    } catch (error) {
      if (work.http.signal.aborted) return;
      throw snapshotFailure(error);
    }
  }

  /** Work on History that yields nothing for a while is not the upstream being idle. */
  private async *busy(context: ReadContext, work: AsyncGenerator<SanitySourceEvent>): AsyncGenerator<SanitySourceEvent> {
    context.onBusy?.(true);
    try {
      yield* work;
    } finally {
      context.onBusy?.(false);
    }
  }

  private liveEvent(meaning: Extract<SanityFrame, { kind: 'mutation' }>, state: ReaderState): SanityUpstreamEvent {
    const parsed = parseMutationEvent(meaning.data);
    const event = 'error' in parsed ? null : parsed.event;
    const cursor = meaning.id ?? (event ? mutationEventId(event.transactionId, event.documentId) : null);
    const item: SanityUpstreamEvent = { kind: 'event', frameEvent: 'mutation', data: meaning.data, cursor, parsed };
    if (event) {
      if (this.snapshotAccountsFor(event)) item.revisionKnown = true;
      this.remember(event);
      advanceCompleteThrough(state, (parsed as ParsedMutationEvent).occurredAt);
      if (this.moreOfLiveTransaction(event)) item.moreInTransaction = true;
    }
    if (cursor) state.lastEventId = cursor;
    return item;
  }

  /**
   * Whether this process's snapshot explains the revision an event continued from: it stored the
   * event's outcome already (the change came between the listener's start and the page that read
   * the document), or it read every id past where it began and never saw the document, which so
   * was deleted before its page was read: what came before is older than the stream.
   */
  private snapshotAccountsFor(event: SanityMutationEvent): boolean {
    const stored = this.snapshotRevisions.get(event.documentId);
    if (stored !== undefined) return stored === event.resultRev;
    const read = this.snapshotRead;
    return read !== null && event.documentId > read.after && !this.seen.has(event.documentId);
  }

  /**
   * Whether more events of this event's transaction are to come. Counted, not read off
   * `transactionCurrentEvent`: whether that counts from 0 or 1 is not documented.
   */
  private moreOfLiveTransaction(event: SanityMutationEvent): boolean {
    const total = event.transactionTotalEvents;
    if (typeof total !== 'number' || total <= 1) return false;
    if (this.liveTransaction.id !== event.transactionId) this.liveTransaction = { id: event.transactionId, events: 0 };
    this.liveTransaction.events++;
    return this.liveTransaction.events < total;
  }

  private async *handleControlFrame(
    meaning: Exclude<SanityFrame, { kind: 'mutation' }>,
    state: ReaderState,
    work: Work,
  ): AsyncGenerator<SanitySourceEvent> {
    const { log } = work;
    switch (meaning.kind) {
      case 'keepalive':
        return;
      case 'welcomeback':
        log.info('listener resumed: the server replays what was missed', { lastEventId: state.connection?.sentLastEventId });
        return;
      case 'reset':
        log.warn('listener could not resume (reset): catching up from the History API', { completeThrough: state.completeThrough });
        yield* this.busy(work.context, this.catchUp('reset', state, work));
        return;
      case 'welcome': {
        const connection = state.connection;
        log.info('listener connected', { listenerName: meaning.listenerName, attempt: connection?.attempt });
        if (connection?.sentLastEventId || connection?.hadCursor) {
          log.warn('the listener did not resume: catching up from the History API', { completeThrough: state.completeThrough });
          yield* this.busy(work.context, this.catchUp('no-resume', state, work));
        } else if (state.completeThrough === null) {
          // First start without --since: the stream begins now (by our clock, until Sanity's shows).
          state.completeThrough = shiftTime(nowTime(), -CLOCK_SKEW_MS);
          state.completeThroughIsLocal = true;
        } else {
          yield* this.busy(work.context, this.catchUp(connection?.attempt === 0 && state.since ? 'since' : 'no-resume', state, work));
        }
        return;
      }
      case 'channelError':
        // Terminal, as in @sanity/client (src/data/eventsource.ts): the same request would fail the same way.
        log.error('Sanity reported a listener error (channelError)', { message: meaning.message, queryError: meaning.queryError });
        if (meaning.queryError) {
          throw new UsageError(`Sanity rejected the listen query: ${meaning.message}; fix --query or --param`);
        }
        throw new UpstreamStopError(
          `Sanity reported a listener error (${meaning.message}); not reconnecting, as Sanity's own client does not. ` +
            'Check the project, dataset and token, then start the ingest again',
        );
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

  /**
   * Reads every transaction of the dataset since we were last complete (the History API's
   * dataset-wide list, page by page) and yields what the listener would have sent, a transaction
   * at a time, then the catch-up's gap row: `repaired` only when the whole range was read.
   */
  private async *catchUp(reason: CatchUpReason, state: ReaderState, work: Work): AsyncGenerator<SanitySourceEvent> {
    const { http, log } = work;
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
    const historyFrom = shiftTime(fromTime, -CATCH_UP_OVERLAP_MS);
    const scope: TransactionScope = { fromTime: historyFrom, toTime };
    const progress = { changes: 0, transactions: 0 };
    try {
      for await (const item of this.rebuild(scope, await this.knownDocuments(work.context), http, progress)) {
        if ('raw' in item) {
          yield item;
          continue;
        }
        const last = item.at(-1)!;
        state.lastEventId = last.cursor;
        advanceCompleteThrough(state, last.occurredAt);
        yield* item;
      }
    } catch (error) {
      if (http.signal.aborted) return;
      const why = describeHistoryFailure(error);
      if (error instanceof HistoryAccessError) {
        log.warn('cannot catch up: the stream may be missing changes made while it was not listening', { fromTime, toTime, error: why });
        yield gap(reason, fromTime, toTime, 'unrepairable', progress.changes, why);
        return;
      }
      if (!(error instanceof HistoryUnavailableError)) throw error;
      // What was read is committed; the next start catches up again from there.
      yield gap(reason, fromTime, toTime, 'open', progress.changes, why);
      throw new SinkError(`the catch-up from Sanity's History API is incomplete (${why}); it is recorded as an open gap, and the next start catches up again`, ExitCode.runtime);
    }
    log.info('caught up from the History API', { reason, fromTime, toTime, changes: progress.changes, transactions: progress.transactions });
    const detail = JSON.stringify({ historyFrom, transactionsRead: progress.transactions });
    // Open catch-ups of earlier runs started no earlier than this one: it covered them too.
    for (const open of state.openCatchUps.splice(0)) yield { ...gap(open, null, toTime, 'repaired', null, `covered by a later catch-up: ${detail}`), resolvesOpen: true };
    yield gap(reason, fromTime, toTime, 'repaired', progress.changes, detail);
  }

  /**
   * Repairs one revision gap: the document's transactions between the revision we held and the one
   * the newer event continued from. Without a held revision (the document was never stored), from
   * the stream's oldest event on.
   */
  private async *repairGap(repair: RevisionGap, work: Work): AsyncGenerator<SanitySourceEvent> {
    const { http, log } = work;
    const { documentId, found, expected } = repair;
    const scope: TransactionScope = {
      documentIds: [documentId],
      fromTransaction: found ?? undefined,
      fromTime: found ? undefined : ((await work.context.stored.oldestEventAt()) ?? undefined),
      toTransaction: expected ?? undefined,
    };
    const known = new Map<string, StoredDocument>(found ? [[documentId, { rev: found, deleted: false, updatedAt: null }]] : []);
    const events: (SanityUpstreamEvent & { occurredAt: string })[] = [];
    const progress = { changes: 0, transactions: 0 };
    try {
      // The repair fills history only: the document row already holds the newer revision.
      for await (const item of this.rebuild(scope, known, http, progress, documentId, false)) {
        if ('raw' in item) continue;
        events.push(...item);
      }
    } catch (error) {
      if (http.signal.aborted) return;
      const why = describeHistoryFailure(error);
      const status = error instanceof HistoryUnavailableError ? 'open' : 'unrepairable';
      log.warn('cannot repair a revision gap', { documentId, found, expected, error: why });
      yield { ...gap('revision-mismatch', null, null, status, null, why), documentId, resolvesOpen: true };
      return;
    }
    yield* events;
    log.info('repaired a revision gap from the History API', { documentId, found, expected, changes: events.length });
    yield {
      ...gap('revision-mismatch', events[0]?.occurredAt ?? null, events.at(-1)?.occurredAt ?? null, 'repaired', events.length,
        JSON.stringify({ found, expected })),
      documentId,
      resolvesOpen: true,
    };
  }

  /** History pages to events, a transaction at a time; lines that are no transaction come as they are. */
  private async *rebuild(
    scope: TransactionScope,
    known: ReadonlyMap<string, StoredDocument>,
    http: SanityHttpContext,
    progress: { changes: number; transactions: number },
    onlyDocument?: string,
    movesCursor = true,
  ): AsyncGenerator<(SanityUpstreamEvent & { occurredAt: string })[] | { kind: 'unreadable'; frameEvent: string; raw: string; reason: string; cursor: null }> {
    const { config } = this.options;
    const options: RebuildOptions = {
      http,
      matches: await this.documentFilter(),
      follows: (id) => (onlyDocument ? id === onlyDocument : followsDocument(id, config.includeAllVersions)),
      includeResult: config.includeResult,
      includePreviousRevision: config.includePreviousRevision,
      known,
    };
    for await (const item of rebuildTransactions(readTransactionPages(http, scope), options)) {
      if ('raw' in item) {
        yield { kind: 'unreadable', frameEvent: 'history', raw: item.raw, reason: item.reason, cursor: null };
        continue;
      }
      progress.transactions++;
      progress.changes += item.events.length;
      yield item.events.map((event, index) => this.historyEvent(event, movesCursor, index < item.events.length - 1));
    }
  }

  /**
   * An event rebuilt from the History API. A catch-up event carries its id as the cursor: it is the
   * id the listener gives the same change, so a restart can resume after it. A repaired event is
   * older than the stream's position and leaves the cursor alone.
   */
  private historyEvent(event: SanityMutationEvent, movesCursor: boolean, moreInTransaction: boolean): SanityUpstreamEvent & { occurredAt: string } {
    const cursor = movesCursor ? mutationEventId(event.transactionId, event.documentId) : null;
    const data = JSON.stringify(event);
    const item: SanityUpstreamEvent & { occurredAt: string } = {
      kind: 'event', frameEvent: 'mutation', data, cursor, parsed: parseMutationEvent(data), occurredAt: event.timestamp,
    };
    if (moreInTransaction) item.moreInTransaction = true;
    this.remember(event);
    return item;
  }

  /** The stream's filter in groq-js, compiled once; a filter groq-js cannot parse is a usage error. */
  private documentFilter(): Promise<DocumentFilter> {
    this.filter ??= createDocumentFilter(this.options.config.query, this.options.config.params).catch((error: unknown) => {
      throw new UsageError(`groq-js cannot parse --query ${JSON.stringify(this.options.config.query)} (${(error as Error).message}); catch-up needs it`);
    });
    return this.filter;
  }

  private remember(event: SanityMutationEvent): void {
    this.seen.set(event.documentId, {
      rev: event.resultRev ?? event.transactionId,
      deleted: event.transition === 'disappear',
      updatedAt: event.timestamp,
    });
  }

  private async knownDocuments(context: ReadContext): Promise<Map<string, StoredDocument>> {
    const known = await context.stored.documents();
    for (const [id, document] of this.seen) known.set(id, document);
    return known;
  }
}

interface Work {
  http: SanityHttpContext;
  log: Logger;
  context: ReadContext;
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
  /** Reasons of open catch-up gaps of earlier runs, resolved by the next complete catch-up. */
  openCatchUps: string[];
  /** The snapshot to take at the first greeting (its startedAt is '' until then). */
  snapshot: SnapshotStart | null;
}

/**
 * Which documents a listener follows at all: not system documents (`_.…`, release documents
 * among them), and release versions only when it asked for all versions.
 */
function followsDocument(id: string, includeAllVersions: boolean): boolean {
  if (id.startsWith('_.')) return false;
  return includeAllVersions || !id.startsWith('versions.');
}

function describeHistoryFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof HistoryAccessError ? `${message}; a token with History API access is needed` : message;
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


/** Why a snapshot stopped, said for the one who runs it; what it committed resumes on the next start. */
function snapshotFailure(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const resumes = 'the pages read are committed, and the next start resumes the snapshot after them';
  if (error instanceof HistoryAccessError) {
    return new UpstreamStopError(`the snapshot could not read Sanity's query API (${message}); check the token's read access; ${resumes}`);
  }
  if (/HTTP 400/.test(message)) return new UsageError(`Sanity rejected the snapshot's query (${message}); fix --query or --param`);
  return new SinkError(`the snapshot stopped (${message}); ${resumes}`, ExitCode.runtime);
}

function refusal(error: SseHttpError, config: SanityListenConfig): Error {
  const body = bodyExcerpt(error.body);
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
