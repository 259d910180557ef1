// sse-sink.config.json: streams described with the same options as the ingest flags (same names),
// checked strictly so that a typo is an error naming the key, never a silently ignored setting.
import { readFileSync } from 'node:fs';
import { UsageError } from '../common/errors.js';
import type { SourceKind } from '../core/source.js';

export type ConfigValueKind = 'string' | 'number' | 'boolean' | 'string[]' | 'json-object';
/** Flag name -> the JSON type its value must have in the config file. */
export type ConfigKeys = Record<string, ConfigValueKind>;

export interface StreamEntry {
  source: SourceKind;
  /** Flag name -> value, already type-checked. */
  options: Record<string, unknown>;
}

export interface ConfigFile {
  path: string;
  db?: string;
  durable?: boolean;
  standby?: boolean;
  'lease-ttl'?: number;
  streams: Record<string, StreamEntry>;
}

const TOP_LEVEL: ConfigKeys = { db: 'string', durable: 'boolean', standby: 'boolean', 'lease-ttl': 'number', streams: 'json-object' };
/** What a stream may be called: it names rows in every table and appears in URLs of logs and metrics. */
export const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The config path from --config, else $SSE_SINK_CONFIG, else none. */
export function configPath(flag: string | undefined): string | undefined {
  return flag ?? (process.env.SSE_SINK_CONFIG || undefined);
}

/** Reads and checks the file; `keysBySource` are the options each source accepts. */
export function readConfigFile(path: string, keysBySource: Record<SourceKind, ConfigKeys>): ConfigFile {
  const fail = (where: string, problem: string) => new UsageError(`config ${path}: ${where}: ${problem}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read config ${path} (${(error as NodeJS.ErrnoException).code}); check --config or $SSE_SINK_CONFIG`);
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`config ${path} is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(root)) throw fail('(top level)', 'must be a JSON object with "streams"');
  checkKeys(root, TOP_LEVEL, '', fail);
  if (!isObject(root.streams) || Object.keys(root.streams).length === 0) {
    throw fail('streams', 'must be an object naming at least one stream: {"streams": {"tenant": {"source": "auth0", …}}}');
  }
  const streams: Record<string, StreamEntry> = {};
  for (const [name, entry] of Object.entries(root.streams)) {
    const where = `streams.${name}`;
    if (!STREAM_NAME.test(name)) throw fail(where, 'a stream name may hold letters, digits, ".", "_" and "-"');
    if (!isObject(entry)) throw fail(where, 'must be an object of options');
    const { source, ...options } = entry;
    if (source !== 'auth0' && source !== 'sanity') throw fail(`${where}.source`, 'must be "auth0" or "sanity"');
    if ('token' in options) throw fail(`${where}.token`, 'tokens are not kept in the config; use "token-env" (a variable name) or "token-file"');
    checkKeys(options, keysBySource[source], `${where}.`, fail);
    streams[name] = { source, options };
  }
  return {
    path,
    db: root.db as string | undefined,
    durable: root.durable as boolean | undefined,
    standby: root.standby as boolean | undefined,
    'lease-ttl': root['lease-ttl'] as number | undefined,
    streams,
  };
}

/** Flags given on the command line win; the config fills in the rest. */
export function withConfigDefaults<T extends object>(args: T, entry: StreamEntry | undefined): T {
  if (!entry) return args;
  const merged: Record<string, unknown> = { ...(args as Record<string, unknown>) };
  for (const [key, value] of Object.entries(entry.options)) {
    if (merged[key] === undefined) merged[key] = value;
  }
  return merged as T;
}

function checkKeys(
  object: Record<string, unknown>,
  keys: ConfigKeys,
  prefix: string,
  fail: (where: string, problem: string) => UsageError,
): void {
  for (const [key, value] of Object.entries(object)) {
    const kind = keys[key];
    if (!kind) throw fail(`${prefix}${key}`, `unknown key; known keys: ${Object.keys(keys).join(', ')}`);
    if (!hasKind(value, kind)) throw fail(`${prefix}${key}`, `must be ${describeKind(kind)}, not ${JSON.stringify(value)}`);
  }
}

function hasKind(value: unknown, kind: ConfigValueKind): boolean {
  switch (kind) {
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'json-object':
      return isObject(value);
    default:
      return typeof value === kind;
  }
}

function describeKind(kind: ConfigValueKind): string {
  return { string: 'a string', number: 'a number', boolean: 'true or false', 'string[]': 'an array of strings', 'json-object': 'an object' }[kind];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
