import path from 'node:path';
import { REPLICA_CHECK_MS } from './db/replica';
import { assertCronPattern } from './jobs/schedule';
import { ipAllowlist } from './lib/ip-allowlist';

/** Thrown for an invalid environment variable; the message names the variable in one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Mode = 'embedded' | 'cluster';

export interface Config {
  mode: Mode;
  env: 'production' | 'development' | 'test';
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databaseReplicaUrl: string | undefined;
  /** Reads stop going to the replica while it trails the primary by more than this (ms). */
  replicaMaxLagMs: number;
  /**
   * After a user's write, that user's reads go to the primary for this long (ms), so they read
   * their own writes whatever the replica's lag (it is longer than replicaMaxLagMs).
   */
  readYourWritesMs: number;
  databasePoolMax: number;
  /**
   * The role the application's queries run as (SET ROLE after migrating), so that row-level
   * security applies to them: taskman_app by default; '' keeps the login role (one that is itself
   * restricted, a member of taskman_app).
   */
  databaseAppRole: string;
  redisUrl: string | undefined;
  /** Prepended to every Redis key, so several deployments (or test runs) can share one Redis. */
  redisKeyPrefix: string;
  cacheEnabled: boolean;
  cacheTtlSeconds: number;
  /** cleanup_tasks archives tasks completed more than this many days ago. */
  archiveAfterDays: number;
  /** When cleanup_tasks runs: a cron pattern in UTC. */
  cleanupSchedule: string;
  /** Run the job workers and outbox relay inside the API process (default: when jobs live in the database). */
  jobsInProcess: boolean;
  workerConcurrency: number;
  jobAttempts: number;
  /** First retry delay; each further retry waits twice as long. */
  jobBackoffMs: number;
  /** A running job's lock; a worker that dies gives its jobs up to others after this long. */
  jobLockMs: number;
  /** How often idle relays and database-queue runners look for work. */
  jobPollMs: number;
  /** How often a live event stream (GET /events) sends a comment line, so proxies keep it open. */
  eventsHeartbeatMs: number;
  /** Deliver webhooks to loopback and private addresses (development and tests only). */
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  /** Connect CalDAV servers on loopback and private addresses (a calendar server on your own network). */
  caldavAllowPrivate: boolean;
  /** Delay before each delivery attempt (ms): the first is the initial send, the rest the retries. */
  webhookRetrySchedule: number[];
  /** Undefined in embedded mode until the secret is loaded from DATA_DIR. */
  jwtSecret: string | undefined;
  jwtExpiresInSeconds: number;
  appUrl: string;
  smtpUrl: string | undefined;
  /** Sign-ups confirm their email address by a link before the account exists (no enumeration). */
  signupVerifyEmail: boolean;
  mailFrom: string;
  corsOrigins: string[];
  rateLimitMax: number;
  rateLimitWindowSeconds: number;
  /** Per IP and per email, on /auth/login and /auth/register, per window. */
  authRateLimitMax: number;
  adminEmails: string[];
  adminIpAllowlist: string[];
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  encryptionKey: string | undefined;
  /** Old ENCRYPTION_KEYs: they open values sealed before a key rotation, never seal new ones. */
  encryptionKeyPrevious: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** JSON lines for machines; 'pretty' for a terminal. Unset: pretty on a terminal, else JSON. */
  logFormat: 'json' | 'pretty' | undefined;
  bcryptCost: number;
  bodyLimitBytes: number;
  /**
   * On SIGTERM, keep serving this long (ms) with "Connection: close" and a failing readiness check
   * before closing the listener, so a load balancer moves its connections elsewhere first.
   */
  shutdownDrainMs: number;
  /** The whole request (headers and body) must arrive within this; a slower client is disconnected. */
  requestTimeoutMs: number;
  /** The largest request line and headers accepted (bytes); a larger block is answered 431. */
  maxHeaderBytes: number;
  trustProxy: boolean;
  /** Bearer token /metrics asks for; unset: open (keep it on a private network or behind the proxy). */
  metricsToken: string | undefined;
  /** The worker's /metrics port (0: none); API processes serve /metrics on their own port. */
  metricsPort: number;
  /** How often each process records its figures for the operations dashboard. */
  metricsSampleMs: number;
}

type Env = Record<string, string | undefined>;

function fail(name: string, message: string, value?: string): never {
  const shown =
    value === undefined
      ? ''
      : ` (got ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)})`;
  throw new ConfigError(`Invalid configuration: ${name} ${message}${shown}`);
}

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) fail(name, `must be a whole number between ${min} and ${max}`, raw);
  const n = Number(raw);
  if (n < min || n > max) fail(name, `must be a whole number between ${min} and ${max}`, raw);
  return n;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    fail(name, `must be a URL (${protocols.join(', ')})`);
  }
  if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
    fail(name, `must use one of the schemes ${protocols.join(', ')}`);
  }
  return raw;
}

