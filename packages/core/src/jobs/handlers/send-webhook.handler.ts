import type { WebhookRow } from '../../db/schema';
import type { Clock } from '../../lib/clock';
import type { Log } from '../../lib/log';
import type { Mailer } from '../../mail/mailer';
import { webhookDisabledEmail } from '../../mail/webhook-disabled.email';
import type { UserRepository } from '../../repositories/user.repository';
import type { WebhookRepository, WebhookSecretColumn } from '../../repositories/webhook.repository';
import { type SenderOptions, sendWebhook } from '../../webhooks/webhook.sender';
import type { JobHandler, JobResult } from '../job.catalogue';
import { type JobQueue, jobRequest } from '../job.queue';

export interface SendWebhookDeps {
  webhooks: WebhookRepository;
  users: UserRepository;
  queue: JobQueue;
  mailer: Mailer;
  clock: Clock;
  log: Log;
  appUrl: string;
  sender: SenderOptions;
  /** Delay before each attempt (ms), the first being the initial send: WEBHOOK_RETRY_SCHEDULE. */
  schedule: readonly number[];
}

/** The job key of automatic attempt n of a delivery (the first keeps the relay's key). */
export const webhookAttemptKey = (deliveryId: string, attempt: number) =>
  attempt <= 1 ? `webhook.${deliveryId}` : `webhook.${deliveryId}.${attempt}`;

/** ±10 % of jitter, so that endpoints coming back from an outage are not hit by every retry at once. */
const jittered = (ms: number) => Math.round(ms * (0.9 + Math.random() * 0.2));

// PostgreSQL text cannot hold NUL; a receiver's body may.
const storable = (s: string | null) => (s === null ? null : s.replaceAll('\u0000', ''));

/**
 * The secrets that sign a delivery now, in clear: the current one, and the previous one until it
 * expires. They are stored sealed; `open` (WebhookRepository.openSecret) opens the ones needed.
 */
export function signingSecrets(
  webhook: WebhookRow,
  now: Date,
  open: (webhookId: string, column: WebhookSecretColumn, stored: string) => string,
): string[] {
  const previous =
    webhook.previousSecret && webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt > now
      ? [open(webhook.id, 'previous_secret', webhook.previousSecret)]
      : [];
  return [open(webhook.id, 'secret', webhook.secret), ...previous];
}

/**
 * send_webhook: one attempt to deliver one event to one webhook. 2xx is delivered; 410 Gone
 * switches the webhook off; anything else (an error status, a redirect, a timeout, a refused
 * address) is recorded and the next attempt scheduled on WEBHOOK_RETRY_SCHEDULE, as its own
 * delayed job. After the last one the webhook is switched off and its owner emailed. The delivery
 * id is the `webhook-id` of every attempt, so a receiver can drop a repeat.
 *
 * A failed send is an outcome, not a job failure: the job completes and the queue's own retries
 * are left for crashes (the database or the queue down), which re-run the same attempt (at least
 * once: a receiver may see a repeat, with the same webhook-id).
 */
export function sendWebhookHandler(deps: SendWebhookDeps): JobHandler<'send_webhook'> {
  const { webhooks, clock } = deps;

  const disable = async (webhook: WebhookRow, reason: string) => {
    if (!(await webhooks.disable(webhook.id, reason))) return;
    const owner = await deps.users.findById(webhook.userId);
    if (!owner) return;
    await deps.mailer
      .send(
        webhookDisabledEmail({
          to: owner.email,
          userName: owner.name,
          webhook,
          reason,
          appUrl: deps.appUrl,
        }),
      )
      // The webhook is off either way; a lost email must not resend the last attempt.
      .catch((err: Error) =>
        deps.log.warn(
          { webhookId: webhook.id, err: err.message },
          'could not email the owner of a disabled webhook',
        ),
      );
  };

  return async ({ deliveryId, attempt = 1, manual = false }): Promise<JobResult> => {
    const found = await webhooks.deliveryForJob(deliveryId);
    if (!found) return { skipped: 'webhook deleted' };
    const { delivery, webhook } = found;
    if (!manual) {
      if (delivery.state === 'succeeded') return { skipped: 'already delivered' };
      if (!webhook.active) {
        // Not an attempt: what the last real one saw stays in the log.
        await webhooks.markNotSent(delivery.id, 'Not sent: the webhook is disabled');
        return { skipped: 'webhook inactive' };
      }
    }

    const result = await sendWebhook(
      webhook.url,
      // Opened here, for this attempt only. A secret that does not open (ENCRYPTION_KEY changed
      // without ENCRYPTION_KEY_PREVIOUS) fails the job, as a crash would: the server is at fault,
      // not the receiver, so it is not an attempt that could switch the webhook off.
      signingSecrets(webhook, clock.now(), (id, column, stored) => webhooks.openSecret(id, column, stored)),
      delivery.id,
      delivery.body,
      clock.now(),
      deps.sender,
    );
    const now = clock.now();
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const gone = result.status === 410;
    const error = ok ? null : (result.error ?? `HTTP ${result.status}`);
    const delay = deps.schedule[attempt];
    const retry = !ok && !gone && !manual && delay !== undefined;
    // A manual attempt leaves a scheduled retry in place; otherwise a failure is final.
    const nextAttemptAt = retry
      ? new Date(now.getTime() + jittered(delay))
      : manual && !ok
        ? delivery.nextAttemptAt
        : null;
    await webhooks.recordAttempt(
      delivery.id,
      {
        state: ok ? 'succeeded' : nextAttemptAt ? 'pending' : 'failed',
        status: result.status,
        durationMs: result.durationMs,
        error,
        responseBody: storable(result.body),
        nextAttemptAt: ok ? null : nextAttemptAt,
      },
      now,
    );
    if (retry && nextAttemptAt)
      await deps.queue.enqueue([
        jobRequest(
          'send_webhook',
          { deliveryId, attempt: attempt + 1 },
          { key: webhookAttemptKey(deliveryId, attempt + 1), runAt: nextAttemptAt },
        ),
      ]);
    if (gone) await disable(webhook, 'The endpoint answered 410 Gone');
    else if (!ok && !manual && !retry)
      await disable(webhook, `All ${attempt} delivery attempts failed (the last: ${error})`);

    const outcome: JobResult = { delivered: ok, attempt, ms: result.durationMs };
    if (result.status !== null) outcome.status = result.status;
    if (error) outcome.error = error;
    if (retry && nextAttemptAt) outcome.next_attempt_at = nextAttemptAt.toISOString();
    return outcome;
  };
}
