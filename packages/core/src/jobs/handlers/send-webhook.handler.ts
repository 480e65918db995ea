import type { Clock } from '../../lib/clock';
import type { WebhookRepository } from '../../repositories/webhook.repository';
import { type SenderOptions, sendWebhook } from '../../webhooks/webhook.sender';
import { type JobHandler, type JobResult, PermanentJobError } from '../job.catalogue';

/**
 * send_webhook: delivers one event to one webhook. 2xx is delivered; 410 Gone switches the
 * webhook off; anything else (an error status, a timeout, a refused address) is recorded on the
 * delivery and retried with backoff. The delivery id is the `webhook-id` of every attempt, so a
 * receiver can drop a repeat. After the last attempt fails, the delivery is marked failed and the
 * webhook switched off.
 */
export function sendWebhookHandler(
  repo: WebhookRepository,
  clock: Clock,
  opts: SenderOptions,
): JobHandler<'send_webhook'> {
  return async ({ deliveryId }, context): Promise<JobResult> => {
    const found = await repo.deliveryForJob(deliveryId);
    if (!found) return { skipped: 'webhook deleted' };
    const { delivery, webhook } = found;
    if (delivery.state === 'succeeded') return { skipped: 'already delivered' };
    if (!webhook.active) {
      await repo.recordAttempt(
        delivery.id,
        { state: 'failed', status: null, durationMs: 0, error: 'The webhook is disabled' },
        clock.now(),
      );
      return { skipped: 'webhook inactive' };
    }
    const last = context ? context.attempt >= context.attempts : false;
    const result = await sendWebhook(
      webhook.url,
      webhook.secret,
      delivery.id,
      delivery.body,
      clock.now(),
      opts,
    );
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const gone = result.status === 410;
    await repo.recordAttempt(
      delivery.id,
      {
        state: ok ? 'succeeded' : gone || last ? 'failed' : 'pending',
        status: result.status,
        durationMs: result.durationMs,
        error: result.error ?? (ok ? null : `HTTP ${result.status}`),
      },
      clock.now(),
    );
    if (ok) return { delivered: true, status: result.status!, ms: result.durationMs };
    if (gone) {
      await repo.disable(webhook.id, 'The endpoint answered 410 Gone');
      throw new PermanentJobError('410 Gone: webhook disabled');
    }
    if (last) {
      // The endpoint failed every attempt: stop sending it more until its owner turns it back on.
      await repo.disable(
        webhook.id,
        `Every delivery attempt failed (last: ${result.error ?? `HTTP ${result.status}`})`,
      );
    }
    throw new Error(result.error ?? `HTTP ${result.status}`);
  };
}
