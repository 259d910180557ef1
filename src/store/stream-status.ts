// What `sse-sink status` says of a stream, from its `streams` row and gap counts as any store
// reads them: the same rules for SQLite and PostgreSQL.
import { formatDuration } from '../common/duration.js';
import type { StreamStatus } from '../core/store.js';

/** The streams with their gap counts, as src/store/stream-status.ts reads them in SQL both SQLite and PostgreSQL run. */
export const STATUS_SQL = `SELECT s.*,
     (SELECT count(*) FROM gaps g WHERE g.stream = s.name AND g.status = 'open') AS gaps_open,
     (SELECT count(*) FROM gaps g WHERE g.stream = s.name AND g.status = 'unrepairable') AS gaps_unrepairable,
     (SELECT count(*) FROM gaps g WHERE g.stream = s.name AND g.status = 'repaired') AS catch_ups,
     (SELECT g.reason || ': ' || coalesce(g.detail, g.status) FROM gaps g
       WHERE g.stream = s.name AND g.status != 'repaired' ORDER BY g.id DESC LIMIT 1) AS last_gap_problem,
     (SELECT n.snapshot_id || ' ' || n.status || ' ' || n.rows_read || ' ' || n.pages || ' ' || n.rows_deleted FROM snapshots n
       WHERE n.stream = s.name ORDER BY n.snapshot_id DESC LIMIT 1) AS latest_snapshot
   FROM streams s ORDER BY s.name`;

/** A stream's row with its gap counts; times in the canonical text form. */
export interface StreamStatusRow {
  name: string;
  source: string;
  state: string;
  state_reason: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  lease_token: number;
  cursor: string | null;
  cursor_updated_at: string | null;
  last_received_at: string | null;
  created_at: string;
  last_event_at: string | null;
  last_heartbeat_at: string | null;
  events_total: number;
  duplicates_total: number;
  unknown_total: number;
  dead_letters_total: number;
  gaps_open: number;
  gaps_unrepairable: number;
  last_gap_problem: string | null;
  catch_ups: number;
  /** `<id> <status> <rows read> <pages> <rows deleted>` of the newest snapshot. */
  latest_snapshot: string | null;
}

export function toStreamStatus(row: StreamStatusRow, eventsByType: Record<string, number>, now: number): StreamStatus {
  return {
    name: row.name,
    source: row.source,
    ...currentState(row, now),
    cursor: row.cursor,
    cursorUpdatedAt: row.cursor_updated_at,
    createdAt: row.created_at,
    lastEventAt: row.last_event_at,
    lagSeconds: row.last_event_at ? Math.max(0, Math.round((now - Date.parse(row.last_event_at)) / 1000)) : null,
    lastHeartbeatAt: row.last_heartbeat_at,
    eventsTotal: row.events_total,
    eventsByType,
    duplicatesSkipped: row.duplicates_total,
    unknownTypes: row.unknown_total,
    deadLetters: row.dead_letters_total,
    gapsOpen: row.gaps_open,
    gapsUnrepairable: row.gaps_unrepairable,
    lastGapProblem: row.last_gap_problem,
    catchUps: row.catch_ups,
    snapshot: snapshotOf(row.latest_snapshot),
    ...leaseOf(row, now),
  };
}

function snapshotOf(latest: string | null): StreamStatus['snapshot'] {
  if (latest === null) return null;
  const [id, status, rowsRead, pages, rowsDeleted] = latest.split(' ');
  return { id: Number(id), status, rowsRead: Number(rowsRead), pages: Number(pages), rowsDeleted: Number(rowsDeleted) };
}

/**
 * A live stream whose last event arrived within this long, but was this far behind its upstream
 * time, is catching up (a backfill, a resume after downtime, a Sanity History catch-up); a quiet
 * stream whose last event is old is simply live.
 */
const CATCHING_UP_AFTER_MS = 60_000;

function currentState(row: StreamStatusRow, now: number): { state: string; stateReason: string | null } {
  if (row.state !== 'live') return { state: row.state, stateReason: row.state_reason };
  // A process killed with SIGKILL cannot say it stopped: its lease running out says it for it.
  if (!row.lease_expires_at || Date.parse(row.lease_expires_at) < now) {
    return { state: 'stopped', stateReason: `ingester gone without stopping (lease expired ${row.lease_expires_at})` };
  }
  const snapshot = snapshotOf(row.latest_snapshot);
  if (snapshot?.status === 'running') {
    return { state: 'snapshotting', stateReason: `snapshot ${snapshot.id}: ${snapshot.rowsRead} rows read in ${snapshot.pages} pages` };
  }
  if (row.gaps_open > 0) {
    return { state: 'catching up', stateReason: `repairing ${row.gaps_open} revision gap(s) from the History API` };
  }
  if (row.last_received_at && row.last_event_at) {
    const receivedAt = Date.parse(row.last_received_at);
    const behindMs = receivedAt - Date.parse(row.last_event_at);
    if (now - receivedAt < CATCHING_UP_AFTER_MS && behindMs > CATCHING_UP_AFTER_MS) {
      return { state: 'catching up', stateReason: `receiving events ${formatDuration(behindMs / 1000)} behind upstream time` };
    }
  }
  return { state: 'live', stateReason: row.state_reason };
}

/** Who holds the stream while its lease runs; `host:pid:nonce` is how stream-rules.ts names an owner. */
function leaseOf(row: StreamStatusRow, now: number): Pick<StreamStatus, 'leaseOwner' | 'leaseExpiresAt' | 'leaseToken'> {
  const live = row.lease_owner !== null && row.lease_expires_at !== null && Date.parse(row.lease_expires_at) >= now;
  const [host, pid] = (row.lease_owner ?? '').split(':');
  return {
    leaseOwner: live ? { host, pid: Number(pid) } : null,
    leaseExpiresAt: live ? row.lease_expires_at : null,
    leaseToken: Number(row.lease_token),
  };
}
