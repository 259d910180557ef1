// The Auth0 source: reads `/api/v2/events` from the stored cursor, turns frames into source
// events, and applies the spec's rules for error frames and refusals (401, 403, 410, 400).
import { CursorExpiredError, ExitCode, SinkError, UpstreamStopError, UsageError } from '../../common/errors.js';
import { interleave } from '../../common/interleave.js';
import type { Logger } from '../../core/logger.js';
import { normalizeAuth0Event } from './normalize.js';
import { ManagementRefusal, rateLimitResetMs } from './management-client.js';
import { readAuth0Snapshot, type Auth0SnapshotStart } from './snapshot.js';
import { isAuth0SnapshotRow, normalizeAuth0SnapshotRow, snapshotRowTime } from './snapshot-normalize.js';
import { nowTime, timeAt } from '../../common/time.js';
import { readSseStream, SseHttpError, type SseClientOptions } from '../../sse/client.js';
import { ConnectionPacer } from '../../sse/pacer.js';
import { backoffDelayMs, pause, type Backoff } from '../../common/retry.js';
import { bodyExcerpt } from '../../common/text.js';
import type { ConnectionEvent } from '../../core/connection-event.js';
import type { ReadContext, Source } from '../../core/source.js';
import type { SourceEvent } from '../../core/source-event.js';
import { interpretAuth0Frame } from './frames.js';
import { auth0Timestamp, buildEventsUrl, eventsRequestHeaders, type Auth0StartPosition, type Auth0StreamConfig } from './requests.js';

export type ExpiredCursorPolicy = 'fail' | 'since-last-event';

export interface Auth0SourceOptions {
  config: Auth0StreamConfig;
  onExpiredCursor: ExpiredCursorPolicy;
  /** Reads the current token; called before every connect, so a rotated token is picked up. */
  readToken: () => string;
  /** Where the token comes from, for messages: `AUTH0_TOKEN` or `--token-file <path>`. */
  tokenSource: string;
  /** How far before the last stored event a resume after an expired cursor starts (default 10 min). */
  expiredCursorOverlapMs?: number;
  /** The wait after a 403 that says "too many connections", doubling (default 30 s, up to 5 min). */
  concurrencyRetry?: Backoff;
  /** Own reconnects after an error frame without progress: full jitter (default 500 ms, up to 30 s). */
  errorRetry?: Backoff;
  /** Options passed through to the SSE client (idle timeout, frame limit, backoff). */
  sse?: Partial<Omit<SseClientOptions, 'connect' | 'signal'>>;
  /** A snapshot's reading: items per list page (default 100), the export job's first poll wait (1 s). */
  snapshot?: { pageSize?: number; exportPollMs?: number };
}

export const EXPIRED_CURSOR_OVERLAP_MS = 10 * 60_000;
/**
 * Error frames of this code in a row, none moving the offset, after which the stream stops: Auth0
 * cannot deliver the next event and is not moving past it, so retrying would loop for ever.
 */
export const STUCK_ERROR_LIMIT = 3;

/** Why one connection ended, as far as the reconnect loop is concerned. */
type ConnectionEnd =
  | { kind: 'aborted' }
  /** An error frame: reconnect from the latest cursor, at once when the connection made progress. */
  | { kind: 'reconnect'; progressed: boolean; code: string; message: string }
  | { kind: 'refused'; error: SseHttpError }
  | { kind: 'cursor-expired'; detail: string };

export function createAuth0Source(options: Auth0SourceOptions): Source {
  const { config } = options;
  return {
    kind: 'auth0',
    definition: { domain: config.domain, url: config.url, eventTypes: config.eventTypes },
    read: (context) => readAuth0Stream(options, context),
    normalize: ({ frameEvent, data }) => normalizeAuth0Stored(frameEvent, data),
  };
}

