// The listen configuration that points sse-sink at a simulated dataset (src/testing/sanity-simulator.ts).
import { DEFAULT_API_VERSION, type SanityListenConfig } from '../sources/sanity/requests.js';

/**
 * A listen config for the simulated dataset at `baseUrl`: every document (`*`), results included,
 * drafts and versions too, sent at commit; `overrides` sets what a caller needs otherwise.
 */
export function simulatedDatasetConfig(baseUrl: string, overrides: Partial<SanityListenConfig> = {}): SanityListenConfig {
  return {
    projectId: 'abc123',
    dataset: 'production',
    baseUrl,
    apiVersion: DEFAULT_API_VERSION,
    query: '*',
    params: {},
    includeResult: true,
    includePreviousRevision: false,
    includeAllVersions: true,
    visibility: 'transaction',
    ...overrides,
  };
}
