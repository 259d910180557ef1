// What one listen frame means: a greeting (welcome, welcomeback, reset), a mutation, an error the
// server reports (channelError), an order to stop (disconnect), or padding. Pure.
import { isRecord, parseJson } from '../../common/text.js';
import { oversizeReason, resumableId, type SseFrame } from '../../sse/types.js';

export type SanityFrame =
  /** `welcome`: a fresh live listener; nothing was replayed. */
  | { kind: 'welcome'; listenerName: string | null }
  /** `welcomeback`: the listener resumed after our Last-Event-ID; what was missed is replayed. */
  | { kind: 'welcomeback'; listenerName: string | null }
  /** `reset`: the listener could not resume; what changed meanwhile is lost to this connection. */
  | { kind: 'reset' }
  | { kind: 'mutation'; data: string; id: string | null }
  | { kind: 'channelError'; message: string; queryError: boolean }
  | { kind: 'disconnect'; reason: string }
  /** `evs_preamble` padding and empty frames: proof of life, nothing else. */
  | { kind: 'keepalive' }
  | { kind: 'unknown'; event: string; data: string }
  /** A frame over the client's size limit: only its start was kept. */
  | { kind: 'oversize'; event: string; id: string | null; preview: string; reason: string };

export function interpretFrame(frame: SseFrame): SanityFrame {
  if (frame.oversize) {
    return { kind: 'oversize', event: frame.event, id: resumableId(frame), preview: frame.oversize.preview, reason: oversizeReason(frame.oversize) };
  }
  switch (frame.event) {
    case 'welcome':
      return { kind: 'welcome', listenerName: stringField(parseJson(frame.data), 'listenerName') };
    case 'welcomeback':
      return { kind: 'welcomeback', listenerName: stringField(parseJson(frame.data), 'listenerName') };
    case 'reset':
      return { kind: 'reset' };
    case 'mutation':
      return { kind: 'mutation', data: frame.data, id: resumableId(frame) };
    case 'channelError':
      return { kind: 'channelError', ...describeChannelError(parseJson(frame.data), frame.data) };
    // @sanity/client (src/data/eventsource.ts) ends the listener on an `error` event that carries data.
    case 'error':
      if (frame.data.trim() === '') return { kind: 'unknown', event: frame.event, data: frame.data };
      return { kind: 'channelError', ...describeChannelError(parseJson(frame.data), frame.data) };
    case 'disconnect':
      return { kind: 'disconnect', reason: stringField(parseJson(frame.data), 'reason') ?? (frame.data.trim() || 'no reason given') };
    case 'preamble':
      return { kind: 'keepalive' };
    default:
      // The preamble is padding: whitespace (or nothing) under the default event name.
      if (frame.event === 'message' && frame.data.trim() === '') return { kind: 'keepalive' };
      return { kind: 'unknown', event: frame.event, data: frame.data };
  }
}

/**
 * The message of a channelError in its known shapes: `{message}`, `{error: "…"}` or
 * `{error: {description, type: "queryParseError", …}}`; `queryError` when the query itself is at fault.
 */
export function describeChannelError(body: unknown, raw: string): { message: string; queryError: boolean } {
  const record = isRecord(body) ? body : {};
  const error = record.error;
  let message: string;
  let type: string | null = null;
  if (isRecord(error)) {
    type = typeof error.type === 'string' ? error.type : null;
    message = typeof error.description === 'string' ? error.description : typeof error.message === 'string' ? error.message : JSON.stringify(error);
  } else if (typeof error === 'string') {
    message = error;
  } else if (typeof record.message === 'string') {
    message = record.message;
  } else {
    message = raw.trim() || 'unknown listener error';
  }
  const queryError = (type !== null && /query/i.test(type)) || /\b(groq|query|parse error|param(eter)?s?)\b/i.test(message);
  return { message, queryError };
}

function stringField(value: unknown, field: string): string | null {
  return isRecord(value) && typeof value[field] === 'string' ? value[field] : null;
}
