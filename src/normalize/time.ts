// Upstream timestamps in one sortable form, so that SQL and the projection guard can compare
// them as text: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds, as precise as Sanity sends).

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** The canonical UTC form of an RFC-3339 timestamp, or null when it is not one. */
export function canonicalTime(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const match = RFC3339.exec(input);
  if (!match) return null;
  const [, date, time, fraction = '', zone] = match;
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const millis = Date.parse(`${date}T${time}.${micros.slice(0, 3)}${offset}`);
  if (Number.isNaN(millis)) return null;
  const utc = new Date(millis).toISOString();
  // An offset can move a time out of years 0000-9999, which have no four-digit form to sort with.
  if (utc.length !== 24) return null;
  return `${utc.slice(0, 23)}${micros.slice(3)}Z`;
}

/** The current time in the same canonical form. */
export function nowTime(): string {
  return `${new Date().toISOString().slice(0, 23)}000Z`;
}