/** An event of the stream, or a row of a snapshot (by its type), as ingest and `rebuild` normalize it. */
export function normalizeAuth0Stored(type: string, data: string) {
  return isAuth0SnapshotRow(type) ? normalizeAuth0SnapshotRow(type, data) : normalizeAuth0Event({ frameEvent: type, data });
}

/**
 * The stream, and beside it a snapshot when one is asked for or was stopped part-way. A stream
 * without a cursor that has (or takes) a snapshot starts from the time its rows are written at, a
 * margin before it began: every change since is applied over the snapshot, in order.
 */
async function* readAuth0Stream(options: Auth0SourceOptions, context: ReadContext): AsyncGenerator<SourceEvent> {
  const latest = await context.stored.latestSnapshot();
  let start: Auth0SnapshotStart | null = null;
  if (latest?.status === 'running') {
    const { snapshotId, startedAt, position, rowsRead, pages, rowsDeleted } = latest;
    start = { snapshotId, startedAt, position, rowsRead, pages, rowsDeleted };
  } else if (context.startSnapshot) {
    start = { snapshotId: (latest?.snapshotId ?? 0) + 1, startedAt: nowTime(), position: null, rowsRead: 0, pages: 0, rowsDeleted: 0 };
  }
  const anchor = start?.startedAt ?? (latest && latest.status !== 'reset' ? latest.startedAt : null);
  // The stream stops when the snapshot fails, not only when the run does.
  const stop = new AbortController();
  let streamContext: ReadContext = { ...context, signal: AbortSignal.any([context.signal, stop.signal]) };
  if (context.cursor === null && anchor !== null) {
    const rowTime = snapshotRowTime(anchor);
    streamContext = { ...streamContext, since: context.since !== null && context.since < rowTime ? context.since : rowTime };
  }
  const stream = readAuth0Events(options, streamContext);
  try {
    if (start === null) yield* stream;
    else yield* interleave(snapshotItems(options, start, context), stream, (item) => item.kind === 'event' && item.moreInTransaction === true);
  } finally {
    stop.abort();
  }
}

async function* snapshotItems(options: Auth0SourceOptions, start: Auth0SnapshotStart, context: ReadContext): AsyncGenerator<SourceEvent> {
  const { signal } = context;
  const { eventTypes } = options.config;
  context.onBusy?.(true);
  try {
    yield* readAuth0Snapshot(start, {
      management: { baseUrl: options.config.url, readToken: options.readToken, signal },
      log: context.log,
      stored: context.stored,
      pageSize: options.snapshot?.pageSize,
      exportPollMs: options.snapshot?.exportPollMs,
      families: eventTypes.length === 0 ? undefined : new Set(eventTypes.map((type) => type.split('.')[0])),
    });
  } catch (error) {
    if (signal.aborted) return;
    throw snapshotFailure(error, options.readToken);
  } finally {
    context.onBusy?.(false);
  }
}

/** The Management API scopes a snapshot reads with. */
export const SNAPSHOT_SCOPES =
  'read:users, read:organizations, read:organization_members, read:organization_member_roles, read:organization_connections, ' +
  'read:organization_groups, read:organization_group_roles, read:groups, read:group_members, read:group_roles';

/** Why a snapshot stopped, said for the one who runs it; what it committed resumes on the next start. */
function snapshotFailure(error: unknown, readToken: () => string): Error {
  const message = describeBody(error instanceof Error ? error.message : String(error), readToken);
  const resumes = 'the pages read are committed, and the next start resumes the snapshot after them';
  if (error instanceof ManagementRefusal && (error.status === 401 || error.status === 403)) {
    return new UpstreamStopError(`the snapshot could not read Auth0's Management API (${message}); the token needs the scopes ${SNAPSHOT_SCOPES}; ${resumes}`);
  }
  if (error instanceof ManagementRefusal && error.status === 404) {
    return new UsageError(`the snapshot found no Management API there (${message}); check --domain and --url`);
  }
  if (error instanceof ManagementRefusal) {
    return new UsageError(`Auth0's Management API refused the snapshot's request (${message}); check --snapshot-page-size; ${resumes}`);
  }
  return new SinkError(`the snapshot stopped (${message}); ${resumes}`, ExitCode.runtime);
}

