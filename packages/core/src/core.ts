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
import { RecentWriters } from './db/read-your-writes';
import { transactionRunner } from './db/transaction';
import { type EventBus, MemoryEventBus, RedisEventBus } from './events/event-bus';
import { BullJobQueue } from './jobs/bullmq.queue';
import { DatabaseJobQueue } from './jobs/database.queue';
import { cleanupTasksHandler } from './jobs/handlers/cleanup-tasks.handler';
import { generateReportHandler } from './jobs/handlers/generate-report.handler';
import { sendReminderHandler } from './jobs/handlers/send-reminder.handler';
import { sendWebhookHandler } from './jobs/handlers/send-webhook.handler';
import { syncCalendarHandler } from './jobs/handlers/sync-calendar.handler';
import { assertHandlers, type JobHandlers } from './jobs/job.catalogue';
import type { JobQueue, ScheduledJob } from './jobs/job.queue';
import { OutboxRelay } from './jobs/outbox.relay';
import { type Clock, systemClock } from './lib/clock';
import { SecretBox } from './lib/encryption';
import { type Log, silentLog } from './lib/log';
import { PasswordHasher } from './lib/password';
import { loadOrCreateSecret } from './lib/secret';
import { createMailer, type Mailer } from './mail/mailer';
import {
  addBusinessGauges,
  addDatabaseGauges,
  addHostGauges,
  addJobGauges,
  createMetrics,
  type Metrics,
} from './metrics/metrics';
import { ProcessSampler } from './metrics/sampler';
import { ApiKeyRepository } from './repositories/api-key.repository';
import { AuditRepository } from './repositories/audit.repository';
import { CalendarRepository } from './repositories/calendar.repository';
import { CalendarConnectionRepository } from './repositories/calendar-connection.repository';
import { IdempotencyRepository } from './repositories/idempotency.repository';
import { JobRepository } from './repositories/job.repository';
import { LoginThrottleRepository } from './repositories/login-throttle.repository';
import { OutboxRepository } from './repositories/outbox.repository';
import { ProjectRepository } from './repositories/project.repository';
import { ReminderRepository } from './repositories/reminder.repository';
import { ReportRepository } from './repositories/report.repository';
import { SignupRepository } from './repositories/signup.repository';
import { SyncRepository } from './repositories/sync.repository';
import { SystemRepository } from './repositories/system.repository';
import { TaskRepository } from './repositories/task.repository';
import { UserRepository } from './repositories/user.repository';
import { WebhookRepository } from './repositories/webhook.repository';
import { WeeklyReportRepository } from './repositories/weekly-report.repository';
import { EMBEDDED_KEY_FILE, readPreviousKeyFile } from './secrets/key-files';
import { ApiKeyService } from './services/api-key.service';
import { AuditService } from './services/audit.service';
import { AuthService } from './services/auth.service';
import { CalendarService } from './services/calendar.service';
import { CalendarConnectionService } from './services/calendar-connection.service';
import { DashboardService } from './services/dashboard.service';
import { HealthService } from './services/health.service';
import { IdempotencyService } from './services/idempotency.service';
import { LiveEventService } from './services/live.service';
import { LoginThrottle } from './services/login-throttle.service';
import { ProjectService } from './services/project.service';
import { ReportService } from './services/report.service';
import { SignupService } from './services/signup.service';
import { SyncService } from './services/sync.service';
import { TaskService } from './services/task.service';
import { TokenService } from './services/token.service';
import { UserService } from './services/user.service';
import { WebhookService } from './services/webhook.service';

/** The services an entry point (API, worker, CLI) works with. */
export interface Services {
  auth: AuthService;
  users: UserService;
  projects: ProjectService;
  tasks: TaskService;
  health: HealthService;
  apiKeys: ApiKeyService;
  webhooks: WebhookService;
  reports: ReportService;
  calendar: CalendarService;
  calendarConnections: CalendarConnectionService;
  sync: SyncService;
  idempotency: IdempotencyService;
  live: LiveEventService;
  dashboard: DashboardService;
  audit: AuditService;
  loginThrottle: LoginThrottle;
  signups: SignupService;
}

