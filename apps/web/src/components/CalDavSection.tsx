import { useQueryClient } from '@tanstack/react-query';
import { TaskmanError } from '@taskman/sdk';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { messageOf } from '../lib/api';
import {
  type CalendarConnection,
  calendarName,
  connectCalendar,
  disconnectCalendar,
  fieldProblem,
  formProblem,
  invalid,
  isSyncing,
  type SyncRequest,
  syncCalendarNow,
  useCalendarConnections,
} from '../lib/integrations';
import { toast } from '../lib/toast';
import { ConfirmBox } from './ConfirmBox';
import { Field } from './Field';
import { When } from './When';

/** As many as the API allows (MAX_CONNECTIONS). */
const MAX_CONNECTIONS = 5;
const FIELDS = ['server_url', 'username', 'password', 'calendar_url'];

/**
 * Settings › Calendar sync (CalDAV): connect a calendar (Nextcloud, Radicale, Fastmail, iCloud…)
 * that the tasks are synced with both ways, see how each sync goes, sync now, disconnect.
 */
export function CalDavSection() {
  const qc = useQueryClient();
  const [requests, setRequests] = useState<Record<string, SyncRequest>>({});
  const connections = useCalendarConnections(requests);
  const [connecting, setConnecting] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const newButton = useRef<HTMLButtonElement>(null);
  const list = connections.data;
  const full = (list?.length ?? 0) >= MAX_CONNECTIONS;

  function connected(c: CalendarConnection) {
    qc.setQueryData<CalendarConnection[]>(['calendar-connections'], (old) => [
      ...(old ?? []).filter((x) => x.id !== c.id),
      c,
    ]);
    void qc.invalidateQueries({ queryKey: ['calendar-connections'] });
    setConnecting(false);
    toast.show(`Connected “${calendarName(c)}”: the first sync has started`);
    requestAnimationFrame(() => heading.current?.focus());
  }

  return (
    <section className="settings-section stack" aria-labelledby="caldav-title" id="calendar-sync">
      <div className="section-head">
        <h2 id="caldav-title" ref={heading} tabIndex={-1}>
          Calendar sync (CalDAV)
        </h2>
        {!connecting && !!list?.length && !full && (
          <button ref={newButton} type="button" className="btn" onClick={() => setConnecting(true)}>
            Connect a calendar
          </button>
        )}
      </div>
      <p className="muted section-intro">
        Keep your tasks in step with a CalDAV calendar — Nextcloud, Fastmail, iCloud, Radicale and others.
        Each task that is not archived becomes a to-do (VTODO) in that calendar; ticking one off, renaming it
        or moving its due date in your calendar app comes back here. Changes made here are sent within
        seconds, changes made in the calendar are fetched every 5 minutes, and when both sides changed the
        later change wins.
      </p>
      <p className="faint section-intro">
        The password is stored encrypted and never shown again; use an app password if your provider offers
        one.
      </p>

      {connecting && (
        <ConnectForm
          onConnected={connected}
          onCancel={() => {
            setConnecting(false);
            requestAnimationFrame(() => (newButton.current ?? heading.current)?.focus());
          }}
        />
      )}
      {connections.isPending && (
        <div className="spinner" role="status" aria-label="Loading connected calendars" />
      )}
      {connections.isError && (
        <p className="form-error" role="alert">
          {messageOf(connections.error)}
        </p>
      )}
      {list?.length === 0 && !connecting && (
        <div className="empty empty-compact">
          <h3>No calendar connected</h3>
          <p>Connect one to see and tick off your tasks in your calendar app.</p>
          <button
            ref={newButton}
            type="button"
            className="btn btn-primary"
            onClick={() => setConnecting(true)}
          >
            Connect a calendar
          </button>
        </div>
      )}
      {!!list?.length && (
        <ul className="item-list" aria-label="Connected calendars">
          {list.map((c) => (
            <ConnectionItem
              key={c.id}
              connection={c}
              request={requests[c.id]}
              onRequested={(request) => setRequests((r) => ({ ...r, [c.id]: request }))}
              onDisconnected={() => heading.current?.focus()}
            />
          ))}
        </ul>
      )}
      {full && !connecting && (
        <p className="faint section-intro">
          You can connect at most {MAX_CONNECTIONS} calendars: disconnect one to connect another.
        </p>
      )}
    </section>
  );
}