async function* readAuth0Events(options: Auth0SourceOptions, context: ReadContext): AsyncGenerator<SourceEvent> {
  const { signal, log } = context;
  const start: Auth0StartPosition = { cursor: context.cursor, fromTime: context.since };
  const concurrencyRetry = options.concurrencyRetry ?? { firstMs: 30_000, maxMs: 300_000 };
  const errorRetry = options.errorRetry ?? { firstMs: 500, maxMs: 30_000 };
  // A 401 earns one retry with a freshly read token; a connection that opens earns it back.
  let tokenRetried = false;
  let concurrencyRefusals = 0;
  let fruitlessReconnects = 0;
  let payloadTooLargeInARow = 0;
  // Every connection of this stream counts against one pace, whichever client opens it.
  const sse = { waitFromHeaders: rateLimitResetMs, ...options.sse, pacer: options.sse?.pacer ?? new ConnectionPacer() };

  const onConnectionEvent = (event: ConnectionEvent) => {
    if (event.type === 'open') {
      tokenRetried = false;
      concurrencyRefusals = 0;
    }
    context.onConnectionEvent?.(event);
  };

  while (!signal.aborted) {
    const end: ConnectionEnd = yield* readOneConnection({ ...options, sse }, start, signal, log, onConnectionEvent);
    switch (end.kind) {
      case 'aborted':
        return;
      case 'reconnect': {
        fruitlessReconnects = end.progressed ? 0 : fruitlessReconnects + 1;
        payloadTooLargeInARow = end.code === 'payload_too_large' && !end.progressed ? payloadTooLargeInARow + 1 : 0;
        if (payloadTooLargeInARow >= STUCK_ERROR_LIMIT) {
          const detail =
            `Auth0 sent payload_too_large ${payloadTooLargeInARow} times in a row without moving the offset (${end.message}): ` +
            'the event after the stored cursor cannot be delivered';
          yield { kind: 'gap', reason: 'payload-too-large', fromTime: context.lastEventAt, toTime: nowTime(), status: 'open', changesFound: null, detail };
          throw new UpstreamStopError(
            `${detail}; stopping instead of retrying for ever. Ask Auth0 support about the event, or skip it with ` +
              '"sse-sink reset <stream> --yes" and ingest again with --since <a time after it>',
          );
        }
        if (fruitlessReconnects > 0) {
          const delayMs = backoffDelayMs(errorRetry, fruitlessReconnects, Math.random);
          onConnectionEvent({ type: 'retrying', attempt: fruitlessReconnects, delayMs, reason: 'error frame without progress' });
          await pause(delayMs, signal);
        }
        break;
      }
      case 'cursor-expired': {
        // Recovery needs a refused cursor (a refused time has nothing to fall back to), the user's
        // consent, and a stored event whose time to resume from.
        if (start.cursor === null || options.onExpiredCursor === 'fail' || context.lastEventAt === null) {
          throw cursorExpired(end.detail, start, context.lastEventAt);
        }
        const overlapMs = options.expiredCursorOverlapMs ?? EXPIRED_CURSOR_OVERLAP_MS;
        const resumeFrom = timeAt(Date.parse(context.lastEventAt) - overlapMs);
        log.warn('the stored cursor expired upstream: recording a gap and resuming from a time', {
          detail: end.detail,
          lastEventAt: context.lastEventAt,
          resumeFrom,
        });
        yield {
          kind: 'gap',
          reason: 'cursor-expired',
          fromTime: context.lastEventAt,
          toTime: nowTime(),
          status: 'open',
          changesFound: null,
          detail:
            `Auth0 no longer had the stored cursor (${end.detail}); resumed with from_timestamp=${auth0Timestamp(resumeFrom)} ` +
            `(the newest stored event minus ${Math.round(overlapMs / 1000)} s). Events older than that which ` +
            'had not been delivered are not in the history.',
        };
        start.cursor = null;
        start.fromTime = resumeFrom;
        break;
      }
      case 'refused': {
        const { status } = end.error;
        const body = describeBody(end.error.body, options.readToken);
        if (status === 401 && !tokenRetried) {
          tokenRetried = true;
          log.warn(`Auth0 rejected the token (401): reading ${options.tokenSource} again and retrying once`, { body });
          break;
        }
        if (status === 403 && /concurren|too many|connection limit/i.test(body)) {
          concurrencyRefusals++;
          const delayMs = backoffDelayMs(concurrencyRetry, concurrencyRefusals);
          log.warn('Auth0 refused the connection: too many concurrent connections; waiting before retrying', { body, delayMs });
          onConnectionEvent({ type: 'retrying', attempt: concurrencyRefusals, delayMs, status, reason: 'too many concurrent connections' });
          await pause(delayMs, signal);
          break;
        }
        throw refusal(end.error, body, options.tokenSource);
      }
    }
  }
}

