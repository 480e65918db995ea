import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CacheStore } from './cache/cache.store';
import { CacheAside } from './cache/cache-aside';
import { MemoryCacheStore } from './cache/memory.store';
import { openRedis, RedisCacheStore } from './cache/redis.store';
import { SessionCache } from './cache/session.cache';
import { TaskCache } from './cache/task.cache';
import type { Config } from './config';
import { type Database, openDatabase } from './db/client';
import { transactionRunner } from './db/transaction';
import { cleanupTasksHandler } from './jobs/handlers/cleanup-tasks.handler';
import { assertHandlers, type JobHandlers } from './jobs/job.catalogue';
import { type Clock, systemClock } from './lib/clock';
import { type Log, silentLog } from './lib/log';
import { PasswordHasher } from './lib/password';
import { loadOrCreateSecret } from './lib/secret';
import { createMetrics, type Metrics } from './metrics/metrics';
import { OutboxRepository } from './repositories/outbox.repository';
import { ProjectRepository } from './repositories/project.repository';
import { TaskRepository } from './repositories/task.repository';
import { UserRepository } from './repositories/user.repository';
import { AuthService } from './services/auth.service';
import { HealthService } from './services/health.service';
import { ProjectService } from './services/project.service';
import { TaskService } from './services/task.service';
import { TokenService } from './services/token.service';
import { UserService } from './services/user.service';

/** The services an entry point (API, worker, CLI) works with. */
export interface Services {
  auth: AuthService;
  users: UserService;
  projects: ProjectService;
  tasks: TaskService;
  health: HealthService;
}

export interface Core {
  config: Config;
  database: Database;
  services: Services;
  metrics: Metrics;
  /** One handler per job of the catalogue (checked at start). */
  jobs: JobHandlers;
  /** The shared Redis client in cluster mode (rate limiter, cache); undefined in embedded mode. */
  redis: Redis | undefined;
  cacheStore: CacheStore;
  close(): Promise<void>;
}

export interface CreateCoreOptions {
  /** Use this database instead of opening one from the config (tests). */
  database?: Database;
  clock?: Clock;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  log?: Log;
}

function jwtSecretFor(config: Config): string {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.dataDir.startsWith('memory://')) return randomBytes(48).toString('base64url');
  return loadOrCreateSecret(config.dataDir, 'jwt-secret');
}

/** The composition root: opens the database, migrates it and wires repositories into services. */
export async function createCore(config: Config, opts: CreateCoreOptions = {}): Promise<Core> {
  const database =
    opts.database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      poolMax: config.databasePoolMax,
    }));
  try {
    if (opts.migrate !== false) await database.migrate();
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLog;
  const transaction = transactionRunner(database.db);
  const metrics = createMetrics();

  const redis = config.redisUrl ? await openRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  if (redis && redis.status !== 'ready')
    log.warn({}, 'Redis is not reachable yet: serving without the cache until it is');
  const cacheStore: CacheStore = redis ? new RedisCacheStore(redis) : new MemoryCacheStore();
  const cache = new CacheAside(cacheStore, metrics, log, config.cacheEnabled);
  const taskCache = new TaskCache(cache, config.cacheTtlSeconds);
  const sessions = new SessionCache(cache, config.cacheTtlSeconds);

  const userRepo = new UserRepository(database.db);
  const projectRepo = new ProjectRepository(database.db);
  const taskRepo = new TaskRepository(database.db);
  const outbox = new OutboxRepository(database.db);

  const tokens = new TokenService(jwtSecretFor(config), config.jwtExpiresInSeconds);
  const hasher = new PasswordHasher(config.bcryptCost);
  const tasks = new TaskService(taskRepo, projectRepo, clock, taskCache, outbox, transaction);
  const jobs = { cleanup_tasks: cleanupTasksHandler(tasks, config.archiveAfterDays, () => clock.now()) };
  assertHandlers(jobs);

  const auth = new AuthService(userRepo, hasher, tokens, transaction, sessions, config.adminEmails);

  return {
    config,
    database,
    metrics,
    jobs,
    redis,
    cacheStore,
    services: {
      auth,
      users: new UserService(userRepo, auth, sessions, taskCache),
      projects: new ProjectService(projectRepo, taskRepo, transaction, taskCache, outbox),
      tasks,
      health: new HealthService(database, cacheStore, log),
    },
    async close() {
      await cacheStore.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await database.close();
    },
  };
}
