export * as cacheKeys from './cache/cache.keys';
export * from './config';
export * from './core';
export type { Database } from './db/client';
export { databaseFromPglite, openDatabase } from './db/client';
export { describeError, isDatabaseUnavailable } from './db/errors';
export * from './db/schema';
export * from './errors';
export { reminderKey } from './jobs/event.jobs';
export { isJobName, JOB_NAMES, type JobName, type JobPayloads } from './jobs/job.catalogue';
export type { FailedJob, JobQueue, QueueCounts } from './jobs/job.queue';
export { type JobWorker, startJobWorker } from './jobs/worker';
export type { Clock } from './lib/clock';
export { ipAllowlist } from './lib/ip-allowlist';
export { type Log, loggerOptions, REDACT } from './lib/log';
export { PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES } from './lib/password';
export {
  currentRequest,
  currentRequestId,
  currentRowScope,
  type RequestActor,
  type RequestContext,
  requestContext,
  withSystemScope,
} from './lib/request-context';
export { exitOnUnexpectedRejections, onShutdown } from './lib/shutdown';
export { isForbiddenAddress } from './lib/ssrf';
export type { Mailer, MailMessage, MemoryMailer } from './mail/mailer';
export { LATENCY_BUCKETS, type Metrics, TASKMAN_VERSION } from './metrics/metrics';
export { bearerMatches, serveMetrics } from './metrics/metrics-server';
export type { ProcessSampler } from './metrics/sampler';
export * from './quick-add/quick-add';
export {
  describeRecurrence,
  nextOccurrence,
  nextRecurrence,
  parseRecurrenceRule,
  type Recurrence,
  type RecurrenceBasis,
} from './recurrence/recurrence';
export type { Page, PageRequest, SortOrder } from './repositories/pagination';
export { PROJECT_SORTS, type ProjectSort } from './repositories/project.repository';
export { TASK_SORTS, type TaskFilter, type TaskSort } from './repositories/task.repository';
export { WebhookRepository } from './repositories/webhook.repository';
export { API_KEY_PREFIX, hasScope, MAX_API_KEYS } from './services/api-key.service';
export { AUDIT_ACTIONS, type AuditAction, type AuditEntry } from './services/audit.service';
export type { Principal, RegisterInput, Session } from './services/auth.service';
export {
  ALERT_THRESHOLDS,
  type Alert,
  DASHBOARD_WINDOW_MS,
  type Dashboard,
  quantileMs,
} from './services/dashboard.service';
export type { Check, Readiness } from './services/health.service';
export { RESYNC } from './services/live.service';
export {
  LOGIN_FIRST_DELAY_SECONDS,
  LOGIN_FREE_FAILURES,
  LOGIN_MAX_DELAY_SECONDS,
  loginDelaySeconds,
} from './services/login-throttle.service';
export type { ProjectInput, ProjectListQuery } from './services/project.service';
export { MAX_REPORT_DAYS, type ProductivityReport, productivityCsv } from './services/report.service';
export { SYNC_LIMITS, TOMBSTONE_DAYS } from './services/sync.service';
export { quickAddInput, TASK_LIMITS, type TaskInput, type TaskListQuery } from './services/task.service';
export { TOKEN_AUDIENCE, TOKEN_ISSUER } from './services/token.service';
export { DEFAULT_ROTATION_OVERLAP_HOURS, MAX_WEBHOOKS } from './services/webhook.service';
export { newWebhookSecret, signWebhook, webhookBody } from './webhooks/webhook.payload';
export { urlProblem } from './webhooks/webhook.sender';
