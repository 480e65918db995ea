import { useQueryClient } from '@tanstack/react-query';
import { expectOk, unwrap } from '@taskman/sdk';
import { type FormEvent, useEffect, useRef, useState } from 'react';
import { useLocation } from 'react-router';
import { ActivitySection } from '../components/ActivitySection';
import { ApiKeysSection } from '../components/ApiKeysSection';
import { CalDavSection } from '../components/CalDavSection';
import { CalendarFeedSection } from '../components/CalendarFeedSection';
import { Field } from '../components/Field';
import { WebhooksSection } from '../components/WebhooksSection';
import { WeeklyReportSection } from '../components/WeeklyReportSection';
import { api, fieldError, forgetSession, messageOf, saveSession } from '../lib/api';
import { useApiKeys, useCalendarConnections, useCalendarFeed, useWebhooks } from '../lib/integrations';
import { useMe } from '../lib/session';
import { toast } from '../lib/toast';

const ZONES: string[] =
  (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];

export function SettingsPage() {
  const me = useMe();
  const qc = useQueryClient();
  const [profileError, setProfileError] = useState<unknown>();
  const [pwError, setPwError] = useState<unknown>();
  const [deleteError, setDeleteError] = useState<unknown>();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const apiKeys = useApiKeys();
  const webhooks = useWebhooks();
  const feed = useCalendarFeed();
  const calendars = useCalendarConnections();
  useScrollToHash(
    !me.isPending && !apiKeys.isPending && !webhooks.isPending && !feed.isPending && !calendars.isPending,
  );

  if (me.isPending) return <div className="spinner" role="status" aria-label="Loading settings" />;
  if (me.isError)
    return (
      <p className="form-error" role="alert">
        {messageOf(me.error)}
      </p>
    );
  const user = me.data;

  async function saveProfile(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const lead = String(form.get('lead'));
    try {
      setProfileError(undefined);
      const updated = await unwrap(
        api.PATCH('/api/v1/users/me', {
          body: {
            name: String(form.get('name')),
            timezone: String(form.get('timezone')),
            reminder_lead_minutes: lead === 'off' ? null : Number(lead),
          },
        }),
      );
      qc.setQueryData(['me'], updated);
      await qc.invalidateQueries({ queryKey: ['tasks'] });
      toast.show('Profile saved');
    } catch (err) {
      setProfileError(err);
    }
  }

  async function changePassword(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    try {
      setPwError(undefined);
      const session = await unwrap(
        api.PUT('/api/v1/users/me/password', {
          body: { current_password: String(form.get('current')), new_password: String(form.get('new')) },
        }),
      );
      // Every other session is signed out; this one carries on with the new token.
      saveSession({ token: session.token, expiresAt: session.expires_at });
      formEl.reset();
      toast.show('Password changed. Your other sessions are signed out.');
    } catch (err) {
      setPwError(err);
    }
  }

  async function deleteAccount(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      await expectOk(api.DELETE('/api/v1/users/me', { body: { password: String(form.get('password')) } }));
      await forgetSession();
    } catch (err) {
      setDeleteError(err);
    }
  }

  const leads = [0, 5, 10, 15, 30, 60, 120, 1440];
  return (
    <section className="content content-narrow" aria-labelledby="settings-title">
      <h1 id="settings-title" style={{ marginBottom: 16 }}>
        Settings
      </h1>
      <form className="settings-section stack" onSubmit={saveProfile} aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        {profileError !== undefined && (
          <p className="form-error" role="alert">
            {messageOf(profileError)}
          </p>
        )}
        <p className="faint">
          Signed in as {user.email}
          {user.role === 'admin' ? ' (admin)' : ''}
        </p>
        <label className="field">
          Name
          <input name="name" defaultValue={user.name} required maxLength={100} />
        </label>
        <Field label="Time zone" error={fieldError(profileError, 'timezone')}>
          {(a) => (
            <select {...a} name="timezone" defaultValue={user.timezone}>
              {[...new Set([user.timezone, 'UTC', ...ZONES])].map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Email reminder before a task is due" hint="Applies to reminders set from now on.">
          {(a) => (
            <select
              {...a}
              name="lead"
              defaultValue={user.reminder_lead_minutes === null ? 'off' : String(user.reminder_lead_minutes)}
            >
              <option value="off">No automatic reminders</option>
              {[
                ...new Set([
                  ...(user.reminder_lead_minutes !== null ? [user.reminder_lead_minutes] : []),
                  ...leads,
                ]),
              ]
                .sort((a, b) => a - b)
                .map((m) => (
                  <option key={m} value={m}>
                    {m === 0
                      ? 'At the due time'
                      : m % 60 === 0
                        ? `${m / 60} hour${m === 60 ? '' : 's'} before`
                        : `${m} minutes before`}
                  </option>
                ))}
            </select>
          )}
        </Field>
        <button className="btn btn-primary" type="submit" style={{ alignSelf: 'flex-start' }}>
          Save profile
        </button>
      </form>

      <form className="settings-section stack" onSubmit={changePassword} aria-labelledby="password-title">
        <h2 id="password-title">Password</h2>
        {pwError !== undefined && (
          <p className="form-error" role="alert">
            {messageOf(pwError)}
          </p>
        )}
        <label className="field">
          Current password
          <input name="current" type="password" autoComplete="current-password" required />
        </label>
        <label className="field">
          New password
          <input name="new" type="password" autoComplete="new-password" required minLength={8} />
          <span className="faint">At least 8 characters. Other devices will be signed out.</span>
        </label>
        <button className="btn btn-primary" type="submit" style={{ alignSelf: 'flex-start' }}>
          Change password
        </button>
      </form>

      <ActivitySection user={user} />
      <WeeklyReportSection user={user} />
      <CalendarFeedSection />
      <CalDavSection />
      <ApiKeysSection />
      <WebhooksSection />

      <section className="settings-section stack" aria-labelledby="danger-title">
        <h2 id="danger-title">Delete account</h2>
        <p className="muted">This deletes your account, projects and tasks for good.</p>
        {!confirmDelete ? (
          <button
            className="btn btn-danger"
            type="button"
            style={{ alignSelf: 'flex-start' }}
            onClick={() => setConfirmDelete(true)}
          >
            Delete my account…
          </button>
        ) : (
          <form className="stack" onSubmit={deleteAccount} aria-label="Confirm account deletion">
            {deleteError !== undefined && (
              <p className="form-error" role="alert">
                {messageOf(deleteError)}
              </p>
            )}
            <label className="field">
              Type your password to confirm
              <input name="password" type="password" autoComplete="current-password" required autoFocus />
            </label>
            <div className="row">
              <button className="btn btn-danger" type="submit">
                Delete my account for good
              </button>
              <button className="btn" type="button" onClick={() => setConfirmDelete(false)}>
                Cancel
              </button>
            </div>
          </form>
        )}
      </section>
    </section>
  );
}

/**
 * /settings#webhooks (the link of the "webhook disabled" email) and other section links: once the
 * sections above have loaded (so nothing moves after), scroll to the section and focus its heading.
 */
function useScrollToHash(ready: boolean) {
  const { hash } = useLocation();
  const done = useRef('');
  useEffect(() => {
    if (!ready || !hash || done.current === hash) return;
    const section = document.getElementById(decodeURIComponent(hash.slice(1)));
    if (!section) return;
    done.current = hash;
    section.scrollIntoView({ block: 'start' });
    section.querySelector<HTMLElement>('h2[tabindex]')?.focus({ preventScroll: true });
  }, [ready, hash]);
}
