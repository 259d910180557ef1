// `sse-sink ingest sanity`: its flags, their validation (before the database is touched), and
// the Sanity source built from them.
import { UsageError } from '../common/errors.js';
import { normalizeSanityMutation } from '../sources/sanity/normalize.js';
import { SanitySource } from '../sources/sanity/source.js';
import { normalizeSnapshotRow } from '../sources/sanity/snapshot-normalize.js';
import {
  DEFAULT_API_VERSION,
  defaultBaseUrl,
  RESUME_MODES,
  type SanityListenConfig,
  type SanityVisibility,
} from '../sources/sanity/requests.js';
import {
  checkCommonIngestArgs,
  commonConfigKeys,
  requireOption,
  withCommonIngestOptions,
  type CommonIngestArgs,
  type SourceCli,
  checkSnapshotPageSize,
} from './ingest-options.js';
import { tokenReader } from './token.js';

export interface SanityIngestArgs extends CommonIngestArgs {
  project?: string;
  dataset?: string;
  query?: string;
  /** Flags give `name=<JSON>` strings; a config file gives an object of name -> value. */
  param?: string[] | Record<string, unknown>;
  'api-version'?: string;
  'include-result'?: boolean;
  'include-previous-revision'?: boolean;
  'include-all-versions'?: boolean;
  visibility?: string;
  tag?: string;
  resume?: string;
  'snapshot-page-size'?: number;
}

/** Checks the Sanity flags and builds the listener configuration; throws UsageError. */
export function sanityConfigFromArgs(args: SanityIngestArgs, baseUrl: string | undefined): SanityListenConfig {
  const project = requireOption(args.project, '--project');
  const dataset = requireOption(args.dataset, '--dataset');
  const query = requireOption(args.query, '--query');
  const apiVersion = args['api-version'] ?? DEFAULT_API_VERSION;
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/i.test(project)) {
    throw new UsageError(`--project "${project}" is not a Sanity project id; it is shown in sanity.io/manage, e.g. abc123xy`);
  }
  if (!/^[a-z0-9_][a-z0-9_-]{0,63}$/.test(dataset)) {
    throw new UsageError(`--dataset "${dataset}" is not a dataset name (lowercase letters, digits, "_" and "-", at most 64)`);
  }
  if (!/^\s*\*\s*\[[\s\S]*\]\s*$/.test(query)) {
    throw new UsageError(`--query must be a GROQ filter such as '*[_type == "post"]', not ${JSON.stringify(query)}`);
  }
  if (!/^v(\d{4}-\d{2}-\d{2}|1|X)$/.test(apiVersion)) {
    throw new UsageError(`--api-version "${apiVersion}" is not an API version; write e.g. ${DEFAULT_API_VERSION}`);
  }
  if (args.tag !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,74}$/.test(args.tag)) {
    throw new UsageError(`--tag "${args.tag}" may only hold letters, digits, ".", "_" and "-" (at most 75)`);
  }
  return {
    projectId: project,
    dataset,
    baseUrl: baseUrl ?? defaultBaseUrl(project),
    apiVersion,
    query: query.trim(),
    params: parseParams(paramFlags(args.param)),
    includeResult: args['include-result'] ?? false,
    includePreviousRevision: args['include-previous-revision'] ?? false,
    includeAllVersions: args['include-all-versions'] ?? true,
    visibility: checkChoice(args.visibility ?? 'transaction', VISIBILITIES, '--visibility'),
    tag: args.tag,
  };
}

const VISIBILITIES: readonly SanityVisibility[] = ['transaction', 'query'];

/** The config file's `{"param": {"type": "post"}}` as the flags' `type="post"`, so one parser checks both. */
function paramFlags(param: SanityIngestArgs['param']): string[] {
  if (param === undefined) return [];
  if (Array.isArray(param)) return param;
  return Object.entries(param).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
}

