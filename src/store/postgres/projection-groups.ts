// A batch's projection ops as the JSON sse_sink_write reads (migrations/postgres/0002_put_runs.sql):
// puts on one table with the same columns and distinct keys go in a run, one statement for all of
// them; every other op goes on its own, in order. Each table's ops keep their order; ops on
// different tables never touch the same row or tombstone, so they may be written in any order.
import type { ProjectionOp, ProjectionTable } from '../../core/change.js';

export interface TimedOp {
  op: ProjectionOp;
  /** The event's time and seq: what orders projection writes. */
  time: string;
  seq: number;
}

/** Columns PostgreSQL stores as jsonb: a normalizer's JSON text goes in as it is. */
const JSON_COLUMNS = new Set(['object', 'result', 'mutations', 'previous']);

interface Run {
  shape: string;
  keys: Set<string>;
  ops: string[];
}

export function projectionGroupsJson(ops: readonly TimedOp[]): string {
  const groups: string[] = [];
  const open = new Map<ProjectionTable, Run>();
  const close = (table: ProjectionTable) => {
    const run = open.get(table);
    if (!run) return;
    open.delete(table);
    groups.push(run.ops.length > 1 ? `{"run":true,"table":"${table}","ops":[${run.ops.join(',')}]}` : `{"ops":[${run.ops[0]}]}`);
  };
  for (const timed of ops) {
    const { op } = timed;
    const json = opJson(timed);
    if (op.op !== 'put') {
      close(op.table);
      groups.push(`{"ops":[${json}]}`);
      continue;
    }
    const shape = putShape(op);
    const key = JSON.stringify(Object.entries(op.key).sort(([a], [b]) => (a < b ? -1 : 1)));
    const run = open.get(op.table);
    if (run && run.shape === shape && !run.keys.has(key)) {
      run.keys.add(key);
      run.ops.push(json);
      continue;
    }
    close(op.table);
    open.set(op.table, { shape, keys: new Set([key]), ops: [json] });
  }
  for (const table of [...open.keys()]) close(table);
  return `[${groups.join(',')}]`;
}

/** The columns a put writes, and which one it expects: puts of one shape make one statement. */
function putShape(op: Extract<ProjectionOp, { op: 'put' }>): string {
  const names = (values: object | undefined) => (values ? Object.keys(values).sort().join(',') : '-');
  return `${names(op.key)}|${names(op.values)}|${names(op.derived)}|${op.expect?.column ?? '-'}`;
}

/**
 * One projection op as JSON, written by hand so that a JSON column's text (an entity, a document)
 * goes in as it is instead of being parsed and serialized again.
 */
function opJson({ op, time, seq }: TimedOp): string {
  const columns = (values: object | undefined) =>
    values === undefined
      ? 'null'
      : `{${Object.entries(values)
          .map(([column, value]) => `${JSON.stringify(column)}:${JSON_COLUMNS.has(column) && typeof value === 'string' ? withoutNul(value) : JSON.stringify(value ?? null)}`)
          .join(',')}}`;
  const head = `{"op":${JSON.stringify(op.op)},"table":${JSON.stringify(op.table)},"time":${JSON.stringify(time)},"seq":${seq}`;
  switch (op.op) {
    case 'put': {
      const expect = op.expect ? `,"expect":${JSON.stringify(op.expect)}` : '';
      const derived = op.derived ? `,"derived":${columns(op.derived)}` : '';
      return `${head},"key":${columns(op.key)},"values":${columns(op.values)}${derived}${expect}}`;
    }
    case 'remove':
      return `${head},"key":${columns(op.key)}}`;
    case 'remove-matching':
      return `${head},"match":${columns(op.match)}}`;
  }
}

/**
 * jsonb cannot hold U+0000: an escaped NUL in JSON text becomes U+FFFD (text columns cannot hold
 * a NUL byte either). Only a `\u0000` escape preceded by an even number of backslashes is one.
 */
export function withoutNul(json: string): string {
  if (!json.includes('\\u0000') && !json.includes('\0')) return json;
  return json.replace(/\0/g, '\uFFFD').replace(/(^|[^\\])((?:\\\\)*)\\u0000/g, '$1$2\\ufffd');
}