export interface Core {
  config: Config;
  database: Database;
  services: Services;
  metrics: Metrics;
  /** One handler per job of the catalogue (checked at start). */
  jobs: JobHandlers;
  /** BullMQ with Redis, else the database. */
  queue: JobQueue;
  /** Moves outbox events to the queue; started by whichever process runs the workers. */
  relay: OutboxRelay;
  /** Jobs run on a schedule (cleanup_tasks daily by default). */
  scheduledJobs: ScheduledJob[];
  mailer: Mailer;
  clock: Clock;
  log: Log;
  /** The shared Redis client in cluster mode (rate limiter, cache); undefined in embedded mode. */
  redis: Redis | undefined;
  cacheStore: CacheStore;
  /**
   * With a read replica: who wrote lately, so the API sends their reads to the primary
   * (READ_YOUR_WRITES_MS). Undefined without DATABASE_REPLICA_URL: every read is on the primary.
   */
  recentWriters: RecentWriters | undefined;
  /** Fleet figures (the dashboard, business metrics). */
  system: SystemRepository;
  /** Writes this process's figures for the dashboard; started by the entry points (main.ts). */
  sampler: ProcessSampler;
  close(): Promise<void>;
}

export interface CreateCoreOptions {
  /** Use this database instead of opening one from the config (tests). */
  database?: Database;
  clock?: Clock;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  log?: Log;
  /** Which kind of process this is, for metrics and the dashboard (default api). */
  processKind?: 'api' | 'worker';
}

const DAY_MS = 86_400_000;

/**
 * What seals secrets at rest: ENCRYPTION_KEY; in embedded mode a key kept in DATA_DIR (or one per
 * process in memory). With a shared database and no ENCRYPTION_KEY there is none: processes would
 * not agree on a key, so the features that need one say so. Old keys open values only:
 * ENCRYPTION_KEY_PREVIOUS, and in embedded mode the key file's predecessors while
 * `npm run rotate-encryption-key -- --generate` has not finished re-sealing.
 */
