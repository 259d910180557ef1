import { defineConfig } from 'drizzle-kit';

// Unqualified tables: sse-sink runs these migrations with search_path set to --db-schema.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/postgres/schema.ts',
  out: './migrations/postgres',
});
