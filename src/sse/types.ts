// The seam between the generic SSE client and the source adapters.
// A frame is one dispatched SSE event; comments and keep-alives never become frames.

export interface SseFrame {
  /** The `event:` field, or "message" when the frame had none. */
  event: string;
  /** The `id:` field of this frame, when it had one. */
  id: string | undefined;
  /** The joined `data:` lines. Empty for an oversize frame. */
  data: string;
  /**
   * Set when the frame was larger than the client's `maxFrameBytes`: its data was discarded to
   * protect memory, `preview` keeps its first bytes so the caller can dead-letter it.
   */
  oversize?: { bytes: number; preview: string };
}

/** The frame's `id:` as a cursor to resume from: an empty `id:` line only clears SSE's last-event-id. */
export function resumableId(frame: SseFrame): string | null {
  return frame.id ? frame.id : null;
}

/** The dead-letter reason of an oversize frame. */
export function oversizeReason(oversize: NonNullable<SseFrame['oversize']>): string {
  return `frame of ${oversize.bytes} bytes is larger than --max-frame-bytes allows; only its start is kept`;
}

/** What the caller's connect hook is told before each (re)connect. */
export interface ConnectContext {
  /** 0 for the first connection, then 1, 2, ... */
  attempt: number;
  /** The last `id:` the client has seen in this process, if any (SSE `Last-Event-ID` semantics). */
  lastEventId: string | undefined;
}

/** What the connect hook answers: where to connect and with which headers. */
export interface ConnectRequest {
  url: string;
  headers?: Record<string, string>;
}
