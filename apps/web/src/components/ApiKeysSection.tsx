import { useQueryClient } from '@tanstack/react-query';
import { expectOk, unwrap } from '@taskman/sdk';
import { fromInputs, toInputs } from '@taskman/sdk/dates';
import { type FormEvent, useRef, useState } from 'react';
import { api, messageOf } from '../lib/api';
import {
  type ApiKey,
  fieldProblem,
  formProblem,
  invalid,
  SCOPES,
  type Scope,
  useApiKeys,
} from '../lib/integrations';
import { useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { Checklist } from './Checklist';
import { ConfirmBox } from './ConfirmBox';
import { Field } from './Field';
import { SecretReveal } from './SecretReveal';
import { When } from './When';

const DAY = 86_400_000;

/** Settings › API keys: the list, a form to create one, the one-time reveal, and revoking. */
export function ApiKeysSection() {
  const keys = useApiKeys();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; key: string }>();
  const heading = useRef<HTMLHeadingElement>(null);
  const newButton = useRef<HTMLButtonElement>(null);

  const openForm = () => {
    setCreated(undefined);
    setCreating(true);
  };
  return (
    <section className="settings-section stack" aria-labelledby="api-keys-title" id="api-keys">
      <div className="section-head">
        <h2 id="api-keys-title" ref={heading} tabIndex={-1}>
          API keys
        </h2>
        {!creating && !!keys.data?.length && (
          <button ref={newButton} type="button" className="btn" onClick={openForm}>
            New API key
          </button>
        )}
      </div>
      <p className="muted section-intro">
        Use API keys for scripts and the taskman CLI: send one as{' '}
        <code className="mono">Authorization: Bearer &lt;key&gt;</code>. A key can do only what its scopes
        allow, and cannot manage keys.
      </p>
      {created && (
        <SecretReveal
          title={`Your new API key “${created.name}”`}
          label="API key"
          value={created.key}
          note="Taskman keeps only a fingerprint of it: if you lose it, revoke it and create another."
          onDone={() => {
            setCreated(undefined);
            heading.current?.focus();
          }}
        />
      )}
      {creating && (
        <ApiKeyForm
          onCreated={(k) => {
            setCreating(false);
            setCreated(k);
          }}
          onCancel={() => {
            setCreating(false);
            requestAnimationFrame(() => (newButton.current ?? heading.current)?.focus());
          }}
        />
      )}
      {keys.isPending && <div className="spinner" role="status" aria-label="Loading API keys" />}
      {keys.isError && (
        <p className="form-error" role="alert">
          {messageOf(keys.error)}
        </p>
      )}
      {keys.data?.length === 0 && !creating && !created && (
        <div className="empty empty-compact">
          <h3>No API keys yet</h3>
          <p>Create one for each script or device, so you can revoke it alone.</p>
          <button ref={newButton} type="button" className="btn btn-primary" onClick={openForm}>
            Create an API key
          </button>
        </div>
      )}
      {!!keys.data?.length && (
        <ul className="item-list" aria-label="Your API keys">
          {keys.data.map((k) => (
            <ApiKeyItem key={k.id} apiKey={k} onRevoked={() => heading.current?.focus()} />
          ))}
        </ul>
      )}
    </section>
  );
}

type Expiry = 'never' | '30' | '90' | 'date';

