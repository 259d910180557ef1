// One ingester per stream: a lease row in `streams` that a second process is refused, renewed by
// every commit, and taken over at once when its owner is a dead process on this host (after kill -9).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StreamBusyError } from '../common/errors.js';
import { timeAt } from '../common/time.js';
import type { SinkDatabase } from './database.js';
import { streamStatements, type LeaseRow } from './streams.js';

export const LEASE_TTL_MS = 30_000;

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
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const nextExpiry = () => timeAt(Date.now() + ttlMs);
  const statements = streamStatements(sink.sqlite);
  sink.sqlite
    .transaction(() => {
      const row = statements.readLease(stream);
      if (row && isHeldByOther(row)) throw busyError(stream, row);
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
  if (row && isHeldByOther(row)) throw busyError(stream, row);
}

function isHeldByOther(row: LeaseRow): boolean {
  if (!row.lease_owner || !row.lease_expires_at) return false;
  if (Date.parse(row.lease_expires_at) <= Date.now()) return false;
  return !isDeadLocalProcess(row.lease_owner);
}

function isDeadLocalProcess(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname()) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function busyError(stream: string, row: LeaseRow): StreamBusyError {
  const [host, pid] = (row.lease_owner ?? '').split(':');
  return new StreamBusyError(
    `stream "${stream}" is being ingested by pid ${pid} on ${host} (lease until ${row.lease_expires_at}); ` +
      'stop that process first, or use another --stream name',
  );
}
