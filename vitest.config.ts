import { defineConfig } from 'vitest/config';

// Every API test runs twice: on embedded PGlite and on a real PostgreSQL (TEST_DATABASE_URL). What
// does not depend on the database engine (pure core code, the SDK's document, the browser and
// command-line end-to-end tests, which start their own server) runs once, in the pglite project.
const ALL = ['apps/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts'];
const API = ['apps/api/test/**/*.test.ts'];
// API tests about the HTTP surface, not the database: the document and the envelope of every route.
const ENGINE_AGNOSTIC_API = ['apps/api/test/openapi.test.ts', 'apps/api/test/contract.test.ts'];

const shared = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    // One file at a time. Two at a time took 12 minutes instead of 19, but the timing-sensitive
    // tests (SMTP sends racing a lease, processes killed mid-job) then fail now and then on 2 cores.
    maxWorkers: 1,
    projects: [
      {
        test: {
          ...shared,
          include: ALL,
          name: 'pglite',
          env: { TEST_DB: 'pglite' },
          globalSetup: ['apps/api/test/setup/pglite.ts'],
        },
      },
      {
        test: {
          ...shared,
          include: API,
          exclude: ENGINE_AGNOSTIC_API,
          name: 'postgres',
          env: { TEST_DB: 'postgres' },
          globalSetup: ['apps/api/test/setup/postgres.ts'],
        },
      },
    ],
  },
});
