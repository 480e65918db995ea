import { useQueryClient } from '@tanstack/react-query';
import { expectOk, TaskmanError, unwrap } from '@taskman/sdk';
import { useRef, useState } from 'react';
import { api, messageOf } from '../lib/api';
import { type FeedStatus, useCalendarFeed } from '../lib/integrations';
import { useProjects } from '../lib/queries';
import { useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { ConfirmBox } from './ConfirmBox';
import { Field } from './Field';
import { SecretReveal } from './SecretReveal';

/**
 * Settings › Calendar feed: a secret iCalendar URL of the tasks with a due date, to subscribe to in
 * a calendar app. Created (shown once), replaced (the old URL stops working) or turned off.
 */
export function CalendarFeedSection() {
  const qc = useQueryClient();
  const feed = useCalendarFeed();
  const timeZone = useTimeZone();
  const [revealed, setRevealed] = useState<{ url: string; replaced: boolean }>();
  const [confirm, setConfirm] = useState<'replace' | 'off'>();
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  const actions = useRef<HTMLDivElement>(null);

  const setStatus = (status: FeedStatus) => qc.setQueryData<FeedStatus>(['calendar-feed'], status);
  const backToActions = () =>
    requestAnimationFrame(() =>
      (actions.current?.querySelector<HTMLButtonElement>('button') ?? heading.current)?.focus(),
    );

  async function create(replacing: boolean) {
    setBusy(true);
    try {
      const created = await unwrap(api.POST('/api/v1/calendar/feed'));
      setStatus({ active: true, created_at: created.created_at });
      setConfirm(undefined);
      setRevealed({ url: created.url, replaced: replacing });
      toast.show(replacing ? 'New feed URL created: the old one no longer works' : 'Feed URL created');
    } catch (err) {
      toast.error(`${replacing ? 'Not replaced' : 'Not created'}: ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  }

  async function turnOff() {
    setBusy(true);
    try {
      // Already gone (another device turned it off): the same outcome.
      await expectOk(api.DELETE('/api/v1/calendar/feed')).catch((err) => {
        if (!(err instanceof TaskmanError && err.status === 404)) throw err;
      });
      setStatus({ active: false, created_at: null });
      setConfirm(undefined);
      setRevealed(undefined);
      toast.show('Calendar feed turned off: its URL no longer works');
      requestAnimationFrame(() => heading.current?.focus());
    } catch (err) {
      toast.error(`Not turned off: ${messageOf(err)}`);
    } finally {
      setBusy(false);
    }
  }

  const since = feed.data?.created_at
    ? new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(
        new Date(feed.data.created_at),
      )
    : undefined;
  return (
    <section className="settings-section stack" aria-labelledby="calendar-feed-title" id="calendar-feed">
      <div className="section-head">
        <h2 id="calendar-feed-title" ref={heading} tabIndex={-1}>
          Calendar feed
        </h2>
      </div>
      <p className="muted section-intro">
        Subscribe to your tasks from a calendar app — Apple Calendar or Reminders, Thunderbird, Outlook, or
        Tasks.org with DAVx⁵. Every task with a due date appears as a to-do, with its priority, tags and
        reminder, and apps look for changes about every 15 minutes.
      </p>
      <p className="faint section-intro">
        The URL is the feed’s only key: anyone who has it can read those tasks, so keep it to yourself and
        replace it if it leaks. Some apps (Google Calendar among them) do not show to-dos from a subscription.
      </p>

      {feed.isPending && <div className="spinner" role="status" aria-label="Loading the calendar feed" />}
      {feed.isError && (
        <p className="form-error" role="alert">
          {messageOf(feed.error)}
        </p>
      )}

      {feed.data?.active && since && (
        <p className="status-line">
          <span className="status-dot" aria-hidden="true" />
          Active since {since}
        </p>
      )}

      {revealed && (
        <FeedReveal
          url={revealed.url}
          replaced={revealed.replaced}
          onDone={() => {
            setRevealed(undefined);
            backToActions();
          }}
        />
      )}

      {confirm === 'replace' && (
        <ConfirmBox
          question="Replace the feed URL?"
          confirmLabel="Replace URL"
          busy={busy}
          onConfirm={() => create(true)}
          onCancel={() => {
            setConfirm(undefined);
            backToActions();
          }}
        >
          You get a new URL now and the current one stops working at once: calendars subscribed to it stop
          updating until you subscribe them to the new one.
        </ConfirmBox>
      )}
      {confirm === 'off' && (
        <ConfirmBox
          danger
          question="Turn off the calendar feed?"
          confirmLabel="Turn off"
          busy={busy}
          onConfirm={turnOff}
          onCancel={() => {
            setConfirm(undefined);
            backToActions();
          }}
        >
          Its URL stops working at once, and calendars subscribed to it stop updating. You can create a new
          URL at any time.
        </ConfirmBox>
      )}

      {feed.data && !feed.data.active && !revealed && (
        <div className="empty empty-compact">
          <h3>No calendar feed</h3>
          <p>Create a private URL to see your due tasks in your calendar app.</p>
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => create(false)}>
            Create feed URL
          </button>
        </div>
      )}
      {feed.data?.active && !confirm && !revealed && (
        <div className="row wrap" ref={actions}>
          <button type="button" className="btn" onClick={() => setConfirm('replace')}>
            Replace URL
          </button>
          <button type="button" className="btn btn-danger" onClick={() => setConfirm('off')}>
            Turn off
          </button>
        </div>
      )}
    </section>
  );
}

/** The URL, once, with a project to limit it to, a webcal:// link and how to subscribe. */
function FeedReveal(props: { url: string; replaced: boolean; onDone: () => void }) {
  const projects = useProjects();
  const [projectId, setProjectId] = useState('');
  const url = projectId ? `${props.url}?project_id=${encodeURIComponent(projectId)}` : props.url;
  const webcal = url.replace(/^https?:/, 'webcal:');
  return (
    <SecretReveal
      key={props.url}
      title={props.replaced ? 'Your new calendar feed URL' : 'Your calendar feed URL'}
      label="Feed URL"
      value={url}
      note={
        props.replaced
          ? 'Subscribe your calendar apps to it again: the old URL no longer works.'
          : 'Taskman keeps only a fingerprint of it: if you lose it, replace it with a new one.'
      }
      onDone={props.onDone}
    >
      {!!projects.data?.length && (
        <Field label="Tasks from" hint="The same URL, limited to one project.">
          {(a) => (
            <select {...a} value={projectId} onChange={(e) => setProjectId(e.target.value)}>
              <option value="">All projects</option>
              {projects.data.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
      <details className="howto">
        <summary>How to subscribe</summary>
        <ul>
          <li>
            <strong>Apple Calendar</strong> (Mac): File › New Calendar Subscription…, then paste the URL. On
            an iPhone or iPad, <a href={webcal}>open it in Calendar</a>.
          </li>
          <li>
            <strong>Outlook</strong>: Add calendar › Subscribe from web, then paste the URL.
          </li>
          <li>
            <strong>Thunderbird</strong>: New Calendar… › On the Network, then paste the URL as its location.
          </li>
          <li>
            <strong>Android</strong>: in DAVx⁵, add a WebCal subscription with the URL, then sync it to
            Tasks.org.
          </li>
        </ul>
      </details>
    </SecretReveal>
  );
}
