import { defineConfig } from 'vitest/config';

// Every API test runs twice: on embedded PGlite and on a real PostgreSQL (TEST_DATABASE_URL).
const shared = {
  include: ['apps/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: 'pglite',
          env: { TEST_DB: 'pglite' },
          globalSetup: ['apps/api/test/setup/pglite.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'postgres',
          env: { TEST_DB: 'postgres' },
          globalSetup: ['apps/api/test/setup/postgres.ts'],
        },
      },
    ],
  },
});