export function secretBoxFor(config: Config): SecretBox | undefined {
  const previous = config.encryptionKeyPrevious;
  if (config.encryptionKey) return new SecretBox(config.encryptionKey, previous);
  if (config.databaseUrl) return undefined;
  if (config.dataDir.startsWith('memory://')) return new SecretBox(randomBytes(32).toString('hex'));
  return new SecretBox(loadOrCreateSecret(config.dataDir, EMBEDDED_KEY_FILE), [
    ...readPreviousKeyFile(config.dataDir),
    ...previous,
  ]);
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
      replicaUrl: config.databaseReplicaUrl,
      replicaMaxLagMs: config.replicaMaxLagMs,
    }));
  try {
    if (opts.migrate !== false) await database.migrate();
    // From here on the application's queries run as the app role, under row-level security.
    await database.restrict(config.databaseAppRole);
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLog;
  const transaction = transactionRunner(database.db);
  const processKind = opts.processKind ?? 'api';
  const metrics = createMetrics({ process: processKind });
  database.observeQueries((seconds) => metrics.dbQueryDuration.observe(seconds));
  addDatabaseGauges(metrics, database);
  const system = new SystemRepository(database.db, database.kind, database.replica);
  addBusinessGauges(metrics, { figures: () => system.businessFigures(clock.now()) });
  addHostGauges(metrics, { replicaLagSeconds: () => system.replicaLagSeconds(), dataDir: config.dataDir });
  const sampler = new ProcessSampler(metrics, system, clock, log, processKind, config.metricsSampleMs);

  const redis = config.redisUrl ? await openRedis(config.redisUrl, config.redisKeyPrefix) : undefined;
  if (redis && redis.status !== 'ready')
    log.warn({}, 'Redis is not reachable yet: serving without the cache until it is');
  if (database.replica && !redis)
    log.warn(
      {},
      'DATABASE_REPLICA_URL without REDIS_URL: each API process knows only its own requests, so a user whose next read reaches another process may not see their write for up to DATABASE_REPLICA_MAX_LAG_MS; set REDIS_URL',
    );
  const recentWriters = database.replica ? new RecentWriters(redis, config.readYourWritesMs) : undefined;
  const cacheStore: CacheStore = redis ? new RedisCacheStore(redis) : new MemoryCacheStore();
  const events: EventBus = redis
    ? new RedisEventBus(redis, config.redisKeyPrefix, log)
    : new MemoryEventBus();
  const cache = new CacheAside(cacheStore, metrics, log, config.cacheEnabled);
  const taskCache = new TaskCache(cache, config.cacheTtlSeconds);
  const sessions = new SessionCache(cache, config.cacheTtlSeconds);

  const userRepo = new UserRepository(database.db);
  const projectRepo = new ProjectRepository(database.db);
  const taskRepo = new TaskRepository(database.db);
  const outbox = new OutboxRepository(database.db);

  const serverSecret = jwtSecretFor(config);
  const tokens = new TokenService(serverSecret, config.jwtExpiresInSeconds);
  const hasher = new PasswordHasher(config.bcryptCost);
  const audit = new AuditService(new AuditRepository(database.db));
  const loginThrottle = new LoginThrottle(new LoginThrottleRepository(database.db), serverSecret, clock);
  const tasks = new TaskService(taskRepo, projectRepo, clock, taskCache, outbox, transaction, userRepo);
  const apiKeyRepo = new ApiKeyRepository(database.db);
  const apiKeys = new ApiKeyService(
    apiKeyRepo,
    cache,
    config.cacheTtlSeconds,
    clock,
    serverSecret,
    transaction,
    userRepo,
    audit,
  );
  const auth = new AuthService(
    userRepo,
    hasher,
    tokens,
    transaction,
    sessions,
    config.adminEmails,
    apiKeys,
    audit,
    loginThrottle,
  );

  const mailer = createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, dataDir: config.dataDir });
  const signups = new SignupService(
    auth,
    userRepo,
    new SignupRepository(database.db),
    hasher,
    mailer,
    clock,
    config.appUrl,
    log,
  );
  const retry = { attempts: config.jobAttempts, backoffMs: config.jobBackoffMs };
  const retention = { completedRetentionMs: DAY_MS, failedRetentionMs: 30 * DAY_MS };
  const queue: JobQueue = config.redisUrl
    ? new BullJobQueue({
        redisUrl: config.redisUrl,
        prefix: `${config.redisKeyPrefix}bull`,
        retry,
        lockMs: config.jobLockMs,
        log,
        ...retention,
      })
    : new DatabaseJobQueue(new JobRepository(database.db), clock, log, {
        retry,
        lockMs: config.jobLockMs,
        pollMs: config.jobPollMs,
        ...retention,
      });
  // One box for the process (in memory, each call would make another key).
  const box = secretBoxFor(config);
  if (!box)
    log.warn(
      {},
      'ENCRYPTION_KEY is not set: new webhook signing secrets are stored in clear and CalDAV sync is off; set it on every process, then run npm run rotate-encryption-key',
    );
  const webhookRepo = new WebhookRepository(database.db, box);
  const reminderRepo = new ReminderRepository(database.db);
  const connectionRepo = new CalendarConnectionRepository(database.db);
  const relay = new OutboxRelay(
    outbox,
    webhookRepo,
    transaction,
    queue,
    clock,
    log,
    {
      pollMs: config.jobPollMs,
      batchSize: 200,
      webhookFirstDelayMs: config.webhookRetrySchedule[0] ?? 0,
    },
    connectionRepo,
    events,
  );
  const users = new UserService(userRepo, auth, sessions, taskCache, apiKeys, audit, transaction);
  const projects = new ProjectService(projectRepo, taskRepo, transaction, taskCache, outbox);
  const reports = new ReportService(new ReportRepository(transaction), users, projects, clock);
  const sync = new SyncService(new SyncRepository(transaction, database.db), clock);
  const idempotency = new IdempotencyService(new IdempotencyRepository(database.db), clock);
  const calendarConnections = new CalendarConnectionService(connectionRepo, tasks, queue, clock, box, {
    allowPrivate: config.caldavAllowPrivate,
    appUrl: config.appUrl,
  });
  const jobs = {
    send_reminder: sendReminderHandler({
      tasks: taskRepo,
      users: userRepo,
      reminders: reminderRepo,
      mailer,
      clock,
      appUrl: config.appUrl,
      // As long as the job lock: a dead sender's claim is free by the time the queue hands its job
      // to another worker. A live sender finishes well within it (the SMTP timeouts add up to 25 s).
      leaseMs: config.jobLockMs,
    }),
    send_webhook: sendWebhookHandler({
      webhooks: webhookRepo,
      users: userRepo,
      queue,
      mailer,
      clock,
      log,
      appUrl: config.appUrl,
      sender: {
        timeoutMs: config.webhookTimeoutMs,
        allowPrivate: config.webhookAllowPrivate,
        maxResponseBytes: 4096,
      },
      schedule: config.webhookRetrySchedule,
    }),
    cleanup_tasks: cleanupTasksHandler({
      tasks,
      auth,
      signups,
      outbox,
      reminders: reminderRepo,
      webhooks: webhookRepo,
      sync,
      idempotency,
      queue,
      clock,
      archiveAfterDays: config.archiveAfterDays,
    }),
    generate_report: generateReportHandler({
      weekly: new WeeklyReportRepository(database.db),
      users: userRepo,
      reports,
      queue,
      mailer,
      clock,
      appUrl: config.appUrl,
      leaseMs: config.jobLockMs,
    }),
    sync_calendar: syncCalendarHandler({
      connections: connectionRepo,
      calendars: calendarConnections,
      queue,
      clock,
    }),
  };
  assertHandlers(jobs);
  addJobGauges(metrics, { counts: () => queue.counts(), outboxPending: () => relay.pending() });
  const health = new HealthService(database, log, {
    ...(redis ? { redis: () => redis.ping() } : {}),
    // The database queue is the database (its check says it all; counting a long jobs table on
    // every probe would not be cheap); BullMQ is asked for its counts.
    queue: queue.backend === 'bullmq' ? () => queue.counts() : () => database.ping(),
  });

  return {
    config,
    database,
    metrics,
    jobs,
    queue,
    relay,
    scheduledJobs: [
      { name: 'cleanup_tasks', pattern: config.cleanupSchedule, payload: {} },
      // Finds whose weekly report is due (their weekday and hour, in their zone).
      { name: 'generate_report', pattern: '*/15 * * * *', payload: {} },
      // Pulls what changed in connected calendars.
      { name: 'sync_calendar', pattern: '*/5 * * * *', payload: {} },
    ],
    mailer,
    clock,
    log,
    redis,
    cacheStore,
    recentWriters,
    system,
    sampler,
    services: {
      auth,
      users,
      projects,
      tasks,
      health,
      apiKeys,
      webhooks: new WebhookService(
        webhookRepo,
        queue,
        clock,
        { allowPrivate: config.webhookAllowPrivate },
        transaction,
        userRepo,
        audit,
      ),
      reports,
      calendarConnections,
      sync,
      idempotency,
      live: new LiveEventService(outbox, events),
      dashboard: new DashboardService(system, health, database, queue, relay, clock, config, sampler),
      audit,
      loginThrottle,
      signups,
      calendar: new CalendarService(new CalendarRepository(database.db), projectRepo, clock, config.appUrl),
    },
    async close() {
      await relay.stop();
      await queue.close();
      mailer.close();
      await cacheStore.close();
      await events.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await database.close();
    },
  };
}
