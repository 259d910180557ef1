// --until-idle: time the upstream was reachable with nothing to send, added up since the last
// event. It stops while reconnecting after a failure (backoff, Retry-After, a refusal) and starts
// again when a connection opens; a clean end of stream and the reconnect after it count as
// reachable. A source busy for the stream without yielding (a History catch-up) holds it too, and
// so does a reader waiting for the database to take its batch (the upstream may well have more).
import type { ConnectionEvent } from '../core/connection-event.js';

export class IdleClock {
  private timer: NodeJS.Timeout | undefined;
  private reachableSince: number | undefined;
  private idleSpentMs = 0;
  /** Holds on the clock: a busy source, a reader waiting for a commit. */
  private holds = 0;

  /** With no limit the clock never fires. */
  constructor(
    private readonly limitMs: number | undefined,
    private readonly onIdle: () => void,
  ) {}

  /** An event arrived: idle time starts again from zero. */
  eventReceived(): void {
    this.idleSpentMs = 0;
    if (this.reachableSince !== undefined) this.reachableSince = Date.now();
    this.arm();
  }

  connectionEvent(event: ConnectionEvent): void {
    if (event.type === 'open' && this.reachableSince === undefined) {
      this.reachableSince = Date.now();
      this.arm();
    } else if (isConnectionFailure(event) && this.reachableSince !== undefined) {
      this.idleSpentMs += Date.now() - this.reachableSince;
      this.reachableSince = undefined;
      this.arm();
    }
  }

  /** Holds the clock (true) or lets it go (false), in pairs; once the last hold goes, idle time starts from zero. */
  busy(busy: boolean): void {
    this.holds += busy ? 1 : -1;
    if (busy) clearTimeout(this.timer);
    else if (this.holds === 0) this.eventReceived();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.limitMs === undefined || this.reachableSince === undefined || this.holds > 0) return;
    const idleMs = this.idleSpentMs + (Date.now() - this.reachableSince);
    this.timer = setTimeout(this.onIdle, Math.max(0, this.limitMs - idleMs));
  }
}

/** A connection event after which the upstream is not known to be reachable until the next `open`. */
function isConnectionFailure(event: ConnectionEvent): boolean {
  if (event.type === 'closed') return event.reason !== 'end' && event.reason !== 'error-frame';
  if (event.type !== 'retrying') return false;
  return event.status !== undefined || event.error !== undefined || (event.reason !== 'end' && event.reason !== 'paced');
}
