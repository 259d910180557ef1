// A standby: an ingester that waits while another holds its stream, and takes the stream over once
// that lease ends (its owner stopped cleanly, was killed, or lost the database for longer than the
// lease). The lease decides, on the database's clock; this only asks again until it is granted.
import { StreamBusyError } from '../common/errors.js';
import { pause } from '../common/retry.js';
import type { Logger } from '../core/logger.js';
import type { LeaseOptions, Store, StreamDefinition, StreamWriter } from '../core/store.js';

export interface Standby {
  /** How often to ask for the lease. */
  pollMs: number;
  /** A fleet's fair share: a place for one more stream in this process, or none now. */
  slot?: StreamSlot;
}

export interface StreamSlot {
  /** Reserves a place for the stream; false when this process holds its share already. */
  take(): boolean;
  /** Gives the place back (the stream was not granted, or its run ended). */
  give(): void;
}

/** The stream's writer once its lease is granted; undefined when the signal stopped the wait. */
export async function waitForWriter(
  store: Store,
  definition: StreamDefinition,
  lease: LeaseOptions | undefined,
  standby: Standby,
  signal: AbortSignal | undefined,
  log: Logger,
): Promise<StreamWriter | undefined> {
  let waitingSaid = false;
  for (;;) {
    if (signal?.aborted) return undefined;
    if (standby.slot?.take() ?? true) {
      try {
        const writer = await store.openWriter(definition, lease);
        if (waitingSaid) log.info('took the stream over');
        return writer;
      } catch (error) {
        standby.slot?.give();
        if (!(error instanceof StreamBusyError)) throw error;
        if (!waitingSaid) log.info('standing by', { holder: error.message });
        waitingSaid = true;
      }
    }
    if (!(await pause(standby.pollMs, signal))) return undefined;
  }
}
