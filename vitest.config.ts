import { defineConfig } from 'vitest/config';

// Every API test runs twice: on embedded PGlite and on a real PostgreSQL (TEST_DATABASE_URL). What
// does not depend on the database engine (pure core code, the SDK's document, the browser and
// command-line end-to-end tests, which start their own server, the HTTP contract, logging, rate
// limits in Redis, CalDAV against Radicale) runs once, in the pglite project.
const ALL = ['apps/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts'];
const API = ['apps/api/test/**/*.test.ts'];
const ENGINE_AGNOSTIC_API = [
  'apps/api/test/openapi.test.ts',
  'apps/api/test/openapi-validate.test.ts',
  'apps/api/test/contract.test.ts',
  'apps/api/test/logs.test.ts',
  'apps/api/test/rate-limit.test.ts',
  'apps/api/test/caldav-sync.test.ts',
  'apps/api/test/deploy-config.test.ts',
  'apps/api/test/transport.test.ts',
  // The local cluster (deploy/local-cluster) brings its own PostgreSQL primary and replica.
  'apps/api/test/scale-out.test.ts',
  // npm run bench at a tiny size: its own database and servers.
  'apps/api/test/bench-suite.test.ts',
  'apps/api/test/web-assets.test.ts',
  // OWASP API Top 10: the groups that attack the HTTP layer, the outbound guards and the
  // configuration (API1, API2, API3 and the hostile-JSON property test run on both engines).
  'apps/api/test/owasp/api4-resource-consumption.test.ts',
  'apps/api/test/owasp/api5-bfla.test.ts',
  'apps/api/test/owasp/api6-business-flows.test.ts',
  'apps/api/test/owasp/api7-ssrf.test.ts',
  'apps/api/test/owasp/api8-misconfiguration.test.ts',
  'apps/api/test/owasp/api9-inventory.test.ts',
  'apps/api/test/owasp/api10-unsafe-consumption.test.ts',
];

/**
 * `npm test` (scripts/test.mjs) runs in two phases: the files below one at a time (they start
 * processes and browsers, or race SMTP sends against leases and timers, and a busy 2-core machine
 * makes them miss), then the rest two at a time (plain API tests: each has its own database).
 * Without TEST_PHASE (`npx vitest run a-file`), everything is included.
 */
export const SERIAL = [
  'apps/web/test/**/*.test.ts',
  'apps/cli/test/**/*.test.ts',
  ...[
    'reminders',
    'workers',
    'process',
    'redis-outage',
    'webhook-delivery',
    'events',
    'idempotency',
    'embedded-jobs',
    'caldav-sync',
    'job-metrics',
    'observability',
    'outbox',
    'revocation',
    'revocation-purge',
    'secrets-at-rest',
    'backup',
    'scale-out',
    'bench-suite',
  ].map((name) => `apps/api/test/${name}.test.ts`),
];
const phase = process.env.TEST_PHASE;
const phaseOf = (include: string[]) =>
  phase === 'serial'
    ? { include: include.length === ALL.length ? SERIAL : SERIAL.filter((f) => f.startsWith('apps/api/')) }
    : phase === 'parallel'
      ? { include, exclude: SERIAL }
      : { include };

const shared = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          ...phaseOf(ALL),
          name: 'pglite',
          env: { TEST_DB: 'pglite' },
          globalSetup: ['apps/api/test/setup/pglite.ts'],
        },
      },
      {
        test: {
          ...shared,
          ...phaseOf(API),
          exclude: [...ENGINE_AGNOSTIC_API, ...(phase === 'parallel' ? SERIAL : [])],
          name: 'postgres',
          env: { TEST_DB: 'postgres' },
          globalSetup: ['apps/api/test/setup/postgres.ts'],
        },
      },
    ],
  },
});
