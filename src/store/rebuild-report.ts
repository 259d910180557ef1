// What `rebuild` reports per table: rows added, removed and changed between two snapshots of it
// (each row as text, keyed by its primary key), the same for every store.
import type { TableDifference } from '../core/store.js';

export function compareRows(before: Map<string, string>, after: Map<string, string>): TableDifference {
  const difference: TableDifference = { added: 0, removed: 0, changed: 0 };
  for (const [key, row] of after) {
    const old = before.get(key);
    if (old === undefined) difference.added++;
    else if (old !== row) difference.changed++;
  }
  for (const key of before.keys()) if (!after.has(key)) difference.removed++;
  return difference;
}
