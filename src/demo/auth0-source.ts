// The Auth0 source pointed at a simulated tenant (src/testing/auth0-simulator.ts), for the demo,
// the tests and the bench: the simulator itself imports no code under test.
import { auth0StreamConfig } from '../sources/auth0/requests.js';
import { createAuth0Source, type Auth0SourceOptions } from '../sources/auth0/source.js';
import type { Source } from '../core/source.js';

/**
 * The Auth0 source against a simulated tenant at `url`: every event type, a fixed token, and a stop
 * on an expired cursor; `options` overrides the rest (retry timings, the domain, …).
 */
export function simulatedTenantSource(
  url: string,
  token: string,
  { domain = 'acme.us.auth0.com', ...options }: Partial<Omit<Auth0SourceOptions, 'config' | 'readToken'>> & { domain?: string } = {},
): Source {
  return createAuth0Source({
    config: auth0StreamConfig(domain, url, []),
    onExpiredCursor: 'fail',
    readToken: () => token,
    tokenSource: 'AUTH0_TOKEN',
    ...options,
  });
}

