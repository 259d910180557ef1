/** 0.4s, 12s, 3m12s, 2h05m, 3d04h: short enough for a status line, precise where it matters. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  // Cut, not rounded, like the larger units: 9.96 s is 9.9s, not 10.0s.
  if (s < 10) return `${(Math.floor(s * 10) / 10).toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const two = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d${two((s % 86_400) / 3600)}h`;
}
