// Plays a Sanity dataset on the project's SSE test server: the listen endpoint (welcome, resume with
// welcomeback/reset, keep-alives, preamble, channelError, disconnect) and the History API as Sanity
// documents it and its Studio calls it: 403 without excludeContent, bounded pages, the
// dataset-wide transaction list, error lines, revisions of several documents; and the query API,
// evaluated by groq-js (Sanity's own GROQ engine) over the dataset. Used by the tests,
// the demo and the fault harness. It computes what happened on its own: it imports no code under test.
import { encodeFrame, startSseTestServer, type RecordedRequest, type Reply, type ScriptStep } from './sse-server.js';

/** A document as the dataset holds it. */
export type SimulatedDocument = { _id: string; _type?: string; _rev?: string } & Record<string, unknown>;
/** One mutation of a transaction: `{create: doc}`, `{patch: {id, set, unset, inc}}`, `{delete: {id}}`, … */
export type SimulatedMutation = Record<string, unknown>;
export type Transition = 'appear' | 'update' | 'disappear';

/** One transaction of a script: what a client committed, with Sanity's id and time. */
export interface ScriptTransaction {
  id: string;
  /** RFC-3339 with microseconds, increasing. */
  timestamp: string;
  author?: string;
  mutations: SimulatedMutation[];
}

/** What one (transaction, document) pair did, as the simulator knows it: the truth tests compare with. */
export interface SimulatedChange {
  /** `<transactionId>#<documentId>` */
  eventId: string;
  transactionId: string;
  documentId: string;
  timestamp: string;
  author: string;
  transition: Transition;
  mutations: SimulatedMutation[];
  /** The document before and after the transaction (null: did not exist or did not match). */
  before: SimulatedDocument | null;
  after: SimulatedDocument | null;
  /** Index in the dataset's change log; listeners resume by it. */
  position: number;
  /** How many changes the transaction made, and this one's place among them (from 0). */
  transactionEvents: number;
  transactionIndex: number;
}

export interface SanitySimulatorOptions {
  dataset?: string;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** false: the History endpoints answer 403, as for a token without history access. */
  historyAccess?: boolean;
  /**
   * true: the transactions endpoint also answers without `excludeContent=true` (a plan with content
   * history). Default false: 403, as on plans without it.
   */
  contentHistory?: boolean;
  /** The most transactions one page holds, whatever `limit` asks (default 50, the Studio's page). */
  historyPageCap?: number;
  /** Transactions keep their mutations even with `excludeContent=true` (default false: only ids and times). */
  mutationsWithoutContent?: boolean;
  /**
   * What makes the listener resume after `Last-Event-ID`: `enable-resume` needs the header and
   * `enableResume=true`; `last-event-id` the header alone; `none` never resumes (always `welcome`).
   */
  resume?: 'enable-resume' | 'last-event-id' | 'none';
  /** How many of the latest changes a resuming listener can still replay; older => `reset`. */
  replayWindow?: number;
  /** Stand-in for the GROQ filter (the simulator does not run GROQ). Default: not a system `_.` document. */
  matches?: (doc: SimulatedDocument) => boolean;
  /** Comment keep-alive after this long without a frame (default 1000 ms). */
  keepAliveMs?: number;
  /** Send `evs_preamble`-style padding (a 2 KB comment and an empty frame) first on every connection. */
  preamble?: boolean;
  /** Frames written per socket write when a listener is behind (default 200). */
  framesPerWrite?: number;
  /**
   * `documents/<id,id,…>` answers 404 when any of them is missing (default false: it answers with
   * those that exist). Sanity's docs do not say which; sse-sink must read both.
   */
  strictDocumentLookups?: boolean;
  /** Every query API answer waits this long first (default 0), as a distant API would. */
  queryDelayMs?: number;
  /** Told of every injected History fault served, and of every transactions page cut at the cap (the fault harness counts them). */
  onHistoryAnswer?: (answer: HistoryFault | 'page-capped') => void;
}

interface ListenOptions {
  includeResult: boolean;
  includePreviousRevision: boolean;
  includeMutations: boolean;
  includeAllVersions: boolean;
  visibility: string;
}

