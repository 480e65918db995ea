import { useQueryClient } from '@tanstack/react-query';
import { unwrap } from '@taskman/sdk';
import { useEffect, useId, useRef, useState } from 'react';
import { api, messageOf } from '../lib/api';
import {
  type Delivery,
  type DeliveryState,
  fullTime,
  prettyBody,
  useDeliveries,
  useDelivery,
} from '../lib/integrations';
import { useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { When } from './When';

const STATE_LABEL: Record<DeliveryState, string> = {
  pending: 'Pending',
  succeeded: 'Succeeded',
  failed: 'Failed',
};

export function StateBadge({ state }: { state: DeliveryState }) {
  return <span className={`badge badge-${state}`}>{STATE_LABEL[state]}</span>;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** A webhook's delivery log: newest first, filterable by state, each one opening on its bodies. */
export function WebhookDeliveries({ id, webhookId }: { id: string; webhookId: string }) {
  const titleId = useId();
  const [state, setState] = useState<DeliveryState | ''>('');
  const [page, setPage] = useState(1);
  const [open, setOpen] = useState<string>();
  const deliveries = useDeliveries(webhookId, { page, ...(state ? { state } : {}) });
  const meta = deliveries.data?.meta;

  // A send that ends may have switched the webhook off (410 Gone, the last retry failed): look again.
  const qc = useQueryClient();
  const pending = deliveries.data?.data.some((d) => d.state === 'pending') ?? false;
  const wasPending = useRef(pending);
  useEffect(() => {
    if (wasPending.current && !pending) void qc.invalidateQueries({ queryKey: ['webhooks'] });
    wasPending.current = pending;
  }, [pending, qc]);

  return (
    <section id={id} className="deliveries stack" aria-labelledby={titleId}>
      <div className="section-head">
        <h3 id={titleId}>Deliveries</h3>
        <div className="row">
          <select
            className="deliveries-filter"
            aria-label="Show deliveries"
            value={state}
            onChange={(e) => {
              setState(e.target.value as DeliveryState | '');
              setPage(1);
            }}
          >
            <option value="">All</option>
            <option value="failed">Failed</option>
            <option value="pending">Pending</option>
            <option value="succeeded">Succeeded</option>
          </select>
          <button type="button" className="btn" onClick={() => deliveries.refetch()}>
            Refresh
          </button>
        </div>
      </div>
      {deliveries.isPending && <div className="spinner" role="status" aria-label="Loading deliveries" />}
      {deliveries.isError && (
        <p className="form-error" role="alert">
          {messageOf(deliveries.error)}
        </p>
      )}
      {deliveries.data?.data.length === 0 && (
        <p className="faint">
          {state
            ? `No ${STATE_LABEL[state].toLowerCase()} deliveries in the last 30 days.`
            : 'Nothing sent yet. Send a ping to try your endpoint; deliveries are kept 30 days.'}
        </p>
      )}
      {!!deliveries.data?.data.length && (
        <ul className="delivery-list" aria-label="Recent deliveries">
          {deliveries.data.data.map((d) => (
            <DeliveryRow
              key={d.id}
              webhookId={webhookId}
              delivery={d}
              open={open === d.id}
              onToggle={() => setOpen((o) => (o === d.id ? undefined : d.id))}
            />
          ))}
        </ul>
      )}
      {meta && meta.total_pages > 1 && (
        <div className="pager">
          <button type="button" className="btn" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Newer
          </button>
          <span className="faint">
            Page {meta.page} of {meta.total_pages}
          </span>
          <button
            type="button"
            className="btn"
            disabled={page >= meta.total_pages}
            onClick={() => setPage(page + 1)}
          >
            Older
          </button>
        </div>
      )}
    </section>
  );
}

function DeliveryRow(props: { webhookId: string; delivery: Delivery; open: boolean; onToggle: () => void }) {
  const { delivery: d } = props;
  const detailId = `delivery-${d.id}`;
  return (
    <li className={`delivery${props.open ? ' open' : ''}`}>
      <button
        type="button"
        className="delivery-summary"
        aria-expanded={props.open}
        {...(props.open ? { 'aria-controls': detailId } : {})}
        onClick={props.onToggle}
      >
        <StateBadge state={d.state} />
        <span className="delivery-event mono">{d.event_type}</span>
        <span className="delivery-facts">
          {d.response_status !== null ? (
            <span>HTTP {d.response_status}</span>
          ) : d.error ? (
            <span>No response</span>
          ) : null}
          {d.duration_ms !== null && <span>{d.duration_ms} ms</span>}
          <span>
            {d.state === 'pending' && !d.next_attempt_at ? 'sending…' : plural(d.attempts, 'attempt')}
          </span>
          <When iso={d.last_attempt_at ?? d.created_at} />
          {d.state === 'pending' && d.next_attempt_at && (
            <span>
              next try <When iso={d.next_attempt_at} />
            </span>
          )}
        </span>
      </button>
      {props.open && <DeliveryDetailView id={detailId} webhookId={props.webhookId} delivery={d} />}
    </li>
  );
}

function DeliveryDetailView(props: { id: string; webhookId: string; delivery: Delivery }) {
  const qc = useQueryClient();
  const timeZone = useTimeZone();
  const detail = useDelivery(props.webhookId, props.delivery.id);
  const [busy, setBusy] = useState(false);
  // The list may be fresher than the detail (it polls): its summary wins for the facts.
  const d = { ...detail.data, ...props.delivery };

  async function redeliver() {
    setBusy(true);
    try {
      await unwrap(
        api.POST('/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver', {
          params: { path: { id: props.webhookId, delivery_id: d.id } },
        }),
      );
      toast.show(`Redelivering ${d.event_type}`);
      await Promise.all([
        qc.invalidateQueries({ queryKey: ['webhook-deliveries', props.webhookId] }),
        qc.invalidateQueries({ queryKey: ['webhook-delivery', props.webhookId, d.id] }),
      ]);
    } catch (err) {
      toast.error(`Not redelivered: ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div id={props.id} className="delivery-detail stack">
      <dl className="facts">
        <dt>Event</dt>
        <dd className="mono">
          {d.event_type} · {d.event_id}
        </dd>
        <dt>Created</dt>
        <dd>{fullTime(d.created_at, timeZone)}</dd>
        {d.last_attempt_at && (
          <>
            <dt>Last attempt</dt>
            <dd>{fullTime(d.last_attempt_at, timeZone)}</dd>
          </>
        )}
        {d.state === 'pending' && d.next_attempt_at && (
          <>
            <dt>Next retry</dt>
            <dd>{fullTime(d.next_attempt_at, timeZone)}</dd>
          </>
        )}
        {d.error && (
          <>
            <dt>Error</dt>
            <dd className="due-overdue">{d.error}</dd>
          </>
        )}
      </dl>
      {detail.isPending && <div className="spinner" role="status" aria-label="Loading the delivery" />}
      {detail.isError && (
        <p className="form-error" role="alert">
          {messageOf(detail.error)}
        </p>
      )}
      {detail.data && (
        <>
          <div className="stack-tight">
            <h4>Request</h4>
            <pre className="code">{prettyBody(detail.data.request_body)}</pre>
          </div>
          <div className="stack-tight">
            <h4>
              Response
              {d.response_status !== null && <span className="muted"> · HTTP {d.response_status}</span>}
            </h4>
            {detail.data.response_body ? (
              <pre className="code">{prettyBody(detail.data.response_body)}</pre>
            ) : (
              <p className="faint">
                {d.response_status === null ? 'No response received.' : 'The response had no body.'}
              </p>
            )}
          </div>
        </>
      )}
      <div className="row wrap">
        <button
          type="button"
          className="btn"
          disabled={busy || (d.state === 'pending' && !d.next_attempt_at)}
          onClick={redeliver}
        >
          Redeliver
        </button>
        <span className="faint">
          Sends the same body again, now, with the same webhook-id: a receiver that drops repeats will drop
          it.
        </span>
      </div>
    </div>
  );
}
