// What one running stream has done so far, fed by the runner's hooks: the single source that the
// metrics endpoint, /healthz and the progress line all read. Plain counters; no I/O.
import type { Batch, CommitResult } from '../core/batch.js';
import type { ConnectionEvent } from '../core/connection-event.js';
import type { SnapshotProgress } from '../core/source-event.js';

/**
 * `connecting` until the first connection opens, `live` while one is open, `retrying` between a
 * connection ending and the next one opening, `stopped` once the run is over.
 */
export type ConnectionState = 'connecting' | 'live' | 'retrying' | 'stopped';
export const CONNECTION_STATES: readonly ConnectionState[] = ['connecting', 'live', 'retrying', 'stopped'];

/** The window events/s is measured over. */
const RATE_WINDOW_MS = 10_000;

export class StreamStats {
  /** Events read from the upstream and committed: inserted + duplicates + dead letters. */
  received = 0;
  inserted = 0;
  duplicates = 0;
  deadLetters = 0;
  batches = 0;
  readonly insertedByType = new Map<string, number>();
  /** Connections that ended (or failed to open) and were tried again. */
  reconnects = 0;
  state: ConnectionState = 'connecting';
  /** Date.now() when `state` began; `connecting` turning into `retrying` keeps it: still not live. */
  stateSince: number;
  /** Why the last connection ended, or why the run stopped. */
  stateReason: string | null = null;
  /** Where the stream's snapshot stood at the last commit that moved it. */
  snapshot: SnapshotProgress | null = null;
  /** Upstream time (ISO-8601) of the newest event committed. */
  lastEventAt: string | null = null;
  /** Date.now() of the last keep-alive comment or heartbeat frame. */
  lastHeartbeatAt: number | null = null;
  /** How old the newest event of the last batch with events was when it was committed. */
  lagSeconds: number | null = null;
  readonly commits = { count: 0, totalSeconds: 0, lastSeconds: 0, maxSeconds: 0 };
  /** (time, received) samples; the first is the base the rate is measured from. */
  private samples: { at: number; received: number }[];

  constructor(
    readonly stream: string,
    now = Date.now(),
  ) {
    this.stateSince = now;
    this.samples = [{ at: now, received: 0 }];
  }

  recordCommit(result: CommitResult, batch: Batch, commitSeconds: number, now = Date.now()): void {
    this.batches++;
    this.inserted += result.inserted;
    this.duplicates += result.duplicates;
    this.deadLetters += result.deadLetters;
    this.received += batch.changes.length + batch.deadLetters.length;
    for (const [type, count] of Object.entries(result.insertedByType)) {
      this.insertedByType.set(type, (this.insertedByType.get(type) ?? 0) + count);
    }
    this.commits.count++;
    this.commits.totalSeconds += commitSeconds;
    this.commits.lastSeconds = commitSeconds;
    this.commits.maxSeconds = Math.max(this.commits.maxSeconds, commitSeconds);

    let newest: string | null = null;
    for (const { change } of batch.changes) {
      if (newest === null || change.history.occurredAt > newest) newest = change.history.occurredAt;
    }
    if (newest !== null) {
      if (this.lastEventAt === null || newest > this.lastEventAt) this.lastEventAt = newest;
      const occurred = Date.parse(newest);
      // Clamped: an upstream clock ahead of ours is not negative lag.
      if (!Number.isNaN(occurred)) this.lagSeconds = Math.max(0, (now - occurred) / 1000);
    }
    if (batch.snapshot) this.snapshot = batch.snapshot;
    if (batch.heartbeatAt) this.lastHeartbeatAt = Math.max(this.lastHeartbeatAt ?? 0, Date.parse(batch.heartbeatAt) || now);

    this.samples.push({ at: now, received: this.received });
    this.pruneSamples(now);
  }

  recordConnection(event: ConnectionEvent, now = Date.now()): void {
    switch (event.type) {
      case 'open':
        this.moveTo('live', now, null);
        break;
      case 'keepalive':
        this.lastHeartbeatAt = now;
        break;
      case 'closed':
        // A `retrying` follows unless the run is stopping; keep the reason for it.
        this.stateReason = event.error ? `${event.reason}: ${event.error.message}` : event.reason;
        break;
      case 'retrying':
        this.reconnects++;
        this.moveTo('retrying', now, event.status !== undefined ? `HTTP ${event.status}` : event.reason);
        break;
    }
  }

  recordStop(reason: string, now = Date.now()): void {
    this.moveTo('stopped', now, reason);
  }

  /** Events received per second over the last ten seconds (or since the start, if sooner). */
  eventsPerSecond(now = Date.now()): number {
    this.pruneSamples(now);
    const base = this.samples[0]!;
    const seconds = (now - base.at) / 1000;
    return seconds > 0 ? (this.received - base.received) / seconds : 0;
  }

  private moveTo(state: ConnectionState, now: number, reason: string | null): void {
    const stillNotLive = this.state === 'connecting' && state === 'retrying';
    if (state !== this.state && !stillNotLive) this.stateSince = now;
    this.state = state;
    this.stateReason = reason;
  }

  /** Keeps the newest sample at or before the window start as the base, and what follows it. */
  private pruneSamples(now: number): void {
    const windowStart = now - RATE_WINDOW_MS;
    while (this.samples.length > 1 && this.samples[1]!.at <= windowStart) this.samples.shift();
  }
}

export interface StreamHealth {
  healthy: boolean;
  /** One line saying why, when unhealthy. */
  problem?: string;
}

/** Live is healthy; connecting or retrying is, for less than `unhealthyAfterMs`; stopped is not. */
export function streamHealth(stats: StreamStats, unhealthyAfterMs: number, now = Date.now()): StreamHealth {
  if (stats.state === 'live') return { healthy: true };
  const forMs = now - stats.stateSince;
  const why = stats.stateReason ? ` (${stats.stateReason})` : '';
  if (stats.state === 'stopped') return { healthy: false, problem: `${stats.stream}: stopped${why}` };
  if (forMs < unhealthyAfterMs) return { healthy: true };
  const seconds = (forMs / 1000).toFixed(forMs < 10_000 ? 1 : 0);
  return { healthy: false, problem: `${stats.stream}: ${stats.state} for ${seconds} s${why}` };
}