interface Listener {
  /** Control steps, each sent once the listener has been sent the changes before `at`. */
  queue: { step: ScriptStep; at: number }[];
  wake: () => void;
  closed: boolean;
}

export class SanitySimulator {
  readonly dataset: string;
  readonly changes: SimulatedChange[] = [];
  readonly transactions: ScriptTransaction[] = [];
  /** Listen connections made so far, with the Last-Event-ID each sent and the greeting it got. */
  readonly listens: { lastEventId: string | null; query: URLSearchParams; greeting: 'welcome' | 'welcomeback' | 'reset' }[] = [];
  readonly historyRequests: { path: string; query: URLSearchParams }[] = [];
  /** Query API requests, by their search parameters. */
  readonly queryRequests: URLSearchParams[] = [];
  /** Milliseconds spent evaluating queries (groq-js), so a benchmark can tell them from the client's work. */
  queryEvaluationMs = 0;
  private readonly documents = new Map<string, SimulatedDocument>();
  /** Every revision ever written, by `<id>@<rev>` (null: deleted by that transaction), for the History documents endpoint. */
  private readonly revisions = new Map<string, SimulatedDocument | null>();
  /** Each document's states in time order, for `documents/<id>?time=`. */
  private readonly timelines = new Map<string, { timestamp: string; doc: SimulatedDocument | null }[]>();
  /** Faults the History endpoints answer with, one per request, in order (tests and the fault harness). */
  private readonly historyFaults: HistoryFault[] = [];
  /** Faults the query endpoint answers with, one per request, in order. */
  private readonly queryFaults: QueryFault[] = [];
  private readonly listeners = new Set<Listener>();
  /** Changes the listen endpoint leaves out (the History API still has them): a lost event. */
  private readonly hidden = new Set<string>();
  private readonly options: Required<Omit<SanitySimulatorOptions, 'token'>> & { token?: string };
  /** What each transaction changed, by document (History knows no filter). */
  private readonly changedBy = new Map<string, string[]>();
  private closed = false;
  private down = false;

  constructor(options: SanitySimulatorOptions = {}) {
    this.options = {
      dataset: 'production',
      historyAccess: true,
      contentHistory: false,
      historyPageCap: 50,
      mutationsWithoutContent: false,
      resume: 'enable-resume',
      replayWindow: Number.POSITIVE_INFINITY,
      matches: (doc) => !doc._id.startsWith('_.'),
      onHistoryAnswer: () => {},
      strictDocumentLookups: false,
      keepAliveMs: 1000,
      preamble: false,
      framesPerWrite: 200,
      queryDelayMs: 0,
      ...options,
    };
    this.dataset = this.options.dataset;
  }

  /** The current state of a document, as the dataset holds it. */
  document(id: string): SimulatedDocument | undefined {
    return this.documents.get(id);
  }

  /** Every document the dataset holds now, by id. */
  currentDocuments(): SimulatedDocument[] {
    return [...this.documents.values()].sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
  }

  get openListeners(): number {
    return this.listeners.size;
  }

  /** Commits transactions to the dataset and streams their changes to every open listener. */
  publish(...transactions: ScriptTransaction[]): SimulatedChange[] {
    const produced: SimulatedChange[] = [];
    for (const tx of transactions) produced.push(...this.apply(tx));
    this.wakeListeners();
    return produced;
  }

  /** Sends a frame (e.g. `channelError`, `disconnect`) to every open listener, after what is queued. */
  broadcast(frame: { event: string; data: string }): void {
    for (const listener of this.listeners) listener.queue.push({ step: { frame }, at: this.changes.length });
    this.wakeListeners();
  }

  /** Changes how many missed changes a resuming listener can replay, from the next connection on. */
  setReplayWindow(changes: number): void {
    this.options.replayWindow = changes;
  }

  /** While on, listen requests get a 503, as during an outage; clients keep retrying. */
  outage(on: boolean): void {
    this.down = on;
  }

  /** The next History requests fail this way, one fault per request. */
  injectHistoryFaults(...faults: HistoryFault[]): void {
    this.historyFaults.push(...faults);
  }

  /** The next query requests fail this way, one fault per request. */
  injectQueryFaults(...faults: QueryFault[]): void {
    this.queryFaults.push(...faults);
  }

