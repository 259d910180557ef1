// Finds files shipped with the package (migrations/) the same way from src/ under vitest and
// from dist/src/ after a build.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('sse-sink: cannot find its package.json; is the install complete?');
    dir = parent;
  }
  return dir;
}

export const packageRoot = findPackageRoot();
/** drizzle-kit's migrations for each database: migrations/sqlite, migrations/postgres. */
export function migrationsFolder(dialect: 'sqlite' | 'postgres'): string {
  return join(packageRoot, 'migrations', dialect);
}