/**
 * Reads one connection of the SSE client (which itself reconnects after network errors, 5xx, 429
 * and clean ends) until an error frame, a refusal or the abort; yields what the frames mean.
 */
async function* readOneConnection(
  options: Auth0SourceOptions,
  start: Auth0StartPosition,
  signal: AbortSignal,
  log: Logger,
  onConnectionEvent: (event: ConnectionEvent) => void,
): AsyncGenerator<SourceEvent, ConnectionEnd> {
  let progressed = false;
  const moveTo = (cursor: string | null) => {
    if (cursor === null || cursor === start.cursor) return;
    start.cursor = cursor;
    progressed = true;
  };
  try {
    const frames = readSseStream({
      ...options.sse,
      // Every (re)connect starts after the newest cursor seen in this process, with a token read now.
      connect: () => ({ url: buildEventsUrl(options.config, start), headers: eventsRequestHeaders(options.readToken()) }),
      signal,
      onConnectionEvent,
    });
    for await (const frame of frames) {
      const meaning = interpretAuth0Frame(frame);
      // The frame at the position we stand at, again (a redelivery): an event is deduped by its id,
      // but one that cannot be read would be dead-lettered twice.
      if ((meaning.kind === 'event' || meaning.kind === 'unreadable') && meaning.cursor !== null && meaning.cursor === start.cursor) continue;
      switch (meaning.kind) {
        case 'event':
          moveTo(meaning.cursor);
          yield { kind: 'event', frameEvent: meaning.type, data: meaning.data, cursor: meaning.cursor };
          break;
        case 'heartbeat':
          moveTo(meaning.cursor);
          yield { kind: 'heartbeat', cursor: meaning.cursor };
          break;
        case 'unreadable':
          moveTo(meaning.cursor);
          yield { kind: 'unreadable', frameEvent: meaning.type, raw: meaning.raw, reason: meaning.reason, cursor: meaning.cursor };
          break;
        case 'ignored':
          break;
        case 'error': {
          // An expired or invalid cursor is not a position to adopt: moving past it would skip history silently.
          if (meaning.code === 'cursor_expired') {
            return { kind: 'cursor-expired', detail: `error frame cursor_expired: ${meaning.message}` };
          }
          if (meaning.code === 'invalid_cursor') {
            throw new UsageError(
              `Auth0 refused the stored cursor (invalid_cursor: ${meaning.message}); ` +
                'run "sse-sink reset <stream> --yes" to start the stream again',
            );
          }
          // Any other error frame's offset is a position like any other: keep it.
          if (meaning.cursor !== null && meaning.cursor !== start.cursor) {
            moveTo(meaning.cursor);
            yield { kind: 'heartbeat', cursor: meaning.cursor };
            // Auth0 moved past an event it could not send: it is missing from the history, so say so.
            if (meaning.code === 'payload_too_large') {
              log.warn('Auth0 skipped an event too large to deliver (payload_too_large); recorded as a gap', { message: meaning.message });
              yield {
                kind: 'gap',
                reason: 'payload-too-large',
                fromTime: null,
                toTime: nowTime(),
                status: 'unrepairable',
                changesFound: null,
                detail: `Auth0 could not deliver an event larger than its limit and moved the stream past it (${meaning.message}); that event is not in the history`,
              };
            }
          }
          const fields = { code: meaning.code, message: meaning.message };
          // Auth0 rotates connections every few minutes by design (connection_timeout): that is no
          // news. Either way the stream goes on from the latest cursor, at once if this connection
          // made progress, else after a growing pause.
          if (meaning.code === 'connection_timeout') log.debug('Auth0 rotated the connection', fields);
          else log.warn('Auth0 ended the stream with an error; reconnecting from the latest cursor', fields);
          onConnectionEvent({ type: 'closed', reason: 'error-frame' });
          return { kind: 'reconnect', progressed, code: meaning.code, message: meaning.message };
        }
      }
    }
    return { kind: 'aborted' };
  } catch (error) {
    if (!(error instanceof SseHttpError)) throw error;
    if (error.status === 410) return { kind: 'cursor-expired', detail: `HTTP 410: ${describeBody(error.body, options.readToken)}` };
    return { kind: 'refused', error };
  }
}

