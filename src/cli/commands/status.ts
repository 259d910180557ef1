// `sse-sink status`: each stream's state and owner, cursor, last event, counts, dead letters and gaps.
import type { Argv } from 'yargs';
import { ExitCode, SinkError } from '../../common/errors.js';
import type { StreamStatus } from '../../core/store.js';
import { openReadableStore, withStore } from '../../store/open-store.js';
import { formatRows } from '../format.js';
import { dbOf, type GlobalArgs } from '../global-args.js';
import { positiveSeconds } from '../ingest-options.js';

export function statusCommand<T extends GlobalArgs>(yargs: Argv<T>) {
  return yargs.command(
    'status',
    'Show each stream: cursor, last event, counts, dead letters, gaps',
    (y) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON for programs' })
        .option('stale-after', {
          type: 'number',
          describe: 'Exit 6 when a stream\'s cursor has not moved for this many seconds (monitoring, cron)',
        }),
    async (args) => {
      const staleAfterMs = args['stale-after'] === undefined ? undefined : positiveSeconds(args['stale-after'], '--stale-after');
      const status = await withStore(openReadableStore(dbOf(args)), (store) => store.status());
      console.log(args.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      if (staleAfterMs === undefined) return;
      const stale = status.filter((s) => Date.now() - Date.parse(s.cursorUpdatedAt ?? s.createdAt) > staleAfterMs);
      if (stale.length) {
        throw new SinkError(
          `stale: ${stale.map((s) => `"${s.name}" (cursor last moved ${s.cursorUpdatedAt ?? 'never'})`).join(', ')}; check its ingester's log`,
          ExitCode.stale,
        );
      }
    },
  );
}

function formatStatus(status: StreamStatus[]): string {
  if (status.length === 0) return 'no streams yet: run "sse-sink ingest <source> --stream <name> …"';
  return formatRows(
    status.map((s) => ({
      stream: s.name,
      source: s.source,
      state: s.stateReason ? `${s.state} (${s.stateReason})` : s.state,
      owner: s.leaseOwner ? `${s.leaseOwner.host} pid ${s.leaseOwner.pid}` : null,
      lease_until: s.leaseExpiresAt,
      last_event_at: s.lastEventAt,
      lag_s: s.lagSeconds,
      last_heartbeat_at: s.lastHeartbeatAt,
      events: s.eventsTotal,
      duplicates: s.duplicatesSkipped,
      unknown: s.unknownTypes,
      dead_letters: s.deadLetters,
      gaps_open: s.gapsOpen,
      // A catch-up that could not run: the stream may be missing history, and says so.
      gaps_unrepairable: s.gapsUnrepairable,
      cursor: s.cursor,
      snapshot: s.snapshot && `${s.snapshot.id} ${s.snapshot.status}: ${s.snapshot.rowsRead} rows, ${s.snapshot.rowsDeleted} deleted`,
      last_gap_problem: s.lastGapProblem,
    })),
    'table',
  );
}
