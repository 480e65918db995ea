import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import {
  type Clock,
  type Core,
  createCore,
  type Database,
  databaseFromPglite,
  loadConfig,
  loggerOptions,
  openDatabase,
} from '@taskman/core';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import { buildApp } from '../../src/app';

export type TestDb = 'pglite' | 'postgres';
export const testDb: TestDb = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';

export interface TestDatabase {
  database: Database;
  /** A postgres:// URL for this database (postgres only), e.g. to start a process against it. */
  url?: string;
  /**
   * Runs SQL as the tables' owner, for a test that changes the schema under the app (ALTER TABLE):
   * the app's own connection runs as taskman_app, which owns nothing (row-level security).
   */
  asOwner(statement: string): Promise<void>;
  drop(): Promise<void>;
}

/** A fresh, migrated database of the kind this test project runs on. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (testDb === 'pglite') {
    const dump = await readFile(inject('pgliteDump'));
    const client = await PGlite.create({ loadDataDir: new Blob([dump]) });
    const database = databaseFromPglite(client, 'in memory');
    // One connection: the statements go in one exec, so nothing else runs as the owner meanwhile
    // (and if one fails, the implicit transaction takes the RESET ROLE back with it).
    const asOwner = async (statement: string) => {
      const { rows } = await client.query<{ role: string }>('select current_user as role');
      await client.exec(`reset role; ${statement}; set role ${rows[0]!.role}`);
    };
    return { database, asOwner, drop: async () => {} };
  }
  const adminUrl = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  const name = `${template.replace('_tpl_', '_t_')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name} template ${template}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), dataDir: 'unused', poolMax: 5 });
  return {
    database,
    url: url.toString(),
    asOwner: (statement) => asOwnerOf(url.toString(), statement),
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Runs a statement on a connection of its own, as the login role (the owner, in tests a superuser). */
async function asOwnerOf(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A second handle on the same database: a new pool on PostgreSQL; the same PGlite instance (single process). */
async function shareDatabase(of: TestDatabase): Promise<TestDatabase> {
  if (!of.url) {
    // Wrap so that closing the second app does not close the first one's PGlite.
    return { database: { ...of.database, close: async () => {} }, asOwner: of.asOwner, drop: async () => {} };
  }
  const database = await openDatabase({ databaseUrl: of.url, dataDir: 'unused', poolMax: 5 });
  return { database, url: of.url, asOwner: of.asOwner, drop: async () => {} };
}

/** Redis for tests; each test app gets its own key prefix, so test files never see each other's keys. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
export const redisEnv = () => ({
  REDIS_URL: TEST_REDIS_URL,
  REDIS_KEY_PREFIX: `t${randomBytes(5).toString('hex')}:`,
});

/** Environment every test app starts from; a test may override any of it. */
export const TEST_ENV = {
  NODE_ENV: 'test',
  BCRYPT_COST: '4',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_MAX: '100000',
  AUTH_RATE_LIMIT_MAX: '100000',
  // Sign-ups answer with a session at once; signup.test.ts turns email confirmation on.
  SIGNUP_VERIFY_EMAIL: 'false',
  JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
} as const;

export interface TestApp {
  app: FastifyInstance;
  core: Core;
  db: TestDatabase;
  close(): Promise<void>;
}

/** Builds the whole app on a fresh database, as `main.ts` does, minus the listening socket. */
export async function createTestApp(
  opts: {
    env?: Record<string, string>;
    clock?: Clock;
    logStream?: { write(line: string): void };
    /** Build on the database of another test app (a second API process); closing leaves it alone. */
    shareDatabaseOf?: TestApp;
    /** Serve the built web app from this directory. */
    webAppDir?: string;
  } = {},
): Promise<TestApp> {
  const shared = opts.shareDatabaseOf;
  const db: TestDatabase = shared ? await shareDatabase(shared.db) : await createTestDatabase();
  const config = loadConfig({ ...TEST_ENV, ...opts.env });
  // With a log stream, the core and the app share one logger, as in main.ts.
  const logger = opts.logStream
    ? pino({ ...loggerOptions(config), transport: undefined }, opts.logStream as pino.DestinationStream)
    : undefined;
  const core = await createCore(config, {
    database: db.database,
    migrate: false,
    clock: opts.clock,
    log: logger,
  });
  // The web app is served only where a test asks for it (a build may or may not be on disk).
  const web = { webAppDir: opts.webAppDir ?? (false as const) };
  const app = await buildApp(
    logger ? { core, loggerInstance: logger, ...web } : { core, logger: false, ...web },
  );
  await app.ready();
  return {
    app,
    core,
    db,
    async close() {
      await app.close();
      await core.close();
      await db.drop();
    },
  };
}

export type CacheMode = 'redis' | 'memory';

export interface AppPair {
  a: TestApp;
  b: TestApp;
  /** The Redis key prefix the pair shares ('' in memory mode). */
  prefix: string;
  /** A client of the test Redis, to look at keys (redis mode only). */
  redis: Redis | undefined;
  close(): Promise<void>;
}

/**
 * Two API processes sharing one Redis (redis mode: writes on A, reads on B), or one embedded
 * process playing both parts (memory mode).
 */
export async function appPair(
  mode: CacheMode,
  make: (env?: Record<string, string>) => Promise<TestApp>,
): Promise<AppPair> {
  if (mode === 'memory') {
    const a = await make();
    return { a, b: a, prefix: '', redis: undefined, close: () => a.close() };
  }
  const env = redisEnv();
  const a = await make(env);
  const b = await make(env);
  const redis = new Redis(TEST_REDIS_URL);
  return {
    a,
    b,
    prefix: env.REDIS_KEY_PREFIX,
    redis,
    async close() {
      await b.close();
      await a.close();
      await redis.quit();
    },
  };
}
