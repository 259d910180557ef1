// The status display on a terminal: one line per stream, redrawn in place about once a second,
// with log lines printed above it. Off a TTY there is none: logs alone tell the story there.
import { formatDuration } from '../common/duration.js';
import type { SnapshotProgress } from '../core/source-event.js';
import { type StreamStats } from '../ingest/stream-stats.js';

/** The part of process.stderr the display needs. */
export interface TerminalOut {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** `acme  live 3m12s  12.4 ev/s  1,234 events  last event 12:03:04Z  lag 0.4s  0 reconnects` */
export function formatStatusLine(stats: StreamStats, now = Date.now()): string {
  const state = `${stats.state} ${formatDuration((now - stats.stateSince) / 1000)}${
    stats.state !== 'live' && stats.stateReason ? ` (${stats.stateReason})` : ''
  }`;
  const extra = [
    stats.duplicates > 0 ? `${formatCount(stats.duplicates)} dup` : '',
    stats.deadLetters > 0 ? `${formatCount(stats.deadLetters)} dead` : '',
  ].filter(Boolean);
  const rate = stats.eventsPerSecond(now);
  return [
    stats.stream,
    state,
    ...(stats.snapshot?.status === 'running' ? [formatSnapshot(stats.snapshot, rate)] : []),
    `${formatRate(rate)} ev/s`,
    `${formatCount(stats.received)} events${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`,
    `last event ${stats.lastEventAt === null ? '-' : formatEventTime(stats.lastEventAt, now)}`,
    `lag ${stats.lagSeconds === null ? '-' : formatDuration(stats.lagSeconds)}`,
    `${stats.reconnects} reconnect${stats.reconnects === 1 ? '' : 's'}`,
  ].join('  ');
}

/** `snapshot 1: 1,200/5,000 rows, 12 pages, ~38s left` */
function formatSnapshot(snapshot: SnapshotProgress, rowsPerSecond: number): string {
  const { snapshotId, rowsRead, total, pages } = snapshot;
  const left = total !== null && total > rowsRead && rowsPerSecond > 0 ? `, ~${formatDuration((total - rowsRead) / rowsPerSecond)} left` : '';
  return `snapshot ${snapshotId}: ${formatCount(rowsRead)}${total === null ? '' : `/${formatCount(total)}`} rows, ${formatCount(pages)} pages${left}`;
}

function formatRate(perSecond: number): string {
  return perSecond < 100 ? perSecond.toFixed(1) : formatCount(Math.round(perSecond));
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** The time of day when the event is from today (UTC), the date too when it is older (backfill). */
function formatEventTime(iso: string, now: number): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const text = at.toISOString();
  return text.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? `${text.slice(11, 19)}Z` : `${text.slice(0, 10)} ${text.slice(11, 19)}Z`;
}

export interface ProgressDisplay {
  /** Prints a line (a log line) above the status lines, which are redrawn below it. */
  printAbove(line: string): void;
  /** Stops redrawing; the last status lines stay on screen. */
  stop(): void;
}

export interface ProgressOptions {
  streams: () => Iterable<StreamStats>;
  out?: TerminalOut;
  intervalMs?: number;
}

const ESC = '\u001b[';

/** Starts the display when `out` (default stderr) is a TTY; returns undefined otherwise. */
export function startProgress({ streams, out = process.stderr, intervalMs = 1000 }: ProgressOptions): ProgressDisplay | undefined {
  if (!out.isTTY) return undefined;
  let drawnLines = 0;
  // Cursor back to the first status line, and everything from there on erased.
  const erase = () => (drawnLines > 0 ? `\r${ESC}${drawnLines}A${ESC}J` : '');
  const render = () => {
    const width = Math.max(20, (out.columns || 120) - 1);
    // A wrapped line would throw the count of lines to move up off, so lines are cut to the width.
    const lines = [...streams()].map((stats) => formatStatusLine(stats).slice(0, width));
    drawnLines = lines.length;
    return lines.map((line) => `${line}\n`).join('');
  };
  let stopped = false;
  const redraw = () => out.write(erase() + render());
  const timer = setInterval(redraw, intervalMs);
  timer.unref();
  redraw();
  return {
    printAbove(line) {
      if (stopped) out.write(`${line}\n`);
      else out.write(`${erase()}${line}\n${render()}`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      redraw();
    },
  };
}
