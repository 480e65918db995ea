import { useQueryClient } from '@tanstack/react-query';
import { expectOk, unwrap } from '@taskman/sdk';
import { type FormEvent, useRef, useState } from 'react';
import { api, messageOf } from '../lib/api';
import {
  EVENTS,
  fieldProblem,
  formProblem,
  invalid,
  useWebhooks,
  type Webhook,
  type WebhookEvent,
} from '../lib/integrations';
import { useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { Checklist } from './Checklist';
import { ConfirmBox } from './ConfirmBox';
import { Field } from './Field';
import { SecretReveal } from './SecretReveal';
import { WebhookDeliveries } from './WebhookDeliveries';

type Reveal = { webhookId: string; secret: string; rotated: boolean };

/** Settings › Webhooks (id="webhooks", where the "webhook disabled" email links to). */
export function WebhooksSection() {
  const heading = useRef<HTMLHeadingElement>(null);
  const webhooks = useWebhooks();
  const qc = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [reveal, setReveal] = useState<Reveal>();
  const newButton = useRef<HTMLButtonElement>(null);

  async function create(body: WebhookBody) {
    const created = await unwrap(api.POST('/api/v1/webhooks', { body }));
    const { secret, ...webhook } = created;
    // Shown at once with its secret, before the list has been fetched again.
    qc.setQueryData<Webhook[]>(['webhooks'], (list) => [webhook, ...(list ?? [])]);
    void qc.invalidateQueries({ queryKey: ['webhooks'] });
    setCreating(false);
    setReveal({ webhookId: created.id, secret, rotated: false });
    toast.show('Webhook added');
  }

  return (
    <section className="settings-section stack" aria-labelledby="webhooks-title" id="webhooks">
      <div className="section-head">
        <h2 id="webhooks-title" ref={heading} tabIndex={-1}>
          Webhooks
        </h2>
        {!creating && !!webhooks.data?.length && (
          <button ref={newButton} type="button" className="btn" onClick={() => setCreating(true)}>
            Add webhook
          </button>
        )}
      </div>
      <p className="muted section-intro">
        Webhooks send signed events to your server as they happen: a POST with a JSON body, signed per
        Standard Webhooks — see the README for verifying signatures.
      </p>
      {creating && (
        <WebhookForm
          title="New webhook"
          submitLabel="Add webhook"
          onSubmit={create}
          onCancel={() => {
            setCreating(false);
            requestAnimationFrame(() => newButton.current?.focus());
          }}
        />
      )}
      {webhooks.isPending && <div className="spinner" role="status" aria-label="Loading webhooks" />}
      {webhooks.isError && (
        <p className="form-error" role="alert">
          {messageOf(webhooks.error)}
        </p>
      )}
      {webhooks.data?.length === 0 && !creating && (
        <div className="empty empty-compact">
          <h3>No webhooks yet</h3>
          <p>Add one to hear about new, changed and completed tasks on your own server.</p>
          <button ref={newButton} type="button" className="btn btn-primary" onClick={() => setCreating(true)}>
            Add a webhook
          </button>
        </div>
      )}
      {!!webhooks.data?.length && (
        <ul className="item-list" aria-label="Your webhooks">
          {webhooks.data.map((w) => (
            <WebhookItem
              key={w.id}
              webhook={w}
              secret={reveal?.webhookId === w.id ? reveal : undefined}
              onSecret={(secret) => setReveal({ webhookId: w.id, secret, rotated: true })}
              onSecretSaved={() => setReveal(undefined)}
              onDeleted={() => heading.current?.focus()}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

type WebhookBody = { url: string; description: string | null; events: WebhookEvent[] };

function WebhookForm(props: {
  title: string;
  submitLabel: string;
  initial?: Webhook;
  onSubmit: (body: WebhookBody) => Promise<void>;
  onCancel: () => void;
}) {
  const { initial } = props;
  const [events, setEvents] = useState<WebhookEvent[]>(
    initial?.events.filter((e) => e !== 'ping') ?? ['task.created', 'task.updated', 'task.completed'],
  );
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const url = String(form.get('url') ?? '').trim();
    const description = String(form.get('description') ?? '').trim() || null;
    const problems = [
      ...(url ? [] : [{ field: 'url', message: 'enter the address that receives the events' }]),
      ...(events.length ? [] : [{ field: 'events', message: 'choose at least one event' }]),
    ];
    if (problems.length) return setError(invalid(problems));
    setBusy(true);
    try {
      setError(undefined);
      // A webhook subscribed to `ping` through the API keeps it (the form has no box for it).
      await props.onSubmit({
        url,
        description,
        events: initial?.events.includes('ping') ? [...events, 'ping'] : events,
      });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const problem = formProblem(error, ['url', 'description', 'events']);
  const titleId = `webhook-form-${initial?.id ?? 'new'}`;
  return (
    <form className="subform stack" onSubmit={submit} noValidate aria-labelledby={titleId}>
      <h3 id={titleId}>{props.title}</h3>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      <Field
        label="Payload URL"
        hint="An http(s) address on your server, e.g. https://example.com/hooks/taskman."
        error={fieldProblem(error, 'url')}
      >
        {(a) => (
          <input
            {...a}
            name="url"
            type="url"
            inputMode="url"
            autoComplete="off"
            spellCheck={false}
            maxLength={2000}
            defaultValue={initial?.url}
            autoFocus
          />
        )}
      </Field>
      <Field label="Description (optional)" error={fieldProblem(error, 'description')}>
        {(a) => (
          <input
            {...a}
            name="description"
            maxLength={200}
            defaultValue={initial?.description ?? ''}
            placeholder="e.g. Sync to the team dashboard"
          />
        )}
      </Field>
      <Checklist
        legend="Events"
        hint="What Taskman sends to this URL."
        name="events"
        options={EVENTS}
        value={events}
        onChange={setEvents}
        selectAll
        error={fieldProblem(error, 'events')}
      />
      <div className="row wrap">
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {props.submitLabel}
        </button>
        <button className="btn" type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function WebhookItem(props: {
  webhook: Webhook;
  secret: Reveal | undefined;
  onSecret: (secret: string) => void;
  onSecretSaved: () => void;
  onDeleted: () => void;
}) {
  const { webhook: w } = props;
  const qc = useQueryClient();
  const timeZone = useTimeZone();
  const [editing, setEditing] = useState(false);
  const [confirm, setConfirm] = useState<'delete' | 'rotate'>();
  const [busy, setBusy] = useState(false);
  const [showDeliveries, setShowDeliveries] = useState(false);
  const actions = useRef<HTMLDivElement>(null);
  const titleId = `webhook-${w.id}`;
  const deliveriesId = `webhook-${w.id}-deliveries`;
  const path = { params: { path: { id: w.id } } };

  const replace = (next: Webhook) =>
    qc.setQueryData<Webhook[]>(['webhooks'], (list) => list?.map((x) => (x.id === next.id ? next : x)));
  const refreshDeliveries = () => qc.invalidateQueries({ queryKey: ['webhook-deliveries', w.id] });
  const backToActions = () =>
    requestAnimationFrame(() => actions.current?.querySelector<HTMLButtonElement>('button')?.focus());

  async function run(what: () => Promise<void>, failure: string) {
    setBusy(true);
    try {
      await what();
    } catch (err) {
      toast.error(`${failure}: ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  }

  const setActive = (active: boolean) =>
    run(async () => {
      replace(await unwrap(api.PATCH('/api/v1/webhooks/{id}', { ...path, body: { active } })));
      toast.show(active ? 'Webhook turned on' : 'Webhook turned off: no events are sent to it');
    }, 'Not changed');

  const ping = () =>
    run(async () => {
      await unwrap(api.POST('/api/v1/webhooks/{id}/ping', path));
      setShowDeliveries(true);
      await refreshDeliveries();
      toast.show('Ping sent: see its delivery below');
    }, 'Ping not sent');

  const rotate = () =>
    run(async () => {
      const rotated = await unwrap(api.POST('/api/v1/webhooks/{id}/rotate-secret', { ...path, body: {} }));
      const { secret, ...webhook } = rotated;
      replace(webhook);
      setConfirm(undefined);
      props.onSecret(secret);
      toast.show('New signing secret created');
    }, 'Secret not rotated');

  const remove = () =>
    run(async () => {
      // The deliveries panel closes (no more polling) and its reads in flight finish first: one
      // still polling the webhook as it goes would get a 404.
      setShowDeliveries(false);
      const reading = () =>
        qc.isFetching({ queryKey: ['webhook-deliveries', w.id] }) +
        qc.isFetching({ queryKey: ['webhook-delivery', w.id] });
      while (reading() > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      await expectOk(api.DELETE('/api/v1/webhooks/{id}', path));
      props.onDeleted();
      qc.setQueryData<Webhook[]>(['webhooks'], (list) => list?.filter((x) => x.id !== w.id));
      qc.removeQueries({ queryKey: ['webhook-deliveries', w.id] });
      qc.removeQueries({ queryKey: ['webhook-delivery', w.id] });
      toast.show('Webhook deleted');
    }, 'Not deleted');

  if (editing)
    return (
      <li className="item">
        <WebhookForm
          title="Edit webhook"
          submitLabel="Save"
          initial={w}
          onSubmit={async (body) => {
            replace(await unwrap(api.PATCH('/api/v1/webhooks/{id}', { ...path, body })));
            setEditing(false);
            toast.show('Webhook saved');
            backToActions();
          }}
          onCancel={() => {
            setEditing(false);
            backToActions();
          }}
        />
      </li>
    );

  const disabledByTaskman = !w.active && !!w.disabled_reason;
  return (
    <li className={`item${w.active ? '' : ' item-off'}`} aria-labelledby={titleId}>
      <div className="item-head">
        <div className="item-main">
          <span className="item-title url" id={titleId}>
            {w.url}
          </span>
          {w.description && <span className="muted">{w.description}</span>}
        </div>
        <button
          type="button"
          role="switch"
          aria-checked={w.active}
          aria-label="Send events"
          aria-describedby={titleId}
          className="switch"
          disabled={busy}
          onClick={() => setActive(!w.active)}
        >
          <span className="switch-track" aria-hidden="true">
            <span className="switch-thumb" />
          </span>
          <span className="switch-text" aria-hidden="true">
            {w.active ? 'On' : 'Off'}
          </span>
        </button>
      </div>
      {disabledByTaskman && (
        <div className="notice notice-danger">
          <div>
            <strong>Taskman turned this webhook off.</strong> {w.disabled_reason}
            <br />
            Events that happen while it is off are neither sent nor logged. When your endpoint works again,
            turn it back on, then redeliver the failed deliveries you need.
          </div>
          <button
            type="button"
            className="btn btn-primary"
            disabled={busy}
            aria-describedby={titleId}
            onClick={() => setActive(true)}
          >
            Turn back on
          </button>
        </div>
      )}
      <ul className="chips" aria-label="Events">
        {w.events.map((e) => (
          <li key={e} className="chip">
            {e}
          </li>
        ))}
      </ul>
      {w.previous_secret_expires_at && (
        <p className="faint">
          The previous secret also signs deliveries until{' '}
          {new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(
            new Date(w.previous_secret_expires_at),
          )}
          .
        </p>
      )}
      {props.secret && (
        <SecretReveal
          title={props.secret.rotated ? 'Your new signing secret' : 'Your signing secret'}
          label="Signing secret"
          value={props.secret.secret}
          note={
            props.secret.rotated
              ? 'Put it on your server now: the old one stops signing in 24 hours.'
              : 'Your server needs it to check that each delivery comes from Taskman.'
          }
          onDone={() => {
            props.onSecretSaved();
            backToActions();
          }}
        />
      )}
      {confirm === 'rotate' && (
        <ConfirmBox
          question="Rotate the signing secret?"
          confirmLabel="Rotate secret"
          busy={busy}
          onConfirm={rotate}
          onCancel={() => {
            setConfirm(undefined);
            backToActions();
          }}
        >
          You get a new secret now. For the next 24 hours every delivery is signed with both the old and the
          new secret, so your server keeps accepting events while you update it; after that, only the new one.
        </ConfirmBox>
      )}
      {confirm === 'delete' && (
        <ConfirmBox
          danger
          question="Delete this webhook?"
          confirmLabel="Delete webhook"
          busy={busy}
          onConfirm={remove}
          onCancel={() => {
            setConfirm(undefined);
            backToActions();
          }}
        >
          Taskman stops sending to it at once and forgets its delivery log.
        </ConfirmBox>
      )}
      {!confirm && (
        <div className="row wrap item-actions" ref={actions}>
          <button type="button" className="btn" disabled={busy} aria-describedby={titleId} onClick={ping}>
            Send ping
          </button>
          <button
            type="button"
            className="btn"
            aria-expanded={showDeliveries}
            {...(showDeliveries ? { 'aria-controls': deliveriesId } : {})}
            aria-describedby={titleId}
            onClick={() => setShowDeliveries((s) => !s)}
          >
            Deliveries
          </button>
          <button type="button" className="btn" aria-describedby={titleId} onClick={() => setEditing(true)}>
            Edit
          </button>
          <button
            type="button"
            className="btn"
            aria-describedby={titleId}
            onClick={() => setConfirm('rotate')}
          >
            Rotate secret
          </button>
          <button
            type="button"
            className="btn btn-danger"
            aria-describedby={titleId}
            onClick={() => setConfirm('delete')}
          >
            Delete
          </button>
        </div>
      )}
      {showDeliveries && <WebhookDeliveries id={deliveriesId} webhookId={w.id} />}
    </li>
  );
}