function ApiKeyForm(props: { onCreated: (k: { name: string; key: string }) => void; onCancel: () => void }) {
  const qc = useQueryClient();
  const timeZone = useTimeZone();
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [expiry, setExpiry] = useState<Expiry>('never');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const tomorrow = toInputs(new Date(Date.now() + DAY).toISOString(), timeZone).date;

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const name = String(form.get('name') ?? '').trim();
    const date = String(form.get('expiry_date') ?? '');
    const problems = [
      ...(name ? [] : [{ field: 'name', message: 'give the key a name' }]),
      ...(scopes.length ? [] : [{ field: 'scopes', message: 'choose at least one scope' }]),
      ...(expiry === 'date' && !date ? [{ field: 'expires_at', message: 'choose a date' }] : []),
    ];
    if (problems.length) return setError(invalid(problems));
    const expires_at =
      expiry === 'never'
        ? null
        : expiry === 'date'
          ? // The key works until the end of that day, in the user's time zone.
            fromInputs(date, '23:59', timeZone)
          : new Date(Date.now() + Number(expiry) * DAY).toISOString();
    setBusy(true);
    try {
      setError(undefined);
      const created = await unwrap(api.POST('/api/v1/api-keys', { body: { name, scopes, expires_at } }));
      await qc.invalidateQueries({ queryKey: ['api-keys'] });
      toast.show(`API key “${created.name}” created`);
      props.onCreated({ name: created.name, key: created.key });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const problem = formProblem(error, ['name', 'scopes', 'expires_at']);
  return (
    <form className="subform stack" onSubmit={submit} noValidate aria-labelledby="new-key-title">
      <h3 id="new-key-title">New API key</h3>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      <Field
        label="Name"
        hint="What it is for, e.g. “Laptop CLI” or “Backup script”."
        error={fieldProblem(error, 'name')}
      >
        {(a) => <input {...a} name="name" maxLength={100} autoComplete="off" autoFocus />}
      </Field>
      <Checklist
        legend="Scopes"
        hint="What the key may do. Give it only what it needs."
        name="scopes"
        options={SCOPES}
        value={scopes}
        onChange={setScopes}
        error={fieldProblem(error, 'scopes')}
      />
      <div className="grid-2">
        <Field label="Expires" error={expiry === 'date' ? undefined : fieldProblem(error, 'expires_at')}>
          {(a) => (
            <select {...a} value={expiry} onChange={(e) => setExpiry(e.target.value as Expiry)}>
              <option value="never">Never</option>
              <option value="30">In 30 days</option>
              <option value="90">In 90 days</option>
              <option value="date">On a date…</option>
            </select>
          )}
        </Field>
        {expiry === 'date' && (
          <Field
            label="Expiry date"
            hint="It stops working at the end of that day."
            error={fieldProblem(error, 'expires_at')}
          >
            {(a) => <input {...a} type="date" name="expiry_date" min={tomorrow} />}
          </Field>
        )}
      </div>
      <div className="row wrap">
        <button className="btn btn-primary" type="submit" disabled={busy}>
          Create key
        </button>
        <button className="btn" type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ApiKeyItem({ apiKey: k, onRevoked }: { apiKey: ApiKey; onRevoked: () => void }) {
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const revokeButton = useRef<HTMLButtonElement>(null);
  const titleId = `key-${k.id}`;

  async function revoke() {
    setBusy(true);
    try {
      await expectOk(api.DELETE('/api/v1/api-keys/{id}', { params: { path: { id: k.id } } }));
      toast.show(`Revoked “${k.name}”`);
      onRevoked();
      await qc.invalidateQueries({ queryKey: ['api-keys'] });
    } catch (err) {
      toast.error(`Not revoked: ${messageOf(err)}`);
      setBusy(false);
    }
  }

  return (
    <li className="item" aria-labelledby={titleId}>
      <div className="item-head">
        <div className="item-main">
          <div className="item-title-row">
            <span className="item-title" id={titleId}>
              {k.name}
            </span>
            {k.expired && <span className="badge badge-danger">Expired</span>}
          </div>
          <div className="item-meta">
            <code className="mono" title="The start of the key">
              {k.prefix}…
            </code>
            <span>
              Created <When iso={k.created_at} />
            </span>
            <span>
              {k.last_used_at ? (
                <>
                  Last used <When iso={k.last_used_at} />
                </>
              ) : (
                'Never used'
              )}
            </span>
            <span>
              {k.expires_at === null ? (
                'No expiry'
              ) : (
                <>
                  {k.expired ? 'Expired' : 'Expires'} <When iso={k.expires_at} />
                </>
              )}
            </span>
          </div>
        </div>
        {!confirming && (
          <button
            ref={revokeButton}
            type="button"
            className="btn btn-danger"
            aria-describedby={titleId}
            onClick={() => setConfirming(true)}
          >
            Revoke
          </button>
        )}
      </div>
      <ul className="chips" aria-label="Scopes">
        {k.scopes.map((s) => (
          <li key={s} className="chip">
            {s}
          </li>
        ))}
      </ul>
      {confirming && (
        <ConfirmBox
          danger
          question={`Revoke “${k.name}”?`}
          confirmLabel="Revoke key"
          busy={busy}
          onConfirm={revoke}
          onCancel={() => {
            setConfirming(false);
            requestAnimationFrame(() => revokeButton.current?.focus());
          }}
        >
          Anything that uses it is refused from its next request. This cannot be undone.
        </ConfirmBox>
      )}
    </li>
  );
}
