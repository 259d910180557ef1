// Waiting between attempts, the same way for every caller: a delay that doubles up to a cap (with
// full jitter where many clients could retry at once), and a wait that a stop cuts short.
import { setTimeout as sleep } from 'node:timers/promises';

export interface Backoff {
  /** The delay before the first retry. */
  firstMs: number;
  /** The most any delay becomes. */
  maxMs: number;
}

/**
 * The delay before retry number `attempt` (1, 2, …; 0 is no delay): `firstMs` doubling up to
 * `maxMs`, or with `random` a delay drawn uniformly below that ("full jitter").
 */
export function backoffDelayMs({ firstMs, maxMs }: Backoff, attempt: number, random?: () => number): number {
  if (attempt <= 0) return 0;
  const ceiling = Math.min(maxMs, firstMs * 2 ** (attempt - 1));
  return random ? random() * ceiling : ceiling;
}

/** Waits `ms`; false when the signal aborted the wait (a stop must never wait out a backoff). */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}
