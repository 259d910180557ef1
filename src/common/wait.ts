// Small helpers every HTTP caller of sse-sink shares: an abortable wait, and a body excerpt for messages.
import { setTimeout as sleep } from 'node:timers/promises';

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

/** An upstream's answer for a message: one line, at most 300 characters. */
export function bodyExcerpt(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}
