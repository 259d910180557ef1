import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A real PostgreSQL for the tests that run against both databases (test/helpers/backends.ts).
    globalSetup: ['test/setup/postgres.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash tests spawn real child processes; two workers match the two cores CI has.
    maxWorkers: 2,
  },
});
