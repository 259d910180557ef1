// Bounds how often connections to one upstream may start, whatever ends them: a token bucket.
// A healthy rotation reconnects at once; an upstream that drops every connection is paced.

export interface PacerOptions {
  /** Connections that may start back to back. Default 5. */
  burst?: number;
  /** Sustained connection starts per second once the burst is spent. Default 1. */
  perSecond?: number;
  now?: () => number;
}

export class ConnectionPacer {
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private tokens: number;
  private updatedAt: number;

  constructor(options: PacerOptions = {}) {
    this.burst = options.burst ?? 5;
    this.intervalMs = 1000 / (options.perSecond ?? 1);
    this.now = options.now ?? Date.now;
    this.tokens = this.burst;
    this.updatedAt = this.now();
  }

  /** How long until the next connection may start: 0 while the burst lasts. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) * this.intervalMs);
  }

  /** Records that a connection starts now. */
  take(): void {
    this.refill();
    this.tokens = Math.max(0, this.tokens - 1);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updatedAt) / this.intervalMs);
    this.updatedAt = now;
  }
}