  /** The listener will not send this change (by event id); History still knows it. */
  hideFromListeners(eventId: string): void {
    this.hidden.add(eventId);
  }

  /** Cuts every open listen connection (as a proxy or a deploy would); clients reconnect. */
  dropListeners(): void {
    for (const listener of this.listeners) listener.queue.push({ step: { destroy: true }, at: this.changes.length });
    this.wakeListeners();
  }

  /** Ends the listeners: the test server can then close. */
  close(): void {
    this.closed = true;
    for (const listener of this.listeners) listener.queue.push({ step: { end: true }, at: this.changes.length });
    this.wakeListeners();
  }

  /** Serves one request of the test server. */
  readonly handler = async (req: RecordedRequest): Promise<Reply> => {
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      return json(401, { error: 'Unauthorized', message: 'Session not found', statusCode: 401 });
    }
    const path = req.path.split('?')[0];
    const route = /^\/(v[^/]+)\/data\/(listen|history|query|export)\/([^/]+)(\/.*)?$/.exec(path);
    if (!route || decodeURIComponent(route[3]) !== this.dataset) return json(404, { error: 'Not Found', message: `no route ${path}` });
    const [, , endpoint, , rest = ''] = route;
    if (endpoint === 'listen' && this.down) return json(503, { error: 'Service Unavailable', message: 'simulated outage' });
    if (endpoint === 'listen' && req.method === 'GET') return this.listen(req);
    if (endpoint === 'query' && req.method === 'GET' && rest === '') return this.query(req.query);
    // The Export API: every document of the dataset as NDJSON, unfiltered (drafts and versions as stored).
    if (endpoint === 'export' && req.method === 'GET' && rest === '') {
      return { status: 200, headers: { 'content-type': 'application/x-ndjson' }, body: this.currentDocuments().map((doc) => `${JSON.stringify(doc)}\n`).join('') };
    }
    if (endpoint === 'history') {
      this.historyRequests.push({ path: rest, query: req.query });
      if (!this.options.historyAccess) return json(403, { error: 'Forbidden', message: 'token lacks history access' });
      const fault = this.historyFaults.shift();
      if (fault && fault !== 'ok') this.options.onHistoryAnswer(fault);
      if (fault === 'http-500') return json(500, { error: 'Internal Server Error', message: 'simulated' });
      if (fault === 'http-429') return { status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"error":"Too Many Requests"}' };
      const transactions = /^\/transactions(?:\/([^/]+))?$/.exec(rest);
      if (transactions) {
        const ids = transactions[1] === undefined ? undefined : transactions[1].split(',').map(decodeURIComponent);
        return this.history(ids, req.query, fault);
      }
      const documents = /^\/documents\/([^/]+)$/.exec(rest);
      if (documents) return this.documentsAt(documents[1].split(',').map(decodeURIComponent), req.query);
    }
    return json(404, { error: 'Not Found', message: `no route ${path}` });
  };

  private apply(tx: ScriptTransaction): SimulatedChange[] {
    this.transactions.push(tx);
    const author = tx.author ?? 'pSimAuthor';
    const touched = [...new Set(tx.mutations.map(targetOf).filter((id): id is string => id !== undefined))];
    const changes: SimulatedChange[] = [];
    const changed: string[] = [];
    for (const documentId of touched) {
      const mutations = tx.mutations.filter((m) => targetOf(m) === documentId);
      const before = this.documents.get(documentId) ?? null;
      let doc: SimulatedDocument | null = before;
      for (const mutation of mutations) doc = applyMutation(doc, mutation, documentId);
      if (doc === before) continue; // nothing changed (e.g. createIfNotExists on an existing one)
      if (doc) {
        doc = { ...doc, _rev: tx.id, _updatedAt: tx.timestamp, _createdAt: before?._createdAt ?? tx.timestamp };
        this.documents.set(documentId, doc);
      } else {
        this.documents.delete(documentId);
      }
      changed.push(documentId);
      this.revisions.set(`${documentId}@${tx.id}`, doc);
      const timeline = this.timelines.get(documentId) ?? [];
      timeline.push({ timestamp: tx.timestamp, doc });
      this.timelines.set(documentId, timeline);
      const matchedBefore = before !== null && this.options.matches(before);
      const matchesAfter = doc !== null && this.options.matches(doc);
      if (!matchedBefore && !matchesAfter) continue;
      const transition: Transition = !matchedBefore ? 'appear' : !matchesAfter ? 'disappear' : 'update';
      changes.push({
        eventId: `${tx.id}#${documentId}`,
        transactionId: tx.id,
        documentId,
        timestamp: tx.timestamp,
        author,
        transition,
        mutations,
        before: matchedBefore ? before : null,
        after: matchesAfter ? doc : null,
        position: this.changes.length + changes.length,
        transactionEvents: 0,
        transactionIndex: changes.length,
      });
    }
    for (const change of changes) change.transactionEvents = changes.length;
    this.changes.push(...changes);
    this.changedBy.set(tx.id, changed);
    return changes;
  }

  private listen(req: RecordedRequest): Reply {
    const options: ListenOptions = {
      includeResult: req.query.get('includeResult') !== 'false',
      includePreviousRevision: req.query.get('includePreviousRevision') === 'true',
      includeMutations: req.query.get('includeMutations') !== 'false',
      includeAllVersions: req.query.get('includeAllVersions') === 'true',
      visibility: req.query.get('visibility') ?? 'transaction',
    };
    const lastEventId = headerValue(req.headers['last-event-id']);
    const resumeAsked =
      lastEventId !== null &&
      (this.options.resume === 'last-event-id' || (this.options.resume === 'enable-resume' && req.query.get('enableResume') === 'true'));
    let greeting: 'welcome' | 'welcomeback' | 'reset' = 'welcome';
    let position = this.changes.length;
    if (resumeAsked) {
      const index = this.changes.findIndex((c) => c.eventId === lastEventId);
      const missed = index < 0 ? Number.POSITIVE_INFINITY : this.changes.length - (index + 1);
      if (missed <= this.options.replayWindow) {
        greeting = 'welcomeback';
        position = index + 1;
      } else {
        greeting = 'reset';
      }
    }
    this.listens.push({ lastEventId, query: req.query, greeting });
    const listener: Listener = { queue: [], wake: () => {}, closed: false };
    this.listeners.add(listener);
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
      steps: this.listenSteps(listener, greeting, position, options),
    };
  }

  private async *listenSteps(listener: Listener, greeting: string, start: number, options: ListenOptions): AsyncGenerator<ScriptStep> {
    try {
      if (this.options.preamble) {
        yield { comment: ' '.repeat(2048) };
        yield { raw: 'data: \n\n' };
      }
      const listenerName = `sim${Math.random().toString(36).slice(2, 10)}`;
      yield { frame: { event: greeting, data: greeting === 'reset' ? '{}' : JSON.stringify({ listenerName }) } };
      let position = start;
      while (!this.closed || listener.queue.length > 0) {
        // Control steps queued by broadcast/drop/close go out right after the changes made before them.
        const control = listener.queue[0];
        const upTo = Math.min(this.changes.length, control?.at ?? Number.POSITIVE_INFINITY);
        if (position < upTo) {
          const end = Math.min(upTo, position + this.options.framesPerWrite);
          const frames: string[] = [];
          for (; position < end; position++) {
            const change = this.changes[position];
            if (!options.includeAllVersions && change.documentId.startsWith('versions.')) continue;
            if (this.hidden.has(change.eventId)) continue;
            frames.push(encodeFrame({ event: 'mutation', id: change.eventId, data: JSON.stringify(renderEvent(change, options)) }));
          }
          if (frames.length > 0) yield { raw: frames.join('') };
          continue;
        }
        if (control) {
          listener.queue.shift();
          yield control.step;
          if ('destroy' in control.step || 'end' in control.step) return;
          continue;
        }
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), this.options.keepAliveMs);
          listener.wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        if (!woke) yield { comment: '' };
      }
      yield { end: true };
    } finally {
      this.listeners.delete(listener);
    }
  }

  private wakeListeners(): void {
    for (const listener of this.listeners) listener.wake();
  }

  /**
   * `transactions[/<ids>]`: NDJSON, oldest first, at most `historyPageCap` lines whatever `limit`
   * asks. `fromTransaction` is included in the answer, as Sanity's is (the Studio drops it).
   */
  private history(documentIds: string[] | undefined, query: URLSearchParams, fault: HistoryFault | undefined): Reply {
    if (query.get('excludeContent') !== 'true' && !this.options.contentHistory) {
      return json(403, { error: { description: 'Content history is not available on this plan; use excludeContent=true', type: 'forbidden' } });
    }
    const ids = documentIds && new Set(documentIds);
    const fromTime = query.get('fromTime');
    const toTime = query.get('toTime');
    const fromTx = query.get('fromTransaction');
    const toTx = query.get('toTransaction');
    const limit = Math.min(Number(query.get('limit') ?? this.options.historyPageCap), this.options.historyPageCap);
    let from = 0;
    let to = this.transactions.length - 1;
    if (fromTx) from = Math.max(0, this.transactions.findIndex((t) => t.id === fromTx));
    if (toTx) {
      const index = this.transactions.findIndex((t) => t.id === toTx);
      if (index >= 0) to = index;
    }
    const keepMutations = query.get('excludeContent') !== 'true' || this.options.mutationsWithoutContent;
    const lines: string[] = [];
    for (let i = from; i <= to && lines.length < limit; i++) {
      const tx = this.transactions[i];
      if (fromTime && Date.parse(tx.timestamp) < Date.parse(fromTime)) continue;
      if (toTime && Date.parse(tx.timestamp) > Date.parse(toTime)) continue;
      const changed = this.changedBy.get(tx.id) ?? [];
      if (changed.length === 0 || (ids && !changed.some((id) => ids.has(id)))) continue;
      const line: Record<string, unknown> = { id: tx.id, timestamp: tx.timestamp, author: tx.author ?? 'pSimAuthor', documentIDs: changed };
      if (keepMutations) line.mutations = tx.mutations;
      lines.push(JSON.stringify(line));
    }
    if (lines.length === limit && limit < Number(query.get('limit') ?? Number.POSITIVE_INFINITY)) this.options.onHistoryAnswer('page-capped');
    // An error part-way through the answer: what came before it is there, the rest is not.
    if (fault === 'error-line') lines.splice(Math.floor(lines.length / 2), lines.length, JSON.stringify({ error: { description: 'simulated translog failure', type: 'internalError' } }));
    // A line that is not JSON at all, among real ones.
    if (fault === 'garbage-line') lines.splice(Math.floor(lines.length / 2), 0, '{"id": "cut-off');
    return { status: 200, headers: { 'content-type': 'application/x-ndjson' }, body: lines.map((l) => `${l}\n`).join('') };
  }

  /**
   * `query/<dataset>?query=…&$name=<JSON>&perspective=…`: `{result, ms}`, as Sanity answers.
   * `raw` shows every document; any other perspective only published ones (drafts and release
   * versions are not merged in here). A query groq-js cannot parse or run answers 400.
   */
  private async query(search: URLSearchParams): Promise<Reply> {
    this.queryRequests.push(search);
    const fault = this.queryFaults.shift();
    if (fault === 'http-500') return json(500, { error: 'Internal Server Error', message: 'simulated' });
    if (fault === 'http-429') return { status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"error":"Too Many Requests"}' };
    if (fault === 'http-403') return json(403, { error: { description: 'the token may not read this dataset', type: 'forbidden' } });
    const text = search.get('query');
    if (!text) return json(400, { error: { description: 'param "query" is required', type: 'queryParseError' } });
    const params: Record<string, unknown> = {};
    try {
      for (const [name, value] of search) if (name.startsWith('$')) params[name.slice(1)] = JSON.parse(value);
    } catch {
      return json(400, { error: { description: 'a $parameter is not JSON', type: 'queryParseError' } });
    }
    if (this.options.queryDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.options.queryDelayMs));
    const raw = search.get('perspective') === 'raw';
    const dataset = [...this.documents.values()].filter((doc) => raw || !(doc._id.startsWith('drafts.') || doc._id.startsWith('versions.')));
    // Loaded on the first query, not with the CLI (which holds the demo's simulator).
    const { evaluate, parse } = await import('groq-js');
    const started = performance.now();
    try {
      const value = await evaluate(parse(text, { params }), { dataset, params });
      return json(200, { ms: 1, result: await value.get() });
    } catch (error) {
      return json(400, { error: { description: (error as Error).message, type: 'queryParseError' } });
    } finally {
      this.queryEvaluationMs += performance.now() - started;
    }
  }

  /** `documents/<ids>?revision=<tx>` or `?time=<t>`: the documents that existed then, as they were. */
  private documentsAt(ids: string[], query: URLSearchParams): Reply {
    const revision = query.get('revision');
    const time = query.get('time');
    const found: SimulatedDocument[] = [];
    for (const id of ids) {
      let doc: SimulatedDocument | null | undefined;
      if (revision) doc = this.revisions.get(`${id}@${revision}`);
      else if (time) doc = [...(this.timelines.get(id) ?? [])].reverse().find((state) => Date.parse(state.timestamp) <= Date.parse(time))?.doc;
      else doc = this.documents.get(id);
      if (doc) found.push(doc);
    }
    if (found.length === 0 || (this.options.strictDocumentLookups && found.length < ids.length)) {
      return json(404, { error: 'Not Found', message: `no such documents: ${ids.join(',')}` });
    }
    return json(200, { documents: found });
  }
}