function refusal(error: SseHttpError, body: string, tokenSource: string): Error {
  const { status } = error;
  if (status >= 300 && status < 400) {
    return new UsageError(`Auth0 answered with a redirect sse-sink did not follow (HTTP ${status} to ${error.location ?? 'no Location'}); check --domain and --url`);
  }
  switch (status) {
    case 400:
      return new UsageError(`Auth0 refused the request (400: ${body}); check the --event-type values and the stored cursor`);
    case 401:
      return new UpstreamStopError(
        `Auth0 rejected the token (401: ${body}), also after reading ${tokenSource} again; ` +
          'provide a valid Management API token with the read:events scope',
      );
    case 403:
      return new UpstreamStopError(`Auth0 refused access (403: ${body}); the token needs the read:events scope`);
    case 404:
      return new UsageError(`Auth0 has no events endpoint there (404: ${body}); check --domain and --url`);
    default:
      return new UpstreamStopError(`Auth0 refused the stream (HTTP ${status}: ${body})`);
  }
}

/** Why the stream cannot go on from where it stands, and what the user can do about it. */
function cursorExpired(detail: string, start: Auth0StartPosition, lastEventAt: string | null): CursorExpiredError {
  const restart = 'run "sse-sink reset <stream> --yes" and ingest again with --since <time>';
  if (start.cursor === null) {
    const from = start.fromTime === null ? 'the latest event' : `from_timestamp=${auth0Timestamp(start.fromTime)}`;
    return new CursorExpiredError(`Auth0 cannot serve the stream from ${from} (${detail}); choose a later --since, or ${restart}`);
  }
  if (lastEventAt === null) {
    return new CursorExpiredError(`Auth0 no longer has the stored cursor (${detail}) and no event is stored to resume from; ${restart}`);
  }
  return new CursorExpiredError(
    `Auth0 no longer has the stored cursor (${detail}); events after ${lastEventAt} may be missing. Rerun with ` +
      `--on-expired-cursor since-last-event to record a gap and resume from the newest stored event's time, or ${restart}`,
  );
}

/** The upstream's own words for a message: one line, bounded, and never the token. */
function describeBody(body: string, readToken: () => string): string {
  let text = body;
  try {
    const token = readToken();
    if (token) text = text.replaceAll(token, '[token]');
  } catch {
    // The token cannot be read now; the body is still shown, bounded below.
  }
  return bodyExcerpt(text) || 'no body';
}