function list(env: Env, name: string): string[] {
  const raw = str(env, name);
  return raw === undefined
    ? []
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], def: T): T {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!(values as readonly string[]).includes(raw)) fail(name, `must be one of ${values.join(', ')}`, raw);
  return raw as T;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  fail(name, 'must be true or false', raw);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A comma-separated list of durations such as "0,5s,5m,2h" (a bare number is milliseconds). */
function durations(env: Env, name: string, def: string): number[] {
  const raw = str(env, name) ?? def;
  const parts = raw.split(',').map((s) => s.trim());
  const out = parts.map((part) => {
    const m = /^(\d+)(ms|s|m|h|d)?$/.exec(part);
    if (!m) fail(name, 'must be a comma-separated list of durations such as 0,5s,5m,2h', raw);
    return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  });
  if (out.length < 1 || out.length > 50) fail(name, 'must list 1 to 50 durations', raw);
  if (out.some((ms) => ms > 7 * 86_400_000))
    fail(name, 'must not wait more than 7 days between attempts', raw);
  return out;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** DATABASE_APP_ROLE: unset means taskman_app; set but empty means no switch. */
function databaseAppRole(env: Env): string {
  const raw = env.DATABASE_APP_ROLE;
  if (raw === undefined) return 'taskman_app';
  const role = raw.trim();
  if (role !== '' && !/^[a-z_][a-z0-9_$]{0,62}$/.test(role))
    fail('DATABASE_APP_ROLE', 'must be a role name (lower-case letters, digits, _ and $), or empty', raw);
  return role;
}

// `memory://` keeps everything in memory (a throw-away demo or test); anything else is a folder.
const dataDirOf = (raw: string): string => (raw.startsWith('memory://') ? raw : path.resolve(raw));

/** Reads and validates every environment variable once; throws ConfigError naming the first bad one. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['production', 'development', 'test'] as const, 'development');
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres', 'postgresql']);
  const redisUrl = url(env, 'REDIS_URL', ['redis', 'rediss']);
  const databaseReplicaUrl = url(env, 'DATABASE_REPLICA_URL', ['postgres', 'postgresql']);
  if (databaseReplicaUrl && !databaseUrl)
    fail('DATABASE_REPLICA_URL', 'needs DATABASE_URL to be set as well');
  const mode: Mode = databaseUrl ? 'cluster' : 'embedded';
  const replicaMaxLagMs = int(env, 'DATABASE_REPLICA_MAX_LAG_MS', 2_000, 100, 600_000);
  const readYourWritesMs = int(
    env,
    'READ_YOUR_WRITES_MS',
    Math.max(5_000, replicaMaxLagMs * 2),
    0,
    3_600_000,
  );
  // The replica is checked every half second: a window shorter than the lag allowed plus that
  // could send a user's read to a replica that has not replayed their write yet.
  if (readYourWritesMs < replicaMaxLagMs + REPLICA_CHECK_MS)
    fail(
      'READ_YOUR_WRITES_MS',
      `must be at least DATABASE_REPLICA_MAX_LAG_MS + ${REPLICA_CHECK_MS} (${replicaMaxLagMs + REPLICA_CHECK_MS})`,
    );

  const jwtSecret = str(env, 'JWT_SECRET');
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    fail('JWT_SECRET', 'must be at least 32 bytes long');
  }
  if (mode === 'cluster' && jwtSecret === undefined && nodeEnv !== 'test') {
    fail('JWT_SECRET', 'is required when DATABASE_URL is set (every API process must share it)');
  }

  const port = int(env, 'PORT', 3000, 0, 65535);
  // Embedded mode is one person's laptop: not reachable from the network unless asked for.
  const host = str(env, 'HOST') ?? (mode === 'embedded' ? '127.0.0.1' : '0.0.0.0');
  const appUrl = url(env, 'APP_URL', ['http', 'https']) ?? `http://localhost:${port}`;

  const adminEmails = list(env, 'ADMIN_EMAILS').map((e) => e.toLowerCase());
  for (const e of adminEmails)
    if (!EMAIL.test(e)) fail('ADMIN_EMAILS', 'must be a comma-separated list of emails', e);
  const adminIpAllowlist = list(env, 'ADMIN_IP_ALLOWLIST');
  for (const c of adminIpAllowlist) {
    try {
      ipAllowlist([c]);
    } catch {
      fail('ADMIN_IP_ALLOWLIST', 'must be a comma-separated list of IP addresses or CIDRs', c);
    }
  }
  const corsOrigins = list(env, 'CORS_ORIGINS');
  for (const o of corsOrigins) {
    if (o !== '*' && !/^https?:\/\/[^/]+$/.test(o))
      fail('CORS_ORIGINS', 'must be a comma-separated list of origins such as https://app.example.com', o);
  }

  const tlsCertFile = str(env, 'TLS_CERT_FILE');
  const tlsKeyFile = str(env, 'TLS_KEY_FILE');
  if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined)) {
    fail(tlsCertFile ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'must be set together with the other TLS file');
  }
  const encryptionKey = str(env, 'ENCRYPTION_KEY');
  if (encryptionKey !== undefined && !/^[0-9a-f]{64}$/i.test(encryptionKey)) {
    fail('ENCRYPTION_KEY', 'must be 64 hexadecimal characters (32 bytes)');
  }
  const encryptionKeyPrevious = list(env, 'ENCRYPTION_KEY_PREVIOUS');
  if (encryptionKeyPrevious.some((k) => !/^[0-9a-f]{64}$/i.test(k))) {
    fail('ENCRYPTION_KEY_PREVIOUS', 'must be a comma-separated list of keys of 64 hexadecimal characters');
  }

  const cleanupSchedule = str(env, 'CLEANUP_SCHEDULE') ?? '0 3 * * *';
  try {
    assertCronPattern(cleanupSchedule);
  } catch {
    fail('CLEANUP_SCHEDULE', 'must be a cron pattern such as "0 3 * * *" (03:00 UTC daily)', cleanupSchedule);
  }

  // bcrypt below cost 12 is only for the test suite, where thousands of hashes would be slow.
  const bcryptCost = int(env, 'BCRYPT_COST', 12, nodeEnv === 'test' ? 4 : 12, 15);

  return {
    mode,
    env: nodeEnv,
    port,
    host,
    dataDir: dataDirOf(str(env, 'DATA_DIR') ?? './data'),
    databaseUrl,
    databaseReplicaUrl,
    replicaMaxLagMs,
    readYourWritesMs,
    databasePoolMax: int(env, 'DATABASE_POOL_MAX', 10, 1, 1000),
    databaseAppRole: databaseAppRole(env),
    redisUrl,
    redisKeyPrefix: str(env, 'REDIS_KEY_PREFIX') ?? '',
    cacheEnabled: bool(env, 'CACHE_ENABLED', true),
    cacheTtlSeconds: int(env, 'CACHE_TTL', 300, 1, 86_400),
    archiveAfterDays: int(env, 'ARCHIVE_AFTER_DAYS', 30, 1, 3650),
    cleanupSchedule,
    jobsInProcess: bool(env, 'JOBS_IN_PROCESS', redisUrl === undefined),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 5, 1, 100),
    jobAttempts: int(env, 'JOB_ATTEMPTS', 5, 1, 50),
    jobBackoffMs: int(env, 'JOB_BACKOFF_MS', 30_000, 100, 3_600_000),
    jobLockMs: int(env, 'JOB_LOCK_MS', 30_000, 500, 3_600_000),
    jobPollMs: int(env, 'JOB_POLL_MS', 1000, 20, 60_000),
    eventsHeartbeatMs: int(env, 'EVENTS_HEARTBEAT_MS', 15_000, 100, 300_000),
    webhookAllowPrivate: bool(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    caldavAllowPrivate: bool(env, 'CALDAV_ALLOW_PRIVATE', false),
    // The Standard Webhooks schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
    webhookRetrySchedule: durations(env, 'WEBHOOK_RETRY_SCHEDULE', '0,5s,5m,30m,2h,5h,10h,14h,20h,24h'),
    jwtSecret,
    jwtExpiresInSeconds: int(env, 'JWT_EXPIRES_IN', 86_400, 60, 31 * 86_400),
    appUrl: appUrl.replace(/\/$/, ''),
    smtpUrl: url(env, 'SMTP_URL', ['smtp', 'smtps']),
    signupVerifyEmail: bool(env, 'SIGNUP_VERIFY_EMAIL', str(env, 'SMTP_URL') !== undefined),
    mailFrom: str(env, 'MAIL_FROM') ?? 'Taskman <taskman@localhost>',
    corsOrigins,
    rateLimitMax: int(env, 'RATE_LIMIT_MAX', 100, 1, 1_000_000),
    rateLimitWindowSeconds: int(env, 'RATE_LIMIT_WINDOW', 60, 1, 86_400),
    authRateLimitMax: int(env, 'AUTH_RATE_LIMIT_MAX', 10, 1, 1_000_000),
    adminEmails,
    adminIpAllowlist,
    tlsCertFile,
    tlsKeyFile,
    encryptionKey,
    encryptionKeyPrevious,
    logLevel: oneOf(
      env,
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const,
      'info',
    ),
    logFormat:
      str(env, 'LOG_FORMAT') === undefined
        ? undefined
        : oneOf(env, 'LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    bcryptCost,
    bodyLimitBytes: int(env, 'BODY_LIMIT', 1_048_576, 1024, 100 * 1_048_576),
    shutdownDrainMs: int(env, 'SHUTDOWN_DRAIN_MS', 0, 0, 120_000),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    maxHeaderBytes: int(env, 'MAX_HEADER_BYTES', 16_384, 1024, 1_048_576),
    trustProxy: bool(env, 'TRUST_PROXY', false),
    metricsToken: str(env, 'METRICS_TOKEN'),
    metricsPort: int(env, 'METRICS_PORT', 0, 0, 65535),
    metricsSampleMs: int(env, 'METRICS_SAMPLE_MS', 10_000, 100, 300_000),
  };
}

/** For entry points: the configuration, or the one-line reason on stderr and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
}
