import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export const STATUSES = ['todo', 'in_progress', 'done'] as const;
export const ROLES = ['user', 'admin'] as const;
/** auto: derived from the due date and the owner's lead time; explicit: set on the task; off: none. */
export const REMINDER_MODES = ['auto', 'explicit', 'off'] as const;

export type Priority = (typeof PRIORITIES)[number];
export type Status = (typeof STATUSES)[number];
export type Role = (typeof ROLES)[number];
export type ReminderMode = (typeof REMINDER_MODES)[number];

// Enum order is meaningful: ORDER BY priority sorts low < medium < high < urgent.
export const priorityEnum = pgEnum('task_priority', PRIORITIES);
export const statusEnum = pgEnum('task_status', STATUSES);
export const roleEnum = pgEnum('user_role', ROLES);
export const reminderModeEnum = pgEnum('reminder_mode', REMINDER_MODES);
export const RECURRENCE_BASES = ['due', 'completion'] as const;
export const recurrenceBasisEnum = pgEnum('recurrence_basis', RECURRENCE_BASES);

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: roleEnum('role').notNull().default('user'),
    timezone: text('timezone').notNull().default('UTC'),
    /** Carried in every token; bumping it (password change) signs out every session at once. */
    sessionEpoch: integer('session_epoch').notNull().default(0),
    /** Minutes before a task's due time its reminder is sent, unless the task says otherwise; null: none. */
    reminderLeadMinutes: integer('reminder_lead_minutes').default(30),
    /** The weekly report email: ISO weekday (1 Monday … 7 Sunday) in the user's zone; null: none. */
    weeklyReportDay: smallint('weekly_report_day'),
    /** The hour (0–23, the user's zone) the weekly report is sent. */
    weeklyReportHour: smallint('weekly_report_hour').notNull().default(8),
    /** The last authenticated request (kept to the nearest few minutes): active users on the dashboard. */
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }),
    /** Set by an admin: the account cannot sign in, and its tokens and API keys stop working. */
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    index('users_last_seen_idx').on(t.lastSeenAt).where(sql`${t.lastSeenAt} is not null`),
    check('users_weekly_report_day_range', sql`${t.weeklyReportDay} between 1 and 7`),
    check('users_weekly_report_hour_range', sql`${t.weeklyReportHour} between 0 and 23`),
    index('users_weekly_report_idx').on(t.weeklyReportDay).where(sql`${t.weeklyReportDay} is not null`),
    check('users_reminder_lead_range', sql`${t.reminderLeadMinutes} between 0 and 10080`),
    uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`),
    // Sign-in looks accounts up by `email = $1`: the only form row-level security lets use an index.
    index('users_email_idx').on(t.email),
    check('users_email_lowercase', sql`${t.email} = lower(${t.email})`),
    check('users_email_length', sql`char_length(${t.email}) between 3 and 254`),
    check('users_name_length', sql`char_length(${t.name}) between 1 and 100`),
  ],
);

export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (t) => [
    index('projects_user_created_idx').on(t.userId, t.createdAt),
    check('projects_name_length', sql`char_length(${t.name}) between 1 and 200`),
    check('projects_description_length', sql`char_length(${t.description}) <= 10000`),
    check('projects_version_positive', sql`${t.version} >= 1`),
  ],
);

export const tasks = pgTable(
  'tasks',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'set null' }),
    title: text('title').notNull(),
    description: text('description'),
    dueDate: timestamp('due_date', { withTimezone: true }),
    priority: priorityEnum('priority').notNull().default('medium'),
    status: statusEnum('status').notNull().default('todo'),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
    completedAt: timestamp('completed_at', { withTimezone: true }),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    /** When the owner is reminded by email; see reminderMode for where it comes from. */
    remindAt: timestamp('remind_at', { withTimezone: true }),
    reminderMode: reminderModeEnum('reminder_mode').notNull().default('auto'),
    /** An RFC 5545 RRULE (canonical, without "RRULE:"): completing the task moves it to the next date. */
    recurrenceRule: text('recurrence_rule'),
    /** From the due date ('due') or from the day it was completed ('completion'). */
    recurrenceBasis: recurrenceBasisEnum('recurrence_basis'),
    version: integer('version').notNull().default(1),
    // 'simple' keeps words as typed: task titles mix languages, names and codes.
    searchVector: tsvector('search_vector').generatedAlwaysAs(
      sql`to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(description, ''))`,
    ),
  },
  (t) => [
    // With INCLUDE (completed_at, priority, project_id) in migration 0010, for reports.
    index('tasks_user_created_idx').on(t.userId, t.createdAt, t.id),
    index('tasks_user_updated_idx').on(t.userId, t.updatedAt),
    index('tasks_user_due_idx').on(t.userId, t.dueDate),
    // Reports: what is overdue now (open tasks by due date).
    index('tasks_user_open_due_idx')
      .on(t.userId, t.dueDate)
      .where(sql`${t.status} <> 'done' and ${t.archivedAt} is null`),
    // Reports: what was completed in a period. With INCLUDE (created_at, priority, project_id) in
    // migration 0010.
    index('tasks_user_completed_idx').on(t.userId, t.completedAt).where(sql`${t.completedAt} is not null`),
    index('tasks_user_status_priority_idx').on(t.userId, t.status, t.priority),
    index('tasks_project_idx').on(t.projectId),
    // The command-line client names a task by the start of its short id (the last 12 hex digits of
    // the id, its random end): `taskman done 3fa9`.
    // The operations dashboard and metrics: tasks created and completed today, across all users.
    index('tasks_created_idx').on(t.createdAt),
    index('tasks_completed_idx').on(t.completedAt).where(sql`${t.completedAt} is not null`),
    index('tasks_user_short_id_idx').on(t.userId, sql`right(${t.id}::text, 12) text_pattern_ops`),
    index('tasks_tags_gin_idx').using('gin', t.tags),
    index('tasks_search_gin_idx').using('gin', t.searchVector),
    check('tasks_title_length', sql`char_length(${t.title}) between 1 and 500`),
    check('tasks_description_length', sql`char_length(${t.description}) <= 10000`),
    check('tasks_tags_count', sql`cardinality(${t.tags}) <= 20`),
    check('tasks_version_positive', sql`${t.version} >= 1`),
    check(
      'tasks_recurrence_complete',
      sql`(${t.recurrenceRule} is null) = (${t.recurrenceBasis} is null) and char_length(${t.recurrenceRule}) <= 500`,
    ),
    check('tasks_completed_at_matches_status', sql`(${t.status} = 'done') = (${t.completedAt} is not null)`),
  ],
);

export const revokedTokens = pgTable(
  'revoked_tokens',
  {
    jti: uuid('jti').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('revoked_tokens_expires_idx').on(t.expiresAt)],
);

// The domain events of the outbox (DESIGN.md: a typed catalogue, never free strings).
export const DOMAIN_EVENT_TYPES = [
  'task.created',
  'task.updated',
  'task.completed',
  'task.deleted',
  'project.created',
  'project.updated',
  'project.deleted',
] as const;
export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];
export const domainEventEnum = pgEnum('domain_event_type', DOMAIN_EVENT_TYPES);

/**
 * The transactional outbox: every change to a task or project writes its event here, in the same
 * transaction as the change; a relay publishes unpublished rows to the job queue.
 */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    id: uuid('id').primaryKey(),
    /**
     * Insertion order. created_at is when the transaction began, so two changes of one task can
     * carry timestamps in the opposite order of their commits; seq is taken at the insert, after
     * the task's row lock, so it orders each task's events as they happened.
     */
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: domainEventEnum('type').notNull(),
    aggregateId: uuid('aggregate_id').notNull(),
    payload: jsonb('payload').notNull(),
    /** The request that made the change: the jobs the event leads to log it. */
    requestId: text('request_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    /**
     * Publication order, taken when the relay publishes (one relay at a time): unlike seq, it
     * never goes back, so it is the `id:` of the live event stream and what Last-Event-ID resumes from.
     */
    streamSeq: bigint('stream_seq', { mode: 'number' }),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [
    index('outbox_unpublished_seq_idx').on(t.seq).where(sql`${t.publishedAt} is null`),
    index('outbox_user_idx').on(t.userId),
    index('outbox_user_stream_idx').on(t.userId, t.streamSeq).where(sql`${t.streamSeq} is not null`),
  ],
);

/**
 * One row per reminder (task, time) that a worker has claimed; sent_at makes sending idempotent
 * across workers and retries, and claimed_until lets another worker take over from a dead one.
 */
export const reminderDeliveries = pgTable(
  'reminder_deliveries',
  {
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    remindAt: timestamp('remind_at', { withTimezone: true }).notNull(),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }).notNull(),
    attempts: integer('attempts').notNull().default(1),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.remindAt] })],
);

/**
 * One row per (user, week) whose weekly report a worker has claimed; sent_at makes it once a week
 * whatever the number of workers (the lease lets another take over from a dead one).
 */
export const weeklyReports = pgTable(
  'weekly_reports',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The Monday of the week, in the user's zone. */
    weekStart: date('week_start', { mode: 'string' }).notNull(),
    claimedUntil: timestamp('claimed_until', { withTimezone: true }).notNull(),
    attempts: integer('attempts').notNull().default(1),
    sentAt: timestamp('sent_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.userId, t.weekStart] })],
);

/** What a webhook may subscribe to: every domain event, and `ping` (sent on request). */
export const WEBHOOK_EVENT_TYPES = [...DOMAIN_EVENT_TYPES, 'ping'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A user's HTTP endpoint that receives signed deliveries of the events it subscribes to. */
export const webhooks = pgTable(
  'webhooks',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    events: text('events').array().notNull(),
    /** The Standard Webhooks signing secret ("whsec_" + base64), sealed ("v2.<key id>.…", see SecretBox); clear in rows older than sealing, until `npm run rotate-encryption-key`. */
    secret: text('secret').notNull(),
    active: boolean('active').notNull().default(true),
    /** Why it was switched off by the system (410 Gone, retries exhausted), if it was. */
    disabledReason: text('disabled_reason'),
    /** An optional label shown in lists ("Zapier", "CI"). */
    description: text('description'),
    /** After a rotation, the old secret also signs deliveries until it expires (zero-downtime rotation). */
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    index('webhooks_user_idx').on(t.userId),
    check('webhooks_url_length', sql`char_length(${t.url}) between 8 and 2000`),
  ],
);

export const DELIVERY_STATES = ['pending', 'succeeded', 'failed'] as const;
export const deliveryStateEnum = pgEnum('webhook_delivery_state', DELIVERY_STATES);

/**
 * One event for one webhook: created with the payload when the event is published, then updated
 * by every attempt. Its id is the `webhook-id` header, the same on every retry.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    eventId: uuid('event_id').notNull(),
    eventType: text('event_type').notNull(),
    /** The exact JSON body sent: {id, type, created_at, data}. */
    body: text('body').notNull(),
    state: deliveryStateEnum('state').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    durationMs: integer('duration_ms'),
    error: text('error'),
    /** The start of the last response's body (a few KiB at most), for the delivery log. */
    responseBody: text('response_body'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    /** When the next automatic attempt is due; null when none is scheduled. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_key').on(t.webhookId, t.eventId),
    index('webhook_deliveries_webhook_created_idx').on(t.webhookId, t.createdAt),
    // The daily purge of deliveries older than the retention.
    index('webhook_deliveries_created_idx').on(t.createdAt),
  ],
);

export type WebhookRow = typeof webhooks.$inferSelect;

/** What an API key may do; `*:write` includes `*:read` of the same resource. */
export const API_KEY_SCOPES = [
  'tasks:read',
  'tasks:write',
  'projects:read',
  'projects:write',
  'webhooks:manage',
  'reports:read',
] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * Personal access tokens for scripts and integrations. Only a SHA-256 of the key is stored: the
 * key is 192 random bits, so a fast hash is as safe as a slow one and costs nothing per request.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The start of the key ("tm_" and a few characters), shown in lists to tell keys apart. */
    prefix: text('prefix').notNull(),
    keyHash: text('key_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('api_keys_hash_key').on(t.keyHash),
    index('api_keys_user_idx').on(t.userId, t.createdAt),
  ],
);
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

export const JOB_STATES = ['waiting', 'active', 'completed', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const jobStateEnum = pgEnum('job_state', JOB_STATES);

/**
 * The job queue of embedded mode (and of any deployment without Redis): the same jobs BullMQ
 * runs in cluster mode, kept in the database so a restart loses none. `key` de-duplicates.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    key: text('key'),
    payload: jsonb('payload').notNull(),
    state: jobStateEnum('state').notNull().default('waiting'),
    runAt: timestamp('run_at', { withTimezone: true }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastError: text('last_error'),
    result: jsonb('result'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('jobs_key_key').on(t.key),
    index('jobs_waiting_idx').on(t.runAt, t.id).where(sql`${t.state} = 'waiting'`),
    index('jobs_active_lock_idx').on(t.lockedUntil).where(sql`${t.state} = 'active'`),
    index('jobs_state_name_idx').on(t.state, t.name),
  ],
);

export type JobRow = typeof jobs.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type OutboxEventRow = typeof outboxEvents.$inferSelect;
export type ProjectRow = typeof projects.$inferSelect;
export type TaskRow = Omit<typeof tasks.$inferSelect, 'searchVector'>;

/** A user's secret calendar feed: the token is in the feed's URL; only its SHA-256 is stored. */
export const calendarFeeds = pgTable(
  'calendar_feeds',
  {
    userId: uuid('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('calendar_feeds_token_key').on(t.tokenHash)],
);
export type CalendarFeedRow = typeof calendarFeeds.$inferSelect;

/**
 * A user's CalDAV calendar that tasks are synced with (two ways). The password is sealed with
 * ENCRYPTION_KEY (AES-256-GCM, bound to the row's id).
 */
export const calendarConnections = pgTable(
  'calendar_connections',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    serverUrl: text('server_url').notNull(),
    /** The calendar collection the tasks live in (found at connection time). */
    calendarUrl: text('calendar_url').notNull(),
    displayName: text('display_name'),
    username: text('username').notNull(),
    passwordSealed: text('password_sealed').notNull(),
    lastSyncAt: timestamp('last_sync_at', { withTimezone: true }),
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
    /** The last sync's error, shown to the user; null after a success. */
    lastError: text('last_error'),
    /** Failed syncs in a row: the next periodic sync waits longer after each. */
    failures: integer('failures').notNull().default(0),
    nextSyncAt: timestamp('next_sync_at', { withTimezone: true }).notNull().defaultNow(),
    ...timestamps,
  },
  (t) => [uniqueIndex('calendar_connections_user_calendar_key').on(t.userId, t.calendarUrl)],
);
export type CalendarConnectionRow = typeof calendarConnections.$inferSelect;

/** Which calendar object stands for which task, and what each side looked like at the last sync. */
export const calendarItems = pgTable(
  'calendar_items',
  {
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => calendarConnections.id, { onDelete: 'cascade' }),
    /** No foreign key: a deleted task's item is how the sync knows to delete its object. */
    taskId: uuid('task_id').notNull(),
    href: text('href').notNull(),
    etag: text('etag'),
    /** The task's version when the two sides last agreed. */
    syncedVersion: integer('synced_version').notNull(),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.taskId] })],
);
export type CalendarItemRow = typeof calendarItems.$inferSelect;

/**
 * Idempotency-Key: the first response to a (user, key), replayed to repeats for 24 hours. A row
 * with no status is a request still running (on any API process) until `locked_until`.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** SHA-256 of the method, path and body: the same key with another request is refused. */
    requestHash: text('request_hash').notNull(),
    status: integer('status'),
    headers: jsonb('headers').$type<Record<string, string>>(),
    body: text('body'),
    lockedUntil: timestamp('locked_until', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key] }),
    index('idempotency_keys_created_idx').on(t.createdAt),
    check('idempotency_keys_key_length', sql`char_length(${t.key}) between 1 and 255`),
  ],
);
export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;

/** Each completed occurrence of a recurring task (the task itself moves on to the next date). */
export const taskCompletions = pgTable(
  'task_completions',
  {
    id: uuid('id').primaryKey(),
    taskId: uuid('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The due date of the occurrence that was completed. */
    dueDate: timestamp('due_date', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('task_completions_task_idx').on(t.taskId, t.completedAt),
    index('task_completions_user_idx').on(t.userId, t.completedAt),
  ],
);
export type TaskCompletionRow = typeof taskCompletions.$inferSelect;

/**
 * What each API and worker process did in the last interval (requests, errors, latency buckets,
 * queries, cache, jobs) and its state (memory, CPU, event-loop lag): the dashboard sums the recent
 * rows of every process, so its figures cover the whole fleet. Rows older than an hour are deleted.
 */
export const processSamples = pgTable(
  'process_samples',
  {
    processId: text('process_id').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    kind: text('kind').notNull(),
    host: text('host').notNull(),
    pid: integer('pid').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    data: jsonb('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.processId, t.at] }), index('process_samples_at_idx').on(t.at)],
);
export type ProcessSampleRow = typeof processSamples.$inferSelect;

/**
 * Who did what, when and from where: sign-ins (and failures), sign-outs, password changes, account
 * deletion, API key and webhook changes, admin actions, and every create/update/delete of projects
 * and tasks. Append-only: the application's database role may insert and read rows, never change
 * or delete them. No foreign key: the record of a deleted account stays.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: uuid('id').primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    /** The signed-in user who acted; null for an anonymous request (a failed sign-in) or the system. */
    actorId: uuid('actor_id'),
    /** The API key the actor used, if any. */
    apiKeyId: uuid('api_key_id'),
    /** e.g. auth.login, auth.login_failed, task.updated, admin.user_disabled. */
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
    /** What changed (field names, never values of secrets), or why a sign-in failed. */
    details: jsonb('details'),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    index('audit_log_actor_idx').on(t.actorId, t.at),
    index('audit_log_target_idx').on(t.targetType, t.targetId, t.at),
    index('audit_log_action_idx').on(t.action, t.at),
  ],
);
export type AuditLogRow = typeof auditLog.$inferSelect;

/**
 * Failed sign-ins per email address (a keyed hash of it, so the table says nothing of who has an
 * account, and unknown addresses are throttled exactly like known ones): each failure past the
 * allowance doubles the wait before the next attempt is even checked.
 */
export const loginThrottle = pgTable('login_throttle', {
  emailHash: text('email_hash').primaryKey(),
  failures: integer('failures').notNull().default(0),
  lastFailureAt: timestamp('last_failure_at', { withTimezone: true }).notNull(),
  lockedUntil: timestamp('locked_until', { withTimezone: true }),
});
export type LoginThrottleRow = typeof loginThrottle.$inferSelect;

/**
 * Sign-ups waiting for their email address to be confirmed (SIGNUP_VERIFY_EMAIL): the account is
 * created when the link is followed. Only the SHA-256 of the link's token is kept; rows expire.
 */
export const signupRequests = pgTable(
  'signup_requests',
  {
    tokenHash: text('token_hash').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    timezone: text('timezone').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('signup_requests_expires_idx').on(t.expiresAt)],
);
export type SignupRequestRow = typeof signupRequests.$inferSelect;
