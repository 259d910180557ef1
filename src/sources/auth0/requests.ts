// The Auth0 Events API request: URL (cursor or start time, event-type filter) and headers. Pure,
// so the resume rules can be tested without a server.

/** What defines an Auth0 stream; stored in `streams.definition` on first use. */
export interface Auth0StreamConfig {
  /** Tenant domain, e.g. `acme.us.auth0.com`. */
  domain: string;
  /** `https://<domain>` unless `--url` overrides it (proxies, tests); no trailing slash. */
  url: string;
  /** The `event_type` filter, sorted and without repeats; empty = every type. */
  eventTypes: string[];
}

/** Where a connection starts: after a cursor, at a time, or (both null) at the latest event. */
export interface Auth0StartPosition {
  cursor: string | null;
  /** Canonical RFC-3339; used only when there is no cursor (the API refuses both at once). */
  fromTime: string | null;
}

export function auth0StreamConfig(domain: string, url: string | undefined, eventTypes: readonly string[]): Auth0StreamConfig {
  return { domain, url: url ?? `https://${domain}`, eventTypes: [...new Set(eventTypes)].sort() };
}

/** `GET <url>/api/v2/events?from=…` or `?from_timestamp=…`, plus one `event_type` per filtered type. */
export function buildEventsUrl(config: Auth0StreamConfig, start: Auth0StartPosition): string {
  const url = new URL(`${config.url}/api/v2/events`);
  if (start.cursor !== null) url.searchParams.set('from', start.cursor);
  else if (start.fromTime !== null) url.searchParams.set('from_timestamp', auth0Timestamp(start.fromTime));
  for (const type of config.eventTypes) url.searchParams.append('event_type', type);
  return url.toString();
}

/**
 * The `YYYY-MM-DDTHH:MM:SSZ` form `from_timestamp` accepts (20 characters at most). Fractions are
 * cut, which moves the start earlier: at worst a few events arrive twice and are skipped as duplicates.
 */
export function auth0Timestamp(canonical: string): string {
  return `${canonical.slice(0, 19)}Z`;
}

export function eventsRequestHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' };
}
