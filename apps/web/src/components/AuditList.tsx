import { useId } from 'react';
import { Link } from 'react-router';
import {
  type AuditEntry,
  byDay,
  dayHeading,
  describe,
  shortAgent,
  shortId,
  type Viewpoint,
} from '../lib/audit';
import { useTimeZone } from '../lib/session';
import { toast } from '../lib/toast';
import { copyText } from './SecretReveal';
import { When } from './When';

/**
 * Audit entries, newest first, under a heading per day (in the user's zone): each one a sentence,
 * when (relative, the exact time on hover), who when the sentence does not say, from where (IP
 * address, browser) and (for admins) its request ID, to copy. The admin page and Settings › Recent activity.
 */
export function AuditList(props: {
  entries: AuditEntry[];
  view: Viewpoint;
  /** The level of the day headings: under the page's h1 (2) or a section's h2 (3). */
  level: 2 | 3;
  /** Where the name of who acted links to (the log of that user), if anywhere. */
  actorHref?: (id: string) => string;
  /** Show each entry's request ID (to find it in the logs: for admins). */
  requestIds?: boolean;
}) {
  const timeZone = useTimeZone();
  const id = useId();
  const Heading = props.level === 2 ? 'h2' : 'h3';
  return (
    <div className="audit-days">
      {byDay(props.entries, timeZone).map((group) => (
        <div key={group.day} className="audit-day">
          <Heading id={`${id}-${group.day}`} className="audit-day-title">
            {dayHeading(group.entries[0]!.at, timeZone)}
          </Heading>
          <ol className="audit-list" aria-labelledby={`${id}-${group.day}`}>
            {group.entries.map((e) => (
              <Entry
                key={e.id}
                entry={e}
                view={props.view}
                actorHref={props.actorHref}
                requestIds={!!props.requestIds}
              />
            ))}
          </ol>
        </div>
      ))}
    </div>
  );
}

function Entry(props: {
  entry: AuditEntry;
  view: Viewpoint;
  actorHref: ((id: string) => string) | undefined;
  requestIds: boolean;
}) {
  const { entry: e, view } = props;
  const d = describe(e, view);
  const agent = shortAgent(e.user_agent);
  // Who acted, when the sentence does not say: an admin sees a name (a link to their log), a user
  // reading their own activity needs nothing (it was them).
  const actor =
    !d.namesActor && e.actor_id && view.kind === 'admin'
      ? (view.nameOf(e.actor_id) ?? `User ${shortId(e.actor_id)}`)
      : undefined;
  return (
    <li className={`audit-entry${d.tone ? ` audit-${d.tone}` : ''}`} data-action={e.action}>
      <span className="audit-kind">{d.kind}</span>
      <div className="audit-body">
        <p className="audit-text">{d.text}</p>
        <div className="audit-meta">
          <When iso={e.at} />
          {actor && e.actor_id && (
            <span>
              by{' '}
              {props.actorHref ? (
                <Link to={props.actorHref(e.actor_id)} title={`Show only what ${actor} did`}>
                  {actor}
                </Link>
              ) : (
                actor
              )}
            </span>
          )}
          {e.api_key_id && <span>with an API key</span>}
          {e.ip && !d.namesIp && (
            <span>
              IP <span className="mono">{e.ip}</span>
            </span>
          )}
          {agent && <span title={e.user_agent ?? undefined}>{agent}</span>}
          {props.requestIds && e.request_id && <RequestId id={e.request_id} />}
        </div>
      </div>
    </li>
  );
}

/** The request ID, short; a click copies all of it (to find the request in the logs). */
function RequestId({ id }: { id: string }) {
  return (
    <button
      type="button"
      className="audit-req"
      title={`Request ID ${id} (click to copy)`}
      onClick={async () => {
        if (await copyText(id, null)) toast.show('Request ID copied');
        else toast.error(`Could not copy. The request ID is ${id}`);
      }}
    >
      <span className="sr-only">Copy request </span>ID <span className="mono">{id.slice(0, 8)}</span>
      <CopyIcon />
    </button>
  );
}

function CopyIcon() {
  return (
    <svg width="12" height="12" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <rect
        x="5.5"
        y="5.5"
        width="8"
        height="8"
        rx="1.5"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.4"
      />
      <path
        d="M10.5 3.5v-.5a1 1 0 0 0-1-1h-6a1 1 0 0 0-1 1v6a1 1 0 0 0 1 1h.5"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.4"
      />
    </svg>
  );
}
