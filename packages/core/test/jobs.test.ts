import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { queueOpsForEvent, reminderKey } from '../src/jobs/event.jobs';
import { backoffDelay, errorSummary } from '../src/jobs/job.queue';
import { nextRun } from '../src/jobs/schedule';
import { formatInZone, reminderEmail } from '../src/mail/reminder.email';
import { derivedRemindAt } from '../src/services/task.service';

const ID = '01a21af3-6e1e-73c8-a757-2975c04f4cb6';
const AT = '2030-01-15T16:00:00.000Z';
const task = (over: Record<string, unknown> = {}) => ({
  id: ID,
  status: 'todo',
  remindAt: AT,
  archivedAt: null,
  ...over,
});
const keysOf = (ops: ReturnType<typeof queueOpsForEvent>) =>
  ops.map((op) => ('add' in op ? `add ${op.add.key}` : `cancel ${op.cancel.key}`));

describe('queue operations of a domain event', () => {
  it('schedules a reminder at remind_at, keyed by task and time', () => {
    const ops = queueOpsForEvent({ type: 'task.created', payload: { task: task() } });
    expect(ops).toEqual([
      {
        add: {
          name: 'send_reminder',
          payload: { taskId: ID, remindAt: AT },
          key: `reminder.${ID}.${Date.parse(AT)}`,
          runAt: new Date(AT),
        },
      },
    ]);
  });

  it('moves a rescheduled reminder: drops the old job, adds the new one', () => {
    const later = '2030-01-16T09:00:00.000Z';
    const ops = queueOpsForEvent({
      type: 'task.updated',
      payload: { task: task({ remindAt: later }), previous: { remindAt: AT } },
    });
    expect(keysOf(ops)).toEqual([`cancel ${reminderKey(ID, AT)}`, `add ${reminderKey(ID, later)}`]);
  });

  it('drops the reminder of a task completed, archived, deleted or switched off', () => {
    expect(
      keysOf(queueOpsForEvent({ type: 'task.completed', payload: { task: task({ status: 'done' }) } })),
    ).toEqual([`cancel ${reminderKey(ID, AT)}`]);
    expect(
      keysOf(queueOpsForEvent({ type: 'task.updated', payload: { task: task({ archivedAt: AT }) } })),
    ).toEqual([`cancel ${reminderKey(ID, AT)}`]);
    expect(keysOf(queueOpsForEvent({ type: 'task.deleted', payload: { id: ID, task: task() } }))).toEqual([
      `cancel ${reminderKey(ID, AT)}`,
    ]);
    expect(
      keysOf(
        queueOpsForEvent({
          type: 'task.updated',
          payload: { task: task({ remindAt: null }), previous: { remindAt: AT } },
        }),
      ),
    ).toEqual([`cancel ${reminderKey(ID, AT)}`]);
  });

  it('does nothing for tasks without a reminder and for project events', () => {
    expect(queueOpsForEvent({ type: 'task.created', payload: { task: task({ remindAt: null }) } })).toEqual(
      [],
    );
    expect(queueOpsForEvent({ type: 'project.created', payload: { project: { id: ID } } })).toEqual([]);
  });
});

describe('reminder times', () => {
  it('derives remind_at from the due date and the lead time, or none', () => {
    const due = new Date(AT);
    expect(derivedRemindAt(due, 30)?.toISOString()).toBe('2030-01-15T15:30:00.000Z');
    expect(derivedRemindAt(due, 0)?.toISOString()).toBe(AT);
    expect(derivedRemindAt(due, null)).toBeNull();
    expect(derivedRemindAt(null, 30)).toBeNull();
  });

  it('formats the due time in the user’s zone, across daylight saving', () => {
    expect(formatInZone(new Date(AT), 'Europe/Paris')).toBe('Tuesday, 15 January 2030 at 17:00 CET');
    expect(formatInZone(new Date('2030-07-15T16:00:00Z'), 'Europe/Paris')).toBe(
      'Monday, 15 July 2030 at 18:00 CEST',
    );
    expect(formatInZone(new Date(AT), 'Asia/Tokyo')).toMatch(/^Wednesday, 16 January 2030 at 01:00 /);
  });
});

describe('reminder email', () => {
  const input = {
    to: 'ann@example.com',
    userName: 'Ann',
    timezone: 'Europe/Paris',
    task: {
      id: ID,
      title: 'Call <Bob>\r\nBcc: evil@example.com',
      description: null,
      dueDate: new Date(AT),
      priority: 'high',
    },
    remindAt: new Date(AT),
    appUrl: 'https://tasks.example.com',
  };

  it('keeps the subject on one line and escapes the title in HTML', () => {
    const mail = reminderEmail(input);
    expect(mail.subject).toBe(
      'Reminder: Call <Bob> Bcc: evil@example.com (due Tuesday, 15 January 2030 at 17:00 CET)',
    );
    expect(mail.html).toContain('Call &lt;Bob&gt;');
    expect(mail.html).not.toContain('<Bob>');
    expect(mail.text).toContain(`https://tasks.example.com/tasks/${ID}`);
    expect(mail.messageId).toBe(`<reminder.${ID}.${Date.parse(AT)}@tasks.example.com>`);
  });
});

describe('job queue helpers', () => {
  it('backs off exponentially from JOB_BACKOFF_MS', () => {
    const policy = { attempts: 5, backoffMs: 1000 };
    expect([1, 2, 3, 4].map((a) => backoffDelay(policy, a))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('summarises an error on one bounded line', () => {
    expect(errorSummary(new TypeError('bad\n  thing'))).toBe('TypeError: bad thing');
    expect(errorSummary('x'.repeat(900))).toHaveLength(500);
  });

  it('finds the next run of a cron pattern in UTC', () => {
    expect(nextRun('0 3 * * *', new Date('2030-01-15T02:59:00Z')).toISOString()).toBe(
      '2030-01-15T03:00:00.000Z',
    );
    expect(nextRun('0 3 * * *', new Date('2030-01-15T03:00:00Z')).toISOString()).toBe(
      '2030-01-16T03:00:00.000Z',
    );
  });

  it('refuses a bad CLEANUP_SCHEDULE and bad job settings by name', () => {
    expect(() => loadConfig({ CLEANUP_SCHEDULE: 'daily' })).toThrow(/CLEANUP_SCHEDULE/);
    expect(() => loadConfig({ JOB_ATTEMPTS: '0' })).toThrow(/JOB_ATTEMPTS/);
    expect(() => loadConfig({ JOB_LOCK_MS: '10' })).toThrow(/JOB_LOCK_MS/);
    const config = loadConfig({});
    expect(config).toMatchObject({ cleanupSchedule: '0 3 * * *', jobsInProcess: true, jobAttempts: 5 });
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).jobsInProcess).toBe(false);
  });

  it('refuses an ADMIN_IP_ALLOWLIST entry that is not an address or CIDR, naming it', () => {
    for (const bad of ['abc', '300.1.1.1', '10.0.0.0/40', '1.2.3.4/x', 'fd00::/200'])
      expect(() => loadConfig({ ADMIN_IP_ALLOWLIST: `10.0.0.0/8,${bad}` })).toThrow(
        new RegExp(`ADMIN_IP_ALLOWLIST .*${bad.replace(/[./]/g, '\\$&')}`),
      );
    expect(
      loadConfig({ ADMIN_IP_ALLOWLIST: '10.0.0.0/8, 192.0.2.7, fd00::/8, ::1' }).adminIpAllowlist,
    ).toHaveLength(4);
  });
});