/** One query answer that fails: retried (500, 429) or a refusal (403). */
export type QueryFault = 'http-500' | 'http-429' | 'http-403';

/** One History answer: a fault, or `ok` for a normal answer between faults. */
export type HistoryFault = 'ok' | 'http-500' | 'http-429' | 'error-line' | 'garbage-line';

/** The document a mutation targets, when it names one. */
function targetOf(mutation: SimulatedMutation): string | undefined {
  for (const kind of ['create', 'createOrReplace', 'createIfNotExists']) {
    const body = mutation[kind] as { _id?: unknown } | undefined;
    if (body && typeof body._id === 'string') return body._id;
  }
  for (const kind of ['patch', 'delete']) {
    const body = mutation[kind] as { id?: unknown } | undefined;
    if (body && typeof body.id === 'string') return body.id;
  }
  return undefined;
}

/** The `data:` of a listen `mutation` frame for a change, shaped by the connection's options. */
export function renderEvent(change: SimulatedChange, options: ListenOptions): Record<string, unknown> {
  const event: Record<string, unknown> = {
    eventId: change.eventId,
    documentId: change.documentId,
    transactionId: change.transactionId,
    transition: change.transition,
    identity: change.author,
  };
  if (options.includeMutations) event.mutations = change.mutations;
  if (options.includeResult && change.after) event.result = change.after;
  if (options.includePreviousRevision && change.before) event.previous = change.before;
  event.previousRev = change.before?._rev ?? null;
  event.resultRev = change.transactionId;
  event.timestamp = change.timestamp;
  event.visibility = options.visibility;
  event.transactionTotalEvents = change.transactionEvents;
  event.transactionCurrentEvent = change.transactionIndex;
  return event;
}

