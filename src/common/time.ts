// Upstream timestamps in one sortable form, so that SQL and the projection guard can compare
// them as text: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds, as precise as Sanity sends).

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/** The canonical UTC form of an RFC-3339 timestamp, or null when it is not one. */
export function canonicalTime(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const alreadyCanonical = canonicalUtc(input);
  if (alreadyCanonical !== undefined) return alreadyCanonical;
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

/**
 * Fast path for what upstreams send almost always, UTC with milli- or microseconds
 * (`…T12:00:00.000Z`, `…T12:00:00.000250Z`): checked field by field without Date or a regex
 * (several timestamps per event). Undefined when the input is not of that form; the general path
 * then decides.
 */
function canonicalUtc(input: string): string | undefined {
  if (input.length === 24) {
    if (input.charCodeAt(23) !== Z) return undefined;
    return isValidIsoMillis(input) ? `${input.slice(0, 23)}000Z` : undefined;
  }
  if (input.length === 27) {
    if (input.charCodeAt(26) !== Z || !isDigit(input, 23) || !isDigit(input, 24) || !isDigit(input, 25)) return undefined;
    return isValidIsoMillis(input) ? input : undefined;
  }
  return undefined;
}

const Z = 'Z'.charCodeAt(0);

/**
 * Whether `text` starts with `YYYY-MM-DDTHH:MM:SS.mmm` as `Date#toISOString` prints a valid time
 * in years 0000-9999: the layout, then the ranges (a real day of the month, no hour 24, no second 60).
 */
function isValidIsoMillis(text: string): boolean {
  for (let i = 0; i < ISO_MILLIS_LAYOUT.length; i++) {
    const separator = ISO_MILLIS_LAYOUT[i];
    if (separator === undefined ? !isDigit(text, i) : text.charCodeAt(i) !== separator) return false;
  }
  const year = number(text, 0, 4);
  const month = number(text, 5, 2);
  const day = number(text, 8, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) &&
    number(text, 11, 2) <= 23 && number(text, 14, 2) <= 59 && number(text, 17, 2) <= 59;
}

/** The fixed characters of `YYYY-MM-DDTHH:MM:SS.mmm` by position; digits elsewhere. */
const ISO_MILLIS_LAYOUT: (number | undefined)[] = [...'0000-00-00T00:00:00.000'].map((c) => (c === '0' ? undefined : c.charCodeAt(0)));

function number(text: string, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** Proleptic Gregorian, as Date counts: year 0 is a leap year. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isDigit(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code >= 48 && code <= 57;
}

let nowMillis = Number.NaN;
let nowText = '';

/** The current time in the same canonical form. */
export function nowTime(): string {
  // Called for every event received: formatting once per millisecond is enough.
  const millis = Date.now();
  if (millis !== nowMillis) {
    nowMillis = millis;
    nowText = timeAt(millis);
  }
  return nowText;
}

/** A moment given in milliseconds since the epoch, in the canonical form. */
export function timeAt(millis: number): string {
  return `${new Date(millis).toISOString().slice(0, 23)}000Z`;
}

/** A canonical time moved by whole milliseconds; its microseconds stay as they are. */
export function shiftTime(time: string, ms: number): string {
  return `${new Date(Date.parse(time) + ms).toISOString().slice(0, 23)}${time.slice(23, 26)}Z`;
}
