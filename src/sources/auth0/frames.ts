// What one Auth0 Events API frame means: an event to store, a cursor-only heartbeat, an `error`
// frame that ends the connection, or something unreadable to dead-letter. Pure.
import { isRecord, parseJson } from '../../common/text.js';
import { oversizeReason, resumableId, type SseFrame } from '../../sse/types.js';

export type Auth0Frame =
  /** An event: `data` is stored as received; `cursor` is the frame's `id:` (= `data.offset`). */
  | { kind: 'event'; type: string; data: string; cursor: string | null }
  /** `offset-only`: nothing happened, but the position moved. */
  | { kind: 'heartbeat'; cursor: string }
  /** `error`: the server ends the stream; `cursor` is `error.offset` (or the frame id) when given. */
  | { kind: 'error'; code: string; message: string; cursor: string | null }
  | { kind: 'unreadable'; type: string; raw: string; reason: string; cursor: string | null }
  /** A frame with nothing to keep, e.g. an `offset-only` without an offset. */
  | { kind: 'ignored' };

export function interpretAuth0Frame(frame: SseFrame): Auth0Frame {
  if (frame.oversize) {
    return {
      kind: 'unreadable',
      type: frame.event,
      raw: frame.oversize.preview,
      reason: oversizeReason(frame.oversize),
      cursor: resumableId(frame),
    };
  }
  switch (frame.event) {
    case 'offset-only': {
      const cursor = resumableId(frame) ?? offsetIn(frame.data);
      return cursor ? { kind: 'heartbeat', cursor } : { kind: 'ignored' };
    }
    case 'error': {
      const { code, message, offset } = describeErrorFrame(frame.data);
      return { kind: 'error', code, message, cursor: offset ?? resumableId(frame) };
    }
    default:
      // The id is the cursor; reading `data.offset` is the fallback for a server that omits `id:`.
      return { kind: 'event', type: frame.event, data: frame.data, cursor: resumableId(frame) ?? offsetIn(frame.data) };
  }
}

/** `{"error": {"code", "message", "offset"?}}`, read loosely: any other body becomes the message. */
function describeErrorFrame(data: string): { code: string; message: string; offset: string | null } {
  const error = record(record(parseJson(data))?.error);
  return {
    code: typeof error?.code === 'string' ? error.code : 'unknown',
    message: typeof error?.message === 'string' ? error.message : data.trim() || 'no message',
    offset: typeof error?.offset === 'string' && error.offset !== '' ? error.offset : null,
  };
}

function offsetIn(data: string): string | null {
  const offset = record(parseJson(data))?.offset;
  return typeof offset === 'string' && offset !== '' ? offset : null;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}