function applyMutation(doc: SimulatedDocument | null, mutation: SimulatedMutation, id: string): SimulatedDocument | null {
  const [[kind, body]] = Object.entries(mutation) as [[string, Record<string, unknown>]];
  switch (kind) {
    case 'create':
      if (doc) throw new Error(`script error: create of existing document ${id}`);
      return { ...(body as SimulatedDocument) };
    case 'createOrReplace':
      return { ...(body as SimulatedDocument), _createdAt: doc?._createdAt };
    case 'createIfNotExists':
      return doc ?? { ...(body as SimulatedDocument) };
    case 'delete':
      return null;
    case 'patch': {
      if (!doc) throw new Error(`script error: patch of missing document ${id}`);
      const next: SimulatedDocument = { ...doc };
      for (const [key, value] of Object.entries((body.set as Record<string, unknown>) ?? {})) next[key] = value;
      for (const key of (body.unset as string[]) ?? []) delete next[key];
      for (const [key, value] of Object.entries((body.inc as Record<string, number>) ?? {})) next[key] = Number(next[key] ?? 0) + value;
      return next;
    }
    default:
      throw new Error(`script error: unknown mutation ${kind}`);
  }
}

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } as Reply;
}

function headerValue(value: string | string[] | undefined): string | null {
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

// ---- Scripts ----------------------------------------------------------------------------------

/** A Sanity-like transaction id: 22 letters and digits, from a seeded generator. */
export function transactionId(random: () => number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let id = '';
  for (let i = 0; i < 22; i++) id += alphabet[Math.floor(random() * alphabet.length)];
  return id;
}

/** mulberry32: small, seeded, good enough for test scripts. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Microsecond timestamps `step` apart from `start`, as Sanity writes them. */
export function timestampAt(start: string, index: number, stepMicros = 1500): string {
  const startMs = Date.parse(start);
  const micros = index * stepMicros;
  const ms = startMs + Math.floor(micros / 1000);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`;
}

export interface RandomScriptOptions {
  seed: number;
  transactions: number;
  /** How many published base ids the script plays with (each may have a draft and a release version). */
  documents?: number;
  start?: string;
  types?: string[];
  authors?: string[];
  /**
   * Start with every published document and one version per release, and never delete those:
   * then every document has a sibling a catch-up can find it by (see the Sanity source).
   */
  keepPublished?: boolean;
}

/**
 * A random but valid script over published, draft (`drafts.`) and release version
 * (`versions.<release>.`) documents: creates, patches, replaces, deletes, publishes (draft deleted
 * and published replaced in one transaction).
 */
export function randomScript(options: RandomScriptOptions): ScriptTransaction[] {
  const random = seededRandom(options.seed);
  const bases = Array.from({ length: options.documents ?? 40 }, (_, i) => `doc-${i}`);
  const types = options.types ?? ['post', 'author', 'page'];
  const authors = options.authors ?? ['pAlice', 'pBob', 'pCarol'];
  const start = options.start ?? '2026-03-01T09:00:00.000000Z';
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const alive = new Map<string, string>(); // id -> _type
  const script: ScriptTransaction[] = [];
  const kept = new Set<string>();
  if (options.keepPublished) {
    const mutations: SimulatedMutation[] = [];
    for (const [index, base] of bases.entries()) mutations.push({ create: { _id: base, _type: types[index % types.length], title: base, n: 0 } });
    for (const release of ['r1', 'r2']) mutations.push({ create: { _id: `versions.${release}.${bases[0]}`, _type: types[0], title: release, n: 0 } });
    for (const mutation of mutations) {
      const body = mutation.create as { _id: string; _type: string };
      alive.set(body._id, body._type);
      kept.add(body._id);
    }
    script.push({ id: transactionId(random), timestamp: timestampAt(start, 0), author: authors[0], mutations });
  }
  for (let i = script.length; i < options.transactions; i++) {
    const base = pick(bases);
    const type = alive.get(base) ?? alive.get(`drafts.${base}`) ?? types[bases.indexOf(base) % types.length];
    const kind = random();
    const id = kind < 0.55 ? `drafts.${base}` : kind < 0.85 ? base : `versions.r${1 + Math.floor(random() * 2)}.${base}`;
    const mutations: SimulatedMutation[] = [];
    const roll = random();
    if (!alive.has(id)) {
      mutations.push({ create: { _id: id, _type: type, title: `${base} v${i}`, n: i } });
      alive.set(id, type);
    } else if (id.startsWith('drafts.') && roll < 0.2) {
      // Publish: the published document takes the draft's content, the draft goes.
      mutations.push({ createOrReplace: { _id: base, _type: type, title: `${base} published at ${i}`, n: i } });
      mutations.push({ delete: { id } });
      alive.delete(id);
      alive.set(base, type);
    } else if (roll < 0.3 && !kept.has(id)) {
      mutations.push({ delete: { id } });
      alive.delete(id);
    } else if (roll < 0.4) {
      mutations.push({ createOrReplace: { _id: id, _type: type, title: `${base} replaced at ${i}`, n: i } });
    } else {
      mutations.push({ patch: { id, set: { title: `${base} edit ${i}` }, inc: { n: 1 } } });
    }
    script.push({ id: transactionId(random), timestamp: timestampAt(start, i), author: pick(authors), mutations });
  }
  return script;
}

/** Starts a test server that plays `simulator`; `url` is the base URL to give `--url`. */
export async function startSanitySimulator(simulator: SanitySimulator): Promise<{ url: string; close(): Promise<void> }> {
  const server = await startSseTestServer((req) => simulator.handler(req));
  return {
    url: server.url,
    close: async () => {
      simulator.close();
      await server.close();
    },
  };
}
