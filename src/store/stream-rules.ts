// The rules about a stream's row that every store applies the same way: whether a definition may
// be stored under a name, who holds the lease, and how a lease holder is named and reported.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StreamBusyError, UsageError } from '../common/errors.js';
import type { StreamDefinition } from '../core/store.js';

export const LEASE_TTL_MS = 30_000;

/** JSON with sorted keys, so that the same options always compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * What to do with a stream's stored definition: keep it, or adopt the wanted one (a new or reset
 * stream). A different definition under the same name is refused: mixing two streams' histories
 * under one cursor would corrupt both.
 */
export function checkDefinition(existing: { source: string; definition: string | null }, wanted: StreamDefinition): 'keep' | 'adopt' {
  const definition = canonicalJson(wanted.definition);
  if (existing.source !== wanted.source) {
    throw new UsageError(`stream "${wanted.name}" is a ${existing.source} stream, not ${wanted.source}; choose another --stream name`);
  }
  if (existing.definition === null) return 'adopt';
  if (existing.definition !== definition) {
    throw new UsageError(
      `stream "${wanted.name}" was defined as ${existing.definition}, not ${definition}; ` +
        `use a new --stream name, or run "sse-sink reset ${wanted.name} --yes" to start it again`,
    );
  }
  return 'keep';
}

/** This process as a lease owner: `host:pid:nonce`. */
export function newLeaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export interface LeaseHolder {
  owner: string | null;
  expiresAt: string | null;
  /** Whether the lease has not expired, by the store's clock. */
  live: boolean;
}

/** A live lease of another ingester; one left by a dead process on this host (kill -9) is free at once. */
export function isHeldByOther({ owner, expiresAt, live }: LeaseHolder): boolean {
  if (!owner || !expiresAt || !live) return false;
  return !isDeadLocalProcess(owner);
}

/** An owner (`host:pid:nonce`) that is a process of this host that no longer runs. */
export function isDeadLocalProcess(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== hostname()) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export function streamBusyError(stream: string, { owner, expiresAt }: LeaseHolder): StreamBusyError {
  const [host, pid] = (owner ?? '').split(':');
  return new StreamBusyError(
    `stream "${stream}" is being ingested by pid ${pid} on ${host} (lease until ${expiresAt}); ` +
      'stop that process first, or use another --stream name',
  );
}
