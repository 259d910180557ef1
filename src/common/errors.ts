// Failure kinds a user can act on, each with the exit code the CLI maps it to.
// Messages are one line, say what was wrong and what to do, and never contain a secret.

export const ExitCode = {
  ok: 0,
  /** Anything unexpected at run time: disk full, database corrupt, a bug. */
  runtime: 1,
  /** Bad flag, bad config, a stream definition that conflicts, an upstream 400 or query error. */
  usage: 2,
  /** Upstream told us to stop: token rejected (401/403) or Sanity `disconnect`. Do not restart. */
  upstreamStop: 3,
  /** The stored cursor is no longer available upstream (Auth0 410) and no recovery was enabled. */
  cursorExpired: 4,
  /** Another ingester holds this stream. */
  streamBusy: 5,
  /** `status --stale-after`: a stream has not advanced for that long. */
  stale: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class SinkError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UsageError extends SinkError {
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

export class UpstreamStopError extends SinkError {
  constructor(message: string) {
    super(message, ExitCode.upstreamStop);
  }
}

export class CursorExpiredError extends SinkError {
  constructor(message: string) {
    super(message, ExitCode.cursorExpired);
  }
}

export class StreamBusyError extends SinkError {
  constructor(message: string) {
    super(message, ExitCode.streamBusy);
  }
}

/** The lease was taken over while we were writing: stop before committing anything more. */
export class LeaseLostError extends SinkError {
  constructor(stream: string) {
    super(`stream "${stream}" was taken over by another ingester; stopping without writing`, ExitCode.streamBusy);
  }
}

/**
 * The database stayed locked (another writer, a backup) past its timeout: nothing was written, and
 * the same batch may be committed again. The message says what to do when it is final.
 */
export class DatabaseBusyError extends SinkError {
  constructor(message: string) {
    super(message, ExitCode.runtime);
  }
}
