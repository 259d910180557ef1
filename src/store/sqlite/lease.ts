// One ingester per stream: a lease row in `streams` that a second process is refused, renewed by
// every commit, and taken over at once when its owner is a dead process on this host (after kill -9).
import { timeAt } from '../../common/time.js';
import { isHeldByOther, LEASE_TTL_MS, newLeaseOwner, streamBusyError, type LeaseHolder } from '../stream-rules.js';
import type { SinkDatabase } from './database.js';
import { streamStatements, type LeaseRow } from './streams.js';

export interface Lease {
  stream: string;
  owner: string;
  /** The expiry a commit made now should write. */
  nextExpiry(): string;
  /** Extends the lease; false when another ingester has taken it over. */
  renew(): boolean;
  release(reason: string): void;
}

/** Takes the stream's lease or throws StreamBusyError saying who holds it. */
export function acquireLease(sink: SinkDatabase, stream: string, ttlMs = LEASE_TTL_MS): Lease {
  const owner = newLeaseOwner();
  const nextExpiry = () => timeAt(Date.now() + ttlMs);
  const statements = streamStatements(sink.sqlite);
  sink.sqlite
    .transaction(() => {
      const row = statements.readLease(stream);
      if (row && isHeldByOther(holder(row))) throw streamBusyError(stream, holder(row));
      statements.takeLease(stream, owner, nextExpiry());
    })
    .immediate();
  return {
    stream,
    owner,
    nextExpiry,
    renew: () => statements.renewLease(stream, owner, nextExpiry()),
    release: (reason) => statements.releaseLease(stream, owner, reason),
  };
}

/** Throws StreamBusyError when a live ingester holds the stream (for reset and other writers). */
export function assertNotLeased(sink: SinkDatabase, stream: string): void {
  const row = streamStatements(sink.sqlite).readLease(stream);
  if (row && isHeldByOther(holder(row))) throw streamBusyError(stream, holder(row));
}

/** The lease row as stream-rules.ts reads it, by this process's clock (SQLite has no other). */
function holder(row: LeaseRow): LeaseHolder {
  return { owner: row.lease_owner, expiresAt: row.lease_expires_at, live: row.lease_expires_at !== null && Date.parse(row.lease_expires_at) > Date.now() };
}
