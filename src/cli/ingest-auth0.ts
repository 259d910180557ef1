// `sse-sink ingest auth0`: Auth0 Events API flags, their validation (all before the database is
// opened), and the Auth0 source handed to the shared ingest runner.
import { UsageError } from '../common/errors.js';
import { auth0StreamConfig } from '../sources/auth0/requests.js';
import { createAuth0Source, normalizeAuth0Stored, SNAPSHOT_SCOPES, type ExpiredCursorPolicy } from '../sources/auth0/source.js';
import {
  checkCommonIngestArgs,
  checkSnapshotPageSize,
  commonConfigKeys,
  requireOption,
  withCommonIngestOptions,
  type CommonIngestArgs,
  type SourceCli,
} from './ingest-options.js';
import { tokenReader } from './token.js';

interface IngestAuth0Args extends CommonIngestArgs {
  /** An array when the flag is repeated: refused. */
  domain?: string | string[];
  'event-type'?: string[];
  'on-expired-cursor'?: string;
  'snapshot-page-size'?: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const EVENT_TYPE = /^[a-z0-9_]+(?:\.[a-z0-9_]+)*$/;

export const auth0Cli: SourceCli<IngestAuth0Args> = {
  describe: 'Ingest an Auth0 tenant\'s Events API stream (users, organizations, groups, memberships)',
  builder: (yargs) =>
    withCommonIngestOptions(yargs)
      .option('domain', { type: 'string', describe: 'Tenant domain, e.g. acme.us.auth0.com; required' })
      .option('event-type', {
        type: 'string',
        array: true,
        describe: 'Only this event type (repeat the flag for several); default: every type',
      })
      .option('on-expired-cursor', {
        choices: ['fail', 'since-last-event'] as const,
        describe: 'When Auth0 no longer has the stored cursor (410): stop (exit 4, the default), or record a gap and resume ' +
          'from the newest stored event\'s time minus 10 minutes',
      })
      .option('snapshot-page-size', { type: 'number', describe: 'Items per Management API page of a snapshot (default 100, at most 100)' })
      .epilogue(
        'The token (scope read:events) comes from $AUTH0_TOKEN (or --token-env) or --token-file, re-read before every connect. ' +
          `A snapshot also needs ${SNAPSHOT_SCOPES}.`,
      ),
  configKeys: { ...commonConfigKeys, domain: 'string', 'event-type': 'string[]', 'on-expired-cursor': 'string', 'snapshot-page-size': 'number' },
  buildPlan: (args) => {
    const checked = checkCommonIngestArgs(args);
    const pageSize = checkSnapshotPageSize(args['snapshot-page-size'], 100);
    const domain = checkDomain(requireOption(args.domain, '--domain'));
    const eventTypes = (args['event-type'] ?? []).map(checkEventType);
    const onExpiredCursor = checkExpiredCursorPolicy(args['on-expired-cursor'] ?? 'fail');
    const envVar = args['token-env'] ?? 'AUTH0_TOKEN';
    const readToken = tokenReader({ envVar, file: args['token-file'] }, true) as () => string;
    const createSource = () =>
      createAuth0Source({
        config: auth0StreamConfig(domain, checked.url, eventTypes),
        onExpiredCursor,
        readToken,
        tokenSource: args['token-file'] ? `--token-file ${args['token-file']}` : envVar,
        sse: checked.connection,
        snapshot: { pageSize },
      });
    return { checked, kind: 'auth0', createSource };
  },
  argsFromDefinition: (definition) => {
    const domain = definition.domain as string;
    const url = definition.url as string;
    return { domain, 'event-type': definition.eventTypes as string[], ...(url === `https://${domain}` ? {} : { url }) };
  },
  normalizeStored: ({ type, payload }) => normalizeAuth0Stored(type, payload),
};

function checkExpiredCursorPolicy(value: string): ExpiredCursorPolicy {
  if (value !== 'fail' && value !== 'since-last-event') {
    throw new UsageError(`--on-expired-cursor "${value}" must be fail or since-last-event`);
  }
  return value;
}

function checkDomain(value: string | string[]): string {
  if (Array.isArray(value)) throw new UsageError('--domain was given more than once; a stream reads one tenant');
  if (value.includes('://') || value.includes('/')) {
    throw new UsageError(`--domain "${value}" must be the tenant host only, e.g. acme.us.auth0.com (a full base URL goes in --url)`);
  }
  if (!HOSTNAME.test(value)) throw new UsageError(`--domain "${value}" is not a host name; write e.g. acme.us.auth0.com`);
  return value.toLowerCase();
}

function checkEventType(value: string): string {
  if (!EVENT_TYPE.test(value)) {
    throw new UsageError(`--event-type "${value}" is not an event type; write e.g. user.created (repeat the flag for several)`);
  }
  return value;
}
