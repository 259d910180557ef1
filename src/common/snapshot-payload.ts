// What every snapshot row's payload starts with, whichever the upstream: the snapshot's number
// and when it began. Read once here for the sources' pure snapshot normalizers.
import { isRecord } from './text.js';
import { canonicalTime } from './time.js';

/** The payload parsed, with its snapshot number and canonical start; or why it is not a snapshot row. */
export function readSnapshotPayload(data: string): { value: Record<string, unknown>; snapshot: number; startedAt: string } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    return { error: `snapshot row is not JSON: ${(error as Error).message}` };
  }
  if (!isRecord(value) || typeof value.snapshot !== 'number') return { error: 'snapshot row names no snapshot' };
  const startedAt = canonicalTime(value.startedAt);
  if (startedAt === null) return { error: 'snapshot row has no RFC-3339 startedAt' };
  return { value, snapshot: value.snapshot, startedAt };
}
