// Rebuilds, from the History API, the mutation events a listener would have sent for a range of
// transactions: which documents each touched, what they were before and after (revisions), and
// whether the stream's filter matched them then (groq-js). Oldest first, a transaction at a time.
import { mutationEventId, mutationTarget, type SanityDocument, type SanityMutationEvent, type Transition } from './normalize.js';
import { timeAt } from '../../common/time.js';
import type { StoredDocument } from '../../core/source.js';
import type { DocumentFilter } from './filter.js';
import { fetchDocumentsAt, type HistoryTransaction, type SanityHttpContext, type TransactionPage } from './history-client.js';

/** What sse-sink holds of a document: the revision of the last event stored, and whether it matched then. */
export interface RebuildOptions {
  http: SanityHttpContext;
  matches: DocumentFilter;
  /** The documents the stream follows at all (release versions only with includeAllVersions). */
  follows: (documentId: string) => boolean;
  includeResult: boolean;
  includePreviousRevision: boolean;
  /** The stored state of documents; documents not in it are looked up as they were before their first transaction. */
  known: ReadonlyMap<string, StoredDocument>;
}

/** One document as the rebuild tracks it between transactions. */
interface DocumentState {
  rev: string | null;
  matched: boolean;
  /** Its content when it matched and is known (for `previous`); undefined: not fetched. */
  doc?: SanityDocument;
}

export interface RebuiltTransaction {
  transaction: HistoryTransaction;
  /** The events of this transaction, `transactionCurrentEvent` counting from 0. */
  events: SanityMutationEvent[];
}

/**
 * For every page of transactions (oldest first), the events each transaction means for the
 * stream. Requests: one revision lookup per transaction that touches a followed document, one
 * more for documents met for the first time, and previous revisions when the stream includes them.
 */
export async function* rebuildTransactions(pages: AsyncIterable<TransactionPage>, options: RebuildOptions): AsyncGenerator<RebuiltTransaction | TransactionPage['unreadable'][number]> {
  const states = new Map<string, DocumentState>();
  for await (const page of pages) {
    yield* page.unreadable;
    for (const transaction of page.transactions) {
      const touched = transaction.documentIDs.filter((id) => options.follows(id) && !heldAlready(options.known.get(id), transaction));
      if (touched.length === 0) continue;
      await lookUpFirstStates(touched.filter((id) => !states.has(id)), transaction, states, options);
      const after = await fetchDocumentsAt(options.http, touched, { revision: transaction.id });
      const events: SanityMutationEvent[] = [];
      for (const documentId of touched) {
        const before = states.get(documentId)!;
        const doc = after.get(documentId);
        const matchesNow = doc !== undefined && (await options.matches(doc));
        states.set(documentId, { rev: doc ? transaction.id : null, matched: matchesNow, doc: matchesNow ? doc : undefined });
        if (!before.matched && !matchesNow) continue;
        const transition: Transition = !before.matched ? 'appear' : matchesNow ? 'update' : 'disappear';
        events.push(await rebuiltEvent(transaction, documentId, transition, before, matchesNow ? doc : undefined, options));
      }
      events.forEach((event, index) => {
        event.transactionTotalEvents = events.length;
        event.transactionCurrentEvent = index;
      });
      if (events.length > 0) yield { transaction, events };
    }
  }
}

/** A transaction at or before the last stored event of a known document is history already stored. */
function heldAlready(known: StoredDocument | undefined, transaction: HistoryTransaction): boolean {
  return known?.updatedAt != null && transaction.timestamp <= known.updatedAt;
}

/**
 * Before its first transaction here: a known document is what we stored; another one is looked
 * up as it was just before that transaction (it may have existed, and matched, all along).
 */
async function lookUpFirstStates(ids: string[], transaction: HistoryTransaction, states: Map<string, DocumentState>, options: RebuildOptions): Promise<void> {
  const unknown: string[] = [];
  for (const id of ids) {
    const known = options.known.get(id);
    if (known) states.set(id, { rev: known.rev, matched: !known.deleted && known.rev !== null });
    else unknown.push(id);
  }
  if (unknown.length === 0) return;
  const justBefore = timeAt(Date.parse(transaction.timestamp) - 1);
  const found = await fetchDocumentsAt(options.http, unknown, { time: justBefore });
  for (const id of unknown) {
    const doc = found.get(id);
    const matched = doc !== undefined && (await options.matches(doc));
    states.set(id, { rev: doc ? (typeof doc._rev === 'string' ? doc._rev : null) : null, matched, doc: matched ? doc : undefined });
  }
}

async function rebuiltEvent(
  transaction: HistoryTransaction,
  documentId: string,
  transition: Transition,
  before: DocumentState,
  after: SanityDocument | undefined,
  options: RebuildOptions,
): Promise<SanityMutationEvent> {
  const event: SanityMutationEvent = {
    eventId: mutationEventId(transaction.id, documentId),
    documentId,
    transactionId: transaction.id,
    transition,
    identity: transaction.author,
    // As the listener: the revision it continues, for a document that matched before.
    previousRev: before.matched ? before.rev : null,
    resultRev: transaction.id,
    timestamp: transaction.timestamp,
    visibility: 'transaction',
    origin: 'history',
  };
  // With excludeContent the API sends no mutations; when it sends them anyway they are kept.
  if (transaction.mutations) event.mutations = transaction.mutations.filter((m) => mutationTarget(m) === documentId);
  if (options.includeResult && after) event.result = after;
  if (options.includePreviousRevision && before.matched && before.rev) {
    const previous = before.doc ?? (await fetchDocumentsAt(options.http, [documentId], { revision: before.rev })).get(documentId);
    if (previous) event.previous = previous;
  }
  return event;
}
