// One PostgreSQL server for the whole test run (each test uses a schema of its own). A test that
// needs PostgreSQL fails when it cannot get one: this setup throws, and no test runs.
import type { TestProject } from 'vitest/node';
import { startTestPostgres } from '../../harness/postgres-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: { url: string; password: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startTestPostgres();
  project.provide('postgres', { url: server.url, password: server.password });
  return () => server.stop();
}