function ConnectForm(props: { onConnected: (c: CalendarConnection) => void; onCancel: () => void }) {
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);

  // After a refusal, to the first field it is about: its label, value and error are read out.
  useEffect(() => {
    if (error !== undefined) form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [error]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const server_url = String(data.get('server_url') ?? '').trim();
    const username = String(data.get('username') ?? '').trim();
    const password = String(data.get('password') ?? '');
    const calendar_url = String(data.get('calendar_url') ?? '').trim();
    const problems = [
      ...(server_url ? [] : [{ field: 'server_url', message: 'enter the address of your CalDAV server' }]),
      ...(username ? [] : [{ field: 'username', message: 'enter your user name on that server' }]),
      ...(password ? [] : [{ field: 'password', message: 'enter the password' }]),
    ];
    if (problems.length) return setError(invalid(problems));
    setBusy(true);
    try {
      setError(undefined);
      const created = await connectCalendar({
        server_url,
        username,
        password,
        ...(calendar_url ? { calendar_url } : {}),
      });
      form.current?.reset();
      props.onConnected(created);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const problem =
    error instanceof TaskmanError && error.status === 503
      ? `${error.message}. Ask whoever runs this Taskman server.`
      : formProblem(error, FIELDS);
  return (
    <form
      ref={form}
      className="subform stack"
      onSubmit={submit}
      noValidate
      aria-labelledby="caldav-form-title"
      aria-busy={busy}
    >
      <h3 id="caldav-form-title">Connect a calendar</h3>
      {problem && (
        <p className="form-error" role="alert">
          {problem}
        </p>
      )}
      <Field
        label="Server URL"
        hint="Your CalDAV address, e.g. https://cloud.example.com/remote.php/dav/ for Nextcloud."
        error={fieldProblem(error, 'server_url')}
      >
        {(a) => (
          <input
            {...a}
            name="server_url"
            type="url"
            inputMode="url"
            autoComplete="off"
            spellCheck={false}
            maxLength={2000}
            placeholder="https://dav.example.com/"
            autoFocus
          />
        )}
      </Field>
      <div className="grid-2">
        <Field label="Username" error={fieldProblem(error, 'username')}>
          {(a) => (
            <input
              {...a}
              name="username"
              autoComplete="off"
              autoCapitalize="none"
              spellCheck={false}
              maxLength={200}
            />
          )}
        </Field>
        <Field label="Password" error={fieldProblem(error, 'password')}>
          {(a) => (
            <input {...a} name="password" type="password" autoComplete="new-password" maxLength={1000} />
          )}
        </Field>
      </div>
      <Field
        label="Calendar URL (optional)"
        hint="Leave empty to use the first calendar of this account that holds tasks."
        error={fieldProblem(error, 'calendar_url')}
      >
        {(a) => (
          <input
            {...a}
            name="calendar_url"
            type="url"
            inputMode="url"
            autoComplete="off"
            spellCheck={false}
            maxLength={2000}
          />
        )}
      </Field>
      <div className="row wrap">
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? 'Connecting…' : 'Connect'}
        </button>
        <button className="btn" type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function ConnectionItem(props: {
  connection: CalendarConnection;
  request: SyncRequest | undefined;
  onRequested: (request: SyncRequest) => void;
  onDisconnected: () => void;
}) {
  const { connection: c } = props;
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const actions = useRef<HTMLDivElement>(null);
  const titleId = `caldav-${c.id}`;
  const name = calendarName(c);
  const syncing = isSyncing(c, props.request);
  const nextInFuture = Date.parse(c.next_sync_at) > Date.now();
  const backToActions = () =>
    requestAnimationFrame(() => actions.current?.querySelector<HTMLButtonElement>('button:enabled')?.focus());

  async function syncNow() {
    setBusy(true);
    try {
      const before = c.last_sync_at;
      const accepted = await syncCalendarNow(c.id);
      props.onRequested({ before, at: Date.now() });
      qc.setQueryData<CalendarConnection[]>(['calendar-connections'], (list) =>
        list?.map((x) => (x.id === accepted.id ? accepted : x)),
      );
      toast.show(`Syncing “${name}” now`);
    } catch (err) {
      toast.error(`Not synced: ${messageOf(err)}`);
      if (err instanceof TaskmanError && err.status === 404)
        void qc.invalidateQueries({ queryKey: ['calendar-connections'] });
    } finally {
      setBusy(false);
    }
  }

  async function disconnect() {
    setBusy(true);
    try {
      await disconnectCalendar(c.id);
      props.onDisconnected();
      qc.setQueryData<CalendarConnection[]>(['calendar-connections'], (list) =>
        list?.filter((x) => x.id !== c.id),
      );
      toast.show(`Disconnected “${name}”: its to-dos stay in the calendar`);
    } catch (err) {
      toast.error(`Not disconnected: ${messageOf(err)}`);
      setBusy(false);
    }
  }

  const state = syncing
    ? { label: 'Syncing…', className: 'badge-pending' }
    : c.last_error
      ? { label: 'Sync failed', className: 'badge-danger' }
      : c.last_success_at
        ? { label: 'Synced', className: 'badge-succeeded' }
        : { label: 'Not synced yet', className: 'badge-pending' };
  return (
    <li className="item" aria-labelledby={titleId}>
      <div className="item-main">
        <div className="item-title-row">
          <span className="item-title" id={titleId}>
            {name}
          </span>
          {/* Read out when it changes: "Syncing…", then "Synced" or "Sync failed". */}
          <span aria-live="polite" aria-atomic="true">
            <span className={`badge ${state.className}`}>{state.label}</span>
          </span>
        </div>
        <span className="caldav-url">{c.calendar_url}</span>
        <div className="item-meta">
          <span>
            {c.username} on {hostOf(c.server_url)}
          </span>
          <span>
            {c.last_success_at ? (
              <>
                Last synced <When iso={c.last_success_at} />
              </>
            ) : (
              'Never synced'
            )}
          </span>
          {!c.last_error && !syncing && nextInFuture && (
            <span>
              Next sync <When iso={c.next_sync_at} />
            </span>
          )}
        </div>
      </div>
      {c.last_error && (
        <div className="notice notice-danger">
          <div>
            <strong>The last sync failed</strong>
            {c.last_sync_at && (
              <>
                {' '}
                (<When iso={c.last_sync_at} />)
              </>
            )}
            : <span className="caldav-error">{c.last_error}</span>
            <br />
            {c.failures > 1 ? `${c.failures} failed syncs in a row. ` : ''}
            {nextInFuture ? (
              <>
                Taskman tries again <When iso={c.next_sync_at} />.
              </>
            ) : (
              'Taskman tries again shortly.'
            )}{' '}
            If your password changed, disconnect and connect again with the new one.
          </div>
        </div>
      )}
      {confirming && (
        <ConfirmBox
          danger
          question={`Disconnect “${name}”?`}
          confirmLabel="Disconnect"
          busy={busy}
          onConfirm={disconnect}
          onCancel={() => {
            setConfirming(false);
            backToActions();
          }}
        >
          Taskman stops syncing with this calendar and forgets its password. The to-dos already in the
          calendar stay there, and your tasks here do not change.
        </ConfirmBox>
      )}
      {!confirming && (
        <div className="row wrap item-actions" ref={actions}>
          <button
            type="button"
            className="btn"
            disabled={busy || syncing}
            aria-describedby={titleId}
            onClick={syncNow}
          >
            Sync now
          </button>
          <button
            type="button"
            className="btn btn-danger"
            aria-describedby={titleId}
            onClick={() => setConfirming(true)}
          >
            Disconnect
          </button>
        </div>
      )}
    </li>
  );
}