/** `name=<JSON value>` flags to query parameters; each becomes `$name=<JSON>` on the URL. */
export function parseParams(flags: string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const flag of flags) {
    const equals = flag.indexOf('=');
    const name = equals < 0 ? flag : flag.slice(0, equals);
    if (equals < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new UsageError(`--param "${flag}" must be name=<JSON value>, e.g. --param 'type="post"'`);
    }
    if (name in params) throw new UsageError(`--param ${name} is given twice`);
    try {
      params[name] = JSON.parse(flag.slice(equals + 1));
    } catch {
      throw new UsageError(
        `--param ${name}: ${JSON.stringify(flag.slice(equals + 1))} is not JSON; strings need quotes: --param '${name}="text"'`,
      );
    }
  }
  return params;
}

export const sanityCli: SourceCli<SanityIngestArgs> = {
  describe: 'Ingest a Sanity dataset\'s listen stream into documents and document_mutations',
  builder: (yargs) =>
    withCommonIngestOptions(yargs)
      .option('project', { type: 'string', describe: 'Sanity project id; required' })
      .option('dataset', { type: 'string', describe: 'Dataset name, e.g. production; required' })
      .option('query', { type: 'string', describe: 'GROQ filter of the documents to follow, e.g. *[_type == "post"]; required' })
      .option('param', { type: 'string', array: true, describe: 'Query parameter name=<JSON value> (repeatable): --param \'type="post"\'' })
      .option('api-version', { type: 'string', describe: `Sanity API version (default ${DEFAULT_API_VERSION})` })
      .option('include-result', { type: 'boolean', describe: 'Store each document after every change (default off)' })
      .option('include-previous-revision', { type: 'boolean', describe: 'Store each document before every change (default off)' })
      .option('include-all-versions', { type: 'boolean', describe: 'Also follow release versions (versions.<release>.<id>) (default on)' })
      .option('visibility', { choices: ['transaction', 'query'] as const, describe: 'When Sanity sends a change: at commit (default), or once queryable' })
      .option('tag', { type: 'string', describe: 'Request tag, shown in Sanity\'s usage logs' })
      .option('snapshot-page-size', { type: 'number', describe: 'Documents per query-API page of a snapshot (default 1000, at most 10000)' })
      .option('resume', {
        choices: RESUME_MODES,
        describe: 'How to ask the listener to resume: enableResume=true and Last-Event-ID (default), the header only, or off (always catch up)',
      })
      .epilogue(
        'The token comes from $SANITY_TOKEN (or --token-env) or --token-file (re-read before every request); a public dataset needs none, ' +
          'but catching up after downtime needs a token with History API access.',
      ),
  configKeys: {
    ...commonConfigKeys,
    project: 'string',
    dataset: 'string',
    query: 'string',
    param: 'json-object',
    'api-version': 'string',
    'include-result': 'boolean',
    'include-previous-revision': 'boolean',
    'include-all-versions': 'boolean',
    visibility: 'string',
    tag: 'string',
    resume: 'string',
    'snapshot-page-size': 'number',
  },
  buildPlan: (args) => {
    const checked = checkCommonIngestArgs(args);
    const config = sanityConfigFromArgs(args, checked.url);
    const resume = checkChoice(args.resume ?? 'enable-resume', RESUME_MODES, '--resume');
    const token = tokenReader({ envVar: args['token-env'] ?? 'SANITY_TOKEN', file: args['token-file'] }, false);
    const snapshotPageLimit = checkSnapshotPageSize(args['snapshot-page-size'], 10_000);
    const createSource = () => new SanitySource({ config, resume, token, sse: checked.connection, snapshotPageLimit });
    return { checked, kind: 'sanity', createSource };
  },
  argsFromDefinition: (definition) => ({
    project: definition.projectId as string,
    dataset: definition.dataset as string,
    query: definition.query as string,
    param: definition.params as Record<string, unknown>,
    'api-version': definition.apiVersion as string,
    'include-result': definition.includeResult as boolean,
    'include-previous-revision': definition.includePreviousRevision as boolean,
    'include-all-versions': definition.includeAllVersions as boolean,
    visibility: definition.visibility as string,
  }),
  normalizeStored: ({ type, payload }) => (type.startsWith('snapshot.') ? normalizeSnapshotRow(type, payload) : normalizeSanityMutation(payload)),
};

function checkChoice<T extends string>(value: string, choices: readonly T[], flag: string): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag} "${value}" must be one of ${choices.join(', ')}`);
  return value as T;
}
